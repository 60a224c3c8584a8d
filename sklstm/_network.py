"""The model as data: one flat parameter vector, views per layer, forward and backward.

Layout of the flat vector, layer after layer and, in a bidirectional network, direction
after direction (forward, then reverse): the cell's blocks (``_cells``: an LSTM's
``W_ih`` (4H, D_in), ``W_hh`` stored transposed (H, 4H), ``bias`` (4H,), in PyTorch's gate
order i, f, g, o; a GRU's the same with 3H, gates r, z, n, then ``bias_hn`` (H,)); then
the dense head ``W`` (n_outputs, n_directions * H) and ``b`` (n_outputs,). A layer's input
is the layer below's output, both directions side by side. Gradients use a second vector
of the same layout.

The views show every matrix in PyTorch's shape: ``W_hh`` is the transpose of its stored
block. Stored transposed, W_hh enters the forward pass's step product as it is: prediction,
which has no backward pass to share the cost of a transpose, never makes one.

The head reads each sequence's last hidden state of the top layer: in training's forward
(``_head``), in backward where dL/dh enters the top layer (``_head_backward``), and in
prediction, which keeps only those states (``_keep_last``).

The reverse direction runs the same kernels on the batch with every sequence reversed in
time: reversed sequences keep their lengths, so they pack into the same offsets, and a row
permutation (``reverse_rows``) maps one layout onto the other. Each sequence's last step in
the reversed layout is its first step in time, where the reverse direction ends.

Prediction keeps no history: a long batch runs in windows of steps, each layer carrying
each sequence's state (its last hidden state, and an LSTM's cell state) from one window to
the next, and only the top layer's last hidden states reach the head (memory:
``LSTMNetwork.predict``).
"""

from typing import NamedTuple

import numpy as np

from . import _aligned as aligned
from ._cells import CELLS, glorot_uniform
from ._kernels._packing import reverse_rows, scale_rows, take_rows
from ._sequences import pack_batch

# Prediction runs in chunks of at most this many sequences (measured fastest on M: their
# buffers stay in cache), and of at most this many bytes in a layer's scratch (gates, and
# a GRU's recurrent product); a longer chunk, a single sequence, in windows of steps of as
# many bytes. So its memory is bounded whatever the number and length of the sequences
# (see LSTMNetwork.predict).
PREDICT_SEQUENCES = 128
PREDICT_BYTES = 1 << 26


class Params(NamedTuple):
    layers: list  # per layer, a tuple of the cell's params: (forward,) or (forward, reverse)
    head_W: np.ndarray
    head_b: np.ndarray

    @property
    def weights(self):
        """The views that L2 regularisation applies to (biases excluded)."""
        cells = [cell for layer in self.layers for cell in layer]
        return [w for cell in cells for w in (cell.W_ih, cell.W_hh)] + [self.head_W]


class DropoutMasks(NamedTuple):
    """One batch's masks, per layer and direction: rows are the batch's sequences, longest
    first, each kept for all of its steps (Keras's semantics), scaled by 1 / (1 - rate)."""

    inputs: list  # [layer][direction] -> (B, D_in) array, or None without input dropout
    recurrent: list  # [layer][direction] -> (B, H) array, or None


