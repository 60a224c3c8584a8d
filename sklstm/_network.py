"""The model as data: one flat parameter vector, views per layer, forward and backward.

Layout of the flat vector, layer after layer and, in a bidirectional network, direction
after direction (forward, then reverse): the cell's blocks (``_cells``: an LSTM's
``W_ih`` (4H, D_in), ``W_hh`` stored transposed (H, 4H), ``bias`` (4H,), in PyTorch's gate
order i, f, g, o; a GRU's the same with 3H, gates r, z, n, then ``bias_hn`` (H,)); then
the readout's parameters (``_readouts``: an attention readout's ``w`` (n_directions * H,),
none for the others); then the dense head ``W`` (n_outputs, n_directions * H) and ``b``
(n_outputs,). A layer's input is the layer below's output, both directions side by side.
Gradients use a second vector of the same layout.

A network is a cell x a stack x a readout: the cell (``_cells.CellSpec``: gates, shapes,
initialisation, kernel) says what one direction of one layer is; the stack (layers x
directions) is one method, ``_stack``, that training's ``forward`` and prediction run with
their own layer pass (with or without the history backward needs; a chunk too long for
memory runs window after window instead, each layer carrying its state); the readout
(``_readouts.Readout``) turns the top layer's states of every step into one vector per
sequence, and its backward gives dL/dh at every step.

The views show every matrix in PyTorch's shape: ``W_hh`` is the transpose of its stored
block. Stored transposed, W_hh enters the forward pass's step product as it is: prediction,
which has no backward pass to share the cost of a transpose, never makes one.

A per-step network (readout ``"steps"``, ``_readouts.Steps``) has the same stack and head;
its readout is the top layer's states at every packed row, so its outputs have one row per
packed row (training: in the batch's packed order, where the estimator gathers each row's
target, ``_sequences.packed_rows``) or per step (prediction: one sequence after another,
in the order of the sequences).

The head reads the readout: in training's forward (``_head``), in backward where dL/dh
enters the top layer through the readout's backward (``_head_backward``), and in
prediction, where the readout's online form is fed the top layer's states window after
window (``Readout.accumulator``).

The reverse direction runs the same kernels on the batch with every sequence reversed in
time: reversed sequences keep their lengths, so they pack into the same offsets, and a row
permutation (``reverse_rows``) maps one layout onto the other. Each sequence's last step in
the reversed layout is its first step in time, where the reverse direction ends.

Prediction keeps no history: a long batch runs in windows of steps, each layer carrying
each sequence's state (its last hidden state, and an LSTM's cell state) from one window to
the next, and only the readout's running aggregate of the top layer's states reaches the
head (memory: ``LSTMNetwork.predict``).

Prediction's cost for one sequence or a few (issue 18) is its Python glue besides the
kernel: the same path serves every input, but does no work a small input does not need.
Sequences of one length (an array) are chunked in their order without a sort or sums,
and the "last" readout reads the last step's rows as a slice when every sequence ends
there (``_readouts``).

A stream (``_streaming``, issue 17) carries that same state for sequences that arrive one
step at a time: per stream, each layer's state and the readout's running aggregate,
advanced by one call per step (``_kernels/_stream.pyx``) with the arithmetic of a window of
one step, so that its answers are ``predict``'s on the steps seen. A unidirectional
network only: the reverse direction needs a sequence's last step first.
"""

from typing import NamedTuple

import numpy as np

from . import _aligned as aligned
from ._cells import CELLS, glorot_uniform
from ._kernels._packing import reverse_rows, scale_rows, take_rows
from ._readouts import NETWORK_READOUTS, in_time_order
from ._sequences import pack_batch, packed_rows, step_starts

# Prediction runs in chunks of at most this many sequences (measured fastest on M: their
# buffers stay in cache), and of at most this many bytes of a layer's hidden states (the
# kernel's scratch is one step's gates per sequence, not per row); a longer chunk, a
# single sequence, in windows of steps of as many bytes. So its memory is bounded whatever
# the number and length of the sequences (see LSTMNetwork.predict).
PREDICT_SEQUENCES = 128
PREDICT_BYTES = 1 << 24


class Params(NamedTuple):
    layers: list  # per layer, a tuple of the cell's params: (forward,) or (forward, reverse)
    readout: list  # the readout's parameters (``Readout.param_shapes``)
    head_W: np.ndarray
    head_b: np.ndarray

    @property
    def weights(self):
        """The views that L2 regularisation applies to (biases excluded)."""
        cells = [cell for layer in self.layers for cell in layer]
        recurrent = [w for cell in cells for w in (cell.W_ih, cell.W_hh)]
        return recurrent + list(self.readout) + [self.head_W]


