"""Every way users hold sequences (issue 16's table), on Japanese Vowels: each gives the
predictions of the ragged list, bit for bit, or a clear message saying what to do."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, LSTMStepClassifier, LSTMStepRegressor
from sklstm.datasets import load_japanese_vowels
from sklstm.preprocessing import FromChannelsFirst, SequenceScaler

from conftest import padded

FEATURES = [f"lpc_{i}" for i in range(1, 13)]


def model(scaler=None, *first):
    return make_pipeline(
        *first, scaler or SequenceScaler(), LSTMClassifier(8, max_iter=3, random_state=0)
    )


@pytest.fixture(scope="module")
def vowels():
    X, y = load_japanese_vowels(subset="all", return_X_y=True)
    X, y = X[::4], y[::4]  # 160 sequences of 7 to 26 steps
    return X, y, model().fit(X, y).predict_proba(X)


@pytest.mark.parametrize(
    "holding",
    ["zero-padded", "NaN-padded", "channels first, NaN-padded", "aeon's list", "DataFrames"],
)
def test_each_way_of_holding_the_data_predicts_as_the_ragged_list(vowels, holding):
    X, y, expected = vowels
    if holding == "zero-padded":
        X, pipeline = padded(X, value=0.0), model(SequenceScaler(padding_value=0))
    elif holding == "NaN-padded":  # tslearn's to_time_series_dataset, aeon's convention
        X, pipeline = padded(X, value=np.nan), model()
    elif holding == "channels first, NaN-padded":  # aeon's and sktime's (n, C, T)
        X, pipeline = padded(X, value=np.nan).transpose(0, 2, 1), model(None, FromChannelsFirst())
    elif holding == "aeon's list":  # of (C, T_i) arrays
        X, pipeline = [x.T for x in X], model(None, FromChannelsFirst())
    else:
        X, pipeline = [pd.DataFrame(x, columns=FEATURES) for x in X], model()
    np.testing.assert_array_equal(pipeline.fit(X, y).predict_proba(X), expected)


def test_channels_first_arrays_read_time_first_get_advice(vowels):
    X, y, _ = vowels
    advice = r"25 features per time step and 12 steps. If it holds sequences channels first"
    with pytest.warns(UserWarning, match=advice):
        LSTMClassifier(3, max_iter=1).fit(padded(X, value=0.0).transpose(0, 2, 1), y)
    with pytest.raises(ValueError, match=r"contains NaN at step 0: .* " + advice):
        LSTMClassifier(3, max_iter=1).fit(padded(X, value=np.nan).transpose(0, 2, 1), y)


def test_dataframes_with_columns_reordered_at_predict_are_refused(vowels):
    X, y, _ = vowels
    frames = [pd.DataFrame(x, columns=FEATURES) for x in X]
    fitted = model().fit(frames, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        fitted.predict([f[FEATURES[::-1]] for f in frames])
    clf = LSTMClassifier(3, max_iter=1, random_state=0).fit(frames, y)
    np.testing.assert_array_equal(clf.feature_names_in_, FEATURES)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        clf.predict([f[FEATURES[::-1]] for f in frames])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(X)


def test_one_sequence_passed_as_a_2d_array_says_how_to_pass_it(vowels):
    X, y, _ = vowels
    clf = LSTMClassifier(3, max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"pass X\[None\] or \[X\]"):
        clf.predict(X[0])
    np.testing.assert_array_equal(clf.predict(X[0][None]), clf.predict([X[0]]))


@pytest.mark.parametrize("estimator", [LSTMClassifier, LSTMRegressor])
def test_padding_value_in_every_method(vowels, estimator):
    X, y, _ = vowels
    zeros = padded(X, value=0.0)
    y = y if estimator is LSTMClassifier else y * 0.1
    padded_model = estimator(4, max_iter=2, random_state=0, padding_value=0.0).fit(zeros, y)
    ragged_model = estimator(4, max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(padded_model.network_.params, ragged_model.network_.params)
    np.testing.assert_array_equal(padded_model.predict(zeros), ragged_model.predict(X))
    assert padded_model.score(zeros, y) == ragged_model.score(X, y)
    padded_model.partial_fit(zeros, y)
    ragged_model.partial_fit(X, y)
    np.testing.assert_array_equal(padded_model.network_.params, ragged_model.network_.params)
    # Without it, zeros are steps: the model reads other sequences.
    unpadded = estimator(4, max_iter=2, random_state=0).fit(zeros, y)
    assert not np.array_equal(unpadded.network_.params, ragged_model.network_.params)


@pytest.mark.parametrize("value", [np.nan, 0.0])
def test_onnx_reads_the_padding_through_the_lengths_sklstm_reads(vowels, value):
    ort = pytest.importorskip("onnxruntime")
    from sklstm.onnx import to_onnx

    X, y, _ = vowels
    padding_value = None if np.isnan(value) else value
    clf = LSTMClassifier(4, max_iter=1, random_state=0, padding_value=padding_value).fit(X, y)
    X_padded = padded(X, value=value).astype(np.float32)
    lengths = np.array([len(x) for x in X], dtype=np.int64)
    session = ort.InferenceSession(to_onnx(clf, variable_lengths=True).SerializeToString())
    _, proba = session.run(None, {"X": X_padded, "lengths": lengths})
    np.testing.assert_allclose(proba, clf.predict_proba(X_padded), atol=1e-5)


def test_padding_value_in_a_search(vowels):
    X, y, _ = vowels
    grid = {"lstmclassifier__alpha": [1e-4, 1e-2]}
    padded_search = GridSearchCV(model(SequenceScaler(padding_value=0)), grid, cv=2)
    ragged_search = GridSearchCV(model(), grid, cv=2)
    np.testing.assert_array_equal(
        padded_search.fit(padded(X, value=0.0), y).cv_results_["mean_test_score"],
        ragged_search.fit(X, y).cv_results_["mean_test_score"],
    )


@pytest.mark.parametrize(
    "estimator", [LSTMClassifier, LSTMRegressor, LSTMStepClassifier, LSTMStepRegressor]
)
def test_one_sequence_predicts_the_same_however_it_is_held(rng, estimator):
    # One sequence runs the prediction path with least work (no sort, no scatter, a view
    # for a batch): every holding of it gives the same bits, and those of a batch to
    # rounding (the BLAS calls of a batch have other shapes).
    X = [rng.normal(size=(T, 3)) * 4 + 1 for T in (7, 7, 5, 9, 7, 6)]
    per_step = estimator in (LSTMStepClassifier, LSTMStepRegressor)
    targets = [x[:, 0] if per_step else x[-1, 0] for x in X]
    if estimator in (LSTMClassifier, LSTMStepClassifier):
        targets = [t > 1 for t in targets]
    else:
        targets = [10 * t + 100 for t in targets]  # the regressors scale them back
    y = targets if per_step else np.array(targets)
    est = estimator(hidden_layer_sizes=5, max_iter=2, random_state=0).fit(X, y)
    methods = [est.predict] + ([est.predict_proba] if hasattr(est, "predict_proba") else [])
    x = X[3]
    holdings = [x[None], [x], x[None].astype(np.float32), padded([x], T=12), [x.tolist()]]
    for method in methods:

        def flat(out):
            return np.concatenate([np.ravel(o) for o in out])

        alone = [flat(method(held)) for held in holdings]
        for other in alone[1:]:
            np.testing.assert_array_equal(other, alone[0])
        in_batch = method(X)[3]
        np.testing.assert_allclose(alone[0], np.ravel(in_batch), rtol=1e-5, atol=1e-6)
