"""The Cython kernels: products, OpenMP build, layer passes, optimizer updates."""

import numpy as np
import pytest
from joblib import cpu_count
from threadpoolctl import threadpool_limits

from sklstm._kernels import _blas, _optim, _packing, _recurrent
from sklstm._kernels._blas import (
    rows_product_memview,
    step_product2_memview,
    step_product_memview,
)
from sklstm._kernels._openmp import openmp_enabled
from sklstm._kernels._recurrent import GRULayer, LSTMLayer
from sklstm._network import Workspace
from sklstm._sequences import check_sequences, pack_batch
from sklstm._threading import effective_n_threads, single_threaded_blas

from conftest import chunked_predictions, make_network, random_sequences


def test_openmp_build_and_thread_budget(monkeypatch):
    # The build's OpenMP status is also printed in pytest's header (conftest.py).
    if not openmp_enabled():
        with threadpool_limits(limits=2, user_api="openmp"):
            assert effective_n_threads() == 1
        return
    cores = cpu_count(only_physical_cores=True)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    # Without OMP_NUM_THREADS: every physical core, unless threadpoolctl says fewer.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with threadpool_limits(limits=2, user_api="openmp"):
        assert effective_n_threads() == min(2, cores)
    with threadpool_limits(limits=cores + 3, user_api="openmp"):
        assert effective_n_threads() == cores
        # With it, OpenMP's budget as the user set it, even past the cores.
        monkeypatch.setenv("OMP_NUM_THREADS", str(cores + 3))
        assert effective_n_threads() == cores + 3


CELLS = ["lstm", "gru"]


def run_layer(net, X, n_threads):
    """Training forward and backward of the first layer, from dL/dh = 1 at every step:
    (batch, {name: array}) with the forward's outputs and every gradient."""
    seqs = check_sequences(X, dtype=net.dtype)
    ws = Workspace(net, int(seqs.lengths.sum()), seqs.n_samples)
    batch = pack_batch(seqs, np.arange(seqs.n_samples), ws.X)
    kernel = ws.layers[0][0]
    N = batch.offsets[-1]
    params = net.views.layers[0][0]
    out = {}
    with single_threaded_blas():
        kernel.forward_train(batch.X, batch.offsets, params, None, n_threads)
        kept = {name: getattr(kernel, name) for name in ("G", "Q", "C", "Hs")}
        out |= {name: a[:N].copy() for name, a in kept.items() if a is not None}
        grads = net.unpack(np.full_like(net.params, np.nan)).layers[0][0]
        dX = np.empty_like(batch.X)
        kernel.dHs[:N] = 1
        kernel.backward(batch.X, batch.offsets, params, grads, dX, None, n_threads)
    return batch, out | {f"d{name}": g.copy() for name, g in grads._asdict().items()} | {"dX": dX}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference_lstm(layer, x, input_mask=1.0, recurrent_mask=1.0):
    """A step-by-step numpy LSTM over one (T, D) sequence: hidden states (T, H). Dropout
    as Keras does it: one mask for the inputs and one for h_{t-1}, the same at every step."""
    H = layer.W_hh.shape[1]
    h, c, out = np.zeros(H), np.zeros(H), []
    for x_t in x:
        z = layer.W_ih @ (x_t * input_mask) + layer.W_hh @ (h * recurrent_mask) + layer.bias
        i, f, o = (sigmoid(z[s * H : (s + 1) * H]) for s in (0, 1, 3))
        c = f * c + i * np.tanh(z[2 * H : 3 * H])
        h = o * np.tanh(c)
        out.append(h)
    return np.array(out)


def reference_gru(layer, x, input_mask=1.0, recurrent_mask=1.0):
    """``reference_lstm`` for a GRU, PyTorch's equations: the reset gate multiplies
    W_hn h + b_hn; the recurrent mask enters the products only, not z * h."""
    H = layer.W_hh.shape[1]
    h, out = np.zeros(H), []
    for x_t in x:
        gi = layer.W_ih @ (x_t * input_mask) + layer.bias
        gh = layer.W_hh @ (h * recurrent_mask)
        r = sigmoid(gi[:H] + gh[:H])
        z = sigmoid(gi[H : 2 * H] + gh[H : 2 * H])
        n = np.tanh(gi[2 * H :] + r * (gh[2 * H :] + layer.bias_hn))
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out)


REFERENCES = {"lstm": reference_lstm, "gru": reference_gru}