class LSTMNetwork:
    """Stacked recurrent layers of one cell (``cell``: "lstm" or "gru", ``_cells.CELLS``)
    and a dense head on the last hidden state of each sequence.

    The name is the one pickles of the LSTM-only networks before it refer to.
    """

    # What describes a network besides its parameters and dtype.
    _CONFIG = ("n_features", "hidden_sizes", "n_outputs", "n_directions", "cell")

    def __init__(
        self, n_features, hidden_sizes, n_outputs, dtype, bidirectional=False, cell="lstm"
    ):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.n_features = n_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.n_outputs = n_outputs
        self.dtype = np.dtype(dtype)
        self.n_directions = 2 if bidirectional else 1
        self.cell = cell
        self._params = aligned.zeros(self._n_params(), self.dtype)
        self.views = self.unpack(self._params)

    @property
    def spec(self):
        """The cell's ``CellSpec``."""
        return CELLS[self.cell]

    @property
    def params(self):
        """The flat parameter vector, whose memory ``views`` share.

        Write into it (``params[:] = values``); it cannot be replaced, which would leave
        the views, and so prediction, on the old weights.
        """
        return self._params

    @params.setter
    def params(self, value):
        raise AttributeError(
            "network_.params cannot be replaced: the views share its memory. Write into it "
            "instead: network_.params[:] = values."
        )

    def layer_inputs(self):
        """Features per step that each layer reads."""
        return [self.n_features] + [self.n_directions * H for H in self.hidden_sizes[:-1]]

    def _shapes(self):
        layers = [
            [self.spec.shapes(n_in, H)] * self.n_directions
            for n_in, H in zip(self.layer_inputs(), self.hidden_sizes, strict=True)
        ]
        head_in = self.n_directions * self.hidden_sizes[-1]
        return layers, [(self.n_outputs, head_in), (self.n_outputs,)]

    def _n_params(self):
        layers, head = self._shapes()
        cells = [shape for layer in layers for cell in layer for shape in cell]
        return sum(int(np.prod(s)) for s in [*cells, *head])

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
        layers = [
            tuple(self.spec.views([take(shape) for shape in cell]) for cell in layer)
            for layer in layer_shapes
        ]
        return Params(layers, *map(take, head_shapes))

    def __getstate__(self):
        # Views would be pickled as copies: keep the flat vector only, rebuild them on load.
        # The dtype goes by name, a plain string for skops to trust.
        state = {name: getattr(self, name) for name in self._CONFIG}
        return {**state, "params": self._params, "dtype": self.dtype.name}

    def __setstate__(self, state):
        # Saved before GRUs, a network was an LSTM.
        state = {"cell": "lstm", **state} if isinstance(state, dict) else state
        # A loaded state may come from a damaged or hand-made file: check it before use.
        try:
            config = (
                state["n_features"],
                *state["hidden_sizes"],
                state["n_outputs"],
                state["n_directions"],
            )
            valid = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in config)
            dtype, params = np.dtype(state["dtype"]), state["params"]
            valid = valid and state["n_directions"] <= 2 and dtype.name in ("float32", "float64")
            valid = valid and isinstance(params, np.ndarray) and params.dtype == dtype
            valid = valid and isinstance(state["cell"], str) and state["cell"] in CELLS
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid or set(state) != {*self._CONFIG, "params", "dtype"}:
            raise ValueError("Not the saved state of an LSTMNetwork.")
        self.__dict__.update({name: state[name] for name in self._CONFIG}, dtype=dtype)
        self.hidden_sizes = tuple(self.hidden_sizes)
        if params.ndim != 1 or params.size != self._n_params():
            raise ValueError("The saved parameters do not fit the saved network shape.")
        if not np.isfinite(params).all():
            raise ValueError("The saved parameters are not all finite.")
        self._params = aligned.copy(params)  # unpickled, it starts wherever NumPy put it
        self.views = self.unpack(self._params)

    def initialize(self, rng):
        """Keras's defaults: the cell's (``CellSpec.initialize``), a Glorot-uniform head
        and a zero head bias."""
        for layer in self.views.layers:
            for cell in layer:
                self.spec.initialize(cell, rng)
        self.views.head_W[:] = glorot_uniform(rng, self.views.head_W.shape)
        self.views.head_b[:] = 0

    def draw_masks(self, rng, batch, dropout, recurrent_dropout):
        """Dropout masks for a batch of ``batch`` sequences, or None without dropout."""
        if not dropout and not recurrent_dropout:
            return None

        def masks(rate, width):
            if not rate:
                return [None] * self.n_directions
            return [
                ((rng.random((batch, width)) >= rate) / (1.0 - rate)).astype(self.dtype)
                for _ in range(self.n_directions)
            ]

        return DropoutMasks(
            [masks(dropout, n_in) for n_in in self.layer_inputs()],
            [masks(recurrent_dropout, H) for H in self.hidden_sizes],
        )

    def forward(self, batch, ws, n_threads, masks=None):
        """Outputs (logits) of a training batch, keeping what ``backward`` needs in ``ws``."""
        N, offsets = batch.offsets[-1], batch.offsets
        ws.masks = masks
        if self.n_directions == 2:
            reverse_rows(offsets, ws.perm[:N])
        x = batch.X
        for k, (layer, kernels) in enumerate(zip(self.views.layers, ws.layers, strict=True)):
            for d, (cell, kernel) in enumerate(zip(layer, kernels, strict=True)):
                x_in, staged = x, ws.staged[k][d]
                if d == 1:  # the reverse direction reads the batch reversed in time
                    take_rows(x, ws.perm[:N], staged[:N])
                    x_in = staged[:N]
                if masks is not None and masks.inputs[k][d] is not None:
                    scale_rows(x_in, offsets, masks.inputs[k][d], staged[:N])
                    x_in = staged[:N]
                ws.read[k][d] = x_in  # what backward differentiates against
                mask = None if masks is None else masks.recurrent[k][d]
                kernel.forward_train(x_in, offsets, cell, mask, n_threads)
            if k < len(self.hidden_sizes) - 1:
                states = [kernel.Hs[:N] for kernel in kernels]
                x = _in_time_order(states, ws.perm[:N], ws.outputs[k])
        ws.h_last, out = self._head([kernel.Hs for kernel in ws.layers[-1]], batch.last_rows)
        return out

    def _head(self, states, last_rows):
        """The head's input, each sequence's last hidden state (both directions side by
        side), and the network's outputs."""
        h_last = (
            states[0][last_rows]
            if len(states) == 1
            else np.hstack([Hs[last_rows] for Hs in states])
        )
        return h_last, h_last @ self.views.head_W.T + self.views.head_b

    def _head_backward(self, batch, ws, d_out, g):
        """The head's gradients into ``g``, and dL/dh of the top layer's states into its
        ``dHs``: the head reads each sequence's last state, dL/dh is zero elsewhere."""
        N = batch.offsets[-1]
        np.matmul(d_out.T, ws.h_last, out=g.head_W)
        np.sum(d_out, axis=0, out=g.head_b)
        d_last = d_out @ self.views.head_W
        H = self.hidden_sizes[-1]
        for d, kernel in enumerate(ws.layers[-1]):
            kernel.dHs[:N] = 0
            kernel.dHs[batch.last_rows] = d_last[:, d * H : (d + 1) * H]

    def backward(self, batch, ws, d_out, g, n_threads):
        """Gradient of the loss into the views ``g`` of the gradient vector, given
        ``d_out`` = d loss / d outputs, for the batch ``forward`` last ran."""
        N, offsets = batch.offsets[-1], batch.offsets
        self._head_backward(batch, ws, d_out, g)
        masks = ws.masks
        for k in range(len(self.hidden_sizes) - 1, -1, -1):
            layer, grad, kernels = self.views.layers[k], g.layers[k], ws.layers[k]
            for d, (cell, cell_grad, kernel) in enumerate(zip(layer, grad, kernels, strict=True)):
                mask = None if masks is None else masks.recurrent[k][d]
                if k == 0:
                    dX = None
                elif self.n_directions == 1:  # straight into the layer below
                    dX = ws.layers[k - 1][0].dHs[:N]
                else:
                    dX = ws.input_grads[k][d][:N]
                kernel.backward(ws.read[k][d], offsets, cell, cell_grad, dX, mask, n_threads)
                if dX is not None and masks is not None and masks.inputs[k][d] is not None:
                    scale_rows(dX, offsets, masks.inputs[k][d], dX)
            if k > 0 and self.n_directions == 2:
                self._split_input_gradient(ws.input_grads[k], ws.layers[k - 1], ws.perm[:N], N)

    def _split_input_gradient(self, input_grads, below, perm, N):
        """dL/d(input) of a bidirectional layer, as dL/dh of each direction of the layer
        below: both directions' input gradients, in time order, split by direction."""
        H = below[0].hidden_size
        dX_f, dX_r = input_grads[0][:N], input_grads[1][:N]  # dX_r in reversed layout
        forward, reverse = below[0].dHs[:N], below[1].dHs[:N]
        take_rows(dX_r[:, :H], perm, forward)
        forward += dX_f[:, :H]
        take_rows(dX_f[:, H:], perm, reverse)
        reverse += dX_r[:, H:]

    def add_l2(self, g, scale):
        """Add the L2 penalty ``scale / 2 * ||W||^2`` to the gradient views ``g``; return it."""
        penalty = 0.0
        for w, gw in zip(self.views.weights, g.weights, strict=True):
            gw += scale * w
            flat = w.ravel(order="K")  # W_hh's view is transposed: no copy in memory order
            penalty += 0.5 * scale * float(np.dot(flat, flat))
        return penalty

    def predict(self, seqs, n_threads):
        """Outputs (logits) for every sequence, in memory bounded whatever the number and
        the length of the sequences, but for a stacked bidirectional network's.

        Sequences run in chunks (packed batches) of at most ``PREDICT_SEQUENCES``
        sequences and ``max_rows`` rows, as many as a layer's scratch of ``PREDICT_BYTES``
        holds in the widest layer (``CellSpec.predict_scratch``). A chunk of more rows, a
        single long sequence, runs in windows of consecutive steps of at most ``max_rows``
        rows (one step at least): each direction of each layer carries its state, each
        sequence's last hidden state and an LSTM's cell state, from one window to the next
        (``RecurrentLayer.forward_predict``), with the hidden states of a single pass over
        the chunk, bit for bit.

        Unidirectional: each window runs through every layer in turn, and of the top
        layer's states only each sequence's last is kept. Memory: per layer, one window's
        gates and hidden states plus the carried state, O(B x H), whatever the length.

        Bidirectional: the reverse direction starts at each sequence's last step, so a
        layer's output at any step depends on the whole sequence. Each direction of a
        layer runs over the whole chunk in windows, the reverse one reading its input
        window through the reversal permutation, and the top layer keeps only each
        sequence's last states (the reverse direction's is at the first step in time).
        Memory: the top layer's as above, plus the reversal permutation, one index per
        row of the chunk. With two layers or more, a layer below the top keeps its whole
        output, (rows, 2H), the input of the layer above: memory then grows with the
        length of a sequence as the input itself does, by the input and the output of
        the layer running, 2H values per step each (H: of the layer below, and its own).
        """
        out = np.empty((seqs.n_samples, self.n_outputs), dtype=self.dtype)
        longest_first = (
            np.arange(seqs.n_samples)
            if seqs.equal_lengths
            else np.argsort(-seqs.lengths, kind="stable")
        )
        scratch = self.spec.predict_scratch(max(self.hidden_sizes)) * self.dtype.itemsize
        max_rows = PREDICT_BYTES // scratch
        bidirectional = self.n_directions == 2
        predict_chunk = _predict_bidirectional if bidirectional else _predict_unidirectional
        for idx in _chunks(longest_first, seqs.lengths[longest_first], max_rows):
            batch = pack_batch(seqs, idx)
            states, last_rows = predict_chunk(
                self.spec, self.views.layers, batch, _windows(batch.offsets, max_rows), n_threads
            )
            out[batch.order] = self._head(states, last_rows)[1]
        return out


