import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier
from sklstm.preprocessing import FromChannelsFirst, PiecewiseAggregate, SequenceScaler, make_windows

from conftest import padded


def test_sequence_scaler_on_ragged_input(rng):
    X = [rng.normal(3, 2, size=(n, 4)) for n in (5, 1, 9)]
    scaler = SequenceScaler().fit(X)
    steps = np.concatenate(X)
    np.testing.assert_allclose(scaler.mean_, steps.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, steps.std(axis=0))
    Z = scaler.transform(X)
    assert [z.shape for z in Z] == [x.shape for x in X]
    np.testing.assert_allclose(np.concatenate(Z).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(Z).std(axis=0), 1)
    for x, back in zip(X, scaler.inverse_transform(Z), strict=True):
        np.testing.assert_allclose(back, x)


@pytest.mark.parametrize("shape", [(6, 5, 3), (6, 5)])
def test_sequence_scaler_keeps_array_format(rng, shape):
    X = rng.normal(1, 3, size=shape)
    Z = SequenceScaler().fit_transform(X)
    assert Z.shape == shape
    np.testing.assert_allclose(
        Z.reshape(-1, shape[2] if len(shape) == 3 else 1).mean(0), 0, atol=1e-12
    )


@pytest.mark.parametrize("value", [1.0, 1e6 + 0.1])  # constant to rounding, far from 0
def test_sequence_scaler_constant_feature(value):
    X = np.full((3, 4, 2), value)
    X[:, :, 1] = np.arange(4)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    np.testing.assert_allclose(scaler.transform(X)[:, :, 0], 0, atol=1e-6)  # the mean's rounding


def test_sequence_scaler_checks_features(rng):
    scaler = SequenceScaler().fit(rng.normal(size=(3, 4, 2)))
    with pytest.raises(ValueError, match="3 features per time step"):
        scaler.transform(rng.normal(size=(3, 4, 3)))


