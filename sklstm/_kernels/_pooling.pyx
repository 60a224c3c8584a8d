"""Pooling over each sequence's rows of a packed batch: the loops of the readouts.

Sequence i of a packed batch (``_lstm.pyx``) holds row ``offsets[t] + i`` of each step t
it lasts, the steps with more than i rows. The reversed layout packs into the same
offsets, so every kernel serves either direction, and a window of a batch's steps, its
offsets taken from 0, is a packed batch of its own.

Loops run over steps, then sequences, then units: rows are read in memory order and a
sequence's sum is added up in the order of its rows, the same additions whether a batch
runs whole or window after window, accumulating into the same output (prediction): both
give the same bits. The kernels are serial: one pass over the states, O(N x H), next to
the recurrence's O(N x H^2).

Each kernel first checks, with the GIL, every shape and offset it will index with.
"""
from cython cimport floating

from ._packing cimport check_offsets


cdef int check_pooled(const Py_ssize_t[::1] offsets, Py_ssize_t n_rows, Py_ssize_t n_cols,
                      str rows_of, Py_ssize_t b, Py_ssize_t h, str pooled) except -1:
    """That ``offsets`` pack the ``n_rows`` rows of ``rows_of``, of ``n_cols`` columns, and
    that ``pooled`` has one row per sequence and the same columns."""
    check_offsets(offsets, n_rows, rows_of)
    if b != offsets[1] or h != n_cols:
        raise ValueError(
            f"{pooled} has shape ({b}, {h}), expected ({offsets[1]}, {n_cols}): a row for "
            f"each sequence of offsets, the columns of {rows_of}"
        )
    return 0


cdef int check_per_row(const floating[::1] values, str name, Py_ssize_t n_rows,
                       str rows_of) except -1:
    """That ``values``, unless None, has one entry per row of ``rows_of``."""
    if values is not None and values.shape[0] != n_rows:
        raise ValueError(
            f"{name} has shape ({values.shape[0]},), expected ({n_rows},): one per row of "
            f"{rows_of}"
        )
    return 0


def segment_sum(
    const floating[:, ::1] X,           # IN  (N, H) packed rows
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[::1] weights,        # IN  (N,) one per row, or None: all 1
    floating[:, ::1] out,               # IN/OUT (B, H) one row per sequence
):
    """out[i] += weights[r] * X[r] for each row r of sequence i, in the order of its rows."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, H = X.shape[1]
    cdef Py_ssize_t t, i, j, r
    cdef floating w
    cdef bint weighted = weights is not None
    check_pooled(offsets, X.shape[0], H, "X", out.shape[0], out.shape[1], "out")
    check_per_row(weights, "weights", X.shape[0], "X")
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                r = offsets[t] + i
                w = weights[r] if weighted else 1
                for j in range(H):
                    out[i, j] += w * X[r, j]


def segment_max(
    const floating[:, ::1] X,           # IN  (N, H) packed rows
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    floating[:, ::1] out,               # IN/OUT (B, H) running maxima
    Py_ssize_t[:, ::1] argmax,          # IN/OUT (B, H) row of each maximum, or None
    bint ties_last,                     # a tie moves argmax to the later row
):
    """out[i] = max(out[i], X[r]) over the rows r of sequence i, elementwise; argmax
    follows each change of out. A NaN wins over any number and stays, as in np.maximum."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, H = X.shape[1]
    cdef Py_ssize_t t, i, j, r
    cdef floating v
    cdef bint tracked = argmax is not None
    check_pooled(offsets, X.shape[0], H, "X", out.shape[0], out.shape[1], "out")
    if tracked and (argmax.shape[0] != out.shape[0] or argmax.shape[1] != H):
        raise ValueError(
            f"argmax has shape ({argmax.shape[0]}, {argmax.shape[1]}), expected "
            f"({out.shape[0]}, {H}), the shape of out"
        )
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                r = offsets[t] + i
                if not tracked:
                    for j in range(H):  # a select and a bitwise or: the loop vectorises
                        v = X[r, j]
                        out[i, j] = v if (v > out[i, j]) | (v != v) else out[i, j]
                    continue
                # Branches: the maximum changes seldom, and selects of a float and an
                # index do not vectorise (measured: more instructions).
                for j in range(H):
                    v = X[r, j]
                    if v > out[i, j] or v != v or (ties_last and v == out[i, j]):
                        out[i, j] = v
                        argmax[i, j] = r


def spread(
    const floating[:, ::1] D,           # IN  (B, H) one row per sequence
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[::1] weights,        # IN  (N,) one per row, or None: all 1
    floating[:, ::1] out,               # IN/OUT (N, H) packed rows
):
    """out[r] += weights[r] * D[i] for each row r of sequence i: segment_sum's adjoint."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, H = out.shape[1]
    cdef Py_ssize_t t, i, j, r
    cdef floating w
    cdef bint weighted = weights is not None
    check_pooled(offsets, out.shape[0], H, "out", D.shape[0], D.shape[1], "D")
    check_per_row(weights, "weights", out.shape[0], "out")
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                r = offsets[t] + i
                w = weights[r] if weighted else 1
                for j in range(H):
                    out[r, j] += w * D[i, j]


def row_dots(
    const floating[:, ::1] X,           # IN  (N, H) packed rows
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] D,           # IN  (B, H) one row per sequence
    floating[::1] out,                  # OUT (N,)
):
    """out[r] = X[r] . D[i] for each row r of sequence i, in ``dot4``'s order (a row's
    value does not depend on the batch it is in)."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, H = X.shape[1]
    cdef Py_ssize_t t, i, r
    check_pooled(offsets, X.shape[0], H, "X", D.shape[0], D.shape[1], "D")
    check_per_row(out, "out", X.shape[0], "X")
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                r = offsets[t] + i
                out[r] = dot4(&X[r, 0], &D[i, 0], H)
