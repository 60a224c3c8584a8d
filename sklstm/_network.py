"""The model as data: one flat parameter vector, views per layer, forward and backward.

Layout of the flat vector, layer after layer: ``W_ih`` (4H, D_in), ``W_hh`` stored
transposed (H, 4H), ``bias`` (4H,), in PyTorch's gate order i, f, g, o; then the dense head
``W`` (n_outputs, H) and ``b`` (n_outputs,). Gradients use a second vector of the same
layout. The views show every matrix in PyTorch's shape: ``W_hh`` is the transpose of its
stored block. Stored transposed, W_hh enters the forward pass's step gemm without a
transpose: prediction, which has no backward pass to share the cost, never makes one.
"""

from typing import NamedTuple

import numpy as np

from ._kernels import _lstm
from ._sequences import pack_batch

# Prediction runs in chunks of at most this many sequences (measured fastest on M: their
# buffers stay in cache), and of at most this many bytes in a layer's gate buffer, so that
# its memory is bounded whatever the number and length of the sequences.
PREDICT_SEQUENCES = 128
PREDICT_BYTES = 1 << 26


class LayerParams(NamedTuple):
    W_ih: np.ndarray  # (4H, D_in)
    W_hh: np.ndarray  # (4H, H), a transposed view of the stored (H, 4H) block
    bias: np.ndarray  # (4H,)


class Params(NamedTuple):
    layers: list  # of LayerParams
    head_W: np.ndarray
    head_b: np.ndarray

    @property
    def weights(self):
        """The views that L2 regularisation applies to (biases excluded)."""
        return [w for layer in self.layers for w in layer[:2]] + [self.head_W]


