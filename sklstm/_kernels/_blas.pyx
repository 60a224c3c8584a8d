"""Row-major gemm over ``scipy.linalg.cython_blas``, for float and double.

BLAS is column-major; a row-major matrix is its transpose seen column-major, so
``C = op(A) @ op(B)`` row-major is ``C^T = op(B)^T @ op(A)^T`` column-major: the same call
with the operands swapped.
"""
from scipy.linalg.cython_blas cimport dgemm, sgemm


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


def gemm_memview(bint trans_a, bint trans_b, double alpha, const floating[:, ::1] a,
                 const floating[:, ::1] b, double beta, floating[:, ::1] c):
    """Python access to ``gemm`` for its tests."""
    cdef int m = c.shape[0], n = c.shape[1]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1], &b[0, 0],
         b.shape[1], <floating> beta, &c[0, 0], n)
