"""The Cython kernels: products, OpenMP build, layer passes, optimizer updates."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sklstm._kernels import _lstm, _optim
from sklstm._kernels._blas import _step_product_levels, gemm_memview, step_product_memview
from sklstm._kernels._openmp import openmp_enabled
from sklstm._network import Workspace
from sklstm._sequences import check_sequences, pack_batch
from sklstm._threading import effective_n_threads, single_threaded_blas

from conftest import make_network, random_sequences


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_is_row_major(rng, dtype, trans_a, trans_b):
    m, n, k = 5, 7, 3
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.normal(size=(m, n)).astype(dtype)
    expected = 2 * (a.T if trans_a else a) @ (b.T if trans_b else b) + 0.5 * c
    gemm_memview(trans_a, trans_b, 2.0, a, b, 0.5, c)
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_openmp_build_and_thread_budget():
    # The build's OpenMP status is also printed in pytest's header (conftest.py).
    if not openmp_enabled():
        assert effective_n_threads() == 1
        return
    assert effective_n_threads() >= 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1


def kernel_weights(layer):
    """A layer's weights as the kernels take them: W_ih, W_hh transposed, bias."""
    return layer.W_ih, layer.W_hh.T, layer.bias


def run_layer(net, X, n_threads):
    """Training forward and backward of the first layer, from dL/dh = 1 at every step:
    (batch, {name: array}) with the forward's outputs and every gradient."""
    seqs = check_sequences(X, dtype=net.dtype)
    ws = Workspace(net, int(seqs.lengths.sum()), seqs.n_samples)
    batch = pack_batch(seqs, np.arange(seqs.n_samples), ws.X)
    buf = ws.layers[0][0]
    N, B = batch.offsets[-1], len(batch.order)
    weights = kernel_weights(net.views.layers[0][0])
    out = {}
    with single_threaded_blas():
        _lstm.forward_train(
            batch.X,
            batch.offsets,
            *weights,
            buf.G[:N],
            buf.C[:N],
            buf.Hs[:N],
            None,
            None,
            n_threads,
        )
        out |= {"G": buf.G[:N].copy(), "C": buf.C[:N].copy(), "Hs": buf.Hs[:N].copy()}
        grads = [np.empty_like(w) for w in weights]
        dX = np.empty_like(batch.X)
        buf.dHs[:N] = 1
        _lstm.backward(
            batch.X,
            batch.offsets,
            weights[0],
            np.ascontiguousarray(net.views.layers[0][0].W_hh),  # backward takes it untransposed
            buf.G[:N],
            buf.C[:N],
            buf.Hs[:N],
            buf.dHs[:N],
            buf.dC[:B],
            *grads,
            dX,
            None,
            None,
            None,
            n_threads,
        )
    return batch, out | dict(zip(["dW_ih", "dW_hhT", "dbias"], grads, strict=True), dX=dX)


def reference_lstm(layer, x, input_mask=1.0, recurrent_mask=1.0):
    """A step-by-step numpy LSTM over one (T, D) sequence: hidden states (T, H). Dropout
    as Keras does it: one mask for the inputs and one for h_{t-1}, the same at every step."""
    H = layer.W_hh.shape[1]
    h, c, out = np.zeros(H), np.zeros(H), []
    for x_t in x:
        z = layer.W_ih @ (x_t * input_mask) + layer.W_hh @ (h * recurrent_mask) + layer.bias
        i, f, o = (1 / (1 + np.exp(-z[s * H : (s + 1) * H])) for s in (0, 1, 3))
        c = f * c + i * np.tanh(z[2 * H : 3 * H])
        h = o * np.tanh(c)
        out.append(h)
    return np.array(out)


def test_forward_matches_step_by_step_reference(rng, scheme):
    net = make_network(rng, 3, (6,), 1)
    X = random_sequences(rng, [9, 1, 4, 9, 6], 3)
    batch, out = run_layer(net, X, n_threads=2)
    Hs = out["Hs"]
    for i, sample in enumerate(batch.order):
        rows = batch.offsets[:-1][: len(X[sample])] + i
        np.testing.assert_allclose(
            Hs[rows], reference_lstm(net.views.layers[0][0], X[sample]), rtol=1e-12, atol=1e-14
        )


