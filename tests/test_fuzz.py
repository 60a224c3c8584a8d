"""Property-based tests: whatever the shapes, lengths, dtypes, labels and hyperparameters,
every call works and returns finite, correctly shaped output, or raises a clear ValueError
or TypeError."""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.preprocessing import SequenceScaler

# Derandomized: the same examples on every run, so that CI is repeatable.
FUZZ = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# At most one deliberate defect per example, a third of the time: the rest must fit.
DEFECTS = [None, None, None, None, None, None, "zero-length", "nan", "inf", "single-class"]


@st.composite
def sequences(draw, defect):
    """X in one of the accepted formats, with the defect if it is one of X's, and its
    number of samples."""
    n = draw(st.integers(1, 24))
    D = draw(st.integers(1, 3))
    layout = draw(st.sampled_from(["3d", "2d", "ragged", "ragged-1d"]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.bool_]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    def values(shape):
        return (rng.normal(size=shape) * 3).astype(dtype)

    lengths = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    if defect == "zero-length":
        lengths[draw(st.integers(0, n - 1))] = 0
    if layout == "3d":
        X = values((n, 0 if defect == "zero-length" else lengths[0], D))
    elif layout == "2d":
        X = values((n, 0 if defect == "zero-length" else lengths[0]))
    else:
        X = [values((T,) if layout == "ragged-1d" else (T, D)) for T in lengths]
    if defect in ("nan", "inf"):
        X = np.asarray(X, dtype=np.float64) if isinstance(X, np.ndarray) else X
        target = X if isinstance(X, np.ndarray) else X[0]
        target = target.astype(np.float64) if target.dtype.kind != "f" else target
        target.flat[0] = np.nan if defect == "nan" else np.inf
        if not isinstance(X, np.ndarray):
            X = [target, *X[1:]]
        else:
            X = target
    return X, n


@st.composite
def labels(draw, n, defect):
    kind = draw(st.sampled_from(["int", "str", "bool", "float-classes", "multilabel"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    k = 1 if defect == "single-class" else min(n, draw(st.integers(2, 4)))
    y = np.arange(n) % k  # every class present
    rng.shuffle(y)
    if kind == "str":
        return np.array(["a", "b", "c", "d"])[y]
    if kind == "bool" and k == 2:
        return y == 0
    if kind == "float-classes":  # integral: scikit-learn reads 0.5 as a continuous target
        return y * 2.0
    if kind == "multilabel" and defect is None:
        return np.column_stack([y % 2, (y + 1) % 2, rng.integers(2, size=n)])
    return y


hyperparameters = st.fixed_dictionaries(
    {
        "hidden_layer_sizes": st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple),
        "batch_size": st.integers(1, 8),
        "max_iter": st.integers(1, 2),
        "solver": st.sampled_from(["adam", "sgd", "rmsprop", "adagrad"]),
        "bidirectional": st.booleans(),
        "dropout": st.sampled_from([0.0, 0.4]),
        "recurrent_dropout": st.sampled_from([0.0, 0.4]),
        "clip_norm": st.sampled_from([None, 1.0]),
        "dtype": st.sampled_from(["float32", "float64"]),
        "early_stopping": st.sampled_from([False, False, False, True]),
        "random_state": st.integers(0, 3),
    }
)


def outcome(call):
    """Run call: its result, or None when it refused its input with a ValueError or a
    TypeError (any other exception fails the test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except (ValueError, TypeError) as exc:
        assert str(exc), "an error without a message"
        return None


def check_outputs(est, X, n):
    # The data a model was just fitted on is good input: refusing it is a failure.
    predictions = est.predict(X)
    assert len(predictions) == n
    if isinstance(est, LSTMRegressor):
        assert predictions.dtype == np.float64 and np.isfinite(predictions).all()
    else:
        proba = est.predict_proba(X)
        assert proba.shape[0] == n and np.isfinite(proba).all()
        assert ((proba >= 0) & (proba <= 1)).all()


def must_fit(defect, params, n):
    """Whether the example is good input: then a refusal is a bug."""
    early_stopping_possible = not params["early_stopping"] or n >= 20
    return defect is None and early_stopping_possible


@FUZZ
@given(data=st.data(), params=hyperparameters, defect=st.sampled_from(DEFECTS))
def test_classifier_fit_predict(data, params, defect):
    X, n = data.draw(sequences(defect))
    y = data.draw(labels(n, defect))
    clf = outcome(lambda: LSTMClassifier(**params).fit(X, y))
    if clf is None:  # (one sample is one class: a classifier needs two)
        assert not (must_fit(defect, params, n) and n >= 2), "good input refused"
        return
    check_outputs(clf, X, n)
    if not params["early_stopping"]:
        assert outcome(lambda: clf.partial_fit(X, y)) is not None
        check_outputs(clf, X, n)


@FUZZ
@given(
    data=st.data(),
    params=hyperparameters,
    defect=st.sampled_from(DEFECTS),
    two_outputs=st.booleans(),
)
def test_regressor_fit_predict(data, params, defect, two_outputs):
    X, n = data.draw(sequences(defect))
    rng = np.random.default_rng(n)
    y = rng.normal(size=(n, 2) if two_outputs else n)
    reg = outcome(lambda: LSTMRegressor(**params).fit(X, y))
    if reg is None:
        assert not must_fit(defect, params, n), "good input refused"
        return
    check_outputs(reg, X, n)


@FUZZ
@given(data=st.data(), defect=st.sampled_from(DEFECTS))
def test_scaler_round_trip(data, defect):
    X, n = data.draw(sequences(defect))
    scaler = outcome(lambda: SequenceScaler().fit(X))
    if scaler is None:
        assert defect in ("zero-length", "nan", "inf"), "good input refused"
        return
    Z = scaler.transform(X)
    back = scaler.inverse_transform(Z)
    for x, b in zip(X, back, strict=True):
        np.testing.assert_allclose(
            np.asarray(b, dtype=float), np.asarray(x, dtype=float), rtol=1e-6, atol=1e-9
        )