def _in_time_order(states, perm, out=None):
    """A layer's hidden states as the next layer reads them: in time order, both directions
    side by side (in ``out`` when given, of at least N rows), the reverse direction's
    taken back from its reversed layout through ``perm``."""
    if len(states) == 1:
        return states[0]
    N, H = states[0].shape
    out = np.empty((N, 2 * H), dtype=states[0].dtype) if out is None else out[:N]
    out[:, :H] = states[0]
    take_rows(states[1], perm, out[:, H:])
    return out


def _take(x, rows):
    """The rows ``rows`` of ``x``, in a new array."""
    out = np.empty((rows.shape[0], x.shape[1]), dtype=x.dtype)
    take_rows(x, rows, out)
    return out


def _chunks(order, lengths, max_rows):
    """Split ``order`` into runs of at most PREDICT_SEQUENCES sequences and ``max_rows``
    steps (a single longer sequence gets a chunk of its own)."""
    if len(order) == 1:  # one sequence, the latency path: no cumulative sums
        yield order
        return
    start = 0
    while start < len(order):
        rows = np.cumsum(lengths[start : start + PREDICT_SEQUENCES])
        stop = start + max(1, int(np.searchsorted(rows, max_rows, side="right")))
        yield order[start:stop]
        start = stop


def _windows(offsets, max_rows):
    """A packed batch's windows of consecutive steps, ``(t0, t1)`` for steps t0 to t1 - 1,
    of at most ``max_rows`` rows or else a single step; None for the whole batch."""
    if offsets[-1] <= max_rows:  # the common case, and the latency path's: nothing to split
        return None
    windows, t0, T = [], 0, len(offsets) - 1
    while t0 < T:
        t1 = int(np.searchsorted(offsets, offsets[t0] + max_rows, side="right")) - 1
        windows.append((t0, max(t1, t0 + 1)))
        t0 = windows[-1][1]
    return windows


