"""The recurrent cells a network stacks: their parameters, initialisation and kernel.

A cell spec says what the network derives from the cell: the blocks of one direction of
one layer in the flat parameter vector and their views (``shapes``, ``views``), their
initialisation, and the layer kernel that runs the cell (``_kernels._recurrent``).

Both cells keep PyTorch's gate order and shapes, and store the recurrent weights
transposed (the forward pass's step product takes them so). An LSTM's one bias is
``b_ih + b_hh``. A GRU's reset gate multiplies ``W_hn h + b_hn``, so ``b_hn`` cannot be
folded: its ``bias`` is ``[b_ir + b_hr, b_iz + b_hz, b_in]`` and ``bias_hn`` is ``b_hn``
(exported to PyTorch as ``b_ih = bias``, ``b_hh = [0, 0, bias_hn]``).
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._kernels._recurrent import GRULayer, LSTMLayer


class LSTMParams(NamedTuple):
    """One direction of one LSTM layer, gates i, f, g, o."""

    W_ih: np.ndarray  # (4H, D_in)
    W_hh: np.ndarray  # (4H, H), a transposed view of the stored (H, 4H) block
    bias: np.ndarray  # (4H,) b_ih + b_hh


class GRUParams(NamedTuple):
    """One direction of one GRU layer, gates r, z, n."""

    W_ih: np.ndarray  # (3H, D_in)
    W_hh: np.ndarray  # (3H, H), a transposed view of the stored (H, 3H) block
    bias: np.ndarray  # (3H,) [b_ir + b_hr, b_iz + b_hz, b_in]
    bias_hn: np.ndarray  # (H,) b_hn, inside the reset gate's product


@dataclass(frozen=True)
class CellSpec:
    """A kind of recurrent cell, as the network lays out, initialises and runs it."""

    name: str
    kernel: type  # the layer kernel, a RecurrentLayer
    params: type  # one direction's views, W_ih, W_hh, bias and the kernel's extra biases
    forget_gate: int | None  # the gate whose bias starts at 1 (Keras's unit_forget_bias)

    @property
    def gates(self):
        return self.kernel.GATES

    def shapes(self, n_in, H):
        """The stored blocks of one direction of a layer, in the flat vector's order."""
        GH = self.gates * H
        return [(GH, n_in), (H, GH), (GH,)] + [(H,)] * len(self.kernel.EXTRA_BIASES)

    def views(self, blocks):
        """One direction's parameters from its stored blocks: W_hh shown transposed."""
        W_ih, W_hhT, *biases = blocks
        return self.params(W_ih, W_hhT.T, *biases)

    def initialize(self, params, rng):
        """Keras's defaults: Glorot-uniform input weights, orthogonal recurrent weights,
        zero biases but the forget gate's, which starts at 1."""
        params.W_ih[:] = glorot_uniform(rng, params.W_ih.shape)
        params.W_hh[:] = orthogonal(rng, params.W_hh.shape)
        for bias in params[2:]:
            bias[:] = 0
        if self.forget_gate is not None:
            H = params.W_hh.shape[1]
            params.bias[self.forget_gate * H : (self.forget_gate + 1) * H] = 1


CELLS = {
    "lstm": CellSpec("lstm", LSTMLayer, LSTMParams, forget_gate=1),
    "gru": CellSpec("gru", GRULayer, GRUParams, forget_gate=None),
}


def glorot_uniform(rng, shape):
    limit = np.sqrt(6.0 / sum(shape))
    return rng.uniform(-limit, limit, size=shape)


def orthogonal(rng, shape):
    q, r = np.linalg.qr(rng.standard_normal(shape))
    return q * np.sign(np.diag(r))
