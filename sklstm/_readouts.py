"""Readouts: one vector per sequence from the top layer's hidden states, for the dense head.

The states. The top layer's hidden states over a packed batch (``_kernels/_lstm.pyx``), one
(N, H) array per direction, the reverse direction's in the reversed layout: each sequence
reversed in time, packed into the same offsets; ``perm`` (``reverse_rows``) maps either
layout onto the other. Sequence i holds row ``offsets[t] + i`` of each of its steps in both.

The readout. Per sequence, in the batch's order (longest first), a vector of width
``n_directions * H``, the directions side by side, forward first:

- ``"last"``: each direction's state at the end of its own pass: the forward direction's at
  the sequence's last step, the reverse direction's at its first (the sequence's last row
  in the reversed layout).
- ``"mean"``: the mean of the states over the sequence's steps.
- ``"max"``: their elementwise maximum over the sequence's steps. Its gradient goes to the
  step of the maximum, the earliest in time among ties; a NaN state is the maximum.
- ``"attention"``: a learned softmax weighting of the steps. With h_t the states of step t
  (both directions side by side) and a parameter vector w of the readout's width::

      e_t = w . h_t,    a_t = exp(e_t - m) / sum_s exp(e_s - m),    readout = sum_t a_t h_t

  over the sequence's steps s and t, where m = max_t e_t, subtracted so that no exp
  overflows. w starts at zero: training starts from the mean.

Only a sequence's own steps enter: padding is never stored.

The per-step readout ``"steps"`` (``STEPS``; not one of ``READOUTS``, the readouts of the
sequence estimators) keeps every step: the (N, width) states of every packed row, in time
order, both directions side by side. The head then applies to each row, so a per-step
model (``LSTMStepClassifier``, ``LSTMStepRegressor``) is the same network with one output
per packed row: its loss is over packed rows, and padding, never stored, never enters.
Its backward passes each row's dL/dh straight to that row; its online form keeps the
windows' states (the outputs are per step: memory grows with the rows, as they do).

Training: ``forward`` returns the readout and what ``backward`` needs; ``backward`` adds
dL/dh into each direction's (N, H) gradient, in its own layout, and writes the readout's
parameter gradients.

Prediction: ``accumulator`` is the online form, fed the states window after window of
steps, in each direction's own layout (``Readout.accumulator``): a running sum and count
(mean), a running maximum (max), each sequence's state at its last step so far (last),
and for attention the online softmax: each sequence's running maximum of e, and the
weighted sum and the denominator, rescaled when the maximum grows. Last, mean and max give
the bits of ``forward``, whatever the windows; attention gives them in a single window,
and equals them to rounding in several.

Streaming (``_streaming``) runs the unidirectional online forms one step at a time, in C,
for every stream at once (``_kernels/_stream.pyx``), with the same additions, so the same
bits (attention: to rounding, as over several windows); ``_streaming.READOUT_RESULTS``
reads each readout out of its state. A new readout adds its one-step form there, and the
attention score's dot product is ``dot4`` (``_kernels/_pooling.pxd``) in both places.

A bidirectional network predicts each direction over the whole chunk apart, and attention
does not separate into directions: e_t takes both directions' states at step t. Its online
form runs three passes over the chunk: the forward direction (keeping its part of each
e_t), the reverse one (e_t then complete: the softmax sums of the reverse states, the final
maxima and denominators), and the forward direction again (its weighted sum, with the final
maxima). Memory: one score per row of the chunk, beside the reversal permutation that
prediction already holds; compute: the top layer's forward direction once more. In a
single window the caller has the states at hand and feeds them again.
"""

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np

from ._kernels._packing import take_rows
from ._kernels._pooling import row_dots, segment_max, segment_sum, spread


class Readout(ABC):
    """One kind of readout (see the module docstring). Instances hold no data: the
    registry ``READOUTS`` holds one of each kind."""

    # Whether the readout keeps every step (a row per packed row) or one row per sequence.
    per_step = False

    def param_shapes(self, width):
        """The shapes of the readout's parameters in the flat vector, for states of
        ``width`` (= n_directions * H) columns."""
        return []

    def initialize(self, params):
        """Set the parameter views ``params`` (one per shape) to their initial values:
        zero (attention's w, so that training starts from the mean)."""
        for view in params:
            view[:] = 0

    @abstractmethod
    def forward(self, states, offsets, lengths, perm, params):
        """The (B, width) readout of a training batch, and what ``backward`` needs.

        ``states``: the top layer's (N, H) states per direction (see the module
        docstring); ``offsets``: the batch's (T + 1,) step offsets; ``lengths``: its
        sequences' (B,) lengths, longest first (``Batch.lengths``); ``perm``: the
        reversal permutation of a bidirectional batch, else None; ``params``: views.
        """

    @abstractmethod
    def backward(self, cache, d_out, dstates, grads):
        """Add dL/dh into ``dstates``, per direction (N, H) in its own layout, given
        ``d_out`` = dL/d readout (B, width); write the parameter gradients into the views
        ``grads``. ``cache``: what ``forward`` returned with the readout."""

    @abstractmethod
    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        """The online form of the readout over a chunk of B sequences.

        For each direction d in its ``passes``, in order, and each window of that pass,
        in order of steps: ``update(d, Hs, offsets, r0)``, where ``Hs`` is the (n, H)
        states of direction d over rows r0 to r0 + n of its layout, a window of whole
        steps whose ``offsets`` count from 0. Then ``result()`` is the (B, width)
        readout. ``perm``: the chunk's reversal permutation, which a bidirectional
        attention readout needs.
        """