class DropoutMasks(NamedTuple):
    """One batch's masks, per layer and direction: rows are the batch's sequences, longest
    first, each kept for all of its steps (Keras's semantics), scaled by 1 / (1 - rate)."""

    inputs: list  # [layer][direction] -> (B, D_in) array, or None without input dropout
    recurrent: list  # [layer][direction] -> (B, H) array, or None


class LSTMNetwork:
    """Stacked recurrent layers of one cell (``cell``: "lstm" or "gru", ``_cells.CELLS``),
    a readout of their states (``readout``: "last", "mean", "max" or "attention",
    ``_readouts.READOUTS``, or "steps", every step's) and a dense head.

    The name is the one pickles of the LSTM-only networks before it refer to.
    """

    # What describes a network besides its parameters and dtype.
    _CONFIG = ("n_features", "hidden_sizes", "n_outputs", "n_directions", "cell", "readout")

    def __init__(
        self,
        n_features,
        hidden_sizes,
        n_outputs,
        dtype,
        bidirectional=False,
        cell="lstm",
        readout="last",
    ):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if readout not in NETWORK_READOUTS:
            raise ValueError(f"readout must be one of {sorted(NETWORK_READOUTS)}, got {readout!r}")
        self.n_features = n_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.n_outputs = n_outputs
        self.dtype = np.dtype(dtype)
        self.n_directions = 2 if bidirectional else 1
        self.cell = cell
        self.readout = readout
        self._params = aligned.zeros(self._n_params(), self.dtype)
        self.views = self.unpack(self._params)

    @property
    def spec(self):
        """The cell's ``CellSpec``."""
        return CELLS[self.cell]

    @property
    def readout_kind(self):
        """The ``Readout``."""
        return NETWORK_READOUTS[self.readout]

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
        width = self.n_directions * self.hidden_sizes[-1]
        readout = self.readout_kind.param_shapes(width)
        return layers, readout, [(self.n_outputs, width), (self.n_outputs,)]

    def _n_params(self):
        layers, readout, head = self._shapes()
        cells = [shape for layer in layers for cell in layer for shape in cell]
        return sum(int(np.prod(s)) for s in [*cells, *readout, *head])

    def unpack(self, vector):
        """Views of ``vector`` (parameters or gradient) as ``Params``."""
        pos = 0

        def take(shape):
            nonlocal pos
            size = int(np.prod(shape))
            view = vector[pos : pos + size].reshape(shape)
            pos += size
            return view

        layer_shapes, readout_shapes, head_shapes = self._shapes()
        layers = [
            tuple(self.spec.views([take(shape) for shape in cell]) for cell in layer)
            for layer in layer_shapes
        ]
        readout = [take(shape) for shape in readout_shapes]
        return Params(layers, readout, *map(take, head_shapes))

    def __getstate__(self):
        # Views would be pickled as copies: keep the flat vector only, rebuild them on load.
        # The dtype goes by name, a plain string for skops to trust.
        state = {name: getattr(self, name) for name in self._CONFIG}
        return {**state, "params": self._params, "dtype": self.dtype.name}

    def __setstate__(self, state):
        # Saved before GRUs and readouts, a network was an LSTM read at its last states.
        state = {"cell": "lstm", "readout": "last", **state} if isinstance(state, dict) else state
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
            valid = (
                valid and isinstance(state["readout"], str) and state["readout"] in NETWORK_READOUTS
            )
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
        and a zero head bias; the readout's own (``Readout.initialize``)."""
        for layer in self.views.layers:
            for cell in layer:
                self.spec.initialize(cell, rng)
        self.readout_kind.initialize(self.views.readout)
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

    def _stack(self, x, perm, run, outputs=None):
        """The stack over a packed batch, in training and in prediction alike: each
        layer's directions, run by ``run(k, d, cell, x)`` on direction d of layer k with
        its input rows x (in time order; the reverse direction reads them through
        ``perm``), each layer above reading the states below in time order, both
        directions side by side (into ``outputs[k]`` when given). Returns the top layer's
        states per direction, each in its own layout."""
        top = len(self.views.layers) - 1
        for k, layer in enumerate(self.views.layers):
            states = [run(k, d, cell, x) for d, cell in enumerate(layer)]
            if k == top:
                return states
            x = in_time_order(states, perm, None if outputs is None else outputs[k])

    def forward(self, batch, ws, n_threads, masks=None):
        """Outputs (logits) of a training batch, keeping what ``backward`` needs in ``ws``."""
        N, offsets = batch.offsets[-1], batch.offsets
        ws.masks = masks
        perm = None
        if self.n_directions == 2:
            perm = ws.perm[:N]
            reverse_rows(offsets, perm)

        def run(k, d, cell, x):
            x_in, staged = x, ws.staged[k][d]
            if d == 1:  # the reverse direction reads the batch reversed in time
                take_rows(x, perm, staged[:N])
                x_in = staged[:N]
            if masks is not None and masks.inputs[k][d] is not None:
                scale_rows(x_in, offsets, masks.inputs[k][d], staged[:N])
                x_in = staged[:N]
            ws.read[k][d] = x_in  # what backward differentiates against
            mask = None if masks is None else masks.recurrent[k][d]
            kernel = ws.layers[k][d]
            kernel.forward_train(x_in, offsets, cell, mask, n_threads)
            return kernel.Hs[:N]

        states = self._stack(batch.X, perm, run, ws.outputs)
        ws.h_last, ws.readout_cache = self.readout_kind.forward(
            states, offsets, batch.lengths, perm, self.views.readout
        )
        return self._head(ws.h_last)

    def _head(self, h):
        """The network's outputs from the readout ``h`` (B, n_directions * H)."""
        z = h @ self.views.head_W.T
        z += self.views.head_b
        return z

    def _head_backward(self, batch, ws, d_out, g):
        """The head's and the readout's gradients into ``g``, and dL/dh of the top layer's
        states into its ``dHs``, through the readout."""
        N = batch.offsets[-1]
        np.matmul(d_out.T, ws.h_last, out=g.head_W)
        np.sum(d_out, axis=0, out=g.head_b)
        dstates = [kernel.dHs[:N] for kernel in ws.layers[-1]]
        for dHs in dstates:
            dHs[:] = 0
        self.readout_kind.backward(ws.readout_cache, d_out @ self.views.head_W, dstates, g.readout)

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
        the length of the sequences, but for a stacked bidirectional network's; for a
        per-step network, for every step, one sequence after another (n_steps,
        n_outputs), and memory grows with the steps as the outputs do.

        Sequences run in chunks (packed batches) of at most ``PREDICT_SEQUENCES``
        sequences and ``max_rows`` rows, as many as ``PREDICT_BYTES`` holds of the widest
        layer's hidden states (the layer kernel's own scratch, one step's gates of each
        sequence, does not grow with the rows). A chunk of more rows, a
        single long sequence, runs in windows of consecutive steps of at most ``max_rows``
        rows (one step at least): each direction of each layer carries its state, each
        sequence's last hidden state and an LSTM's cell state, from one window to the next
        (``RecurrentLayer.forward_predict``), with the hidden states of a single pass over
        the chunk, bit for bit.

        Unidirectional: each window runs through every layer in turn, and of the top
        layer's states only each sequence's last is kept. Memory: per layer, one window's
        hidden states plus the carried state and one step's gates, O(B x H), whatever the
        length.

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

        The readout runs on a chunk's top layer states as in training when they come in
        one window, and in its online form (``Readout.accumulator``) window after window
        otherwise: a bidirectional attention readout then runs the top layer's forward
        direction twice (``_readouts``).
        """
        per_step = self.readout_kind.per_step
        n_rows = int(seqs.lengths.sum()) if per_step else seqs.n_samples
        out = np.empty((n_rows, self.n_outputs), dtype=self.dtype)
        starts = step_starts(seqs.lengths) if per_step else None
        max_rows = PREDICT_BYTES // (max(self.hidden_sizes) * self.dtype.itemsize)
        bidirectional = self.n_directions == 2
        in_windows = _predict_bidirectional if bidirectional else _predict_unidirectional
        for idx in _chunks(seqs, max_rows):
            batch = pack_batch(seqs, idx)
            windows = _windows(batch.offsets, max_rows)
            h = (
                self._predict_whole(batch, n_threads)
                if windows is None
                else in_windows(self, batch, windows, n_threads)
            )
            out[packed_rows(starts, batch) if per_step else batch.order] = self._head(h)
        return out

    def _predict_whole(self, batch, n_threads):
        """The readout of a chunk run as one window: the stack as training runs it
        (``_stack``), without history."""
        perm = None
        if self.n_directions == 2:
            perm = np.empty(batch.offsets[-1], dtype=np.intp)
            reverse_rows(batch.offsets, perm)

        def run(k, d, cell, x):
            x_in = x if d == 0 else _take(x, perm)
            return _layer_pass(self.spec.kernel, cell, x_in, batch.offsets, n_threads)

        states = self._stack(batch.X, perm, run)
        readout = self.readout_kind.forward(
            states, batch.offsets, batch.lengths, perm, self.views.readout
        )
        return readout[0]

    def _accumulator(self, batch, perm=None):
        """The readout's online form over a chunk."""
        H = self.hidden_sizes[-1]
        B = len(batch.order)
        return self.readout_kind.accumulator(
            B, H, self.n_directions, self.dtype, self.views.readout, perm
        )


