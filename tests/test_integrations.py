"""sklstm inside the tools its users already have, as the README's recipes use them; each
test is skipped when its tool is not installed (CI installs them: the ``integrations``
extra)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import SKOPS_TRUSTED_TYPES, LSTMClassifier, LSTMRegressor
from sklstm.datasets import load_airline, load_japanese_vowels
from sklstm.preprocessing import FromChannelsFirst, SequenceScaler, make_windows


def quick(estimator=LSTMClassifier, **params):
    return estimator(4, max_iter=2, random_state=0, **params)


@pytest.fixture(scope="module")
def vowels():
    """A third of Japanese Vowels' training set, sklstm's own copy: (T_i, 12) sequences."""
    X, y = load_japanese_vowels(return_X_y=True)
    return X[::3], y[::3]


def test_aeon_data_into_lstm_classifier(vowels):
    aeon_datasets = pytest.importorskip("aeon.datasets")
    # Bundled with aeon (offline): a list of (12, T_i) arrays, channels first.
    X, y = aeon_datasets.load_japanese_vowels(split="train")
    X, y = X[::3], y[::3]
    for x, x_ours in zip(X, vowels[0], strict=True):
        np.testing.assert_allclose(x.T, x_ours)  # the same data (to rounding), channels first
    model = make_pipeline(FromChannelsFirst(), SequenceScaler(), quick())
    time_first = [x.T for x in X]
    expected = make_pipeline(SequenceScaler(), quick()).fit(time_first, y)
    np.testing.assert_array_equal(
        model.fit(X, y).predict_proba(X), expected.predict_proba(time_first)
    )
    # An equal-length collection: a (n, C, T) array.
    X, y = aeon_datasets.load_basic_motions(split="train")
    assert X.shape == (40, 6, 100)
    model = make_pipeline(FromChannelsFirst(), quick()).fit(X, y)
    assert model[-1].n_features_in_ == 6 and model.predict(X).shape == (40,)
    with pytest.warns(UserWarning, match="channels first"):
        quick().fit(X, y)  # read time first: 100 features of 6 steps


def test_tslearn_nan_padded_datasets_and_scalers_in_a_pipeline(vowels):
    tslearn_utils = pytest.importorskip("tslearn.utils")
    with warnings.catch_warnings():  # that h5py, which tslearn may use, is absent
        warnings.simplefilter("ignore")
        from tslearn.preprocessing import TimeSeriesScalerMeanVariance
    X, y = vowels
    padded = tslearn_utils.to_time_series_dataset(X)  # NaN after each sequence's end
    assert padded.shape == (90, max(map(len, X)), 12) and np.isnan(padded).any()
    model = make_pipeline(TimeSeriesScalerMeanVariance(), quick()).fit(padded, y)
    # tslearn's scaler keeps the padding, which the LSTM reads as the ends of sequences.
    scaled = TimeSeriesScalerMeanVariance().fit_transform(padded)
    ragged = [z[: len(x)] for z, x in zip(scaled, X, strict=True)]
    np.testing.assert_array_equal(
        model.predict_proba(padded), quick().fit(ragged, y).predict_proba(ragged)
    )


def airline():
    return pd.Series(load_airline().data)


def test_skforecast_recursive_forecaster_with_its_lags_reversed():
    recursive = pytest.importorskip("skforecast.recursive")
    series = airline()
    # skforecast's lag columns come most recent first: np.fliplr puts them oldest first.
    forecaster = recursive.ForecasterRecursive(
        estimator=make_pipeline(FunctionTransformer(np.fliplr), quick(LSTMRegressor)), lags=12
    )
    forecaster.fit(series)
    X_train, _ = forecaster.create_train_X_y(series)
    assert list(X_train.columns[:2]) == ["lag_1", "lag_2"]
    # The LSTM trained on exactly the windows of make_windows, oldest first...
    windows, targets = make_windows(series.to_numpy(), 12)
    expected = quick(LSTMRegressor).fit(windows, targets)
    np.testing.assert_array_equal(
        forecaster.estimator[-1].network_.params, expected.network_.params
    )
    # ... and forecasts from the last 12 months, oldest first.
    forecast = forecaster.predict(steps=1).iloc[0]
    np.testing.assert_allclose(forecast, expected.predict(series.to_numpy()[None, -12:])[0])


def test_sktime_make_reduction_reads_windows_oldest_first():
    compose = pytest.importorskip("sktime.forecasting.compose")
    series = airline()
    with warnings.catch_warnings():  # sktime's notice of a coming change of its defaults
        warnings.simplefilter("ignore", FutureWarning)
        forecaster = compose.make_reduction(quick(LSTMRegressor), window_length=12)
        forecast = forecaster.fit(series).predict(fh=[1]).iloc[0]
    windows, targets = make_windows(series.to_numpy(), 12)
    expected = quick(LSTMRegressor).fit(windows, targets)
    np.testing.assert_array_equal(forecaster.estimator_.network_.params, expected.network_.params)
    np.testing.assert_allclose(forecast, expected.predict(series.to_numpy()[None, -12:])[0])


def test_darts_sklearn_model_reads_lags_oldest_first():
    darts = pytest.importorskip("darts")
    from darts.models import SKLearnModel

    series = load_airline().data.astype(float)
    forecaster = SKLearnModel(lags=12, model=quick(LSTMRegressor))
    forecaster.fit(darts.TimeSeries.from_values(series))
    # darts's lag columns come oldest first (lag -12 to -1): the LSTM as it is.
    assert forecaster.lagged_feature_names[:2] == ["0_target_lag-12", "0_target_lag-11"]
    windows, targets = make_windows(series, 12)
    expected = quick(LSTMRegressor).fit(windows, targets)
    np.testing.assert_array_equal(forecaster.model.network_.params, expected.network_.params)
    forecast = forecaster.predict(1).values()[0, 0]
    np.testing.assert_allclose(forecast, expected.predict(series[None, -12:])[0])


def test_mlflow_sklearn_flavour_in_its_default_skops_format(rng, tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    X = rng.normal(size=(20, 5, 2)).astype(np.float32)
    clf = LSTMClassifier(3, max_iter=1, random_state=0).fit(X, np.arange(20) % 2)
    path = tmp_path / "model"
    with warnings.catch_warnings():  # MLflow's own, about type hints and requirements
        warnings.simplefilter("ignore")
        mlflow_sklearn.save_model(
            clf, path, skops_trusted_types=list(SKOPS_TRUSTED_TYPES), pip_requirements=["sklstm"]
        )
    assert (path / "model.skops").exists()  # skops, MLflow's default, not pickle
    np.testing.assert_array_equal(mlflow_sklearn.load_model(str(path)).predict(X), clf.predict(X))


def test_mlflow_signature_of_nan_padded_sequences_of_any_length(vowels, tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own, about type hints
        import mlflow.pyfunc
        from mlflow.models import ModelSignature
        from mlflow.types import Schema, TensorSpec
    X, y = vowels
    model = make_pipeline(SequenceScaler(), quick()).fit(X, y)
    # Any number of sequences of any number of steps, 12 features, NaN after each end.
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float64), (-1, -1, 12))]),
        outputs=Schema([TensorSpec(np.dtype(np.int64), (-1,))]),
    )
    path = tmp_path / "model"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_sklearn.save_model(
            model,
            path,
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
            pip_requirements=["sklstm"],
            signature=signature,
        )
        served = mlflow.pyfunc.load_model(str(path))
    for batch in (X[:5], X[40:43]):  # padded to 26 and to 16 steps
        padded = np.full((len(batch), max(map(len, batch)), 12), np.nan)
        for i, x in enumerate(batch):
            padded[i, : len(x)] = x
        np.testing.assert_array_equal(served.predict(padded), model.predict(batch))


def test_optuna_search_with_pruning_trains_through_partial_fit(vowels):
    optuna = pytest.importorskip("optuna")
    optuna_integration = pytest.importorskip("optuna_integration")
    X, y = vowels
    # No Pipeline: pruning needs partial_fit. The scaling stays inside cross-validation
    # all the same: standardize_X=True takes each fold's statistics at its first epoch.
    with warnings.catch_warnings():  # Optuna's notices: experimental, deprecated inside
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        search = optuna_integration.OptunaSearchCV(
            quick(),
            {"learning_rate_init": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)},
            enable_pruning=True,
            max_iter=3,
            n_trials=3,
            cv=2,
            random_state=0,
            study=optuna.create_study(
                direction="maximize", sampler=optuna.samplers.RandomSampler(0)
            ),
        )
        search.fit(X, y)
    # Every trial reported its score after each partial_fit epoch, for the pruner to judge.
    assert all(len(trial.intermediate_values) >= 1 for trial in search.trials_)
    assert search.best_estimator_.predict(X).shape == (90,)
    # Each fold trains a clone, whose first partial_fit takes the statistics of its data.
    shift, scale = quick().partial_fit(X[:45], y[:45], classes=np.unique(y))._input_units
    scaler = SequenceScaler().fit(X[:45])
    np.testing.assert_allclose(shift, scaler.mean_)
    np.testing.assert_allclose(scale, scaler.scale_)
