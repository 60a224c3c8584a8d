"""One time step of a unidirectional network for each of several streams, in one call: the
kernel of ``sklstm._streaming.Stream``.

A stream is a sequence that arrives one step at a time. The kernel holds, per stream (row
i of each array), what a prediction carries from one step to the next: each layer's
hidden state, an LSTM's cell state, and the readout's running aggregate. ``update``
runs every layer and the readout's online form on one step of every stream, the GIL
released, with the arithmetic of a prediction over the whole sequence
(``_recurrent.pyx``), element for element:

- the input standardised as ``pack_batch`` does, ``(x - shift) / scale`` in the dtype;
- per layer, the input projection and the recurrent product with sklstm's step product
  (``_blas.step_product``; an LSTM's two in one pass, ``step_product2``, as
  ``forward_predict`` runs them), whose result for a row does not depend on the rows
  beside it, in the same order: a fresh state is zero, and ``acc + 0 * w`` is ``acc``,
  so the first step needs no case of its own; then the cell's math (``_cells.h``: the
  same prediction functions, this module's copy of its ISA level);
- the readout's online form for one step (``_readouts``): the top layer's last state
  (last); a running sum, ``sum += h``, and a count (mean); a running maximum, NaN winning
  (max); the online softmax, e = ``dot4(h, w)``, the running maximum m of e, and the
  weighted sum and denominator rescaled by exp(m_old - m_new) when it grows (attention).

Last, mean and max then give the bits of ``est.predict`` on the whole sequence; attention
equals them to a few ulps per growth of the running maximum (the whole-sequence readout
weighs every step by the final maximum at once, and NumPy's exp is not libm's).

Thread-safety: every method holds the kernel's lock, so calls on one kernel run one
after another whatever threads make them; ``update`` releases the GIL for its arithmetic,
so kernels run in parallel on separate threads. Buffers are allocated once, in the
constructor, and never replaced: no interleaving of calls can reach freed memory.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBuffer_Release, PyObject_CheckBuffer
from cpython.exc cimport PyErr_Clear
from cpython.pythread cimport (
    NOWAIT_LOCK,
    WAIT_LOCK,
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
)
from cython cimport floating
from libc.math cimport exp, expf, isfinite
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from .. import _aligned
from ._blas cimport step_product, step_product2
from ._pooling cimport dot4

cdef extern from "Python.h":
    # Without Cython's exception check: a failure only sends x the slow way.
    int _get_buffer "PyObject_GetBuffer" (object, Py_buffer *, int) noexcept

cdef extern from "_cells.h" nogil:
    void sk_lstm_predict_f(const float *g, const float *bias, const float *c_prev, float *c,
                           float *h, Py_ssize_t H)
    void sk_lstm_predict_d(const double *g, const double *bias, const double *c_prev,
                           double *c, double *h, Py_ssize_t H)
    void sk_gru_predict_f(const float *g, const float *q, const float *bias,
                          const float *bias_hn, const float *h_prev, float *h, Py_ssize_t H)
    void sk_gru_predict_d(const double *g, const double *q, const double *bias,
                          const double *bias_hn, const double *h_prev, double *h,
                          Py_ssize_t H)

include "_isa.pxi"

# The readouts' online forms, by name (``_readouts.READOUTS``); a step estimator's readout
# ("steps") reads the top layer's state at each step: at the newest, that of "last".
cdef enum:
    LAST, MEAN, MAX, ATTENTION
READOUTS = {"last": LAST, "mean": MEAN, "max": MAX, "attention": ATTENTION, "steps": LAST}


ctypedef struct Layer:
    Py_ssize_t n_in, H, GH
    char *W_ihT        # (n_in, GH) the input weights transposed, as the step product reads
    char *W_hhT        # (H, GH)
    char *bias         # (GH,)
    char *bias_hn      # (H,) a GRU's, else NULL
    char *h            # (n, H) each stream's hidden state
    char *c            # (n, H) an LSTM's cell state, else NULL
    char *g            # (n, GH) scratch: the gates
    char *q            # (n, GH) scratch: a GRU's recurrent product, else NULL
    char *h_new        # (n, H) scratch: a GRU's new state, else NULL


cdef char *_data(a):
    """The data of the C-contiguous array ``a``, which the kernel keeps alive."""
    cdef const unsigned char[::1] raw = a.reshape(-1).view(np.uint8)
    return <char *> &raw[0]


cdef class StreamKernel:
    """The state of ``n`` streams of one network and the step that advances them.

    Parameters: ``net``, a unidirectional ``LSTMNetwork`` whose weights the kernel
    copies (it stays valid whatever happens to ``net`` afterwards); ``n``, the number of
    streams; ``units``, the input standardisation (float64 shift, scale) or None.

    The streams' state, row i for stream i, by name: each layer k's ``h_k`` and an LSTM's
    ``c_k`` (n, H_k); the readout's ``aggregate`` (n, H of the top layer): the sum of the
    states (mean), of the weighted states (attention) or their maximum (max), none for
    last; attention's running maximum of e, ``max_score``, and ``denominator`` (n,); the
    ``steps`` seen (n,). ``get_state`` copies them, ``set_state`` writes them back.
    """

    cdef readonly Py_ssize_t n, n_inputs, width
    cdef readonly object dtype
    cdef object _state         # the state's arrays, by name (copied in and out)
    cdef object _keep          # every array whose memory the pointers below point into
    cdef bint _double, _lstm
    cdef int _readout
    cdef Py_ssize_t _n_layers
    cdef Layer *_layers
    cdef char *_shift          # (n_inputs,) in the dtype, or NULL
    cdef char *_scale
    cdef char *_x              # (n, n_inputs) scratch: the standardised input
    cdef char *_agg            # (n, H) sum (mean, attention) or maximum (max), else NULL
    cdef char *_m              # (n,) attention: the running maximum of e
    cdef char *_S              # (n,) attention: the running denominator
    cdef char *_w              # (H,) attention: w
    cdef Py_ssize_t *_steps    # (n,) steps seen per stream
    cdef PyThread_type_lock _lock

    def __cinit__(self):
        self._lock = PyThread_allocate_lock()
        if self._lock == NULL:
            raise MemoryError()

    def __init__(self, net, Py_ssize_t n, units=None):
        if self._layers != NULL:  # the pointers would outlive their arrays
            raise RuntimeError("A StreamKernel is initialised once.")
        if net.n_directions != 1:
            raise ValueError("A stream runs a unidirectional network only.")
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        # n stays 0 until every pointer is set: update does nothing on zero streams.
        self.n_inputs, self.dtype = net.n_features, net.dtype
        self._double, self._lstm = net.dtype == np.float64, net.cell == "lstm"
        self._readout = READOUTS[net.readout]
        keep = []

        def own(a):
            """An aligned copy of ``a`` in the dtype, kept."""
            a = _aligned.copy(np.ascontiguousarray(a, dtype=self.dtype))
            keep.append(a)
            return a

        def zeros(*shape):
            a = _aligned.zeros(shape, self.dtype)
            keep.append(a)
            return a

        state = {}
        self._n_layers = len(net.views.layers)
        self._layers = <Layer *> malloc(self._n_layers * sizeof(Layer))
        if self._layers == NULL:
            raise MemoryError()
        cdef Layer *layer
        for k, (cell,) in enumerate(net.views.layers):
            layer = &self._layers[k]
            layer.GH, layer.n_in = cell.W_ih.shape
            layer.H = cell.W_hh.shape[1]
            layer.W_ihT, layer.W_hhT = _data(own(cell.W_ih.T)), _data(own(cell.W_hh.T))
            layer.bias = _data(own(cell.bias))
            layer.bias_hn = NULL if self._lstm else _data(own(cell.bias_hn))
            state[f"h_{k}"] = zeros(n, layer.H)
            layer.h = _data(state[f"h_{k}"])
            layer.c = NULL
            if self._lstm:
                state[f"c_{k}"] = zeros(n, layer.H)
                layer.c = _data(state[f"c_{k}"])
            layer.g = _data(zeros(n, layer.GH))
            layer.q = NULL if self._lstm else _data(zeros(n, layer.GH))
            layer.h_new = NULL if self._lstm else _data(zeros(n, layer.H))
        H = net.hidden_sizes[self._n_layers - 1]  # the top layer's
        self.width = H
        self._shift = self._scale = NULL
        if units is not None:
            self._shift, self._scale = _data(own(units[0])), _data(own(units[1]))
        self._x = _data(zeros(n, self.n_inputs))
        self._agg = self._m = self._S = self._w = NULL
        if self._readout != LAST:
            state["aggregate"] = zeros(n, H)
            self._agg = _data(state["aggregate"])
        if self._readout == ATTENTION:
            state["max_score"], state["denominator"] = zeros(n), zeros(n)
            self._m, self._S = _data(state["max_score"]), _data(state["denominator"])
            self._w = _data(own(net.views.readout[0]))
        state["steps"] = np.zeros(n, dtype=np.intp)
        keep.append(state["steps"])
        self._steps = <Py_ssize_t *> _data(state["steps"])
        self._keep, self._state = keep, state
        self.n = n
        self._reset(0, n)

    def __dealloc__(self):
        free(self._layers)
        if self._lock != NULL:
            PyThread_free_lock(self._lock)

    cdef void _acquire(self):
        # Waiting without the GIL: the holder may need it to finish.
        if not PyThread_acquire_lock(self._lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self._lock, WAIT_LOCK)

    def update(self, x):
        """Advance every stream by one step, ``x``: a C-contiguous buffer of the dtype,
        of shape (n, n_inputs), or (n_inputs,) when n is 1; returns False, changing
        nothing, for any other object, which the caller converts.

        Raises ValueError, changing nothing, for a wrong shape or a value that is not
        finite.
        """
        cdef Py_buffer view
        cdef Py_ssize_t bad = -1
        cdef char code
        if self._double:
            code = b"d"
        else:
            code = b"f"
        if not PyObject_CheckBuffer(x):
            return False
        if _get_buffer(x, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) == -1:
            PyErr_Clear()
            return False
        try:
            if view.format[0] != code or view.format[1] != 0:
                return False
            if not (
                (view.ndim == 2 and view.shape[0] == self.n and view.shape[1] == self.n_inputs)
                or (view.ndim == 1 and self.n == 1 and view.shape[0] == self.n_inputs)
            ):
                shape = tuple(view.shape[d] for d in range(view.ndim))
                raise ValueError(_shape_message(shape, self.n, self.n_inputs))
            self._acquire()
            with nogil:
                if self._double:
                    bad = self._step(<const double *> view.buf)
                else:
                    bad = self._step(<const float *> view.buf)
            PyThread_release_lock(self._lock)
        finally:
            PyBuffer_Release(&view)
        if bad >= 0:
            raise ValueError(
                f"x holds NaN or infinity: stream {bad // self.n_inputs}, feature "
                f"{bad % self.n_inputs}. A stream has no padding: a step is finite."
            )
        return True

    cdef Py_ssize_t _step(self, const floating *x) noexcept nogil:
        """The step, or the index of x's first non-finite value, changing nothing."""
        cdef Py_ssize_t n = self.n, D = self.n_inputs, i, j, k
        cdef floating *xs = <floating *> self._x
        cdef const floating *inputs = xs
        cdef Layer *L
        for j in range(n * D):
            if not isfinite(x[j]):
                return j
        if self._shift == NULL:
            memcpy(xs, x, n * D * sizeof(floating))
        else:
            for i in range(n):
                for j in range(D):
                    xs[i * D + j] = (x[i * D + j] - (<floating *> self._shift)[j]) / (
                        <floating *> self._scale)[j]
        for k in range(self._n_layers):
            L = &self._layers[k]
            _layer_step(L, inputs, n, self._lstm)
            inputs = <floating *> L.h
        self._readout_step(inputs)
        for i in range(n):
            self._steps[i] += 1
        return -1

    cdef void _readout_step(self, const floating *h) noexcept nogil:
        """The readout's online form fed the top layer's new states ``h`` (n, H)."""
        cdef Py_ssize_t H = self.width, i, j
        cdef floating *agg = <floating *> self._agg
        cdef floating *m = <floating *> self._m
        cdef floating *S = <floating *> self._S
        cdef floating v, e, m_new, scale, p
        if self._readout == MEAN:
            for j in range(self.n * H):
                agg[j] += h[j]
        elif self._readout == MAX:
            for j in range(self.n * H):
                v = h[j]
                agg[j] = v if (v > agg[j]) | (v != v) else agg[j]
        elif self._readout == ATTENTION:
            for i in range(self.n):
                e = dot4(h + i * H, <floating *> self._w, H)
                m_new = e if (e > m[i]) | (e != e) else m[i]
                scale = _exp(m[i] - m_new)  # 0 at a stream's first step: m was -inf
                p = _exp(e - m_new)
                m[i] = m_new
                S[i] = S[i] * scale + p
                for j in range(H):
                    agg[i * H + j] = agg[i * H + j] * scale + p * h[i * H + j]

    def reset(self, Py_ssize_t i0, Py_ssize_t i1):
        """Restart streams i0 to i1 - 1: no step seen."""
        if not 0 <= i0 < i1 <= self.n:
            raise ValueError(f"streams {i0} to {i1} are not within 0 to {self.n}")
        self._acquire()
        try:
            self._reset(i0, i1)
        finally:
            PyThread_release_lock(self._lock)

    cdef int _reset(self, Py_ssize_t i0, Py_ssize_t i1) except -1:
        rows = slice(i0, i1)
        for a in self._state.values():
            a[rows] = 0
        if self._readout == MAX:
            self._state["aggregate"][rows] = -np.inf
        elif self._readout == ATTENTION:
            self._state["max_score"][rows] = -np.inf
        return 0

    def get_state(self):
        """Copies of the state's arrays, by name."""
        self._acquire()
        try:
            return {name: a.copy() for name, a in self._state.items()}
        finally:
            PyThread_release_lock(self._lock)

    def set_state(self, state):
        """Write ``state`` (as ``get_state`` gives it) into the streams' state, checked
        first: a ValueError changes nothing."""
        if not isinstance(state, dict) or state.keys() != self._state.keys():
            raise ValueError("Not the state of streams of this network.")
        for name, own in self._state.items():
            a = state[name]
            if not (isinstance(a, np.ndarray) and a.dtype == own.dtype and a.shape == own.shape):
                raise ValueError(f"The state's {name} is not a {own.dtype} array of {own.shape}.")
        if (state["steps"] < 0).any():
            raise ValueError("The state's steps are not all non-negative.")
        self._acquire()
        try:
            for name, own in self._state.items():
                own[:] = state[name]
        finally:
            PyThread_release_lock(self._lock)


cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef void _layer_step(Layer *L, const floating *x, Py_ssize_t n, bint lstm) noexcept nogil:
    """One layer's step for every stream: x (n, n_in) in, L.h (and L.c) advanced."""
    cdef Py_ssize_t H = L.H, GH = L.GH, i
    cdef floating *g = <floating *> L.g
    cdef floating *h = <floating *> L.h
    cdef floating *q = <floating *> L.q
    if lstm:
        step_product2(n, GH, L.n_in, x, L.n_in, <floating *> L.W_ihT, GH, H, h, H,
                      <floating *> L.W_hhT, GH, g, GH)
        for i in range(n):
            if floating is float:
                sk_lstm_predict_f(g + i * GH, <float *> L.bias, <float *> L.c + i * H,
                                  <float *> L.c + i * H, h + i * H, H)
            else:
                sk_lstm_predict_d(g + i * GH, <double *> L.bias, <double *> L.c + i * H,
                                  <double *> L.c + i * H, h + i * H, H)
        return
    step_product(n, GH, L.n_in, x, L.n_in, <floating *> L.W_ihT, GH, g, GH, False)
    step_product(n, GH, H, h, H, <floating *> L.W_hhT, GH, q, GH, False)
    for i in range(n):
        if floating is float:
            sk_gru_predict_f(g + i * GH, q + i * GH, <float *> L.bias, <float *> L.bias_hn,
                             h + i * H, <float *> L.h_new + i * H, H)
        else:
            sk_gru_predict_d(g + i * GH, q + i * GH, <double *> L.bias, <double *> L.bias_hn,
                             h + i * H, <double *> L.h_new + i * H, H)
    memcpy(h, L.h_new, n * H * sizeof(floating))


def _shape_message(shape, n, n_inputs):
    one = f" or ({n_inputs},)" if n == 1 else ""
    return (
        f"x has shape {shape}, expected ({n}, {n_inputs}){one}: one step of "
        f"{n_inputs} features for each of the {n} streams."
    )