@pytest.mark.parametrize("cell", CELLS)
def test_forward_matches_step_by_step_reference(rng, scheme, cell):
    net = make_network(rng, 3, (6,), 1, cell=cell)
    X = random_sequences(rng, [9, 1, 4, 9, 6], 3)
    batch, out = run_layer(net, X, n_threads=2)
    Hs = out["Hs"]
    for i, sample in enumerate(batch.order):
        rows = batch.offsets[:-1][: len(X[sample])] + i
        expected = REFERENCES[cell](net.views.layers[0][0], X[sample])
        np.testing.assert_allclose(Hs[rows], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_masks_follow_keras(rng, scheme, cell):
    net = make_network(rng, 3, (6,), 1, cell=cell)
    X = random_sequences(rng, [9, 1, 4, 9, 6], 3)
    masks = net.draw_masks(rng, len(X), dropout=0.5, recurrent_dropout=0.5)
    seqs = check_sequences(X, dtype=np.float64)
    ws = Workspace(net, int(seqs.lengths.sum()), len(X), dropout=0.5, recurrent_dropout=0.5)
    batch = pack_batch(seqs, np.arange(len(X)), ws.X)
    with single_threaded_blas():
        net.forward(batch, ws, 2, masks)
    Hs = ws.layers[0][0].Hs
    for i, sample in enumerate(batch.order):  # masks are by position in the batch
        rows = batch.offsets[:-1][: len(X[sample])] + i
        expected = REFERENCES[cell](
            net.views.layers[0][0], X[sample], masks.inputs[0][0][i], masks.recurrent[0][0][i]
        )
        np.testing.assert_allclose(Hs[rows], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_passes_are_bitwise_independent_of_threads(rng, scheme, dtype, cell):
    net = make_network(rng, 4, (16,), 2, dtype, cell=cell)
    X = random_sequences(rng, rng.integers(1, 30, size=70), 4, dtype)
    _, one = run_layer(net, X, n_threads=1)
    _, two = run_layer(net, X, n_threads=2)
    for name in one:  # forward outputs and every gradient
        assert np.array_equal(one[name], two[name]), name


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_passes_are_bitwise_independent_of_the_scheme(rng, dtype, cell):
    # The scheme follows the thread count: it must not change a bit either.
    net = make_network(rng, 4, (100,), 2, dtype, cell=cell)
    X = random_sequences(rng, rng.integers(1, 12, size=20), 4, dtype)
    try:
        _recurrent._force_scheme(0)
        _, rows = run_layer(net, X, n_threads=2)
        _recurrent._force_scheme(1)
        _, columns = run_layer(net, X, n_threads=2)
    finally:
        _recurrent._force_scheme(-1)
    for name in rows:
        assert np.array_equal(rows[name], columns[name]), name


@pytest.mark.parametrize("cell", CELLS)
def test_forward_predict_matches_forward_train(rng, scheme, cell):
    net = make_network(rng, 3, (5,), 1, cell=cell)
    X = random_sequences(rng, [7, 2, 7, 5, 1], 3)
    batch, out = run_layer(net, X, n_threads=2)
    Hs = np.empty((batch.offsets[-1], 5))
    with single_threaded_blas():
        net.spec.kernel.forward_predict(batch.X, batch.offsets, net.views.layers[0][0], Hs, 2)
    np.testing.assert_array_equal(Hs, out["Hs"])


def numpy_adam(p, g, m, v, lr, b1, b2, eps, t):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps), m, v


@pytest.mark.parametrize("n", [10, 100_000])  # serial and parallel passes
def test_optimizer_kernels_match_their_formulas(rng, n):
    p0, g = rng.normal(size=n), rng.normal(size=n)

    p, m, v = p0.copy(), rng.random(n), rng.random(n)
    expected = numpy_adam(p0, g, m.copy(), v.copy(), 0.01, 0.9, 0.999, 1e-8, 3)
    _optim.adam(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 3, 2)
    for ours, theirs in zip((p, m, v), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)

    for nesterov in (False, True):
        p, vel = p0.copy(), rng.normal(size=n)
        new_vel = 0.9 * vel - 0.1 * g
        step = 0.9 * new_vel - 0.1 * g if nesterov else new_vel
        _optim.sgd(p, g, vel, 0.1, 0.9, nesterov, 2)
        np.testing.assert_allclose(vel, new_vel, rtol=1e-12)
        np.testing.assert_allclose(p, p0 + step, rtol=1e-12)

    p, ms = p0.copy(), rng.random(n)
    new_ms = 0.9 * ms + 0.1 * g * g
    _optim.rmsprop(p, g, ms, 0.01, 0.9, 1e-7, 2)
    np.testing.assert_allclose(p, p0 - 0.01 * g / (np.sqrt(new_ms) + 1e-7), rtol=1e-12)

    p, ss = p0.copy(), rng.random(n)
    _optim.adagrad(p, g, ss, 0.01, 1e-7, 2)
    np.testing.assert_allclose(p, p0 - 0.01 * g / (np.sqrt(ss) + 1e-7), rtol=1e-12)


def test_optimizer_kernels_take_float32(rng):
    p, g = rng.normal(size=50).astype(np.float32), rng.normal(size=50).astype(np.float32)
    m, v = np.zeros(50, np.float32), np.zeros(50, np.float32)
    expected, _, _ = numpy_adam(p.astype(np.float64), g, 0.0, 0.0, 0.01, 0.9, 0.999, 1e-8, 1)
    _optim.adam(p, g, m, v, 0.01, 0.9, 0.999, 1e-8, 1, 1)
    np.testing.assert_allclose(p, expected, rtol=1e-5)  # float32 arithmetic


def layer_arguments(net, kernel):
    """Valid arguments of a layer pass, by name, in call order: a batch of 6 rows (3
    sequences of 2 steps) through a layer of H = 4 with room for it."""
    args = {"X": np.zeros((6, 3)), "offsets": np.array([0, 3, 6]), "params": net.views.layers[0][0]}
    if kernel == "backward":
        args |= {
            "grads": net.unpack(np.zeros_like(net.params)).layers[0][0],
            "dX": np.zeros((6, 3)),
        }
    if kernel == "forward_predict":
        args["Hs"] = np.zeros((6, 4))
    else:
        args["mask"] = np.ones((3, 4))
    return args | {"n_threads": 1}


def replaced(**values):
    """An edit of a pass's arguments: some replaced."""
    return lambda args: args.update(values)


def reshaped(key, name, shape):
    """An edit of a pass's arguments: the array ``name`` of ``key`` (params or grads) with
    another shape (W_hh: of its stored, transposed block ``shape[::-1]``)."""

    def edit(args):
        value = np.zeros(shape[::-1]).T if name == "W_hh" else np.zeros(shape)
        args[key] = args[key]._replace(**{name: value})

    return edit


def float32_inputs(args):
    """An edit of a pass's arguments: X in float32 (and no mask or dX, which Cython would
    refuse first as float64)."""
    args.update(
        {key: None for key in ("mask", "dX") if key in args}, X=np.zeros((6, 3), np.float32)
    )


PASSES = ("forward_train", "backward", "forward_predict")

# A pass, an edit of its arguments and the words of the error.
BAD_LAYER_CALLS = [
    *[
        (kernel, replaced(offsets=np.array(o)), match)
        for kernel in PASSES
        for o, match in [
            ([0, 2, 6], "non-increasing"),
            ([0, 3, 5], "from 0 to the number of packed rows"),
        ]
    ],
    # An OpenMP num_threads clause below 1 aborts the process (libgomp).
    *[
        (kernel, replaced(n_threads=n), "n_threads must be at least 1")
        for kernel in PASSES
        for n in (0, -5)
    ],
    *[(kernel, float32_inputs, "X is not float64, the layer's dtype") for kernel in PASSES[:2]],
    *[
        (kernel, replaced(X=np.zeros(shape), offsets=np.array(o)), "does not fit the layer")
        for kernel in PASSES[:2]
        for shape, o in [((8, 3), [0, 4, 8]), ((6, 2), [0, 3, 6]), ((6, 3), [0, 4, 6])]
    ],
    *[
        (kernel, reshaped("params", "W_ih", (16, 2)), r"W_ih has shape \(16, 2\), expected")
        for kernel in PASSES
    ],
    *[
        (kernel, reshaped("params", "W_hh", (16, 5)), r"W_hh transposed has shape \(5, 16\)")
        for kernel in PASSES
    ],
    *[(kernel, reshaped("params", "bias", (7,)), "bias has 7 entries") for kernel in PASSES[::2]],
    (
        "forward_train",
        replaced(mask=np.ones((2, 4))),
        r"mask has shape \(2, 4\), expected \(3, 4\)",
    ),
    ("backward", replaced(mask=np.ones((3, 5))), r"mask has shape \(3, 5\), expected \(3, 4\)"),
    ("backward", replaced(dX=np.zeros((6, 2))), r"dX has shape \(6, 2\), expected \(6, 3\)"),
    ("backward", reshaped("grads", "W_ih", (8, 3)), r"gradient of W_ih has shape \(8, 3\)"),
    ("backward", reshaped("grads", "W_hh", (8, 4)), "gradient of W_hh transposed has shape"),
    ("backward", reshaped("grads", "bias", (3,)), "gradient of bias has 3 entries"),
    ("forward_predict", replaced(Hs=np.zeros((5, 4))), r"Hs has shape \(5, 4\), expected \(6, 4\)"),
]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "kernel, edit, match",
    BAD_LAYER_CALLS,
    ids=[f"{kernel}-{i}" for i, (kernel, _, _) in enumerate(BAD_LAYER_CALLS)],
)
def test_layer_kernels_refuse_what_they_would_index_out_of_bounds(rng, cell, kernel, edit, match):
    # The kernels index without bounds checks: a call that does not fit is refused,
    # before anything is written.
    net = make_network(rng, 3, (4,), 1, cell=cell)
    layer = net.spec.kernel(3, 4, np.float64, 6, 3, recurrent_dropout=True)
    args = layer_arguments(net, kernel)
    edit(args)
    arrays = {k: v for k, v in args.items() if isinstance(v, np.ndarray)}
    before = {k: v.copy() for k, v in arrays.items()} | {"params": net.params.copy()}
    with pytest.raises(TypeError if "dtype" in match else ValueError, match=match):
        getattr(layer, kernel)(*args.values())
    for k, v in (arrays | {"params": net.params}).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_kernels_refuse_a_mask_without_room_for_it(rng, cell):
    net = make_network(rng, 3, (4,), 1, cell=cell)
    layer = net.spec.kernel(3, 4, np.float64, 6, 3)
    assert layer.Hm is None and layer.R is None
    X, offsets = np.zeros((6, 3)), np.array([0, 3, 6])
    with pytest.raises(ValueError, match="without recurrent dropout: mask must be None"):
        layer.forward_train(X, offsets, net.views.layers[0][0], np.ones((3, 4)), 1)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_buffers_follow_the_cell(rng, cell):
    # Allocated once, with room for the largest batch: what the cell keeps, and no more.
    net = make_network(rng, 3, (4,), 1, np.float32, cell=cell)
    layer = net.spec.kernel(3, 4, np.float32, 10, 5, recurrent_dropout=True)
    GH = net.spec.gates * 4
    shapes = {name: getattr(layer, name).shape for name in ("G", "Hs", "dHs", "Hm", "carry")}
    assert shapes == {"G": (10, GH), "Hs": (10, 4), "dHs": (10, 4), "Hm": (10, 4), "carry": (5, 4)}
    assert (layer.C is not None) == (cell == "lstm") and (layer.Q is not None) == (cell == "gru")
    assert layer.W_hh.shape == (GH, 4) and layer.W_ihT.shape == (3, GH)
    for name in ("G", "Hs", "dHs", "carry", "W_hh"):
        assert getattr(layer, name).ctypes.data % 64 == 0 and layer.G.dtype == np.float32
    with pytest.raises(ValueError, match="max_batch <= max_rows"):
        net.spec.kernel(3, 4, np.float32, 4, 5)
    with pytest.raises(TypeError, match="float32 or float64"):
        net.spec.kernel(3, 4, np.int64, 4, 4)


