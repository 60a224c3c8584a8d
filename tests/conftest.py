import numpy as np
import pytest

from sklstm._network import LSTMNetwork, Workspace
from sklstm._sequences import check_sequences, pack_batch, packed_rows, step_starts
from sklstm._threading import single_threaded_blas


def random_sequences(rng, lengths, n_features, dtype=np.float64):
    """A list of random sequences of the given lengths."""
    return [rng.normal(size=(T, n_features)).astype(dtype) for T in lengths]


def make_network(
    rng,
    n_features,
    hidden_sizes,
    n_outputs,
    dtype=np.float64,
    bidirectional=False,
    cell="lstm",
    readout="last",
):
    net = LSTMNetwork(n_features, hidden_sizes, n_outputs, dtype, bidirectional, cell, readout)
    net.initialize(rng)
    # Random biases and readout weights too (attention's start at 0, a uniform weighting),
    # so that no gradient is checked only at a symmetric point.
    for layer in net.views.layers:
        for params in layer:
            for bias in params[2:]:
                bias[:] = rng.normal(scale=0.5, size=bias.shape)
    for w in net.views.readout:
        w[:] = rng.normal(size=w.shape)
    net.views.head_b[:] = rng.normal(size=net.views.head_b.shape)
    return net


def loss_and_grad(net, X, Y, loss, n_threads=1, masks=None):
    """Loss and flat gradient of one batch holding every sequence of X, through the same
    code path as training; ``masks``: fixed dropout masks (``LSTMNetwork.draw_masks``).
    Y: a row per sequence, or for a per-step network a row per step, sequence after
    sequence."""
    seqs = check_sequences(X, dtype=net.dtype)
    idx = np.arange(seqs.n_samples)
    ws = Workspace(
        net,
        int(seqs.lengths.sum()),
        seqs.n_samples,
        dropout=masks is not None,
        recurrent_dropout=masks is not None,
    )
    grad = np.zeros_like(net.params)
    with single_threaded_blas():
        batch = pack_batch(seqs, idx, ws.X)
        out = net.forward(batch, ws, n_threads, masks)
        per_step = net.readout == "steps"
        rows = packed_rows(step_starts(seqs.lengths), batch) if per_step else batch.order
        value, d_out = loss.loss_gradient(Y[rows], out)
        net.backward(batch, ws, d_out, net.unpack(grad), n_threads)
    return value, grad


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["rows", "columns"])
def scheme(request):
    """Run a test under each parallel scheme of the layer kernels (chosen by size in use)."""
    from sklstm._kernels import _recurrent

    _recurrent._force_scheme(["rows", "columns"].index(request.param))
    yield request.param
    _recurrent._force_scheme(-1)


def pytest_report_header(config):
    from sklstm._kernels._openmp import openmp_enabled
    from sklstm._threading import effective_n_threads

    built = "with OpenMP" if openmp_enabled() else "WITHOUT OpenMP (serial kernels)"
    n = effective_n_threads()
    return f"sklstm: built {built}, {n} thread{'s' if n > 1 else ''}"


def chunked_predictions(net, seqs, n_threads, monkeypatch):
    """``net.predict``'s outputs and the chunks of sequences it packed."""
    from sklstm import _network

    chunks = []

    def spy(seqs, idx, buffer=None):
        chunks.append(np.array(idx))
        return pack_batch(seqs, idx, buffer)

    with monkeypatch.context() as patch, single_threaded_blas():
        patch.setattr(_network, "pack_batch", spy)
        out = net.predict(seqs, n_threads)
    return out, chunks


def padded(sequences, T=None, value=np.nan):
    """The sequences in one array of T steps (the longest's by default), padded after each
    one's end with value."""
    T = max(map(len, sequences)) if T is None else T
    out = np.full((len(sequences), T) + np.shape(sequences[0])[1:], value)
    for i, x in enumerate(sequences):
        out[i, : len(x)] = x
    return out
