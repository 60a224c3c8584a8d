"""Matrix products for the kernels, row-major, for float and double, by sklstm's own kernel
(``_matmul.h``): BLAS handles these products poorly.

``step_product``: the recurrent product of each step (BLAS re-packs the same weights at
every step), the input projection and dX; ``step_product2``, the same over two operand
pairs, for prediction's step, x_t @ W_ih^T + h_{t-1} @ W_hh^T in one pass.
``rows_product``: the same kernel reading A transposed, for the weight gradients' sums
over all of a batch's rows (BLAS packed their operands in more time than it multiplied
them).
"""
cdef extern from "_matmul.h" nogil:
    void sk_mm_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t lda,
                 const float *b, Py_ssize_t ldb, float *c, Py_ssize_t ldc, int accumulate)
    void sk_mm_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a, Py_ssize_t lda,
                 const double *b, Py_ssize_t ldb, double *c, Py_ssize_t ldc, int accumulate)
    void sk_mm2_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k1, const float *a1, Py_ssize_t lda1,
                  const float *b1, Py_ssize_t ldb1, Py_ssize_t k2, const float *a2,
                  Py_ssize_t lda2, const float *b2, Py_ssize_t ldb2, float *c, Py_ssize_t ldc)
    void sk_mm2_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k1, const double *a1,
                  Py_ssize_t lda1, const double *b1, Py_ssize_t ldb1, Py_ssize_t k2,
                  const double *a2, Py_ssize_t lda2, const double *b2, Py_ssize_t ldb2,
                  double *c, Py_ssize_t ldc)
    void sk_mm_tn_f(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float *a, Py_ssize_t lda,
                    const float *b, Py_ssize_t ldb, float *c, Py_ssize_t ldc, int accumulate)
    void sk_mm_tn_d(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double *a,
                    Py_ssize_t lda, const double *b, Py_ssize_t ldb, double *c, Py_ssize_t ldc,
                    int accumulate)

include "_isa.pxi"


cdef void step_product(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                       Py_ssize_t lda, const floating *b, Py_ssize_t ldb, floating *c,
                       Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C[m, n] = A[m, k] @ B[k, n] (+ C when accumulate), all row-major with row strides.

    Each element's sum runs over k in order, whatever the shapes: a row's result does not
    depend on the other rows of the call.
    """
    if floating is float:
        sk_mm_f(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
    else:
        sk_mm_d(m, n, k, a, lda, b, ldb, c, ldc, accumulate)


cdef void step_product2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k1, const floating *a1,
                        Py_ssize_t lda1, const floating *b1, Py_ssize_t ldb1, Py_ssize_t k2,
                        const floating *a2, Py_ssize_t lda2, const floating *b2,
                        Py_ssize_t ldb2, floating *c, Py_ssize_t ldc) noexcept nogil:
    """C[m, n] = A1[m, k1] @ B1[k1, n] + A2[m, k2] @ B2[k2, n], from zero, in one pass:
    each element summed over k1 and then on over k2, in order, as ``step_product`` of the
    first pair then of the second with ``accumulate``, to the bit (k2 may be 0)."""
    if floating is float:
        sk_mm2_f(m, n, k1, a1, lda1, b1, ldb1, k2, a2, lda2, b2, ldb2, c, ldc)
    else:
        sk_mm2_d(m, n, k1, a1, lda1, b1, ldb1, k2, a2, lda2, b2, ldb2, c, ldc)


cdef void rows_product(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                       Py_ssize_t lda, const floating *b, Py_ssize_t ldb, floating *c,
                       Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C[m, n] = A^T @ B (+ C when accumulate): a sum over the k rows of A (k, m) and B (k,
    n), row-major with row strides; ``lda = 0`` takes A's one value for every row (then
    with m = 1 and A pointing at 1, C is the column sums of B, added in order).

    Each element's sum runs over the rows in order, whatever the shapes.
    """
    if floating is float:
        sk_mm_tn_f(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
    else:
        sk_mm_tn_d(m, n, k, a, lda, b, ldb, c, ldc, accumulate)


def step_product_memview(const floating[:, ::1] a, const floating[:, ::1] b,
                         floating[:, ::1] c, bint accumulate):
    """Python access to ``step_product`` for its tests."""
    if a.shape[1] != b.shape[0] or c.shape[0] != a.shape[0] or c.shape[1] != b.shape[1]:
        raise ValueError("shapes do not match")
    step_product(c.shape[0], c.shape[1], a.shape[1], &a[0, 0], a.shape[1], &b[0, 0],
                 b.shape[1], &c[0, 0], c.shape[1], accumulate)


def step_product2_memview(const floating[:, ::1] a1, const floating[:, ::1] b1,
                          const floating[:, ::1] a2, const floating[:, ::1] b2,
                          floating[:, ::1] c):
    """Python access to ``step_product2`` for its tests."""
    if (a1.shape[1] != b1.shape[0] or a2.shape[1] != b2.shape[0]
            or not c.shape[0] == a1.shape[0] == a2.shape[0]
            or not c.shape[1] == b1.shape[1] == b2.shape[1]):
        raise ValueError("shapes do not match")
    step_product2(c.shape[0], c.shape[1], a1.shape[1], &a1[0, 0], a1.shape[1], &b1[0, 0],
                  b1.shape[1], a2.shape[1], &a2[0, 0], a2.shape[1], &b2[0, 0], b2.shape[1],
                  &c[0, 0], c.shape[1])


def rows_product_memview(const floating[:, ::1] a, const floating[:, ::1] b,
                         floating[:, ::1] c, bint accumulate):
    """Python access to ``rows_product`` for its tests: c (+)= a.T @ b."""
    if a.shape[0] != b.shape[0] or c.shape[0] != a.shape[1] or c.shape[1] != b.shape[1]:
        raise ValueError("shapes do not match")
    rows_product(c.shape[0], c.shape[1], a.shape[0], &a[0, 0], a.shape[1], &b[0, 0],
                 b.shape[1], &c[0, 0], c.shape[1], accumulate)
