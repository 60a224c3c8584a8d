"""One LSTM layer: forward and backward through time over a packed, time-major batch.

Layout. The batch is sorted by length, longest first, and packed as PyTorch packs
sequences: step t occupies rows ``offsets[t]:offsets[t + 1]`` of every buffer and holds
the first ``B_t = offsets[t + 1] - offsets[t]`` sequences, those still running at step t.
Padding is never stored or computed; a batch of equal lengths is the case ``B_t = B``.
Weights use PyTorch's layout and gate order (i, f, g, o): ``W_ih`` is (4H, D), ``W_hh`` is
(4H, H), and one bias of 4H holds ``b_ih + b_hh``.

Layering, from the inside out:
1. ``_gates_forward`` / ``_gates_backward``: the elementwise gate math of one row (in C,
   ``_gates.h``, where it can be vectorised for the CPU at hand).
2. ``_forward_block`` / ``_backward_block``: one block of rows through every step, in one
   thread. The recurrence never couples rows, so a block needs no synchronisation with
   other blocks between steps: a whole pass is one parallel region, not one per step.
3. ``forward_train``, ``forward_predict``, ``backward``: a layer over the whole batch,
   without the GIL, with ``prange`` over row blocks and over fixed output chunks of the
   all-steps gemms.

Determinism. Block and chunk shapes depend on the batch alone, never on the thread count,
and every sum runs in a fixed order, so results are bitwise identical for any number of
threads (a BLAS call's result can depend on its shape, not on who makes it).

Threads. BLAS is called from inside OpenMP threads: the caller must limit BLAS to one
thread (threadpoolctl) so that threads are never nested.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from ._blas cimport gemm

cdef enum:
    # Rows per gemm call in the all-steps projections and dX: fixed, so that how the rows
    # are shared among threads never changes a result.
    CHUNK_ROWS = 256


cdef extern from "_gates.h" nogil:
    void sk_gates_forward_f(float *g, const float *bias, const float *c_prev, float *c,
                            float *h, Py_ssize_t H)
    void sk_gates_forward_d(double *g, const double *bias, const double *c_prev, double *c,
                            double *h, Py_ssize_t H)
    void sk_gates_backward_f(float *g, const float *c, const float *c_prev, const float *dh,
                             float *dc, Py_ssize_t H)
    void sk_gates_backward_d(double *g, const double *c, const double *c_prev,
                             const double *dh, double *dc, Py_ssize_t H)


cdef inline Py_ssize_t _block_rows(Py_ssize_t batch) noexcept nogil:
    """Rows per block: about a quarter of the batch in multiples of 16, at least 16.

    Four blocks keep two threads busy under variable lengths (blocks are handed out
    dynamically, longest first); more would shrink the per-step gemms.
    """
    return max(16, ((batch + 3) // 4 + 15) // 16 * 16)


cdef inline void _gates_forward(
    floating *g,                # IN/OUT (4H,): pre-activations in, activations out
    const floating *bias,       # IN (4H,)
    const floating *c_prev,     # IN (H,)
    floating *c,                # OUT (H,): may alias c_prev
    floating *h,                # OUT (H,)
    Py_ssize_t H,
) noexcept nogil:
    if floating is float:
        sk_gates_forward_f(g, bias, c_prev, c, h, H)
    else:
        sk_gates_forward_d(g, bias, c_prev, c, h, H)


cdef inline void _gates_backward(
    floating *g,                # IN/OUT (4H,): activations in, pre-activation gradients out
    const floating *c,          # IN (H,)
    const floating *c_prev,     # IN (H,)
    const floating *dh,         # IN (H,): dL/dh, the recurrent part included
    floating *dc,               # IN/OUT (H,): dL/dc from the next step in, dL/dc_prev out
    Py_ssize_t H,
) noexcept nogil:
    if floating is float:
        sk_gates_backward_f(g, c, c_prev, dh, dc, H)
    else:
        sk_gates_backward_d(g, c, c_prev, dh, dc, H)


cdef inline Py_ssize_t _live(const Py_ssize_t *offsets, Py_ssize_t t, Py_ssize_t r0,
                             Py_ssize_t rows) noexcept nogil:
    """How many of the rows r0:r0+rows are still running at step t (may be <= 0)."""
    return min(r0 + rows, offsets[t + 1] - offsets[t]) - r0


cdef void _project(
    const floating *X, Py_ssize_t N, Py_ssize_t D,  # IN (N, D)
    const floating *W, Py_ssize_t n_out,            # IN (n_out, D)
    floating *out,                                  # OUT (N, n_out) = X @ W^T
    int n_threads,
) noexcept nogil:
    cdef Py_ssize_t n_chunks = (N + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef Py_ssize_t j, r0
    for j in prange(n_chunks, schedule="static", num_threads=min(n_threads, n_chunks)):
        r0 = j * CHUNK_ROWS
        gemm(False, True, min(CHUNK_ROWS, N - r0), n_out, D, 1.0, X + r0 * D, D, W, D,
             0.0, out + r0 * n_out, n_out)


cdef void _forward_block(
    Py_ssize_t r0, Py_ssize_t rows, const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hh, const floating *bias,
    floating *G,        # IN/OUT (N, 4H): input projections in, activations out
    floating *C,        # OUT (N, H) when keep_cells, else (B, H) updated in place
    floating *Hs,       # OUT (N, H)
    const floating *zeros,  # IN (H,) the initial cell state
    Py_ssize_t H, bint keep_cells,
) noexcept nogil:
    cdef Py_ssize_t H4 = 4 * H
    cdef Py_ssize_t t, i, m, row, prev
    cdef const floating *c_prev
    cdef floating *c
    for t in range(T):
        m = _live(offsets, t, r0, rows)
        if m <= 0:
            break
        row = offsets[t] + r0
        prev = offsets[t - 1] + r0 if t > 0 else 0
        if t > 0:
            gemm(False, True, m, H4, H, 1.0, Hs + prev * H, H, W_hh, H, 1.0, G + row * H4, H4)
        for i in range(m):
            c = C + ((row if keep_cells else r0) + i) * H
            if t == 0:
                c_prev = zeros
            elif keep_cells:
                c_prev = C + (prev + i) * H
            else:
                c_prev = c
            _gates_forward(G + (row + i) * H4, bias, c_prev, c, Hs + (row + i) * H, H)


cdef void _backward_block(
    Py_ssize_t r0, Py_ssize_t rows, const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hh,
    floating *G,        # IN/OUT (N, 4H): activations in, gate gradients out
    const floating *C,  # IN (N, H)
    floating *dHs,      # IN/OUT (N, H): dL/dh in; the recurrent part is added on the way
    floating *dC,       # scratch (B, H)
    const floating *zeros,  # IN (H,) the initial cell state
    Py_ssize_t H,
) noexcept nogil:
    cdef Py_ssize_t H4 = 4 * H
    cdef Py_ssize_t t, i, m, m_next, row, prev
    cdef Py_ssize_t t_end = 0
    while t_end < T and _live(offsets, t_end, r0, rows) > 0:
        t_end += 1
    m_next = 0
    for t in range(t_end - 1, -1, -1):
        m = _live(offsets, t, r0, rows)
        row = offsets[t] + r0
        prev = offsets[t - 1] + r0 if t > 0 else 0
        # Rows whose sequence ends at this step get no cell gradient from a next step.
        memset(dC + (r0 + m_next) * H, 0, (m - m_next) * H * sizeof(floating))
        for i in range(m):
            _gates_backward(G + (row + i) * H4, C + (row + i) * H,
                            C + (prev + i) * H if t > 0 else zeros,
                            dHs + (row + i) * H, dC + (r0 + i) * H, H)
        if t > 0:
            gemm(False, False, m, H, H4, 1.0, G + row * H4, H4, W_hh, H, 1.0,
                 dHs + prev * H, H)
        m_next = m


cdef void _recurrent_weight_grad(
    const floating *dG, const floating *Hs,     # IN: one gate's columns of dG (row stride 4H)
    const Py_ssize_t *offsets, Py_ssize_t T,
    floating *dW,                               # OUT (H, H): that gate's rows of dW_hh
    Py_ssize_t H,
) noexcept nogil:
    """dW = sum over t >= 1 of dG[t]^T @ Hs[t - 1][:B_t], in as few gemms as lengths allow.

    Steps t..u-1 share one gemm when each of them has as many rows as its predecessor
    (B_s == B_{s-1}): then the dG rows and the Hs rows they pair with are both contiguous.
    A batch of equal lengths takes a single gemm.
    """
    cdef Py_ssize_t t = 1, u
    cdef floating beta = 0.0
    if T == 1:
        memset(dW, 0, H * H * sizeof(floating))
    while t < T:
        u = t + 1
        while u < T and offsets[u] - offsets[u - 1] == offsets[u - 1] - offsets[u - 2]:
            u += 1
        gemm(True, False, H, H, offsets[u] - offsets[t], 1.0, dG + offsets[t] * 4 * H, 4 * H,
             Hs + offsets[t - 1] * H, H, beta, dW, H)
        beta = 1.0
        t = u


cdef void _column_sums(const floating *A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                       Py_ssize_t stride, floating *out) noexcept nogil:
    cdef Py_ssize_t r, j
    memset(out, 0, n_cols * sizeof(floating))
    for r in range(n_rows):
        for j in range(n_cols):
            out[j] += A[r * stride + j]


def forward_train(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,) first row of each step
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hh,        # IN  (4H, H)
    const floating[::1] bias,           # IN  (4H,)
    floating[:, ::1] G,                 # OUT (N, 4H) gate activations, kept for backward
    floating[:, ::1] C,                 # OUT (N, H) cell states
    floating[:, ::1] Hs,                # OUT (N, H) hidden states
    int n_threads,
):
    """Forward pass of one layer, keeping what ``backward`` needs."""
    _forward(X, offsets, W_ih, W_hh, bias, G, C, Hs, n_threads, True)


def forward_predict(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hh,        # IN  (4H, H)
    const floating[::1] bias,           # IN  (4H,)
    floating[:, ::1] G,                 # scratch (N, 4H)
    floating[:, ::1] C,                 # scratch (B, H): only the running cell state
    floating[:, ::1] Hs,                # OUT (N, H) hidden states
    int n_threads,
):
    """Forward pass of one layer for prediction: no cell history is kept."""
    _forward(X, offsets, W_ih, W_hh, bias, G, C, Hs, n_threads, False)


cdef void _forward(
    const floating[:, ::1] X, const Py_ssize_t[::1] offsets,
    const floating[:, ::1] W_ih, const floating[:, ::1] W_hh, const floating[::1] bias,
    floating[:, ::1] G, floating[:, ::1] C, floating[:, ::1] Hs,
    int n_threads, bint keep_cells,
) except *:
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W_hh.shape[1]
    cdef Py_ssize_t T = offsets.shape[0] - 1
    cdef Py_ssize_t rows = _block_rows(offsets[1] - offsets[0])
    cdef Py_ssize_t n_blocks = (offsets[1] - offsets[0] + rows - 1) // rows
    cdef Py_ssize_t k
    cdef floating *zeros = <floating *> calloc(H, sizeof(floating))
    if zeros == NULL:
        raise MemoryError()
    with nogil:
        _project(&X[0, 0], N, D, &W_ih[0, 0], 4 * H, &G[0, 0], n_threads)
        for k in prange(n_blocks, schedule="dynamic", chunksize=1,
                        num_threads=min(n_threads, n_blocks)):
            _forward_block(k * rows, rows, &offsets[0], T, &W_hh[0, 0], &bias[0],
                           &G[0, 0], &C[0, 0], &Hs[0, 0], zeros, H, keep_cells)
    free(zeros)


def backward(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hh,        # IN  (4H, H)
    floating[:, ::1] G,                 # IN/OUT (N, 4H): activations in, dL/d(pre-activation) out
    const floating[:, ::1] C,           # IN  (N, H) cell states
    const floating[:, ::1] Hs,          # IN  (N, H) hidden states
    floating[:, ::1] dHs,               # IN/OUT (N, H): dL/dh of every step in; scratch
    floating[:, ::1] dC,                # scratch (B, H)
    floating[:, ::1] dW_ih,             # OUT (4H, D)
    floating[:, ::1] dW_hh,             # OUT (4H, H)
    floating[::1] dbias,                # OUT (4H,)
    floating[:, ::1] dX,                # OUT (N, D) dL/dX, or None when not needed
    int n_threads,
):
    """Backward pass of one layer through time: gradients of the weights and the inputs."""
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W_hh.shape[1], H4 = 4 * H
    cdef Py_ssize_t T = offsets.shape[0] - 1
    cdef Py_ssize_t rows = _block_rows(offsets[1] - offsets[0])
    cdef Py_ssize_t n_blocks = (offsets[1] - offsets[0] + rows - 1) // rows
    cdef Py_ssize_t n_chunks = (N + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef bint want_dX = dX is not None
    cdef Py_ssize_t k, q, r0
    cdef floating *zeros = <floating *> calloc(H, sizeof(floating))
    if zeros == NULL:
        raise MemoryError()
    with nogil:
        for k in prange(n_blocks, schedule="dynamic", chunksize=1,
                        num_threads=min(n_threads, n_blocks)):
            _backward_block(k * rows, rows, &offsets[0], T, &W_hh[0, 0], &G[0, 0], &C[0, 0],
                            &dHs[0, 0], &dC[0, 0], zeros, H)
        # Weight gradients over all steps at once, one job per gate.
        for q in prange(4, schedule="static", num_threads=min(n_threads, 4)):
            gemm(True, False, H, D, N, 1.0, &G[0, q * H], H4, &X[0, 0], D, 0.0,
                 &dW_ih[q * H, 0], D)
            _recurrent_weight_grad(&G[0, q * H], &Hs[0, 0], &offsets[0], T,
                                   &dW_hh[q * H, 0], H)
            _column_sums(&G[0, q * H], N, H, H4, &dbias[q * H])
        if want_dX:
            for k in prange(n_chunks, schedule="static", num_threads=min(n_threads, n_chunks)):
                r0 = k * CHUNK_ROWS
                gemm(False, False, min(CHUNK_ROWS, N - r0), D, H4, 1.0, &G[r0, 0], H4,
                     &W_ih[0, 0], D, 0.0, &dX[r0, 0], D)
    free(zeros)