class _Carried:
    """One direction of one layer run window after window over a packed batch: each
    sequence's state at its last step run so far (row i for the batch's i-th sequence),
    its hidden state and an LSTM's cell state, carried into the next window."""

    def __init__(self, spec, B, H, dtype):
        self.kernel = spec.kernel
        self.c = aligned.empty((B, H), dtype) if spec.kernel.CELL_STATE else None
        self.h = aligned.empty((B, H), dtype)
        self.started = False

    def run(self, cell, x, offsets, n_threads):
        """Hidden states of the next window: input rows ``x``, steps ``offsets`` from 0."""
        h0 = self.h if self.started else None
        Hs = _layer_pass(self.kernel, cell, x, offsets, n_threads, self.c, h0)
        last = offsets[-2]
        self.h[: offsets[-1] - last] = Hs[last:]
        self.started = True
        return Hs


def _layer_pass(kernel, cell, x, offsets, n_threads, c=None, h0=None):
    """Hidden states of one direction of one layer over the packed rows ``x``."""
    Hs = np.empty((x.shape[0], cell.W_hh.shape[1]), dtype=x.dtype)
    kernel.forward_predict(x, offsets, cell, Hs, n_threads, c, h0)
    return Hs


def _window_rows(offsets, t0, t1):
    """A window's first and end rows, and its steps' offsets from 0."""
    r0 = offsets[t0]
    return r0, offsets[t1], offsets[t0 : t1 + 1] - r0