def sequence_lengths(offsets):
    """Each sequence's number of steps in a packed batch or window: the steps that have
    more rows than its index."""
    sizes = np.diff(offsets)
    return np.searchsorted(-sizes, -np.arange(sizes[0]), side="left")


def _last_rows(offsets, lengths):
    """Each sequence's last row in a packed batch or window of its ``lengths`` (longest
    first): the last step's rows, a slice, when they all end there (one sequence, or
    sequences of one length: no index arithmetic, and a view rather than a copy)."""
    if lengths[-1] == len(offsets) - 1:
        return slice(offsets[-2], offsets[-1])
    return offsets[lengths - 1] + np.arange(len(lengths))


def in_time_order(states, perm, out=None):
    """A layer's hidden states as the next layer (or the per-step readout) reads them: in
    time order, both directions side by side (in ``out`` when given, of at least N rows),
    the reverse direction's taken back from its reversed layout through ``perm``."""
    if len(states) == 1:
        return states[0]
    N, H = states[0].shape
    out = np.empty((N, 2 * H), dtype=states[0].dtype) if out is None else out[:N]
    out[:, :H] = states[0]
    take_rows(states[1], perm, out[:, H:])
    return out


def _row_sequences(offsets):
    """Each packed row's sequence: i for row offsets[t] + i."""
    return np.arange(offsets[-1]) - np.repeat(offsets[:-1], np.diff(offsets))


def _split(d_out, n_directions):
    """The columns of each direction, each a C-contiguous (B, H) array."""
    H = d_out.shape[1] // n_directions
    return [np.ascontiguousarray(d_out[:, d * H : (d + 1) * H]) for d in range(n_directions)]


def _layouts(x, perm):
    """A per-row array in time order, as each direction's layout holds its rows."""
    return [x] if perm is None else [x, x[perm]]


def _mean(sums, lengths):
    return sums / lengths.astype(sums.dtype)[:, None]


class Last(Readout):
    def forward(self, states, offsets, lengths, perm, params):
        rows = _last_rows(offsets, lengths)
        if len(states) == 1:  # no copy to join: the latency path of one sequence
            return states[0][rows], rows
        return np.hstack([Hs[rows] for Hs in states]), rows

    def backward(self, rows, d_out, dstates, grads):
        for D, dHs in zip(_split(d_out, len(dstates)), dstates, strict=True):
            dHs[rows] += D

    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        return _LastAccumulator(B, H, n_directions, dtype)


class _LastAccumulator:
    def __init__(self, B, H, n_directions, dtype):
        self.passes = tuple(range(n_directions))
        # Every sequence has a row in step 0, so each row is written before result().
        self.last = [np.empty((B, H), dtype) for _ in self.passes]

    def update(self, d, Hs, offsets, r0):
        last = Hs[_last_rows(offsets, sequence_lengths(offsets))]  # their last rows so far
        self.last[d][: len(last)] = last

    def result(self):
        return np.hstack(self.last)


class Mean(Readout):
    def forward(self, states, offsets, lengths, perm, params):
        sums = [np.zeros((offsets[1], Hs.shape[1]), Hs.dtype) for Hs in states]
        for Hs, out in zip(states, sums, strict=True):
            segment_sum(Hs, offsets, None, out)
        return _mean(np.hstack(sums), lengths), (offsets, lengths)

    def backward(self, cache, d_out, dstates, grads):
        offsets, lengths = cache
        for D, dHs in zip(_split(_mean(d_out, lengths), len(dstates)), dstates, strict=True):
            spread(D, offsets, None, dHs)

    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        return _MeanAccumulator(B, H, n_directions, dtype)