def _take(x, rows):
    """The rows ``rows`` of ``x``, in a new array."""
    out = np.empty((rows.shape[0], x.shape[1]), dtype=x.dtype)
    take_rows(x, rows, out)
    return out


def _chunks(seqs, max_rows):
    """The sequences' indices in runs of at most PREDICT_SEQUENCES sequences and
    ``max_rows`` steps (a single longer sequence gets a chunk of its own), longest first
    (``pack_batch``'s order, so that a chunk's sequences are of similar lengths)."""
    n = seqs.n_samples
    if seqs.equal_lengths:  # in their order, as many a chunk as fit: no sort, no sums
        size = max(1, min(PREDICT_SEQUENCES, max_rows // int(seqs.lengths[0])))
        order = np.arange(n)
        yield from (order[start : start + size] for start in range(0, n, size))
        return
    order = np.argsort(-seqs.lengths, kind="stable")
    lengths = seqs.lengths[order]
    start = 0
    while start < n:
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


def _predict_unidirectional(net, batch, windows, n_threads):
    """The readout of a chunk run window after window (``LSTMNetwork.predict``): each
    window through every layer in turn."""
    spec, layers = net.spec, net.views.layers
    B, dtype = len(batch.order), batch.X.dtype
    carried = [_Carried(spec, B, cell.W_hh.shape[1], dtype) for (cell,) in layers]
    readout = net._accumulator(batch)
    for t0, t1 in windows:
        r0, r1, offsets = _window_rows(batch.offsets, t0, t1)
        x = batch.X[r0:r1]
        for (cell,), state in zip(layers, carried, strict=True):
            x = state.run(cell, x, offsets, n_threads)  # the next layer's window input
        readout.update(0, x, offsets, r0)
    return readout.result()


def _predict_bidirectional(net, batch, windows, n_threads):
    """``_predict_unidirectional`` for a bidirectional network: each direction of each
    layer over the whole chunk, window after window."""
    spec, layers = net.spec, net.views.layers
    N, B, dtype = batch.offsets[-1], len(batch.order), batch.X.dtype
    perm = np.empty(N, dtype=np.intp)
    reverse_rows(batch.offsets, perm)
    x = batch.X

    def direction_windows(cell, d):
        """Direction d's states over the chunk, window after window, in its layout."""
        state = _Carried(spec, B, cell.W_hh.shape[1], dtype)
        for t0, t1 in windows:
            r0, r1, offsets = _window_rows(batch.offsets, t0, t1)
            rows = slice(r0, r1) if d == 0 else perm[r0:r1]  # this layout's rows of x
            x_in = x[rows] if d == 0 else _take(x, rows)
            yield state.run(cell, x_in, offsets, n_threads), offsets, r0, rows

    for k, layer in enumerate(layers):
        if k == len(layers) - 1:
            readout = net._accumulator(batch, perm)
            for d in readout.passes:
                for Hs, offsets, r0, _ in direction_windows(layer[d], d):
                    readout.update(d, Hs, offsets, r0)
            return readout.result()
        H = layer[0].W_hh.shape[1]
        out = np.empty((N, 2 * H), dtype)  # this layer's output: the next one's input
        for d, cell in enumerate(layer):
            for Hs, _, _, rows in direction_windows(cell, d):
                out[rows, d * H : (d + 1) * H] = Hs  # back in time order
        x = out


class Workspace:
    """Buffers of training's forward and backward passes, reused from batch to batch."""

    def __init__(self, net, rows, batch, dropout=0.0, recurrent_dropout=0.0):
        """Room for batches of up to ``batch`` sequences with ``rows`` steps in all."""
        self.h_last = None  # the head's input, the readout, kept by forward for backward
        self.readout_cache = None  # what the readout's backward needs
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