# Each optimizer kernel: its state arrays, and its hyper-parameters (before n_threads).
OPTIMIZER_KERNELS = {
    "adam": (("m", "v"), (0.01, 0.9, 0.999, 1e-8, 1)),
    "sgd": (("velocity",), (0.1, 0.9, True)),
    "rmsprop": (("mean_square",), (0.01, 0.9, 1e-7)),
    "adagrad": (("sum_square",), (0.01, 1e-7)),
}


def optimizer_arrays(rng, kernel, dtype, n=10):
    """params, grad and the kernel's state arrays, valid ones, by name, in call order."""
    names = ("params", "grad", *OPTIMIZER_KERNELS[kernel][0])
    return {name: rng.random(n).astype(dtype) for name in names}


def run_optimizer(kernel, arrays, n_threads=1):
    getattr(_optim, kernel)(*arrays.values(), *OPTIMIZER_KERNELS[kernel][1], n_threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length", [0, 4, 11])
@pytest.mark.parametrize(
    "kernel, name",
    [
        (kernel, name)
        for kernel, (states, _) in OPTIMIZER_KERNELS.items()
        for name in ("grad", *states)
    ],
)
def test_optimizer_kernels_refuse_mismatched_lengths(rng, kernel, name, length, dtype):
    # The kernels index every array as long as params, unchecked: a tampered pickle's
    # state (Adam's m and v replaced by np.zeros(4)) wrote past its end.
    arrays = optimizer_arrays(rng, kernel, dtype)
    arrays[name] = rng.random(length).astype(dtype)
    before = {key: a.copy() for key, a in arrays.items()}
    with pytest.raises(ValueError, match=rf"^{name} has shape \({length},\), expected \(10,\)"):
        run_optimizer(kernel, arrays)
    for key, a in arrays.items():  # refused before writing anything
        np.testing.assert_array_equal(a, before[key], err_msg=key)
    if name != "grad":  # None, a state never set, has no length either
        arrays[name] = None
        with pytest.raises(ValueError, match=rf"^{name} has shape \(0,\), expected \(10,\)"):
            run_optimizer(kernel, arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [0, -5])
@pytest.mark.parametrize("n", [10, 100_000])  # serial and parallel passes
@pytest.mark.parametrize("kernel", OPTIMIZER_KERNELS)
def test_optimizer_kernels_refuse_fewer_than_one_thread(rng, kernel, n, n_threads, dtype):
    # An OpenMP num_threads clause below 1 aborts the process (libgomp).
    arrays = optimizer_arrays(rng, kernel, dtype, n)
    with pytest.raises(ValueError, match=f"n_threads must be at least 1, got {n_threads}"):
        run_optimizer(kernel, arrays, n_threads)


def packing_arguments(kernel, dtype):
    """Valid arguments of a packing kernel, by name, in call order: a batch of sequences of
    lengths 4, 2 and 3 (rows 0-3, 4-5 and 6-8 of ``data``), packed longest first."""
    data = np.arange(18, dtype=dtype).reshape(9, 2)
    offsets = np.array([0, 3, 6, 8, 9], dtype=np.intp)  # steps of 3, 3, 2 and 1 rows
    return {
        "pack": lambda: {
            "data": data,
            "starts": np.array([0, 4, 6], dtype=np.intp),
            "order": np.array([0, 2, 1], dtype=np.intp),
            "offsets": offsets,
            "out": np.zeros((9, 2), dtype),
        },
        "reverse_rows": lambda: {"offsets": offsets, "perm": np.zeros(9, dtype=np.intp)},
        "take_rows": lambda: {
            "src": data,
            "rows": np.arange(9, dtype=np.intp)[::-1].copy(),
            "dst": np.zeros((9, 2), dtype),
        },
        "scale_rows": lambda: {
            "src": data,
            "offsets": offsets,
            "scale": np.full((3, 2), 2, dtype),
            "dst": np.zeros((9, 2), dtype),
        },
    }[kernel]()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packing_kernels_on_a_valid_batch(dtype):
    data = np.arange(18, dtype=dtype).reshape(9, 2)
    args = packing_arguments("pack", dtype)
    _packing.pack(*args.values())
    # Step by step, the sequences still running: rows 0-3 (order[0]), 6-8, then 4-5.
    np.testing.assert_array_equal(args["out"], data[[0, 6, 4, 1, 7, 5, 2, 8, 3]])
    args = packing_arguments("reverse_rows", dtype)
    _packing.reverse_rows(*args.values())
    # Each sequence's rows in reverse: 8 6 3 0 for the first, 7 4 1, then 5 2.
    np.testing.assert_array_equal(args["perm"], [8, 7, 5, 6, 4, 2, 3, 1, 0])
    args = packing_arguments("take_rows", dtype)
    _packing.take_rows(*args.values())
    np.testing.assert_array_equal(args["dst"], data[::-1])
    args = packing_arguments("scale_rows", dtype)
    _packing.scale_rows(*args.values())
    np.testing.assert_array_equal(args["dst"], 2 * data)


# Offsets that describe no packed batch of 9 rows, and the words of the error.
BAD_OFFSETS = [
    ([], r"offsets has shape \(0,\), expected \(T \+ 1,\)"),
    ([0], r"offsets has shape \(1,\), expected \(T \+ 1,\)"),
    ([1, 3, 6, 8, 9], "from 0 to the number of packed rows, the 9 rows of .*; they run from 1"),
    (
        [0, 3, 6, 8, 10],
        "from 0 to the number of packed rows, the 9 rows of .*; they run from 0 to 10",
    ),
    ([0, 3, 6, 8], "from 0 to the number of packed rows, the 9 rows of .*; they run from 0 to 8"),
    ([0, 2, 5, 7, 9], "non-increasing, non-zero size; step 1 has 3 rows, step 0 2"),
    ([0, 3, 6, 6, 9], "non-increasing, non-zero size; step 2 has 0 rows"),
    ([0, 3, 6, 5, 9], "non-increasing, non-zero size; step 2 has -1 rows"),
    ([0, 0, 9], "non-increasing, non-zero size; step 0 has 0 rows"),
]


def zeros(*shape):
    """Zeros of that shape in the test's dtype (a function of the dtype)."""
    return lambda dtype: np.zeros(shape, dtype)


# A packing kernel, the argument replaced, its replacement (indices, or zeros of the
# test's dtype) and the words of the error.
BAD_PACKING = [
    *[("pack", "offsets", o, match) for o, match in BAD_OFFSETS],
    ("pack", "out", zeros(8, 2), "the 8 rows of out; they run from 0 to 9"),
    ("pack", "out", zeros(9, 3), r"out has shape \(9, 3\), expected \(9, 2\)"),
    ("pack", "order", [0, 2], r"order has shape \(2,\), expected \(3,\)"),
    ("pack", "order", [0, 3, 1], r"order\[1\] = 3 is not an index of starts, which has 3"),
    ("pack", "order", [0, 2, -1], r"order\[2\] = -1 is not an index of starts"),
    ("pack", "starts", [0], r"order\[1\] = 2 is not an index of starts, which has 1"),
    ("pack", "starts", [0, 8, 6], r"order\[2\] = 1 takes rows 8 to 10 of data \(starts\[1\] and 2"),
    ("pack", "starts", [0, -1, 6], r"order\[2\] = 1 takes rows -1 to 1 of data"),
    ("pack", "starts", [6, 4, 0], r"order\[0\] = 0 takes rows 6 to 10 of data"),
    ("pack", "data", zeros(8, 2), r"order\[1\] = 2 takes rows 6 to 9 .* has shape \(8, 2\)"),
    *[("reverse_rows", "offsets", o, match) for o, match in BAD_OFFSETS],
    ("reverse_rows", "perm", np.zeros(8), "the 8 rows of perm; they run from 0 to 9"),
    ("reverse_rows", "perm", np.zeros(10), "the 10 rows of perm; they run from 0 to 9"),
    ("take_rows", "rows", np.arange(8), r"rows has shape \(8,\), expected \(9,\)"),
    ("take_rows", "rows", np.arange(10), r"rows has shape \(10,\), expected \(9,\)"),
    ("take_rows", "rows", [0, 1, 2, 3, 9, 5, 6, 7, 8], r"rows\[4\] = 9 is not a row of src"),
    ("take_rows", "rows", [0, 1, 2, 3, 4, 5, 6, 7, -1], r"rows\[8\] = -1 is not a row of src"),
    ("take_rows", "dst", zeros(9, 3), r"dst has shape \(9, 3\), expected \(9, 2\)"),
    ("take_rows", "src", zeros(9, 1), r"dst has shape \(9, 2\), expected \(9, 1\)"),
    *[("scale_rows", "offsets", o, match) for o, match in BAD_OFFSETS],
    ("scale_rows", "src", zeros(8, 2), "the 8 rows of src; they run from 0 to 9"),
    ("scale_rows", "dst", zeros(8, 2), r"dst has shape \(8, 2\), expected \(9, 2\)"),
    ("scale_rows", "dst", zeros(9, 3), r"dst has shape \(9, 3\), expected \(9, 2\)"),
    ("scale_rows", "scale", zeros(2, 2), r"scale has shape \(2, 2\), expected \(3, 2\)"),
    ("scale_rows", "scale", zeros(3, 1), r"scale has shape \(3, 1\), expected \(3, 2\)"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kernel, name, value, match",
    BAD_PACKING,
    ids=[f"{k}-{n}-{i}" for i, (k, n, _, _) in enumerate(BAD_PACKING)],
)
def test_packing_kernels_refuse_what_they_would_index_out_of_bounds(
    kernel, name, value, match, dtype
):
    args = packing_arguments(kernel, dtype)
    args[name] = value(dtype) if callable(value) else np.array(value, dtype=np.intp)
    outputs = {key: a.copy() for key, a in args.items()}
    with pytest.raises(ValueError, match=match):
        getattr(_packing, kernel)(*args.values())
    for key, a in args.items():  # refused before writing anything
        np.testing.assert_array_equal(a, outputs[key], err_msg=key)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(1, 256, 8, 64), (7, 50, 13, 0), (16, 256, 8, 64), (5, 3, 2, 4), (13, 130, 7, 70)]
)
def test_step_product2_is_two_products_to_the_bit(rng, dtype, shape):
    # One pass over two operand pairs (prediction's x_t @ W_ih^T + h_{t-1} @ W_hh^T) sums
    # each element as the first product then the second accumulated onto it, at every ISA
    # level: full tiles, remainder rows, vectors and columns, and no second pair (k2 = 0).
    m, n, k1, k2 = shape
    a1, b1, a2, b2 = (
        rng.normal(size=s).astype(dtype) for s in ((m, k1), (k1, n), (m, k2), (k2, n))
    )
    try:
        for level in _blas.isa_levels():
            _blas._force_isa_level(level)
            expected = np.empty((m, n), dtype)
            step_product_memview(a1, b1, expected, False)
            step_product_memview(a2, b2, expected, True)
            out = np.full((m, n), np.nan, dtype)
            step_product2_memview(a1, b1, a2, b2, out)
            assert np.array_equal(out, expected), level
    finally:
        _blas._force_isa_level(0)


