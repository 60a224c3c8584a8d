"""Moving sequences between the sample-major storage and the packed, time-major batch."""
from cython cimport floating
from libc.string cimport memcpy


def pack(
    const floating[:, ::1] data,        # IN  (total_steps, D) every sequence, one after another
    const Py_ssize_t[::1] starts,       # IN  (n_sequences,) first row of each sequence in data
    const Py_ssize_t[::1] order,         # IN  (B,) the batch's sequences, longest first
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,) first row of each step in out
    floating[:, ::1] out,               # OUT (N, D) packed batch
):
    """out[offsets[t] + i] = data[starts[order[i]] + t] for every step t a sequence has."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, D = data.shape[1]
    cdef Py_ssize_t t, i
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                memcpy(&out[offsets[t] + i, 0], &data[starts[order[i]] + t, 0],
                       D * sizeof(floating))


def reverse_rows(
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    Py_ssize_t[::1] perm,               # OUT (N,)
):
    """The rows of the same batch with every sequence reversed in time.

    Reversed sequences keep their lengths, so they pack into the same offsets:
    ``perm[offsets[t] + i] = offsets[L_i - 1 - t] + i`` for the i-th sequence, of length
    L_i. The permutation is its own inverse.
    """
    cdef Py_ssize_t T = offsets.shape[0] - 1, B = offsets[1] - offsets[0]
    cdef Py_ssize_t i, t, length = T
    with nogil:
        for i in range(B):  # longest first: lengths only shrink
            while offsets[length] - offsets[length - 1] <= i:  # step length - 1 lacks row i
                length -= 1
            for t in range(length):
                perm[offsets[t] + i] = offsets[length - 1 - t] + i


def take_rows(
    const floating[:, :] src,           # IN  (N, n)
    const Py_ssize_t[::1] rows,         # IN  (N,)
    floating[:, :] dst,                 # OUT (N, n): dst[r] = src[rows[r]]; may be strided
):
    cdef Py_ssize_t r, j
    with nogil:
        for r in range(dst.shape[0]):
            for j in range(dst.shape[1]):
                dst[r, j] = src[rows[r], j]


def scale_rows(
    const floating[:, ::1] src,         # IN  (N, n) packed rows
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,)
    const floating[:, ::1] scale,       # IN  (B, n) one row per sequence
    floating[:, ::1] dst,               # OUT (N, n): may be src
):
    """dst[offsets[t] + i] = src[offsets[t] + i] * scale[i]: a per-sequence mask."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, n = src.shape[1]
    cdef Py_ssize_t t, i, j, row
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                row = offsets[t] + i
                for j in range(n):
                    dst[row, j] = src[row, j] * scale[i, j]