def test_make_windows_univariate():
    X, y = make_windows(np.arange(10.0), window=4, horizon=2)
    assert X.shape == (5, 4)
    np.testing.assert_array_equal(X[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(y, [5, 6, 7, 8, 9])


def test_make_windows_multivariate():
    series = np.arange(20.0).reshape(10, 2)
    X, y = make_windows(series, window=3)
    assert X.shape == (7, 3, 2)
    np.testing.assert_array_equal(X[1], series[1:4])
    np.testing.assert_array_equal(y, series[3:])


@pytest.mark.parametrize(
    "series, window, horizon, message",
    [
        (np.ones(5), 5, 1, "too short"),
        (np.ones(5), 0, 1, "window must be a positive integer"),
        (np.ones(5), 2, 1.5, "horizon must be a positive integer"),
        (np.ones((2, 2, 2)), 1, 1, "1-D or 2-D"),
    ],
)
def test_make_windows_rejects(series, window, horizon, message):
    with pytest.raises(ValueError, match=message):
        make_windows(series, window, horizon)


# --- PiecewiseAggregate ----------------------------------------------------------------


def segment_means(x, window):
    """The reference: each run of window steps of one (T, D) sequence, averaged."""
    return np.array([x[i : i + window].mean(axis=0) for i in range(0, len(x), window)])


@pytest.mark.parametrize("window", [1, 2, 3, 7, 50])
def test_piecewise_aggregate_on_every_input_kind(rng, window):
    X3 = rng.normal(size=(4, 10, 3))
    out = PiecewiseAggregate(window).fit_transform(X3)
    assert out.shape == (4, -(-10 // window), 3)
    for x, o in zip(X3, out, strict=True):
        np.testing.assert_allclose(o, segment_means(x, window))
    out2 = PiecewiseAggregate(window).fit_transform(X3[:, :, 0])  # univariate, 2-D
    np.testing.assert_allclose(out2, out[:, :, 0])
    ragged = [rng.normal(size=(T, 2)) for T in (1, 5, 9)] + [rng.normal(size=4)]
    out_ragged = PiecewiseAggregate(window).fit(ragged[:3]).transform(ragged[:3])
    for x, o in zip(ragged[:3], out_ragged, strict=True):
        np.testing.assert_allclose(o, segment_means(x, window))
    univariate = PiecewiseAggregate(window).fit_transform([ragged[3], ragged[3][:2]])
    assert univariate[0].ndim == 1
    np.testing.assert_allclose(univariate[0], segment_means(ragged[3][:, None], window).ravel())


def test_piecewise_aggregate_in_a_pipeline_and_its_errors(rng):
    X = rng.normal(size=(40, 24, 1))
    y = (X[:, :12, 0].mean(axis=1) > 0).astype(int)
    model = make_pipeline(PiecewiseAggregate(4), LSTMClassifier(8, max_iter=2, random_state=0))
    assert model.fit(X, y).predict(X).shape == (40,)
    for window in (0, True, 2.5):
        with pytest.raises(ValueError, match="window"):
            PiecewiseAggregate(window).fit(X)
    with pytest.raises(ValueError, match="features per time step"):
        PiecewiseAggregate(4).fit(X).transform(rng.normal(size=(3, 8, 2)))


# --- padding, layouts and feature names ------------------------------------------------


@pytest.mark.parametrize("univariate", [False, True])
@pytest.mark.parametrize("value", [np.nan, 0.0])
def test_sequence_scaler_on_padded_arrays_answers_with_nan_padding(rng, univariate, value):
    X = [rng.normal(3, 2, size=(T,) if univariate else (T, 2)) for T in (5, 2, 7)]
    scaler = SequenceScaler(padding_value=None if np.isnan(value) else value)
    Z = scaler.fit_transform(padded(X, 8, value))
    ragged = SequenceScaler().fit(X)
    np.testing.assert_array_equal(scaler.mean_, ragged.mean_)
    np.testing.assert_array_equal(scaler.scale_, ragged.scale_)
    # The input's shape, each sequence scaled as in the list, NaN after its end.
    np.testing.assert_array_equal(Z, padded(ragged.transform(X), 8))
    # inverse_transform reads the NaN padding, and answers with it.
    np.testing.assert_allclose(scaler.inverse_transform(Z), padded(X, 8))


def test_a_scaler_with_padding_value_in_a_pipeline_hands_on_nan_padding(rng):
    X = [rng.normal(size=(T, 2)) for T in (5, 2, 7, 3)]
    y = [0, 1, 0, 1]
    zeros = padded(X, 7, 0.0)
    model = make_pipeline(
        SequenceScaler(padding_value=0), LSTMClassifier(3, max_iter=2, random_state=0)
    )
    ragged = make_pipeline(SequenceScaler(), LSTMClassifier(3, max_iter=2, random_state=0))
    np.testing.assert_array_equal(
        model.fit(zeros, y).predict_proba(zeros), ragged.fit(X, y).predict_proba(X)
    )


def test_piecewise_aggregate_on_padded_arrays(rng):
    X = [rng.normal(size=(T, 2)) for T in (9, 2, 5)]
    out = PiecewiseAggregate(4).fit_transform(padded(X, 10))
    assert out.shape == (3, 3, 2)
    np.testing.assert_array_equal(out, padded(PiecewiseAggregate(4).fit_transform(X), 3))
    zeros = PiecewiseAggregate(4, padding_value=0).fit_transform(padded(X, 10, 0.0))
    np.testing.assert_array_equal(zeros, out)


def test_from_channels_first_on_every_layout(rng):
    X = rng.normal(size=(4, 3, 6))  # 3 channels, 6 steps
    converter = FromChannelsFirst().fit(X)
    assert converter.n_features_in_ == 3
    np.testing.assert_array_equal(converter.transform(X), X.transpose(0, 2, 1))
    aeon_list = [rng.normal(size=(3, T)) for T in (6, 2, 4)]
    assert [x.shape for x in converter.transform(aeon_list)] == [(6, 3), (2, 3), (4, 3)]
    for x, out in zip(aeon_list, converter.transform(aeon_list), strict=True):
        np.testing.assert_array_equal(out, x.T)
    # NaN padding at the end of the time axis stays padding.
    nan_padded = np.stack(
        [np.pad(x, ((0, 0), (0, 6 - x.shape[1])), constant_values=np.nan) for x in aeon_list]
    )
    np.testing.assert_array_equal(
        converter.transform(nan_padded), padded([x.T for x in aeon_list], 6)
    )
    univariate = rng.normal(size=(4, 6))  # the same in both layouts
    np.testing.assert_array_equal(FromChannelsFirst().fit_transform(univariate), univariate)
    with pytest.raises(ValueError, match="X has 2 features per time step, but the estimator"):
        converter.transform(rng.normal(size=(4, 2, 6)))


def test_make_windows_ends_the_series_at_its_trailing_nan_steps():
    series = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0], [np.nan, np.nan]])
    X, y = make_windows(series, window=2)
    np.testing.assert_array_equal(y, series[2:4])
    series[1, 0] = np.nan
    with pytest.raises(ValueError, match="series contains NaN at step 1"):
        make_windows(series, window=2)


@pytest.mark.parametrize("transformer", [SequenceScaler(), PiecewiseAggregate(2)])
def test_transformers_check_the_feature_names_of_a_list_of_dataframes(rng, transformer):
    pd = pytest.importorskip("pandas")
    frames = [pd.DataFrame(rng.normal(size=(T, 2)), columns=["a", "b"]) for T in (3, 5)]
    transformer.fit(frames)
    np.testing.assert_array_equal(transformer.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        transformer.transform([f[["b", "a"]] for f in frames])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        transformer.transform([f.to_numpy() for f in frames])
