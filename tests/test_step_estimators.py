"""The per-step estimators: targets, outputs and weights per step, causality, training
features, scoring, persistence and exports."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, f1_score, log_loss, r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_sample_weight

from sklstm import (
    SKOPS_TRUSTED_TYPES,
    LSTMClassifier,
    LSTMStepClassifier,
    LSTMStepRegressor,
    _network,
)
from sklstm._sequences import check_sequences
from sklstm.metrics import per_step_scorer
from sklstm.preprocessing import SequenceScaler

from conftest import make_network, padded, random_sequences

FAST = dict(hidden_layer_sizes=6, max_iter=4, random_state=0, dtype="float64")
LENGTHS = [7, 3, 9, 1, 5, 8, 4, 6, 2, 7, 5, 3]


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def tagging_data(rng, lengths=LENGTHS, n_features=2):
    """Sequences and per-step labels (3 classes: the sign of the running sum of the first
    feature, and whether the second is large) and per-step values."""
    X = random_sequences(rng, lengths, n_features)
    labels = [(np.cumsum(x[:, 0]) > 0).astype(int) + (x[:, 1] > 1) for x in X]
    values = [np.column_stack([np.cumsum(x[:, 0]), x[:, 1] ** 2]) for x in X]
    return X, labels, values


def test_outputs_follow_the_structure_of_X(rng):
    X, labels, values = tagging_data(rng, lengths=[6] * 10)
    clf = LSTMStepClassifier(**FAST).fit(np.stack(X), np.stack(labels))
    assert clf.predict(np.stack(X)).shape == (10, 6)
    assert clf.predict_proba(np.stack(X)).shape == (10, 6, 3)
    ragged = [X[0][:2], X[1], X[2][:5]]
    assert [p.shape for p in clf.predict(ragged)] == [(2,), (6,), (5,)]
    assert [p.shape for p in clf.predict_proba(ragged)] == [(2, 3), (6, 3), (5, 3)]
    # A padded array: each sequence's own steps, as a list (no value for padding steps).
    out = clf.predict_proba(padded(ragged))
    assert isinstance(out, list)
    for p, q in zip(out, clf.predict_proba(ragged), strict=True):
        np.testing.assert_array_equal(p, q)
    np.testing.assert_allclose(
        np.concatenate(clf.predict_log_proba(ragged)),
        np.log(np.concatenate(clf.predict_proba(ragged))),
    )
    reg = LSTMStepRegressor(**FAST).fit(X, values)  # multi-output per step
    assert reg.predict(np.stack(X)).shape == (10, 6, 2)
    single = LSTMStepRegressor(**FAST).fit(X, [v[:, 0] for v in values])
    assert [p.shape for p in single.predict(ragged)] == [(2,), (6,), (5,)]


def test_padding_steps_and_their_targets_are_ignored(rng):
    X, labels, _ = tagging_data(rng)
    ragged = LSTMStepClassifier(**FAST).fit(X, labels)
    # Padded X, and y whose padding steps hold anything, NaN included.
    y = padded([lab.astype(float) for lab in labels], value=np.nan)
    nan_padded = LSTMStepClassifier(**FAST).fit(padded(X), y)
    np.testing.assert_array_equal(nan_padded.network_.params, ragged.network_.params)
    value_padded = LSTMStepClassifier(**FAST, padding_value=-99.0)
    value_padded.fit(padded(X, value=-99.0), padded(labels, value=7))
    np.testing.assert_array_equal(value_padded.network_.params, ragged.network_.params)
    assert ragged.score(padded(X), y) == ragged.score(X, labels)


def test_a_sequence_alone_equals_it_inside_a_batch(rng):
    X, labels, _ = tagging_data(rng)
    clf = LSTMStepClassifier(**{**FAST, "hidden_layer_sizes": (5, 4)}, bidirectional=True).fit(
        X, labels
    )
    together = clf.predict_proba(X)
    for x, p in zip(X, together, strict=True):
        np.testing.assert_allclose(clf.predict_proba([x])[0], p, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_unidirectional_model_is_causal(rng, cell):
    X, labels, _ = tagging_data(rng)
    kwargs = dict(FAST, cell=cell, hidden_layer_sizes=(5, 4))
    causal = LSTMStepClassifier(**kwargs).fit(X, labels)
    bidirectional = LSTMStepClassifier(**kwargs, bidirectional=True).fit(X, labels)
    x = X[2]
    for t in range(len(x) - 1):
        changed = x.copy()
        changed[t + 1 :] = rng.normal(size=changed[t + 1 :].shape)
        # Step t and before: the same bits whatever follows.
        before, after = causal.predict_proba([x, changed])
        np.testing.assert_array_equal(before[: t + 1], after[: t + 1])
        assert not np.allclose(before[t + 1 :], after[t + 1 :])
        before, after = bidirectional.predict_proba([x, changed])
        assert not np.allclose(before[: t + 1], after[: t + 1])  # it reads what follows


@pytest.mark.parametrize("bidirectional", [False, True])
def test_prediction_in_windows_equals_one_pass(rng, monkeypatch, bidirectional):
    # Sequences too long for one window run window after window: the per-step readout
    # joins the windows' states.
    net = make_network(rng, 2, (3, 4), 2, bidirectional=bidirectional, readout="steps")
    seqs = check_sequences(random_sequences(rng, [9, 4, 12, 1], 2), dtype=np.float64)
    whole = net.predict(seqs, 1)
    assert whole.shape == (26, 2)
    monkeypatch.setattr(_network, "PREDICT_BYTES", 4 * 8 * 5)  # 5 rows of h (H = 4) a window
    np.testing.assert_array_equal(net.predict(seqs, 1), whole)


def test_score_is_over_all_steps_weighted_per_step(rng):
    X, labels, values = tagging_data(rng)
    clf = LSTMStepClassifier(**FAST).fit(X, labels)
    flat = np.concatenate(labels)
    predicted = np.concatenate(clf.predict(X))
    assert clf.score(X, labels) == accuracy_score(flat, predicted)
    per_sequence = rng.uniform(0.5, 2, size=len(X))
    expected = accuracy_score(flat, predicted, sample_weight=np.repeat(per_sequence, LENGTHS))
    assert clf.score(X, labels, sample_weight=per_sequence) == expected
    per_step = [rng.uniform(size=len(x)) for x in X]
    expected = accuracy_score(flat, predicted, sample_weight=np.concatenate(per_step))
    assert clf.score(X, labels, sample_weight=per_step) == expected
    reg = LSTMStepRegressor(**FAST).fit(X, values)
    assert reg.score(X, values) == r2_score(np.concatenate(values), np.concatenate(reg.predict(X)))


def test_sample_weight_per_sequence_is_each_step_weighing_as_its_sequence(rng):
    X, labels, _ = tagging_data(rng)
    w = rng.uniform(0.5, 2, size=len(X))
    per_sequence = LSTMStepClassifier(**FAST).fit(X, labels, sample_weight=w)
    per_step = LSTMStepClassifier(**FAST).fit(
        X, labels, sample_weight=[np.full(len(x), w_i) for x, w_i in zip(X, w, strict=True)]
    )
    np.testing.assert_array_equal(per_sequence.network_.params, per_step.network_.params)
    unweighted = LSTMStepClassifier(**FAST).fit(X, labels)
    assert not np.array_equal(per_sequence.network_.params, unweighted.network_.params)


def test_class_weight_weighs_each_step_by_its_class(rng):
    X, labels, _ = tagging_data(rng)
    balanced = LSTMStepClassifier(**FAST, class_weight="balanced").fit(X, labels)
    weights = compute_sample_weight("balanced", np.concatenate(labels))
    weighted = LSTMStepClassifier(**FAST).fit(
        X, labels, sample_weight=np.split(weights, np.cumsum(LENGTHS)[:-1])
    )
    np.testing.assert_allclose(balanced.network_.params, weighted.network_.params, rtol=1e-12)


def test_binary_and_multilabel_targets_per_step(rng):
    X, labels, _ = tagging_data(rng)
    binary = LSTMStepClassifier(**FAST).fit(X, [lab > 0 for lab in labels])
    assert binary.n_outputs_ == 1 and binary.predict_proba(X)[0].shape == (len(X[0]), 2)
    indicators = [np.column_stack([lab == 0, lab == 2]).astype(int) for lab in labels]
    multilabel = LSTMStepClassifier(**FAST).fit(X, indicators)
    assert multilabel.predict(X)[0].shape == (len(X[0]), 2)
    assert 0 <= multilabel.score(X, indicators) <= 1


def test_regressor_standardises_targets_over_all_steps(rng):
    X, _, values = tagging_data(rng)
    reg = LSTMStepRegressor(**FAST).fit(X, values)
    scaled = LSTMStepRegressor(**FAST).fit(X, [1000 * v - 50 for v in values])
    for p, q in zip(reg.predict(X), scaled.predict(X), strict=True):
        np.testing.assert_allclose(1000 * p - 50, q, rtol=1e-7, atol=1e-7)


def test_partial_fit_calls_train_as_fit_epochs(rng):
    X, labels, _ = tagging_data(rng)
    fitted = LSTMStepClassifier(**{**FAST, "max_iter": 3}).fit(X, labels)
    partial = LSTMStepClassifier(**FAST)
    for _ in range(3):
        partial.partial_fit(X, labels, classes=[0, 1, 2])
    np.testing.assert_allclose(partial.loss_curve_, fitted.loss_curve_, rtol=1e-12)
    warm = LSTMStepClassifier(**{**FAST, "max_iter": 1, "warm_start": True}).fit(X, labels)
    before = warm.network_.params.copy()
    warm.fit(X, labels)
    assert len(warm.loss_curve_) == 2 and not np.array_equal(before, warm.network_.params)


def test_early_stopping_on_per_step_scores(rng):
    X, labels, values = tagging_data(rng, lengths=LENGTHS * 2)
    clf = LSTMStepClassifier(
        **{**FAST, "max_iter": 5}, early_stopping=True, validation_fraction=0.25
    )
    clf.fit(X, labels)
    assert len(clf.validation_scores_) == 5 and all(0 <= s <= 1 for s in clf.validation_scores_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    reg = LSTMStepRegressor(**FAST, early_stopping=True, validation_fraction=0.25)
    assert len(reg.fit(X, values).validation_scores_) == 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_features_combine(rng, dtype):
    X, labels, _ = tagging_data(rng)
    clf = LSTMStepClassifier(
        **{**FAST, "dtype": dtype, "hidden_layer_sizes": (4, 3)},
        cell="gru",
        bidirectional=True,
        dropout=0.2,
        recurrent_dropout=0.2,
        clip_norm=1.0,
    ).fit(X, labels)
    assert clf.network_.dtype == dtype and np.isfinite(clf.loss_curve_).all()
    assert np.concatenate(clf.predict_proba(X)).sum(axis=1) == pytest.approx(1)


def test_mismatched_targets_are_refused_naming_the_sequence(rng):
    X, labels, _ = tagging_data(rng)
    clf = LSTMStepClassifier(**FAST)
    with pytest.raises(ValueError, match="y of sequence 2 has 8 steps, but sequence 2 of X has 9"):
        clf.fit(X, labels[:2] + [labels[2][:-1]] + labels[3:])
    with pytest.raises(ValueError, match="one target per step"):
        clf.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="X has 12 sequences but y has 11"):
        clf.fit(X, labels[:-1])
    assert not hasattr(clf, "network_")


def test_readout_is_not_a_parameter_of_the_step_estimators():
    assert "readout" not in LSTMStepClassifier().get_params()
    assert "readout" not in LSTMStepRegressor().get_params()
    with pytest.raises(TypeError, match="readout"):
        LSTMStepClassifier(readout="last")
    with pytest.raises(ValueError, match="readout"):  # "steps" is not a sequence readout
        LSTMClassifier(readout="steps").fit(np.zeros((4, 3, 1)), [0, 1, 0, 1])


def test_pipeline_search_and_cross_validation(rng):
    X, labels, _ = tagging_data(rng, lengths=LENGTHS * 2)
    pipe = make_pipeline(SequenceScaler(), LSTMStepClassifier(**FAST))
    assert len(pipe.fit(X, labels).predict(X)) == len(X)
    assert cross_val_score(pipe, X, labels, cv=2).shape == (2,)
    search = GridSearchCV(
        LSTMStepClassifier(**FAST),
        {"hidden_layer_sizes": [3, 6]},
        cv=2,
        scoring=per_step_scorer(f1_score, average="macro"),
    ).fit(X, labels)
    flat = np.concatenate(labels)
    best = search.best_estimator_
    assert search.score(X, labels) == f1_score(
        flat, np.concatenate(best.predict(X)), average="macro"
    )
    # A probabilistic metric, on padded X and y (the padding steps' targets left out).
    scorer = per_step_scorer(log_loss, response_method="predict_proba", greater_is_better=False)
    expected = -log_loss(flat, np.concatenate(best.predict_proba(X)))
    assert scorer(best, padded(X), padded(labels, value=-1)) == pytest.approx(expected, rel=1e-12)


def test_clone_pickle_and_skops(rng, tmp_path):
    X, labels, values = tagging_data(rng)
    for est, y in [(LSTMStepClassifier(**FAST), labels), (LSTMStepRegressor(**FAST), values)]:
        est.fit(X, y)
        assert clone(est).get_params() == est.get_params()
        loaded = pickle.loads(pickle.dumps(est))
        for p, q in zip(loaded.predict(X), est.predict(X), strict=True):
            np.testing.assert_array_equal(p, q)
        sio = pytest.importorskip("skops.io")
        path = tmp_path / "model.skops"
        sio.dump(est, path)
        loaded = sio.load(path, trusted=list(SKOPS_TRUSTED_TYPES))
        for p, q in zip(loaded.predict(X), est.predict(X), strict=True):
            np.testing.assert_array_equal(p, q)


def test_a_saved_state_of_another_readout_is_refused(rng):
    X, labels, _ = tagging_data(rng)
    state = LSTMStepClassifier(**FAST).fit(X, labels).__getstate__()
    state["network_"] = make_network(rng, 2, (6,), 3)  # a sequence network
    with pytest.raises(ValueError, match="readout 'last'"):
        LSTMStepClassifier().__setstate__(state)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_onnx_export_returns_every_step(rng, bidirectional):
    ort = pytest.importorskip("onnxruntime")
    from sklstm.onnx import to_onnx

    X, labels, values = tagging_data(rng)
    lengths = np.array(LENGTHS)
    clf = LSTMStepClassifier(**FAST, bidirectional=bidirectional).fit(X, labels)
    session = ort.InferenceSession(to_onnx(clf, variable_lengths=True).SerializeToString())
    label, proba = session.run(
        None, {"X": padded(X, value=0.0).astype(np.float32), "lengths": lengths}
    )
    for i, (p, q) in enumerate(zip(clf.predict_proba(X), clf.predict(X), strict=True)):
        np.testing.assert_allclose(proba[i, : lengths[i]], p, atol=1e-5)
        np.testing.assert_array_equal(label[i, : lengths[i]], q)
    reg = LSTMStepRegressor(**FAST, cell="gru", bidirectional=bidirectional).fit(X, values)
    equal = np.stack([x[:3] for x in X if len(x) >= 3])
    session = ort.InferenceSession(to_onnx(reg).SerializeToString())
    (out,) = session.run(None, {"X": equal.astype(np.float32)})
    np.testing.assert_allclose(out, reg.predict(equal), rtol=1e-4, atol=1e-4)


def test_torch_module_returns_every_step_and_loads_back(rng):
    torch = pytest.importorskip("torch")
    from sklstm.interop import load_torch, to_torch

    X, _, values = tagging_data(rng)
    reg = LSTMStepRegressor(**{**FAST, "hidden_layer_sizes": (4, 3)}, bidirectional=True).fit(
        X, values
    )
    module = to_torch(reg)
    lengths = torch.tensor(LENGTHS)
    out = module(torch.from_numpy(padded(X, value=0.0)), lengths).detach().numpy()
    for i, p in enumerate(reg.predict(X)):
        np.testing.assert_allclose(out[i, : LENGTHS[i]], p, rtol=1e-10, atol=1e-10)
    with torch.no_grad():
        module.head.bias.fill_(3.0)
        module.head.weight.zero_()
    load_torch(reg, module)
    assert np.concatenate(reg.predict(X)) == pytest.approx(3.0)