class _MeanAccumulator:
    def __init__(self, B, H, n_directions, dtype):
        self.passes = tuple(range(n_directions))
        self.sums = [np.zeros((B, H), dtype) for _ in self.passes]
        self.lengths = np.zeros(B, dtype=np.intp)

    def update(self, d, Hs, offsets, r0):
        B = offsets[1]
        segment_sum(Hs, offsets, None, self.sums[d][:B])
        if d == 0:  # every direction has the same steps: count them once
            self.lengths[:B] += sequence_lengths(offsets)

    def result(self):
        return _mean(np.hstack(self.sums), self.lengths)


class Max(Readout):
    def forward(self, states, offsets, lengths, perm, params):
        B, H = offsets[1], states[0].shape[1]
        maxima, argmax = [], []
        for d, Hs in enumerate(states):
            out = np.full((B, H), -np.inf, Hs.dtype)
            rows = np.repeat(np.arange(B)[:, None], H, axis=1)  # each sequence's first row
            # The reverse direction meets a sequence's steps latest first: its ties go
            # to the later row, the earlier step in time.
            segment_max(Hs, offsets, out, rows, d == 1)
            maxima.append(out)
            argmax.append(rows)
        return np.hstack(maxima), argmax

    def backward(self, argmax, d_out, dstates, grads):
        for D, dHs, rows in zip(_split(d_out, len(dstates)), dstates, argmax, strict=True):
            # Rows of different sequences differ: no element is written twice.
            dHs[rows, np.arange(D.shape[1])] += D

    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        return _MaxAccumulator(B, H, n_directions, dtype)


class _MaxAccumulator:
    def __init__(self, B, H, n_directions, dtype):
        self.passes = tuple(range(n_directions))
        self.maxima = [np.full((B, H), -np.inf, dtype) for _ in self.passes]

    def update(self, d, Hs, offsets, r0):
        segment_max(Hs, offsets, self.maxima[d][: offsets[1]], None, False)

    def result(self):
        return np.hstack(self.maxima)


def _direction_scores(Hs, offsets, w_d):
    """w_d . h for each row of one direction's states."""
    out = np.empty(Hs.shape[0], dtype=Hs.dtype)
    row_dots(Hs, offsets, np.tile(w_d, (offsets[1], 1)), out)
    return out


def _scores(states, offsets, perm, w):
    """e = w . h for each row, in time order, both directions' parts added."""
    H = states[0].shape[1]
    e = _direction_scores(states[0], offsets, w[:H])
    if perm is not None:
        e += _direction_scores(states[1], offsets, w[H:])[perm]
    return e


class _SoftmaxSums:
    """Per sequence, sum_t exp(e_t - m) h_t for each direction, and sum_t exp(e_t - m), as
    windows of (h, e) come: m is the largest e so far, and the sums are rescaled when it
    grows (the online softmax). ``result`` is the softmax-weighted sum."""

    def __init__(self, B, H, n_directions, dtype):
        self.m = np.full((B, 1), -np.inf, dtype)
        self.S = np.zeros((B, 1), dtype)
        self.sums = [np.zeros((B, H), dtype) for _ in range(n_directions)]

    def add(self, d, Hs, offsets, e):
        """Steps of direction d, their states ``Hs`` and scores ``e`` in its layout."""
        B = offsets[1]
        m = self.m[:B].copy()
        segment_max(e[:, None], offsets, m, None, False)
        scale = np.exp(self.m[:B] - m)  # 0 the first time: m was -inf
        self.m[:B] = m
        self.S[:B] *= scale
        for sums in self.sums:
            sums[:B] *= scale
        p = np.exp(e - m[_row_sequences(offsets), 0])
        segment_sum(p[:, None], offsets, None, self.S[:B])
        segment_sum(Hs, offsets, p, self.sums[d][:B])

    def add_final(self, d, Hs, offsets, e):
        """Steps of direction d already counted in m and S, by another direction's."""
        p = np.exp(e - self.m[_row_sequences(offsets), 0])
        segment_sum(Hs, offsets, p, self.sums[d][: offsets[1]])

    def result(self):
        return np.hstack(self.sums) / self.S


class _AttentionCache(NamedTuple):
    states: list
    offsets: np.ndarray
    perm: np.ndarray
    scores: np.ndarray  # (N,) e, in time order
    sums: _SoftmaxSums
    w: np.ndarray


