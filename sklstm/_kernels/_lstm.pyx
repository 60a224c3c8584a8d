"""One LSTM layer: forward and backward through time over a packed, time-major batch.

Layout. The batch is sorted by length, longest first, and packed as PyTorch packs
sequences: step t occupies rows ``offsets[t]:offsets[t + 1]`` of every buffer and holds
the first ``B_t = offsets[t + 1] - offsets[t]`` sequences, those still running at step t.
Padding is never stored or computed; a batch of equal lengths is the case ``B_t = B``.
Weights use PyTorch's gate order (i, f, g, o): ``W_ih`` is (4H, D) as in PyTorch, the
forward pass takes the recurrent weights transposed, ``W_hhT`` (H, 4H), and the backward
pass as PyTorch has them, ``W_hh`` (4H, H): each as its step gemm takes them as they are.
One bias of 4H holds ``b_ih + b_hh``.

Layering, from the inside out:
1. ``_cell_forward`` / ``_cell_backward``: the gate math of one row at one step (the loop
   over units is C, ``_gates.h``, where it is vectorised for the CPU at hand).
2. The recurrence over all steps, in one of two schemes:
   - row blocks: each thread takes fixed blocks of rows through every step. The
     recurrence never couples rows, so a whole pass runs without synchronisation;
   - column jobs, when there are fewer row blocks than threads and H is large: all rows
     of a step at once, each step's product split into one column range per thread
     (always the same one, so each thread keeps its part of the weights in its cache)
     and its gate pass into row jobs, with barriers between them.
3. ``forward_train``, ``forward_predict``, ``backward``: a layer over the whole batch,
   without the GIL. The input projection and dX are products over fixed chunks of rows;
   the weight gradients of all steps are two BLAS jobs of two gates each (dW_ih per gate,
   dW_hh in one gemm per run of equal step sizes). ``forward_predict`` can also run a
   window of the batch's steps, continuing from a carried state (each sequence's cell
   state and last hidden state): prediction runs long batches window after window, in
   memory bounded by a window, with the hidden states of a single call.

Products. The step products, the input projection and dX use sklstm's kernel
(``_blas.step_product``), which reads the weights in place: BLAS re-packs them at every
step. The weight gradients, sums over all steps at once, use BLAS.

Determinism. The kernel sums every element in the same order whatever the shape of the
call, so the results do not depend on the scheme, the blocks or the column split, which
may then follow the thread count; the BLAS calls have shapes that depend on the batch
alone (a BLAS call's result can depend on its shape, not on who makes it), and every
other sum runs in a fixed order. Results are bitwise identical for any number of threads.
Row blocks and chunks are handed out dynamically: a thread that starts late (a virtual
CPU waking up) leaves its share to the others instead of holding them at a barrier.

Threads. BLAS is called from inside OpenMP threads: the caller must limit BLAS to one
thread (threadpoolctl) so that threads are never nested.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset

from ._blas cimport gemm, step_product
from ._openmp cimport check_threads, sk_barrier
from ._packing cimport check_offsets

cdef enum:
    # Rows per call in the all-steps projection and dX.
    CHUNK_ROWS = 256
    # Column scheme: the smallest H it is used for (measured, issue 3).
    COLUMN_MIN_HIDDEN = 96
    # Row scheme: the fewest rows per block (fewer would re-read the weights too often).
    MIN_BLOCK_ROWS = 16
    # Column scheme: rows per gate-pass job.
    GATE_ROWS = 16
    # Bytes: the vector loads of a buffer starting on one do not straddle two lines.
    CACHE_LINE = 64


cdef extern from "_gates.h" nogil:
    void sk_gates_forward_f(float *g, const float *bias, const float *c_prev, float *c,
                            float *h, Py_ssize_t H)
    void sk_gates_forward_d(double *g, const double *bias, const double *c_prev, double *c,
                            double *h, Py_ssize_t H)
    void sk_gates_backward_f(float *g, const float *c, const float *c_prev, const float *dh,
                             float *dc, Py_ssize_t H)
    void sk_gates_backward_d(double *g, const double *c, const double *c_prev,
                             const double *dh, double *dc, Py_ssize_t H)
    void sk_mul_f(float *out, const float *a, const float *mask, Py_ssize_t H)
    void sk_mul_d(double *out, const double *a, const double *mask, Py_ssize_t H)
    void sk_mul_add_f(float *acc, const float *mask, const float *r, Py_ssize_t H)
    void sk_mul_add_d(double *acc, const double *mask, const double *r, Py_ssize_t H)


# Tests force a scheme, to check both at sizes where finite differences are cheap:
# -1 chooses by size, 0 forces row blocks, 1 forces column jobs.
cdef int forced_scheme = -1


def _force_scheme(int scheme):
    """Tests only: -1 (choose by size), 0 (row blocks) or 1 (column jobs)."""
    global forced_scheme
    forced_scheme = scheme


cdef inline bint _column_scheme(Py_ssize_t n_blocks, Py_ssize_t H,
                                int n_threads) noexcept nogil:
    """Split steps by columns when row blocks cannot keep every thread busy and a step's
    product is large enough to pay for two barriers per step."""
    if forced_scheme >= 0:
        return forced_scheme == 1
    return n_blocks < n_threads and H >= COLUMN_MIN_HIDDEN


cdef inline Py_ssize_t _job_width(Py_ssize_t cols, int n_threads) noexcept nogil:
    """Column scheme: columns per job, one job per thread, in whole tiles of 64 columns."""
    return ((cols + n_threads - 1) // n_threads + 63) // 64 * 64


cdef inline Py_ssize_t _block_rows(Py_ssize_t batch) noexcept nogil:
    """Row scheme: rows per block, a quarter of the batch rounded up to a multiple of 16.

    Four blocks or more keep two threads busy under variable lengths (blocks are handed
    out dynamically, longest first); taller blocks read the weights fewer times per step.
    """
    return max(MIN_BLOCK_ROWS, ((batch + 3) // 4 + 15) // 16 * 16)


cdef inline Py_ssize_t _rows_at(const Py_ssize_t *offsets, Py_ssize_t T,
                                Py_ssize_t t) noexcept nogil:
    """B_t, and 0 past the last step."""
    return offsets[t + 1] - offsets[t] if t < T else 0


cdef inline void _cell_forward(
    Py_ssize_t t, Py_ssize_t i,         # step, and row within the step
    const Py_ssize_t *offsets,
    const floating *bias,               # IN (4H,)
    floating *G,                        # IN/OUT (N, 4H): pre-activations in, activations out
    floating *C,                        # IN/OUT (N, H) if keep_cells, else (B, H) in place
    floating *Hs,                       # OUT (N, H)
    floating *Hm,                       # OUT (N, H) h * recurrent mask, or NULL
    const floating *mask,               # IN (B, H) recurrent dropout mask, or NULL
    const floating *zeros,              # IN (H,) the initial cell state, unless carried
    Py_ssize_t H, bint keep_cells,
    bint carried,                       # step 0 continues the cell state in C (in place)
) noexcept nogil:
    cdef Py_ssize_t row = offsets[t] + i
    cdef floating *c = C + (row if keep_cells else i) * H
    cdef const floating *c_prev = zeros
    if t > 0:
        c_prev = C + (offsets[t - 1] + i) * H if keep_cells else c
    elif carried:
        c_prev = c
    if floating is float:
        sk_gates_forward_f(G + row * 4 * H, bias, c_prev, c, Hs + row * H, H)
        if mask != NULL:
            sk_mul_f(Hm + row * H, Hs + row * H, mask + i * H, H)
    else:
        sk_gates_forward_d(G + row * 4 * H, bias, c_prev, c, Hs + row * H, H)
        if mask != NULL:
            sk_mul_d(Hm + row * H, Hs + row * H, mask + i * H, H)


cdef inline void _cell_backward(
    Py_ssize_t t, Py_ssize_t i, bint has_next,  # step, row, whether the row has step t + 1
    const Py_ssize_t *offsets,
    floating *G,                        # IN/OUT (N, 4H): activations in, gate gradients out
    const floating *C,                  # IN (N, H)
    floating *dHs,                      # IN/OUT (N, H): dL/dh, the recurrent part added
    floating *dC,                       # IN/OUT (B, H): dL/dc from step t + 1 in, of t out
    const floating *R,                  # IN (B, H) dG of step t + 1 @ W_hh, if mask
    const floating *mask,               # IN (B, H) recurrent dropout mask, or NULL
    const floating *zeros,              # IN (H,)
    Py_ssize_t H,
) noexcept nogil:
    cdef Py_ssize_t row = offsets[t] + i
    cdef const floating *c_prev = C + (offsets[t - 1] + i) * H if t > 0 else zeros
    if not has_next:  # the sequence ends here: no cell gradient from a next step
        memset(dC + i * H, 0, H * sizeof(floating))
    if floating is float:
        if has_next and mask != NULL:  # the recurrent gradient, back through the mask
            sk_mul_add_f(dHs + row * H, mask + i * H, R + i * H, H)
        sk_gates_backward_f(G + row * 4 * H, C + row * H, c_prev, dHs + row * H, dC + i * H, H)
    else:
        if has_next and mask != NULL:
            sk_mul_add_d(dHs + row * H, mask + i * H, R + i * H, H)
        sk_gates_backward_d(G + row * 4 * H, C + row * H, c_prev, dHs + row * H, dC + i * H, H)


cdef void _forward_rows(
    Py_ssize_t r0, Py_ssize_t rows,     # the block: rows r0 to r0 + rows of the batch
    const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hhT,              # IN (H, 4H)
    const floating *bias, floating *G, floating *C, floating *Hs, floating *Hm,
    const floating *mask, const floating *zeros,
    const floating *h0,                 # IN (B, H) h before step 0, or NULL (zero)
    Py_ssize_t H, bint keep_cells,
) noexcept nogil:
    # The recurrent product takes h_{t-1}, masked under recurrent dropout.
    cdef const floating *h_in = Hs if mask == NULL else Hm
    cdef Py_ssize_t t, i, m
    for t in range(T):
        m = min(rows, _rows_at(offsets, T, t) - r0)
        if m <= 0:
            break
        if t > 0:
            step_product(m, 4 * H, H, h_in + (offsets[t - 1] + r0) * H, H, W_hhT, 4 * H,
                         G + (offsets[t] + r0) * 4 * H, 4 * H, True)
        elif h0 != NULL:
            step_product(m, 4 * H, H, h0 + r0 * H, H, W_hhT, 4 * H, G + r0 * 4 * H, 4 * H, True)
        for i in range(r0, r0 + m):
            _cell_forward(t, i, offsets, bias, G, C, Hs, Hm, mask, zeros, H, keep_cells,
                          h0 != NULL)


cdef void _forward_columns(
    const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hhT,              # IN (H, 4H)
    const floating *bias, floating *G, floating *C, floating *Hs, floating *Hm,
    const floating *mask, const floating *zeros,
    const floating *h0,                 # IN (B, H) h before step 0, or NULL (zero)
    Py_ssize_t H, bint keep_cells, int n_threads,
) noexcept nogil:
    cdef const floating *h_in = Hs if mask == NULL else Hm
    cdef Py_ssize_t width = _job_width(4 * H, n_threads)
    cdef Py_ssize_t jobs = (4 * H + width - 1) // width
    cdef Py_ssize_t q, c0, r, i
    # Thread-private in the parallel block; set for the compiler.
    cdef Py_ssize_t t = 0, m = 0
    cdef const floating *h_prev = NULL  # the product's h_{t-1}: of step t - 1, or h0
    with parallel(num_threads=n_threads):
        for t in range(T):
            m = _rows_at(offsets, T, t)
            if t > 0 or h0 != NULL:
                h_prev = h_in + offsets[t - 1] * H if t > 0 else h0
                for q in prange(jobs, schedule="static"):
                    c0 = q * width
                    step_product(m, min(width, 4 * H - c0), H, h_prev, H, W_hhT + c0, 4 * H,
                                 G + offsets[t] * 4 * H + c0, 4 * H, True)
                sk_barrier()  # the gates need every column of the product
            for r in prange((m + GATE_ROWS - 1) // GATE_ROWS, schedule="dynamic"):
                for i in range(r * GATE_ROWS, min(m, (r + 1) * GATE_ROWS)):
                    _cell_forward(t, i, offsets, bias, G, C, Hs, Hm, mask, zeros, H,
                                  keep_cells, h0 != NULL)
            sk_barrier()  # the next product needs every row's h


cdef void _backward_rows(
    Py_ssize_t r0, Py_ssize_t rows, const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hh,               # IN (4H, H)
    floating *G, const floating *C, floating *dHs, floating *dC, floating *R,
    const floating *mask, const floating *zeros, Py_ssize_t H,
) noexcept nogil:
    cdef Py_ssize_t t, i, m, m_next = 0
    cdef Py_ssize_t t_end = 0
    while t_end < T and _rows_at(offsets, T, t_end) > r0:
        t_end += 1
    for t in range(t_end - 1, -1, -1):
        m = min(rows, _rows_at(offsets, T, t) - r0)
        for i in range(r0, r0 + m):
            _cell_backward(t, i, i < r0 + m_next, offsets, G, C, dHs, dC, R, mask, zeros, H)
        if t > 0:
            # dL/dh of step t - 1 += dG of step t @ W_hh; under recurrent dropout, into R,
            # for the mask to apply at step t - 1.
            step_product(m, H, 4 * H, G + (offsets[t] + r0) * 4 * H, 4 * H, W_hh, H,
                         dHs + (offsets[t - 1] + r0) * H if mask == NULL else R + r0 * H, H,
                         mask == NULL)
        m_next = m


cdef void _backward_columns(
    const Py_ssize_t *offsets, Py_ssize_t T,
    const floating *W_hh,               # IN (4H, H)
    floating *G, const floating *C, floating *dHs, floating *dC, floating *R,
    const floating *mask, const floating *zeros, Py_ssize_t H, int n_threads,
) noexcept nogil:
    cdef Py_ssize_t width = _job_width(H, n_threads)
    cdef Py_ssize_t jobs = (H + width - 1) // width
    cdef Py_ssize_t q, c0, r, i
    cdef Py_ssize_t t = 0, m = 0, m_next = 0  # thread-private in the parallel block
    with parallel(num_threads=n_threads):
        for t in range(T - 1, -1, -1):
            m = _rows_at(offsets, T, t)
            m_next = _rows_at(offsets, T, t + 1)
            for r in prange((m + GATE_ROWS - 1) // GATE_ROWS, schedule="dynamic"):
                for i in range(r * GATE_ROWS, min(m, (r + 1) * GATE_ROWS)):
                    _cell_backward(t, i, i < m_next, offsets, G, C, dHs, dC, R, mask, zeros,
                                   H)
            sk_barrier()  # the product needs every row's gate gradients
            if t > 0:
                for q in prange(jobs, schedule="static"):
                    c0 = q * width
                    step_product(m, min(width, H - c0), 4 * H, G + offsets[t] * 4 * H, 4 * H,
                                 W_hh + c0, H,
                                 (dHs + offsets[t - 1] * H if mask == NULL else R) + c0, H,
                                 mask == NULL)
                sk_barrier()  # the gates of step t - 1 need every column


cdef void _recurrent_weight_grad(
    const floating *dG, const floating *Hs,     # IN: n columns of dG (row stride 4H)
    const Py_ssize_t *offsets, Py_ssize_t T,
    floating *dW_hhT,                           # OUT: those n columns of dW_hh^T (H, 4H)
    Py_ssize_t n, Py_ssize_t H,
) noexcept nogil:
    """dW_hh^T = sum over t >= 1 of Hs[t - 1][:B_t]^T @ dG[t], in as few gemms as lengths
    allow.

    Steps t..u-1 share one gemm when the steps t-1..u-2 have equal sizes (the last one,
    u-1, may be smaller): then the dG rows and the Hs rows they pair with are both
    contiguous. A batch of equal lengths takes a single gemm.
    """
    cdef Py_ssize_t t = 1, u, r
    cdef floating beta = 0.0
    if T == 1:
        for r in range(H):
            memset(dW_hhT + r * 4 * H, 0, n * sizeof(floating))
    while t < T:
        u = t + 1
        while u < T and offsets[u] - offsets[u - 1] == offsets[u - 1] - offsets[u - 2]:
            u += 1
        gemm(True, False, H, n, offsets[u] - offsets[t], 1.0, Hs + offsets[t - 1] * H, H,
             dG + offsets[t] * 4 * H, 4 * H, beta, dW_hhT, 4 * H)
        beta = 1.0
        t = u


cdef void _column_sums(const floating *A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                       Py_ssize_t stride, floating *out) noexcept nogil:
    cdef Py_ssize_t r, j
    memset(out, 0, n_cols * sizeof(floating))
    for r in range(n_rows):
        for j in range(n_cols):
            out[j] += A[r * stride + j]


cdef inline void _chunk_product(
    Py_ssize_t j,                                   # the chunk: rows j * CHUNK_ROWS on
    const floating *A, Py_ssize_t N, Py_ssize_t K,  # IN (N, K)
    const floating *W, Py_ssize_t n_out,            # IN (K, n_out)
    floating *out,                                  # OUT (N, n_out) = A @ W
) noexcept nogil:
    cdef Py_ssize_t r0 = j * CHUNK_ROWS
    step_product(min(CHUNK_ROWS, N - r0), n_out, K, A + r0 * K, K, W, n_out, out + r0 * n_out,
                 n_out, False)


def forward_train(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,) first row of each step
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hhT,       # IN  (H, 4H)
    const floating[::1] bias,           # IN  (4H,)
    floating[:, ::1] G,                 # OUT (N, 4H) gate activations, kept for backward
    floating[:, ::1] C,                 # OUT (N, H) cell states
    floating[:, ::1] Hs,                # OUT (N, H) hidden states
    floating[:, ::1] Hm,                # OUT (N, H) Hs * mask, or None without the mask
    const floating[:, ::1] mask,        # IN  (B, H) recurrent dropout mask, or None
    int n_threads,
):
    """Forward pass of one layer, keeping what ``backward`` needs.

    With a recurrent dropout mask (one per sequence, the same at every step), the
    recurrent product takes ``h_{t-1} * mask``, kept in ``Hm`` for backward.
    """
    check_threads(n_threads)
    check_offsets(offsets, X.shape[0], "X")
    _check_shape("G", G, X.shape[0], 4 * W_hhT.shape[0])
    _check_shape("C", C, X.shape[0], W_hhT.shape[0])
    _forward(X, offsets, W_ih, W_hhT, bias, &G[0, 0], &C[0, 0], NULL, Hs, Hm, mask, n_threads,
             True)


def forward_predict(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hhT,       # IN  (H, 4H)
    const floating[::1] bias,           # IN  (4H,)
    floating[:, ::1] Hs,                # OUT (N, H) hidden states
    int n_threads,
    floating[:, ::1] c=None,            # IN/OUT (>= B, H) each sequence's cell state, or None
    const floating[:, ::1] h0=None,     # IN  (>= B, H) each one's h before step 0, or None
):
    """Forward pass of one layer for prediction: no cell history is kept, no dropout.

    Its scratch, the gates of every row and, without ``c``, the running cell state of
    each sequence, is allocated here, on a cache line (the gate pass loads and stores
    whole vectors), in C: a one-sequence prediction cannot afford aligned NumPy arrays
    (microseconds each).

    Carried state: a batch can run as consecutive windows of its steps, one call each,
    with ``offsets`` from 0 in each window. ``c`` holds the running cell state of each
    sequence, row i for the batch's i-th sequence: it ends as the cell state at each
    sequence's last step in the call. ``h0`` holds each sequence's hidden state before
    the call's first step (the previous window's last); with it, step 0 continues from
    ``h0`` and ``c`` as any later step does, without it from zero (``c`` is then output
    only). The hidden states are those of one call over all the steps, bit for bit: a
    row's products do not depend on the rows that share them. ``h0`` must not share
    memory with ``Hs`` (the call writes step 0's rows while others still read it).
    """
    cdef floating[:, ::1] no_Hm = None
    cdef const floating[:, ::1] no_mask = None
    cdef Py_ssize_t N = X.shape[0], H = W_hhT.shape[0]
    cdef const floating *h0_p = NULL
    check_threads(n_threads)
    check_offsets(offsets, N, "X")
    if c is not None:
        _check_state("c", c, offsets[1], H)
    if h0 is not None:
        if c is None:
            raise ValueError("h0 needs c, the cell state carried with it")
        _check_state("h0", h0, offsets[1], H)
        h0_p = &h0[0, 0]
    # G's rows, then C's unless carried in c, both from a cache line (G's size rounded up
    # to whole lines).
    cdef Py_ssize_t G_lines = (N * 4 * H * sizeof(floating) + CACHE_LINE - 1) // CACHE_LINE
    cdef Py_ssize_t C_lines = 0
    if c is None:
        C_lines = (offsets[1] * H * sizeof(floating) + CACHE_LINE - 1) // CACHE_LINE
    cdef char *raw = <char *> malloc((G_lines + C_lines + 1) * CACHE_LINE)
    if raw == NULL:
        raise MemoryError()
    cdef char *G = raw + (CACHE_LINE - <size_t> raw % CACHE_LINE) % CACHE_LINE
    cdef floating *C = <floating *> (G + G_lines * CACHE_LINE) if c is None else &c[0, 0]
    try:
        _forward(X, offsets, W_ih, W_hhT, bias, <floating *> G, C, h0_p, Hs, no_Hm, no_mask,
                 n_threads, False)
    finally:
        free(raw)


cdef int _check_state(str name, const floating[:, ::1] array, Py_ssize_t rows,
                      Py_ssize_t cols) except -1:
    """A carried state: a row for each sequence of the first step, or more."""
    if array.shape[0] < rows or array.shape[1] != cols:
        raise ValueError(
            f"{name} has shape ({array.shape[0]}, {array.shape[1]}), expected at least "
            f"{rows} rows of {cols}"
        )
    return 0


cdef int _check_shape(str name, const floating[:, ::1] array, Py_ssize_t rows,
                      Py_ssize_t cols) except -1:
    # Typed, so that checking costs no Python object (it is per call of a one-sequence
    # prediction).
    if array.shape[0] != rows or array.shape[1] != cols:
        raise ValueError(
            f"{name} has shape ({array.shape[0]}, {array.shape[1]}), expected ({rows}, {cols})"
        )
    return 0


cdef void _forward(
    const floating[:, ::1] X, const Py_ssize_t[::1] offsets,
    const floating[:, ::1] W_ih, const floating[:, ::1] W_hhT, const floating[::1] bias,
    floating *G,                        # (N, 4H), checked by the caller
    floating *C,                        # (N, H) if keep_cells, else (B, H); checked
    const floating *h0,                 # (B, H) h before step 0, or NULL; checked
    floating[:, ::1] Hs, floating[:, ::1] Hm,
    const floating[:, ::1] mask, int n_threads, bint keep_cells,
) except *:
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W_hhT.shape[0]
    cdef Py_ssize_t T = offsets.shape[0] - 1, B, rows, n_blocks, k, j
    cdef floating *Hm_p = NULL
    cdef const floating *mask_p = NULL
    B = offsets[1] - offsets[0]
    rows = _block_rows(B)
    n_blocks = (B + rows - 1) // rows
    _check_shape("W_ih", W_ih, 4 * H, D)
    _check_shape("W_hhT", W_hhT, H, 4 * H)
    _check_shape("Hs", Hs, N, H)
    if bias.shape[0] != 4 * H:
        raise ValueError(f"bias has {bias.shape[0]} entries, expected {4 * H}")
    if mask is not None:
        _check_shape("mask", mask, B, H)
        _check_shape("Hm", Hm, N, H)
        mask_p, Hm_p = &mask[0, 0], &Hm[0, 0]
    cdef Py_ssize_t n_chunks = (N + CHUNK_ROWS - 1) // CHUNK_ROWS
    # The initial cell state (without h0), and W_ih^T for the projection's kernel, which
    # reads the columns of its right operand in rows.
    cdef floating *zeros = <floating *> calloc(H + D * 4 * H, sizeof(floating))
    if zeros == NULL:
        raise MemoryError()
    cdef floating *W_ihT = zeros + H
    with nogil:
        for k in range(4 * H):
            for j in range(D):
                W_ihT[j * 4 * H + k] = W_ih[k, j]
        # The input projection of all steps: G = X @ W_ih^T.
        for k in prange(n_chunks, schedule="dynamic", num_threads=min(n_threads, n_chunks)):
            _chunk_product(k, &X[0, 0], N, D, W_ihT, 4 * H, G)
        if _column_scheme(n_blocks, H, n_threads):
            _forward_columns(&offsets[0], T, &W_hhT[0, 0], &bias[0], G, C, &Hs[0, 0], Hm_p,
                             mask_p, zeros, h0, H, keep_cells, n_threads)
        else:
            for k in prange(n_blocks, schedule="dynamic", chunksize=1,
                            num_threads=min(n_threads, n_blocks)):
                _forward_rows(k * rows, rows, &offsets[0], T, &W_hhT[0, 0], &bias[0], G, C,
                              &Hs[0, 0], Hm_p, mask_p, zeros, h0, H, keep_cells)
    free(zeros)


def backward(
    const floating[:, ::1] X,           # IN  (N, D) packed inputs
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] W_ih,        # IN  (4H, D)
    const floating[:, ::1] W_hh,        # IN  (4H, H): untransposed, as the step gemm takes it
    floating[:, ::1] G,                 # IN/OUT (N, 4H): activations in, dL/d(pre-activation) out
    const floating[:, ::1] C,           # IN  (N, H) cell states
    const floating[:, ::1] Hs,          # IN  (N, H) hidden states
    floating[:, ::1] dHs,               # IN/OUT (N, H): dL/dh of every step in; scratch
    floating[:, ::1] dC,                # scratch (B, H)
    floating[:, ::1] dW_ih,             # OUT (4H, D)
    floating[:, ::1] dW_hhT,            # OUT (H, 4H)
    floating[::1] dbias,                # OUT (4H,)
    floating[:, ::1] dX,                # OUT (N, D) dL/dX, or None when not needed
    const floating[:, ::1] Hm,          # IN  (N, H) Hs * mask from forward, or None
    const floating[:, ::1] mask,        # IN  (B, H) recurrent dropout mask, or None
    floating[:, ::1] R,                 # scratch (B, H) with the mask, or None
    int n_threads,
):
    """Backward pass of one layer through time: gradients of the weights and the inputs."""
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], H = W_hh.shape[1], H4 = 4 * H
    cdef Py_ssize_t T = offsets.shape[0] - 1, B, rows, n_blocks
    cdef Py_ssize_t n_chunks = (N + CHUNK_ROWS - 1) // CHUNK_ROWS
    cdef bint want_dX = dX is not None
    cdef Py_ssize_t n_jobs = 2 + (n_chunks if want_dX else 0), k
    cdef floating *R_p = NULL
    cdef const floating *mask_p = NULL
    # The recurrent weights multiplied h_{t-1}, masked under recurrent dropout.
    cdef const floating *h_in = &Hs[0, 0]
    check_threads(n_threads)
    check_offsets(offsets, N, "X")
    B = offsets[1] - offsets[0]
    rows = _block_rows(B)
    n_blocks = (B + rows - 1) // rows
    _check_shape("W_ih", W_ih, H4, D)
    _check_shape("W_hh", W_hh, H4, H)
    _check_shape("G", G, N, H4)
    _check_shape("C", C, N, H)
    _check_shape("Hs", Hs, N, H)
    _check_shape("dHs", dHs, N, H)
    _check_shape("dC", dC, B, H)
    _check_shape("dW_ih", dW_ih, H4, D)
    _check_shape("dW_hhT", dW_hhT, H, H4)
    if want_dX:
        _check_shape("dX", dX, N, D)
    if dbias.shape[0] != H4:
        raise ValueError(f"dbias has {dbias.shape[0]} entries, expected {H4}")
    if mask is not None:
        _check_shape("mask", mask, B, H)
        _check_shape("Hm", Hm, N, H)
        _check_shape("R", R, B, H)
        mask_p, R_p, h_in = &mask[0, 0], &R[0, 0], &Hm[0, 0]
    cdef floating *zeros = <floating *> calloc(H, sizeof(floating))
    if zeros == NULL:
        raise MemoryError()
    with nogil:
        if _column_scheme(n_blocks, H, n_threads):
            _backward_columns(&offsets[0], T, &W_hh[0, 0], &G[0, 0], &C[0, 0], &dHs[0, 0],
                              &dC[0, 0], R_p, mask_p, zeros, H, n_threads)
        else:
            for k in prange(n_blocks, schedule="dynamic", chunksize=1,
                            num_threads=min(n_threads, n_blocks)):
                _backward_rows(k * rows, rows, &offsets[0], T, &W_hh[0, 0], &G[0, 0],
                               &C[0, 0], &dHs[0, 0], &dC[0, 0], R_p, mask_p, zeros, H)
        # One pool of jobs: the weight gradients over all steps at once in two jobs of two
        # gates each (measured: fewer, bigger gemms pack less per flop; dW_ih, thin, stays
        # per gate), then dX = dG @ W_ih in chunks of rows.
        for k in prange(n_jobs, schedule="dynamic", num_threads=min(n_threads, n_jobs)):
            if k < 2:
                gemm(True, False, H, D, N, 1.0, &G[0, 2 * k * H], H4, &X[0, 0], D, 0.0,
                     &dW_ih[2 * k * H, 0], D)
                gemm(True, False, H, D, N, 1.0, &G[0, (2 * k + 1) * H], H4, &X[0, 0], D,
                     0.0, &dW_ih[(2 * k + 1) * H, 0], D)
                _recurrent_weight_grad(&G[0, 2 * k * H], h_in, &offsets[0], T,
                                       &dW_hhT[0, 2 * k * H], 2 * H, H)
                _column_sums(&G[0, 2 * k * H], N, 2 * H, H4, &dbias[2 * k * H])
            else:
                _chunk_product(k - 2, &G[0, 0], N, H4, &W_ih[0, 0], D, &dX[0, 0])
    free(zeros)