# (product, (m, n, k)): step_product's shapes have full tiles, remainder rows of each
# count, remainder vectors, and remainder columns both in rows narrower than a vector and
# at the end of wider ones; rows_product's (A stored transposed, the weight gradients'),
# sums over more rows than a block of 64 (each block continues the last one's sums) and
# over none (zero).
PRODUCT_SHAPES = [
    *(("step_product", s) for s in [(1, 256, 64), (7, 50, 13), (16, 64, 256), (5, 3, 2)]),
    *(("step_product", s) for s in [(13, 130, 70), (16, 200, 50)]),
    *(("rows_product", s) for s in [(64, 128, 3200), (8, 256, 50), (7, 50, 13)]),
    *(("rows_product", s) for s in [(1, 130, 200), (13, 3, 65), (5, 20, 0)]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("product, shape", PRODUCT_SHAPES)
def test_products_of_every_isa_level(rng, dtype, product, shape):
    # Every copy of the kernel this CPU can run (x86-64-v4, v3, baseline): C (+)= A @ B,
    # A given as it is stored, (m, k), or transposed, (k, m).
    m, n, k = shape
    transposed = product == "rows_product"
    call = rows_product_memview if transposed else step_product_memview

    def stored(a):  # A as the product takes it
        return np.ascontiguousarray(a.T) if transposed else a

    a, b, c = (rng.normal(size=s).astype(dtype) for s in ((m, k), (k, n), (m, n)))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    try:
        for level in _blas.isa_levels():
            _blas._force_isa_level(level)
            out = c.copy()
            call(stored(a), b, out, True)
            np.testing.assert_allclose(out, exact + c, rtol=tol, atol=tol * np.sqrt(k))
            call(stored(a), b, out, False)
            np.testing.assert_allclose(out, exact, rtol=tol, atol=tol * np.sqrt(k))
            # A row's result is the same, to the bit, whatever rows share the call.
            for i in range(m):
                row = c[i : i + 1].copy()
                call(stored(a[i : i + 1]), b, row, False)
                np.testing.assert_array_equal(row[0], out[i])
    finally:
        _blas._force_isa_level(0)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_passes_of_every_isa_level(rng, scheme, cell, dtype):
    # Every copy this CPU can run of the cells' math (_recurrent) and of the products
    # (_blas), each module at each level: the forward against the step-by-step
    # reference, and every output and gradient against the best level's. They differ by
    # rounding only (FMA contracts some products from x86-64-v3 on).
    net = make_network(rng, 3, (6,), 1, dtype, cell=cell)
    X = random_sequences(rng, [9, 1, 4, 9, 6], 3, dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert _recurrent.isa_levels() == _blas.isa_levels()
    results = {}
    try:
        for level in _recurrent.isa_levels():
            _recurrent._force_isa_level(level)
            _blas._force_isa_level(level)
            batch, results[level] = run_layer(net, X, n_threads=2)
    finally:
        _recurrent._force_isa_level(0)
        _blas._force_isa_level(0)
    best = results[_recurrent.isa_levels()[0]]
    for level, out in results.items():
        for i, sample in enumerate(batch.order):
            rows = batch.offsets[:-1][: len(X[sample])] + i
            expected = REFERENCES[cell](net.views.layers[0][0], X[sample].astype(np.float64))
            np.testing.assert_allclose(
                out["Hs"][rows], expected, rtol=tol, atol=tol, err_msg=f"level {level}"
            )
        for name in out:
            np.testing.assert_allclose(
                out[name], best[name], rtol=tol, atol=tol, err_msg=f"{name} at level {level}"
            )


def test_isa_levels_are_checked():
    for module in (_blas, _recurrent):
        assert module.isa_levels()[-1] == 1  # the baseline runs everywhere
        with pytest.raises(ValueError, match="level 2 is not one of this CPU's"):
            module._force_isa_level(2)


# --- prediction in windows of steps ---------------------------------------------------------


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden_sizes", [(5,), (6, 4)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", ["equal", "ragged", "one"])
@pytest.mark.parametrize("window_rows", [None, 1, 7, "one chunk"])
def test_prediction_equals_training_forward_bitwise(
    rng, monkeypatch, scheme, dtype, hidden_sizes, bidirectional, lengths, window_rows, cell
):
    # Prediction keeps only each layer's running state; training's forward keeps every
    # step: over the same chunk of sequences, their outputs must agree to the bit, whatever
    # the windows of steps prediction runs in (None: the default bound; 1 and 7 rows: a
    # window per step, or cut where the step size shrinks and where it does not; "one
    # chunk": all sequences in one chunk, in windows of 7 rows).
    from sklstm import _network

    net = make_network(rng, 3, hidden_sizes, 2, dtype, bidirectional, cell)
    if lengths == "equal":
        X = rng.normal(size=(9, 11, 3)).astype(dtype)
    else:
        X = random_sequences(rng, [13, 1, 4, 13, 6, 9, 2, 13, 5], 3, dtype)
        X = X[:1] if lengths == "one" else X
    seqs = check_sequences(X, dtype=dtype)
    if window_rows is not None:
        rows = 7 if window_rows == "one chunk" else window_rows
        row_bytes = max(hidden_sizes) * np.dtype(dtype).itemsize  # the widest layer's h
        monkeypatch.setattr(_network, "PREDICT_BYTES", rows * row_bytes)
    if window_rows == "one chunk":
        real_chunks = _network._chunks
        monkeypatch.setattr(
            _network,
            "_chunks",
            lambda seqs, _: real_chunks(seqs, int(seqs.lengths.sum())),
        )
    out, chunks = chunked_predictions(net, seqs, 2, monkeypatch)
    if window_rows == "one chunk":
        assert len(chunks) == 1
    assert np.array_equal(np.sort(np.concatenate(chunks)), np.arange(seqs.n_samples))
    for idx in chunks:
        ws = Workspace(net, int(seqs.lengths[idx].sum()), len(idx))
        with single_threaded_blas():
            batch = pack_batch(seqs, idx, ws.X)
            expected = net.forward(batch, ws, 2)
        assert np.array_equal(out[batch.order], expected)


def predict_in_windows(kernel, batch, params, bounds, n_threads, spare_rows=0):
    """``forward_predict``'s hidden states over ``batch`` run window after window, steps
    ``bounds[w]`` to ``bounds[w + 1]``, carrying each sequence's state from one to the next
    (``spare_rows``: carried buffers taller than the batch)."""
    offsets = batch.offsets
    B, H, dtype = offsets[1], params.W_hh.shape[1], batch.X.dtype
    h = np.empty((B + spare_rows, H), dtype)
    c = np.empty((B + spare_rows, H), dtype) if kernel.CELL_STATE else None
    Hs = np.empty((offsets[-1], H), dtype)
    for w, (t0, t1) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        r0, r1, last = offsets[t0], offsets[t1], offsets[t1 - 1]
        out = np.empty((r1 - r0, H), dtype)
        kernel.forward_predict(
            batch.X[r0:r1],
            offsets[t0 : t1 + 1] - r0,
            params,
            out,
            n_threads,
            c,
            h if w else None,
        )
        h[: r1 - last] = out[last - r0 :]  # the window's last step: h before the next one
        Hs[r0:r1] = out
    return Hs


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cuts", ["every step", [2, 5], [1, 3, 6], [4]])
def test_windows_carrying_the_state_equal_one_call_bitwise(rng, scheme, dtype, cuts, cell):
    # 40 sequences: three row blocks; H = 32: two column jobs on two threads. No length 2
    # or 5: steps 1 to 2 and 4 to 5 keep their size (a cut at 2 or 5 is where it does not
    # shrink), steps 0 to 1, 2 to 3 and 5 to 6 shrink.
    lengths = rng.permutation([9, 9, 1, 3, 6] + [1, 3, 4, 6, 7] * 7)
    net = make_network(rng, 3, (32,), 1, dtype, cell=cell)
    X = random_sequences(rng, lengths, 3, dtype)
    seqs = check_sequences(X, dtype=dtype)
    batch = pack_batch(seqs, np.arange(len(X)))
    T = len(batch.offsets) - 1
    sizes = np.diff(batch.offsets)
    assert sizes[1] == sizes[2] and sizes[4] == sizes[5] and sizes[5] > sizes[6]
    params, kernel = net.views.layers[0][0], net.spec.kernel
    whole = np.empty((batch.offsets[-1], 32), dtype)
    with single_threaded_blas():
        kernel.forward_predict(batch.X, batch.offsets, params, whole, 2)
        bounds = list(range(T + 1)) if cuts == "every step" else [0, *cuts, T]
        windows = predict_in_windows(kernel, batch, params, bounds, 2, spare_rows=3)
    assert np.array_equal(windows, whole)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H", [5, 32])
def test_forward_predict_in_windows_equals_forward_train_bitwise(rng, scheme, cell, dtype, H):
    # Prediction sums x_t @ W_ih^T and h_{t-1} @ W_hh^T per step in one pass, into one
    # step's gates, and its cell writes only the states; training projects every step
    # first, adds the step product onto that, and keeps the activations. Their hidden
    # states agree to the bit at every ISA level, in one call or in windows carrying h0
    # (and an LSTM's c) across. H = 32: full tiles, two row blocks or column jobs; H = 5
    # and D = 3: edge columns. Unequal lengths: steps that shrink within a window.
    net = make_network(rng, 3, (H,), 1, dtype, cell=cell)
    X = random_sequences(rng, rng.permutation([9, 9, 1, 3, 6, 2, 7, 4] * 3), 3, dtype)
    seqs = check_sequences(X, dtype=dtype)
    ws = Workspace(net, int(seqs.lengths.sum()), seqs.n_samples)
    batch = pack_batch(seqs, np.arange(seqs.n_samples), ws.X)
    params, kernel, T = net.views.layers[0][0], ws.layers[0][0], len(batch.offsets) - 1
    try:
        for level in _recurrent.isa_levels():
            _recurrent._force_isa_level(level)
            _blas._force_isa_level(level)
            with single_threaded_blas():
                kernel.forward_train(batch.X, batch.offsets, params, None, 2)
                for bounds in ([0, T], [0, 1, 4, T], list(range(T + 1))):
                    Hs = predict_in_windows(type(kernel), batch, params, bounds, 2)
                    assert np.array_equal(Hs, kernel.Hs[: batch.offsets[-1]]), (level, bounds)
    finally:
        _recurrent._force_isa_level(0)
        _blas._force_isa_level(0)


def test_forward_predict_refuses_carried_states_that_do_not_fit(rng):
    net = make_network(rng, 3, (4,), 1)
    X, offsets, Hs = np.zeros((6, 3)), np.array([0, 3, 6]), np.empty((6, 4))
    params = net.views.layers[0][0]
    good = np.zeros((3, 4))
    for name, c, h0 in [
        ("c", np.zeros((2, 4)), good),  # fewer rows than sequences at step 0
        ("c", np.zeros((3, 5)), good),
        ("h0", good, np.zeros((2, 4))),
        ("h0", good, np.zeros((3, 3))),
    ]:
        with pytest.raises(ValueError, match=rf"{name} has shape .*, expected at least 3 rows"):
            LSTMLayer.forward_predict(X, offsets, params, Hs, 1, c, h0)
    with pytest.raises(ValueError, match="h0 needs c"):
        LSTMLayer.forward_predict(X, offsets, params, Hs, 1, None, good)
    LSTMLayer.forward_predict(X, offsets, params, Hs, 1, np.zeros((5, 4)), np.zeros((4, 4)))
    # A GRU carries its hidden state only.
    net = make_network(rng, 3, (4,), 1, cell="gru")
    params = net.views.layers[0][0]
    with pytest.raises(ValueError, match="A GRU has no cell state: c must be None"):
        GRULayer.forward_predict(X, offsets, params, Hs, 1, good, good)
    with pytest.raises(ValueError, match=r"h0 has shape .*, expected at least 3 rows"):
        GRULayer.forward_predict(X, offsets, params, Hs, 1, None, np.zeros((2, 4)))
    GRULayer.forward_predict(X, offsets, params, Hs, 1, None, np.zeros((4, 4)))
