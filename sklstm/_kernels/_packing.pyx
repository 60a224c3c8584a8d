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