def test_dropout_masks_follow_keras(rng, scheme):
    net = make_network(rng, 3, (6,), 1)
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
        expected = reference_lstm(
            net.views.layers[0][0], X[sample], masks.inputs[0][0][i], masks.recurrent[0][0][i]
        )
        np.testing.assert_allclose(Hs[rows], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_passes_are_bitwise_independent_of_threads(rng, scheme, dtype):
    net = make_network(rng, 4, (16,), 2, dtype)
    X = random_sequences(rng, rng.integers(1, 30, size=70), 4, dtype)
    _, one = run_layer(net, X, n_threads=1)
    _, two = run_layer(net, X, n_threads=2)
    for name in one:  # forward outputs and every gradient
        assert np.array_equal(one[name], two[name]), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_passes_are_bitwise_independent_of_the_scheme(rng, dtype):
    # The scheme follows the thread count: it must not change a bit either.
    net = make_network(rng, 4, (100,), 2, dtype)
    X = random_sequences(rng, rng.integers(1, 12, size=20), 4, dtype)
    try:
        _lstm._force_scheme(0)
        _, rows = run_layer(net, X, n_threads=2)
        _lstm._force_scheme(1)
        _, columns = run_layer(net, X, n_threads=2)
    finally:
        _lstm._force_scheme(-1)
    for name in rows:
        assert np.array_equal(rows[name], columns[name]), name


def test_forward_predict_matches_forward_train(rng, scheme):
    net = make_network(rng, 3, (5,), 1)
    X = random_sequences(rng, [7, 2, 7, 5, 1], 3)
    batch, out = run_layer(net, X, n_threads=2)
    Hs = np.empty((batch.offsets[-1], 5))
    with single_threaded_blas():
        _lstm.forward_predict(
            batch.X, batch.offsets, *kernel_weights(net.views.layers[0][0]), Hs, 2
        )
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


def test_kernels_reject_inconsistent_buffers(rng):
    # The kernels index without bounds checks: a wrong buffer must be refused, not read.
    net = make_network(rng, 3, (4,), 1)
    X, offsets = np.zeros((6, 3)), np.array([0, 3, 6])
    G, C, Hs = np.empty((6, 16)), np.empty((6, 4)), np.empty((6, 4))
    weights = kernel_weights(net.views.layers[0][0])
    with pytest.raises(ValueError, match=r"G has shape \(6, 15\), expected \(6, 16\)"):
        _lstm.forward_train(X, offsets, *weights, np.empty((6, 15)), C, Hs, None, None, 1)
    with pytest.raises(ValueError, match="non-increasing"):
        _lstm.forward_train(X, np.array([0, 2, 6]), *weights, G, C, Hs, None, None, 1)
    with pytest.raises(ValueError, match="from 0 to the number of packed rows"):
        _lstm.forward_train(X, np.array([0, 3, 5]), *weights, G, C, Hs, None, None, 1)
    # W_hh transposed: H is read from it, so the first buffer found at odds is named.
    with pytest.raises(ValueError, match=r"has shape \(\d+, \d+\), expected"):
        _lstm.backward(
            X,
            offsets,
            weights[0],
            weights[1],
            G,
            C,
            Hs,
            np.empty((6, 4)),
            np.empty((3, 4)),
            *[np.empty_like(w) for w in weights],
            None,
            None,
            None,
            None,
            1,
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(1, 256, 64), (7, 50, 13), (16, 64, 256), (5, 3, 2), (13, 130, 70), (16, 200, 50)]
)
def test_step_product_of_every_isa_level(rng, dtype, shape):
    # Every copy of the kernel this CPU can run (x86-64-v4, v3, baseline), at shapes with
    # full tiles, remainder rows of each count, remainder vectors, and remainder columns
    # both in rows narrower than a vector and at the end of wider ones.
    m, n, k = shape
    a, b, c = (rng.normal(size=s).astype(dtype) for s in ((m, k), (k, n), (m, n)))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    try:
        for level in _step_product_levels():
            _step_product_levels(level)
            out = c.copy()
            step_product_memview(a, b, out, True)
            np.testing.assert_allclose(out, exact + c, rtol=tol, atol=tol * np.sqrt(k))
            step_product_memview(a, b, out, False)
            np.testing.assert_allclose(out, exact, rtol=tol, atol=tol * np.sqrt(k))
            # A row's result is the same, to the bit, whatever rows share the call.
            for i in range(m):
                row = c[i : i + 1].copy()
                step_product_memview(a[i : i + 1], b, row, False)
                np.testing.assert_array_equal(row[0], out[i])
    finally:
        _step_product_levels(0)
