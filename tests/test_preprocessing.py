import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier
from sklstm.preprocessing import PiecewiseAggregate, SequenceScaler, make_windows


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