class Attention(Readout):
    def param_shapes(self, width):
        return [(width,)]

    def forward(self, states, offsets, lengths, perm, params):
        (w,) = params
        e = _scores(states, offsets, perm, w)
        sums = _SoftmaxSums(offsets[1], states[0].shape[1], len(states), e.dtype)
        # The accumulator's steps over a single window, for its bits: the last direction
        # counts the steps, the forward one then adds its weighted sum.
        last = len(states) - 1
        sums.add(last, states[last], offsets, _layouts(e, perm)[last])
        if perm is not None:
            sums.add_final(0, states[0], offsets, e)
        return sums.result(), _AttentionCache(states, offsets, perm, e, sums, w)

    def backward(self, cache, d_out, dstates, grads):
        states, offsets, perm, e, sums, w = cache
        (g,) = grads
        B, H = offsets[1], states[0].shape[1]
        seq = _row_sequences(offsets)
        a = np.exp(e - sums.m[seq, 0]) / sums.S[seq, 0]  # as forward weighted the steps
        D = _split(d_out, len(states))
        # dL/da_t = d_out . h_t, both directions' parts, in time order.
        da = [np.empty_like(e) for _ in states]
        for Hs, D_d, da_d in zip(states, D, da, strict=True):
            row_dots(Hs, offsets, D_d, da_d)
        da = da[0] if perm is None else da[0] + da[1][perm]
        # Through the softmax: de_t = a_t (da_t - sum_s a_s da_s).
        mean_da = np.zeros((B, 1), e.dtype)
        segment_sum(da[:, None], offsets, a, mean_da)
        de = a * (da - mean_da[seq, 0])
        for d, (Hs, dHs, D_d, a_d, de_d) in enumerate(
            zip(states, dstates, D, _layouts(a, perm), _layouts(de, perm), strict=True)
        ):
            w_d = w[d * H : (d + 1) * H]
            spread(D_d, offsets, a_d, dHs)  # readout = sum_t a_t h_t
            spread(np.tile(w_d, (B, 1)), offsets, de_d, dHs)  # e_t = w . h_t
            np.matmul(de_d, Hs, out=g[d * H : (d + 1) * H])

    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        (w,) = params
        if n_directions == 1:
            return _AttentionAccumulator(B, H, dtype, w)
        if perm is None:
            raise ValueError("A bidirectional attention readout needs the chunk's perm.")
        return _BidirectionalAttentionAccumulator(B, H, dtype, w, perm)


class _AttentionAccumulator:
    passes = (0,)

    def __init__(self, B, H, dtype, w):
        self.w = w
        self.sums = _SoftmaxSums(B, H, 1, dtype)

    def update(self, d, Hs, offsets, r0):
        self.sums.add(0, Hs, offsets, _direction_scores(Hs, offsets, self.w))

    def result(self):
        return self.sums.result()


class _BidirectionalAttentionAccumulator:
    """Three passes (see the module docstring): the forward direction's scores, the
    reverse direction's states with the complete scores, the forward direction's states."""

    passes = (0, 1, 0)

    def __init__(self, B, H, dtype, w, perm):
        self.w, self.perm, self.H = w, perm, H
        # The forward direction's part of each row's score, then the whole, in time order.
        self.e = np.empty(perm.shape[0], dtype=dtype)
        self.reversed_seen = False
        self.sums = _SoftmaxSums(B, H, 2, dtype)

    def update(self, d, Hs, offsets, r0):
        rows = slice(r0, r0 + Hs.shape[0])
        if d == 0 and not self.reversed_seen:
            self.e[rows] = _direction_scores(Hs, offsets, self.w[: self.H])
        elif d == 1:
            self.reversed_seen = True
            time_rows = self.perm[rows]  # each row's once, over the pass: completed in place
            self.e[time_rows] += _direction_scores(Hs, offsets, self.w[self.H :])
            self.sums.add(1, Hs, offsets, self.e[time_rows])
        else:
            self.sums.add_final(0, Hs, offsets, self.e[rows])

    def result(self):
        return self.sums.result()


class Steps(Readout):
    """Every step's states, in time order (see the module docstring)."""

    per_step = True

    def forward(self, states, offsets, lengths, perm, params):
        return in_time_order(states, perm), perm

    def backward(self, perm, d_out, dstates, grads):
        D = _split(d_out, len(dstates))
        dstates[0] += D[0]
        if perm is not None:  # the reversal permutation is its own inverse
            dstates[1] += D[1][perm]

    def accumulator(self, B, H, n_directions, dtype, params, perm=None):
        return _StepsAccumulator(n_directions, perm)


class _StepsAccumulator:
    """Each direction's windows of states, joined in time order at the end."""

    def __init__(self, n_directions, perm):
        self.passes = tuple(range(n_directions))
        self.perm = perm
        self.windows = [[] for _ in self.passes]

    def update(self, d, Hs, offsets, r0):
        self.windows[d].append(Hs)  # windows come in order of rows, each a new array

    def result(self):
        return in_time_order([np.concatenate(w) for w in self.windows], self.perm)


READOUTS = {"last": Last(), "mean": Mean(), "max": Max(), "attention": Attention()}
STEPS = Steps()
# Every readout a network may have, by name: the sequence readouts and the per-step one.
NETWORK_READOUTS = {**READOUTS, "steps": STEPS}
