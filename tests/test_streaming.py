"""Streaming inference (issue 17, part 2): ``est.stream``, fed one step at a time, answers
as ``est.predict`` on the steps seen so far."""

import doctest
import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from sklstm import LSTMClassifier, LSTMRegressor, LSTMStepClassifier, LSTMStepRegressor
from sklstm._estimators import _BaseLSTM
from sklstm._kernels import _blas, _recurrent, _stream
from sklstm._streaming import ClassifierStream, StepClassifierStream, StepStream, Stream

N_FEATURES = 3


def fitted(kind="classifier", rng=None, **params):
    """A model fitted briefly on standardised-looking data, then given random biases, head
    bias and readout weights (attention's start at 0: a uniform weighting), so that
    every part of the step and the readout is exercised."""
    rng = np.random.default_rng(0) if rng is None else rng
    X = rng.normal(loc=1.0, scale=3.0, size=(30, 8, N_FEATURES))
    if kind == "classifier":
        est, y = LSTMClassifier, np.arange(30) % 3
    else:
        est, y = LSTMRegressor, X[:, :, 0].sum(axis=1)
    params = {"hidden_layer_sizes": 6, "max_iter": 1, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = est(**params).fit(X, y)
    net = est.network_
    for cell in (cell for layer in net.views.layers for cell in layer):
        for bias in cell[2:]:
            bias[:] = rng.normal(scale=0.5, size=bias.shape)
    for w in net.views.readout:
        w[:] = rng.normal(scale=2.0, size=w.shape)
    net.views.head_b[:] = rng.normal(size=net.views.head_b.shape)
    return est


def answers(est, stream):
    """The stream's answers and the estimator's, each stream's sequence so far alone."""
    if isinstance(stream, ClassifierStream):
        return stream.predict_proba(), stream.predict_log_proba(), stream.predict()
    return (stream.predict(),)


def expected(est, sequences):
    rows = [[x[None]] for x in sequences]
    if hasattr(est, "predict_proba"):
        methods = (est.predict_proba, est.predict_log_proba, est.predict)
    else:
        methods = (est.predict,)
    return tuple(np.concatenate([m(*row) for row in rows]) for m in methods)


def run_streams(est, rng, n_steps=14):
    """Three streams of different lengths: stream 1 restarts at step 4, stream 2 at step 9
    (by reset(i)); yields, after every step, the stream's answers and the estimator's on
    each stream's own sequence so far."""
    stream = est.stream(3)
    steps = rng.normal(loc=1.0, scale=3.0, size=(n_steps, 3, N_FEATURES))
    starts = [0, 0, 0]
    for t in range(n_steps):
        for i, restart in ((1, 4), (2, 9)):
            if t == restart:
                stream.reset(i)
                starts[i] = t
        stream.update(steps[t])
        sequences = [steps[starts[i] : t + 1, i] for i in range(3)]
        yield answers(est, stream), expected(est, sequences)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layers", [(6,), (6, 5)], ids=["1 layer", "2 layers"])
@pytest.mark.parametrize("readout", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_stream_answers_as_predict_on_the_steps_so_far(cell, readout, layers, dtype, rng):
    """Bitwise for every readout but attention, whose online softmax rescales its sums as
    the running maximum grows: to rounding."""
    kind = "classifier" if layers == (6,) else "regressor"
    est = fitted(kind, rng, cell=cell, readout=readout, hidden_layer_sizes=layers, dtype=dtype)
    for got, want in run_streams(est, rng):
        for g, w in zip(got, want, strict=True):
            if readout != "attention" or g.dtype.kind not in "f":
                np.testing.assert_array_equal(g, w)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-12 if dtype == "float64" else 2e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_step_estimators_update_returns_predict_at_the_newest_step(kind, cell, rng):
    X = rng.normal(loc=1.0, scale=3.0, size=(24, 7, N_FEATURES))
    if kind == "classifier":
        est, y = LSTMStepClassifier, (X[:, :, 0] > 1).astype(int) + (X[:, :, 1] > 2)
    else:
        est, y = LSTMStepRegressor, np.cumsum(X[:, :, :2], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = est((5, 4), cell=cell, max_iter=2, random_state=0, dtype="float64").fit(X, y)
    stream = est.stream(2)
    assert isinstance(stream, StepClassifierStream if kind == "classifier" else StepStream)
    steps = rng.normal(loc=1.0, scale=3.0, size=(9, 2, N_FEATURES))
    stream.update(steps[0])
    stream.reset(1)  # stream 1 starts at step 1
    for t in range(1, 9):
        got = stream.update(steps[t])
        sequences = [steps[: t + 1, 0], steps[1 : t + 1, 1]]
        # The head of each stream is one row's product, predict's one of the sequence's
        # rows: float64 to rounding (BLAS blocks a row with its neighbours).
        if kind == "classifier":
            np.testing.assert_array_equal(got, [est.predict([x])[0][-1] for x in sequences])
            np.testing.assert_allclose(
                stream.predict_proba(),
                [est.predict_proba([x])[0][-1] for x in sequences],
                rtol=1e-12,
            )
        else:
            np.testing.assert_allclose(
                got, [est.predict([x])[0][-1] for x in sequences], rtol=1e-12
            )
        np.testing.assert_array_equal(stream.predict(), got)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_attention_stays_within_its_bound_over_long_sequences(dtype, rtol):
    """The bound of the module docstring: the running maximum of the scores grows often
    over a long random walk, each time rescaling the sums."""
    rng = np.random.default_rng(1)
    est = fitted("regressor", rng, readout="attention", dtype=dtype, standardize_y=False)
    steps = np.cumsum(rng.normal(scale=0.5, size=(400, N_FEATURES)), axis=0)
    stream = est.stream()
    for t, x in enumerate(steps):
        stream.update(x)
        if t % 50 == 49:
            want = est.predict(steps[None, : t + 1])
            np.testing.assert_allclose(stream.predict(), want, rtol=rtol, atol=rtol)


def test_every_isa_level_of_the_step_gives_predicts_bits(rng):
    est = fitted("regressor", rng, readout="mean", dtype="float64")
    steps = rng.normal(size=(6, N_FEATURES))
    modules = (_stream, _recurrent, _blas)
    try:
        for level in _stream.isa_levels():
            for module in modules:
                module._force_isa_level(level)
            stream = est.stream()
            for x in steps:
                stream.update(x)
            assert stream.predict() == est.predict(steps[None])
    finally:
        for module in modules:
            module._force_isa_level(0)


def test_one_stream_takes_a_1d_step_and_any_real_dtype(rng):
    est = fitted("regressor", rng)
    steps = rng.integers(-3, 3, size=(5, N_FEATURES))
    a, b, c = est.stream(), est.stream(), est.stream()
    for x in steps:
        a.update(x)  # int64, 1-D
        b.update(x[None].astype(np.float32))  # 2-D, another float
        c.update(list(map(int, x)))
    want = est.predict(steps[None])
    for stream in (a, b, c):
        np.testing.assert_array_equal(stream.predict(), want)
    np.testing.assert_array_equal(a.n_steps, [5])


def test_predict_before_any_step_names_the_streams(rng):
    est = fitted("classifier", rng)
    stream = est.stream(3)
    with pytest.raises(ValueError, match="Streams 0, 1, 2 have seen no step"):
        stream.predict_proba()
    stream.update(rng.normal(size=(3, N_FEATURES)))
    stream.reset(-2)
    with pytest.raises(ValueError, match="Stream 1 has seen no step"):
        stream.predict()
    np.testing.assert_array_equal(stream.n_steps, [1, 0, 1])
    stream.reset()
    np.testing.assert_array_equal(stream.n_steps, [0, 0, 0])


def test_what_cannot_stream_is_refused(rng):
    with pytest.raises(NotFittedError):
        LSTMClassifier().stream()
    est = fitted("classifier", rng, bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional model cannot stream"):
        est.stream()
    est = fitted("classifier", rng)
    for n in (0, -1, True, 1.5, "2"):
        with pytest.raises(ValueError, match="n_streams must be a positive int"):
            est.stream(n)


BAD_STEPS = [
    ("2 streams' steps for 3", np.zeros((2, N_FEATURES)), ValueError, r"shape \(2, 3\)"),
    ("too few features", np.zeros((3, 2)), ValueError, r"expected \(3, 3\)"),
    ("a 1-D step for 3 streams", np.zeros(N_FEATURES), ValueError, r"shape \(3,\)"),
    ("a 3-D step", np.zeros((3, N_FEATURES, 1)), ValueError, "one step of 3 features"),
    ("a scalar", 1.0, ValueError, r"shape \(\)"),
    ("NaN", np.full((3, N_FEATURES), np.nan), ValueError, "stream 0, feature 0"),
    ("inf in stream 2", np.diag([0, 0, np.inf]), ValueError, "stream 2, feature 2"),
    ("too large for float32", np.full((3, N_FEATURES), 1e300), ValueError, "infinity"),
    ("strings", np.full((3, N_FEATURES), "a"), ValueError, "x must hold numbers"),
    ("complex", np.zeros((3, N_FEATURES)) + 1j, ValueError, "real numbers, got .* complex"),
    ("objects", np.full((3, N_FEATURES), object()), TypeError, "x must hold numbers"),
    ("None", np.full((3, N_FEATURES), None), ValueError, "NaN"),
    ("dates", np.zeros((3, N_FEATURES), "datetime64[s]"), TypeError, "datetime64"),
]


@pytest.mark.parametrize(
    "x, error, match", [case[1:] for case in BAD_STEPS], ids=[case[0] for case in BAD_STEPS]
)
def test_a_bad_step_is_refused_and_changes_nothing(x, error, match, rng):
    est = fitted("classifier", rng, dtype="float32")
    stream = est.stream(3)
    stream.update(rng.normal(size=(3, N_FEATURES)))
    before = pickle.dumps(stream)
    with np.errstate(all="ignore"), pytest.raises(error, match=match):
        stream.update(x)
    assert pickle.dumps(stream) == before


def test_bad_reset_indices_are_refused(rng):
    stream = fitted("classifier", rng).stream(2)
    for i, error in ((2, IndexError), (-3, IndexError), (True, TypeError), (0.0, TypeError)):
        with pytest.raises(error, match="stream"):
            stream.reset(i)
    stream.reset(np.int64(1))


def test_frames_have_their_feature_names_checked(rng):
    est = fitted("classifier", rng)
    columns = ["a", "b", "c"]
    est.fit(
        [pd.DataFrame(x, columns=columns) for x in rng.normal(size=(9, 4, 3))], np.arange(9) % 2
    )
    steps = rng.normal(size=(4, 3))
    stream, single = est.stream(2), est.stream()
    for x in steps:
        stream.update(pd.DataFrame([x, -x], columns=columns))
        single.update(pd.Series(x, index=columns))
    np.testing.assert_array_equal(stream.predict_proba()[:1], single.predict_proba())
    want = est.predict_proba([pd.DataFrame(steps, columns=columns)])
    np.testing.assert_array_equal(single.predict_proba(), want)
    with pytest.raises(ValueError, match="feature names"):
        stream.update(pd.DataFrame([x, -x], columns=["a", "c", "b"]))


def test_a_stream_keeps_the_model_it_was_made_from(rng):
    est = fitted("regressor", rng, warm_start=True)
    steps = rng.normal(size=(5, N_FEATURES))
    stream = est.stream()
    for x in steps[:3]:
        stream.update(x)
    want = est.predict(steps[None, :3])
    X, y = rng.normal(size=(20, 5, N_FEATURES)), rng.normal(size=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, y)  # in place, the same network
        assert est.predict(steps[None, :3]) != want
        np.testing.assert_array_equal(stream.predict(), want)
        est.set_params(warm_start=False, hidden_layer_sizes=(4, 2), cell="gru").fit(X, y)
    np.testing.assert_array_equal(stream.predict(), want)
    for x in steps[3:]:
        stream.update(x)
    assert stream.n_steps[0] == 5


def test_a_pickled_stream_goes_on_where_it_was(rng):
    est = fitted("classifier", rng, readout="attention")
    steps = rng.normal(size=(6, 2, N_FEATURES))
    stream = est.stream(2)
    for x in steps[:3]:
        stream.update(x)
    copy = pickle.loads(pickle.dumps(stream))
    assert type(copy) is ClassifierStream and copy.n_streams == 2
    for x in steps[3:]:
        stream.update(x)
        copy.update(x)
    np.testing.assert_array_equal(copy.predict_proba(), stream.predict_proba())
    np.testing.assert_array_equal(copy.classes_, est.classes_)


def test_a_damaged_state_is_refused(rng):
    est = fitted("regressor", rng)
    stream = est.stream(2)
    state = stream._kernel.get_state()
    for bad in (
        {**state, "h_0": state["h_0"][:1]},
        {**state, "steps": -state["steps"] - 1},
        {**state, "c_0": state["c_0"].astype(np.float16)},
        {k: v for k, v in state.items() if k != "c_0"},
        list(state.values()),
    ):
        with pytest.raises(ValueError, match="state"):
            Stream(stream._model, 2, bad)


def test_a_regressor_stream_has_no_probabilities(rng):
    stream = fitted("regressor", rng).stream()
    assert type(stream) is Stream and not hasattr(stream, "predict_proba")
    assert "Stream of 1 for LSTMRegressor" in repr(stream)


def test_streams_in_threads_equal_streams_in_turn(rng):
    """One stream per thread, concurrently (update releases the GIL), as in turn."""
    est = fitted("classifier", rng, hidden_layer_sizes=16, cell="gru")
    steps = rng.normal(size=(8, 300, 2, N_FEATURES))

    def run(xs):
        stream = est.stream(2)
        out = []
        for x in xs:
            stream.update(x)
            out.append(stream.predict_proba())
        return np.array(out)

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, steps))
    for xs, got in zip(steps, together, strict=True):
        np.testing.assert_array_equal(got, run(xs))


def test_threads_sharing_a_stream_never_break_it(rng):
    """Calls on one stream run one at a time, whatever the interleaving: every update
    counts, and the state is always one some order of the calls gives."""
    est = fitted("regressor", rng, readout="max")
    stream = est.stream(4)
    x = rng.normal(size=(4, N_FEATURES))
    barrier = threading.Barrier(4)

    def hammer(k):
        barrier.wait()
        for _ in range(500):
            stream.update(x)
            if k == 0:
                stream.predict()
            elif k == 1:
                pickle.loads(pickle.dumps(stream))
        return k

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(hammer, range(4))) == [0, 1, 2, 3]
    np.testing.assert_array_equal(stream.n_steps, [2000] * 4)
    # The same step repeated: the answer is that of the step repeated 2000 times.
    single = est.stream(4)
    for _ in range(2000):
        single.update(x)
    np.testing.assert_array_equal(stream.predict(), single.predict())


def test_the_example_runs():
    (test,) = doctest.DocTestFinder().find(_BaseLSTM.stream, "stream")
    runner = doctest.DocTestRunner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


def test_the_kernel_is_initialised_once_and_safe_before(rng):
    """Its pointers are set once, into arrays it keeps: no call can reach freed memory."""
    est = fitted("regressor", rng)
    kernel = est.stream()._kernel
    with pytest.raises(RuntimeError, match="initialised once"):
        kernel.__init__(est.network_, 2)
    bare = _stream.StreamKernel.__new__(_stream.StreamKernel)
    assert bare.update(np.zeros((0, 0), np.float32)) is True  # zero streams: nothing to do
    with pytest.raises(ValueError):
        bare.reset(0, 1)