def _keep_last(Hs, batch, t0, t1, last):
    """Into ``last`` (B, H), the hidden states at the last step of the sequences that end
    in steps t0 to t1 - 1, from that window's states ``Hs``: the i-th for i from B_t1 to
    B_t0, the sequences being sorted longest first."""
    offsets, T = batch.offsets, len(batch.offsets) - 1
    ending = slice(offsets[t1 + 1] - offsets[t1] if t1 < T else 0, offsets[t0 + 1] - offsets[t0])
    last[ending] = Hs[batch.last_rows[ending] - offsets[t0]]


def _predict_unidirectional(spec, layers, batch, windows, n_threads):
    """The top layer's hidden states over a chunk, and which rows of them are each
    sequence's last (``LSTMNetwork.predict``)."""
    if windows is None:
        x = batch.X
        for (cell,) in layers:
            x = _layer_pass(spec.kernel, cell, x, batch.offsets, n_threads)
        return [x], batch.last_rows
    B, dtype = len(batch.order), batch.X.dtype
    carried = [_Carried(spec, B, cell.W_hh.shape[1], dtype) for (cell,) in layers]
    last = np.empty((B, layers[-1][0].W_hh.shape[1]), dtype=dtype)
    for t0, t1 in windows:
        r0, r1, offsets = _window_rows(batch.offsets, t0, t1)
        x = batch.X[r0:r1]
        for (cell,), state in zip(layers, carried, strict=True):
            x = state.run(cell, x, offsets, n_threads)  # the next layer's window input
        _keep_last(x, batch, t0, t1, last)
    return [last], slice(None)


