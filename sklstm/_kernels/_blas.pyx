"""Matrix products for the kernels, row-major, for float and double.

``gemm``: BLAS through ``scipy.linalg.cython_blas``, for the products over all steps at
once. BLAS is column-major; a row-major matrix is its transpose seen column-major, so
``C = op(A) @ op(B)`` row-major is ``C^T = op(B)^T @ op(A)^T`` column-major: the same call
with the operands swapped.

``step_product``: sklstm's own kernel (``_matmul.h``) for the recurrent product of each
step, which BLAS handles poorly (it re-packs the same weights at every step), and for the
input projection and dX; ``step_product2``, the same kernel over two operand pairs, for
prediction's step, x_t @ W_ih^T + h_{t-1} @ W_hh^T in one pass.
"""
from scipy.linalg.cython_blas cimport dgemm, sgemm


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

include "_isa.pxi"


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
               const floating *a, int lda, const floating *b, int ldb,
               floating beta, floating *c, int ldc) noexcept nogil:
    """C[m, n] = alpha * op(A) @ op(B) + beta * C, all row-major.

    op(A) is (m, k): A is stored (m, k), or (k, m) when trans_a; likewise op(B) is (k, n).
    lda, ldb, ldc are row strides in elements.
    """
    # scipy's declarations are not const-qualified, hence the casts.
    cdef char ta = b"t" if trans_a else b"n"
    cdef char tb = b"t" if trans_b else b"n"
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float *> b, &ldb, <float *> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *> b, &ldb, <double *> a, &lda,
              &beta, c, &ldc)


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


def gemm_memview(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] a,
                 const floating[:, ::1] b, double beta, floating[:, ::1] c):
    """Python access to ``gemm`` for its tests."""
    cdef int m = c.shape[0], n = c.shape[1]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1], &b[0, 0],
         b.shape[1], <floating> beta, &c[0, 0], n)