class LSTMNetwork:
    """Stacked LSTM layers and a dense head on the last hidden state of each sequence."""

    def __init__(self, n_features, hidden_sizes, n_outputs, dtype):
        self.n_features = n_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.n_outputs = n_outputs
        self.dtype = np.dtype(dtype)
        self.params = np.zeros(self._n_params(), dtype=self.dtype)
        self.views = self.unpack(self.params)

    def _shapes(self):
        shapes = []
        n_in = self.n_features
        for H in self.hidden_sizes:
            shapes.append([(4 * H, n_in), (H, 4 * H), (4 * H,)])
            n_in = H
        return shapes, [(self.n_outputs, n_in), (self.n_outputs,)]

    def _n_params(self):
        layers, head = self._shapes()
        return sum(int(np.prod(s)) for s in [*sum(layers, []), *head])

    def unpack(self, vector):
        """Views of ``vector`` (parameters or gradient) as ``Params``."""
        pos = 0

        def take(shape):
            nonlocal pos
            size = int(np.prod(shape))
            view = vector[pos : pos + size].reshape(shape)
            pos += size
            return view

        layer_shapes, head_shapes = self._shapes()
        layers = []
        for ih, hh, bias in layer_shapes:
            layers.append(LayerParams(take(ih), take(hh).T, take(bias)))
        return Params(layers, *map(take, head_shapes))

    def __getstate__(self):
        # Views would be pickled as copies: keep the flat vector only, rebuild them on load.
        state = self.__dict__.copy()
        del state["views"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.views = self.unpack(self.params)

    def initialize(self, rng):
        """Keras's defaults: Glorot-uniform input and head weights, orthogonal recurrent
        weights, zero biases but the forget gate's, which starts at 1."""
        for layer in self.views.layers:
            H = layer.W_hh.shape[1]
            layer.W_ih[:] = _glorot_uniform(rng, layer.W_ih.shape)
            layer.W_hh[:] = _orthogonal(rng, layer.W_hh.shape)
            layer.bias[:] = 0
            layer.bias[H : 2 * H] = 1
        self.views.head_W[:] = _glorot_uniform(rng, self.views.head_W.shape)
        self.views.head_b[:] = 0

    def forward(self, batch, ws, n_threads):
        """Outputs (logits) of a training batch, keeping what ``backward`` needs in ``ws``."""
        N = batch.offsets[-1]
        x = batch.X
        for layer, buf in zip(self.views.layers, ws.layers, strict=True):
            _lstm.forward_train(
                x,
                batch.offsets,
                layer.W_ih,
                layer.W_hh.T,
                layer.bias,
                buf.G[:N],
                buf.C[:N],
                buf.Hs[:N],
                n_threads,
            )
            x = buf.Hs[:N]
        ws.h_last = x[batch.last_rows]
        return ws.h_last @ self.views.head_W.T + self.views.head_b

    def backward(self, batch, ws, d_out, g, n_threads):
        """Gradient of the loss into the views ``g`` of the gradient vector, given
        ``d_out`` = d loss / d outputs."""
        N, B = batch.offsets[-1], len(batch.order)
        np.matmul(d_out.T, ws.h_last, out=g.head_W)
        np.sum(d_out, axis=0, out=g.head_b)
        dH = ws.layers[-1].dHs[:N]
        dH[:] = 0
        dH[batch.last_rows] = d_out @ self.views.head_W
        for k in range(len(self.hidden_sizes) - 1, -1, -1):
            layer, grad, buf = self.views.layers[k], g.layers[k], ws.layers[k]
            x = ws.layers[k - 1].Hs[:N] if k else batch.X
            dX = ws.layers[k - 1].dHs[:N] if k else None
            np.copyto(buf.W_hh, layer.W_hh)  # the backward pass takes W_hh untransposed
            _lstm.backward(
                x,
                batch.offsets,
                layer.W_ih,
                buf.W_hh,
                buf.G[:N],
                buf.C[:N],
                buf.Hs[:N],
                dH,
                buf.dC[:B],
                grad.W_ih,
                grad.W_hh.T,
                grad.bias,
                dX,
                n_threads,
            )
            dH = dX

    def add_l2(self, g, scale):
        """Add the L2 penalty ``scale / 2 * ||W||^2`` to the gradient views ``g``; return it."""
        penalty = 0.0
        for w, gw in zip(self.views.weights, g.weights, strict=True):
            gw += scale * w
            flat = w.ravel(order="K")  # W_hh's view is transposed: no copy in memory order
            penalty += 0.5 * scale * float(np.dot(flat, flat))
        return penalty

    def predict(self, seqs, n_threads):
        """Outputs (logits) for every sequence, in chunks of bounded memory."""
        out = np.empty((seqs.n_samples, self.n_outputs), dtype=self.dtype)
        longest_first = (
            np.arange(seqs.n_samples)
            if seqs.equal_lengths
            else np.argsort(-seqs.lengths, kind="stable")
        )
        max_rows = PREDICT_BYTES // (4 * max(self.hidden_sizes) * self.dtype.itemsize)
        for idx in _chunks(longest_first, seqs.lengths[longest_first], max_rows):
            N = int(seqs.lengths[idx].sum())
            batch = pack_batch(seqs, idx, np.empty((N, self.n_features), dtype=self.dtype))
            x = batch.X
            for layer in self.views.layers:
                H = layer.W_hh.shape[1]
                Hs = np.empty((N, H), dtype=self.dtype)
                _lstm.forward_predict(
                    x,
                    batch.offsets,
                    layer.W_ih,
                    layer.W_hh.T,
                    layer.bias,
                    np.empty((N, 4 * H), dtype=self.dtype),
                    np.empty((len(idx), H), dtype=self.dtype),
                    Hs,
                    n_threads,
                )
                x = Hs
            out[batch.order] = x[batch.last_rows] @ self.views.head_W.T + self.views.head_b
        return out


def _chunks(order, lengths, max_rows):
    """Split ``order`` into runs of at most PREDICT_SEQUENCES sequences and ``max_rows``
    steps (a single longer sequence gets a chunk of its own)."""
    start = 0
    while start < len(order):
        rows = np.cumsum(lengths[start : start + PREDICT_SEQUENCES])
        stop = start + max(1, int(np.searchsorted(rows, max_rows, side="right")))
        yield order[start:stop]
        start = stop


class _LayerBuffers:
    def __init__(self, rows, batch, H, dtype):
        self.W_hh = np.empty((4 * H, H), dtype=dtype)
        self.G = np.empty((rows, 4 * H), dtype=dtype)
        self.C = np.empty((rows, H), dtype=dtype)
        self.Hs = np.empty((rows, H), dtype=dtype)
        self.dHs = np.empty((rows, H), dtype=dtype)
        self.dC = np.empty((batch, H), dtype=dtype)


class Workspace:
    """Buffers of training's forward and backward passes, reused from batch to batch."""

    def __init__(self, network):
        self.network = network
        self.rows = self.batch = 0
        self.h_last = None  # the head's input, kept by forward for backward

    def ensure(self, rows, batch):
        """Make room for a batch of ``batch`` sequences with ``rows`` steps in all."""
        if rows <= self.rows and batch <= self.batch:
            return
        net = self.network
        self.rows, self.batch = max(rows, self.rows), max(batch, self.batch)
        self.X = np.empty((self.rows, net.n_features), dtype=net.dtype)
        self.layers = [_LayerBuffers(self.rows, self.batch, H, net.dtype) for H in net.hidden_sizes]


def _glorot_uniform(rng, shape):
    limit = np.sqrt(6.0 / sum(shape))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal(rng, shape):
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diag(r))