def _predict_bidirectional(spec, layers, batch, windows, n_threads):
    """``_predict_unidirectional`` for a bidirectional network: the top layer's states of
    each direction, the reverse one's in the reversed layout."""
    N, B, dtype = batch.offsets[-1], len(batch.order), batch.X.dtype
    perm = np.empty(N, dtype=np.intp)
    reverse_rows(batch.offsets, perm)
    x = batch.X
    for k, layer in enumerate(layers):
        top = k == len(layers) - 1
        if windows is None:
            states = [
                _layer_pass(spec.kernel, layer[0], x, batch.offsets, n_threads),
                _layer_pass(spec.kernel, layer[1], _take(x, perm), batch.offsets, n_threads),
            ]
            if top:
                return states, batch.last_rows
            x = _in_time_order(states, perm)
            continue
        H = layer[0].W_hh.shape[1]
        # The top layer's last states, or this layer's output: the next one's input.
        out = [np.empty((B, H), dtype=dtype) for _ in layer] if top else np.empty((N, 2 * H), dtype)
        for d, cell in enumerate(layer):
            state = _Carried(spec, B, H, dtype)
            for t0, t1 in windows:
                r0, r1, offsets = _window_rows(batch.offsets, t0, t1)
                rows = slice(r0, r1) if d == 0 else perm[r0:r1]  # this layout's rows of x
                Hs = state.run(cell, x[rows] if d == 0 else _take(x, rows), offsets, n_threads)
                if top:
                    _keep_last(Hs, batch, t0, t1, out[d])
                else:
                    out[rows, d * H : (d + 1) * H] = Hs  # back in time order
        x = out
    return out, slice(None)


class Workspace:
    """Buffers of training's forward and backward passes, reused from batch to batch."""

    def __init__(self, net, rows, batch, dropout=0.0, recurrent_dropout=0.0):
        """Room for batches of up to ``batch`` sequences with ``rows`` steps in all."""
        self.h_last = None  # the head's input, kept by forward for backward
        self.masks = None  # the dropout masks forward used
        bidirectional = net.n_directions == 2
        sizes = list(zip(net.layer_inputs(), net.hidden_sizes, strict=True))
        directions = range(net.n_directions)
        self.X = aligned.empty((rows, net.n_features), net.dtype)
        self.perm = np.empty(rows, dtype=np.intp)
        # Per layer and direction: the kernel, with the buffers of its passes.
        self.layers = [
            [
                net.spec.kernel(n_in, H, net.dtype, rows, batch, bool(recurrent_dropout))
                for _ in directions
            ]
            for n_in, H in sizes
        ]
        # The input as a direction reads it, when it is not the layer below's output
        # itself: reversed in time, or under input dropout.
        self.staged = [
            [
                aligned.empty((rows, n_in), net.dtype) if d == 1 or dropout else None
                for d in directions
            ]
            for n_in, _ in sizes
        ]
        self.read = [[None for _ in directions] for _ in sizes]  # what forward read
        # Bidirectional layers above the first: each direction's input gradient.
        self.input_grads = [
            [
                aligned.empty((rows, n_in), net.dtype) if bidirectional and k > 0 else None
                for _ in directions
            ]
            for k, (n_in, _) in enumerate(sizes)
        ]
        # Each bidirectional layer's output but the top one's: the next layer's input.
        self.outputs = [
            aligned.empty((rows, 2 * H), net.dtype) if bidirectional else None
            for H in net.hidden_sizes[:-1]
        ]
