# The dot product of the attention readout's scores, for every kernel that computes them:
# four partial sums, of every fourth unit, added in a fixed order (the loop vectorises,
# and a score does not depend on the batch or stream it is computed in).
from cython cimport floating


cdef inline floating dot4(const floating *x, const floating *w,
                          Py_ssize_t H) noexcept nogil:
    cdef Py_ssize_t H4 = H - H % 4, j
    cdef floating a0 = 0, a1 = 0, a2 = 0, a3 = 0
    for j in range(0, H4, 4):
        a0 = a0 + x[j] * w[j]
        a1 = a1 + x[j + 1] * w[j + 1]
        a2 = a2 + x[j + 2] * w[j + 2]
        a3 = a3 + x[j + 3] * w[j + 3]
    for j in range(H4, H):
        a0 = a0 + x[j] * w[j]
    return (a0 + a1) + (a2 + a3)
