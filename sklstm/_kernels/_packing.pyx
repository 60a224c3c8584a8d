"""Moving sequences between the sample-major storage and the packed, time-major batch.

The loops index without bounds checks: each kernel first checks, with the GIL and without
creating a Python object unless it raises, every shape, offset and index it will use.
"""
from cython cimport floating
from libc.string cimport memcpy


cdef int check_offsets(const Py_ssize_t[::1] offsets, Py_ssize_t n_rows,
                       str rows_of) except -1:
    """That ``offsets`` describe a packed batch of ``n_rows`` rows, the rows of ``rows_of``:
    they run from 0 to ``n_rows`` in steps of non-increasing, non-zero size (longest
    sequence first, each step holding the sequences still running).

    Then every step's rows are rows of the batch, and step 0 holds the most.
    """
    cdef Py_ssize_t t, T = offsets.shape[0] - 1
    if T < 1:
        raise ValueError(f"offsets has shape ({T + 1},), expected (T + 1,) for T >= 1 steps")
    if offsets[0] != 0 or offsets[T] != n_rows:
        raise ValueError(
            f"offsets must run from 0 to the number of packed rows, the {n_rows} rows of "
            f"{rows_of}; they run from {offsets[0]} to {offsets[T]}"
        )
    for t in range(T):
        if offsets[t + 1] <= offsets[t] or (
            t > 0 and offsets[t + 1] - offsets[t] > offsets[t] - offsets[t - 1]
        ):
            raise ValueError(
                f"offsets must describe steps of non-increasing, non-zero size; step {t} "
                f"has {offsets[t + 1] - offsets[t]} rows"
                + (f", step {t - 1} {offsets[t] - offsets[t - 1]}" if t > 0 else "")
            )
    return 0


def pack(
    const floating[:, ::1] data,        # IN  (total_steps, D) every sequence, one after another
    const Py_ssize_t[::1] starts,       # IN  (n_sequences,) first row of each sequence in data
    const Py_ssize_t[::1] order,        # IN  (B,) the batch's sequences, longest first
    const Py_ssize_t[::1] offsets,      # IN  (T + 1,) first row of each step in out
    floating[:, ::1] out,               # OUT (N, D) packed batch
):
    """out[offsets[t] + i] = data[starts[order[i]] + t] for every step t a sequence has."""
    cdef Py_ssize_t T = offsets.shape[0] - 1, D = data.shape[1]
    cdef Py_ssize_t t, i, B, k, start, length
    check_offsets(offsets, out.shape[0], "out")
    if out.shape[1] != D:
        raise ValueError(
            f"out has shape ({out.shape[0]}, {out.shape[1]}), expected ({out.shape[0]}, {D})"
        )
    B = offsets[1]
    if order.shape[0] < B:
        raise ValueError(
            f"order has shape ({order.shape[0]},), expected ({B},): one sequence for each "
            f"row of step 0"
        )
    # Sequence i has the steps whose size exceeds i: `length` of them.
    length = T
    for i in range(B):
        while offsets[length] - offsets[length - 1] <= i:
            length -= 1
        k = order[i]
        if k < 0 or k >= starts.shape[0]:
            raise ValueError(
                f"order[{i}] = {k} is not an index of starts, which has {starts.shape[0]} "
                "entries"
            )
        start = starts[k]
        if start < 0 or start > data.shape[0] - length:
            raise ValueError(
                f"sequence order[{i}] = {k} takes rows {start} to {start + length} of data "
                f"(starts[{k}] and {length} steps in offsets), but data has shape "
                f"({data.shape[0]}, {D})"
            )
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
    cdef Py_ssize_t T = offsets.shape[0] - 1, B
    cdef Py_ssize_t i, t, length = T
    check_offsets(offsets, perm.shape[0], "perm")
    B = offsets[1]
    with nogil:
        for i in range(B):  # longest first: lengths only shrink
            while offsets[length] - offsets[length - 1] <= i:  # step length - 1 lacks row i
                length -= 1
            for t in range(length):
                perm[offsets[t] + i] = offsets[length - 1 - t] + i


def take_rows(
    const floating[:, :] src,           # IN  (M, n)
    const Py_ssize_t[::1] rows,         # IN  (N,) rows of src
    floating[:, :] dst,                 # OUT (N, n): dst[r] = src[rows[r]]; may be strided
):
    cdef Py_ssize_t r, j, N = dst.shape[0]
    if src.shape[1] != dst.shape[1]:
        raise ValueError(
            f"dst has shape ({N}, {dst.shape[1]}), expected ({N}, {src.shape[1]}), the "
            "columns of src"
        )
    if rows.shape[0] != N:
        raise ValueError(f"rows has shape ({rows.shape[0]},), expected ({N},), one per row of dst")
    for r in range(N):
        if rows[r] < 0 or rows[r] >= src.shape[0]:
            raise ValueError(
                f"rows[{r}] = {rows[r]} is not a row of src, which has shape "
                f"({src.shape[0]}, {src.shape[1]})"
            )
    with nogil:
        for r in range(N):
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
    check_offsets(offsets, src.shape[0], "src")
    if dst.shape[0] != src.shape[0] or dst.shape[1] != n:
        raise ValueError(
            f"dst has shape ({dst.shape[0]}, {dst.shape[1]}), expected ({src.shape[0]}, {n}), "
            "the shape of src"
        )
    if scale.shape[0] < offsets[1] or scale.shape[1] != n:
        raise ValueError(
            f"scale has shape ({scale.shape[0]}, {scale.shape[1]}), expected ({offsets[1]}, "
            f"{n}): a row for each sequence of step 0 in offsets, the columns of src"
        )
    with nogil:
        for t in range(T):
            for i in range(offsets[t + 1] - offsets[t]):
                row = offsets[t] + i
                for j in range(n):
                    dst[row, j] = src[row, j] * scale[i, j]
