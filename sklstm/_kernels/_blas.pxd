from cython cimport floating


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
               const floating *a, int lda, const floating *b, int ldb,
               floating beta, floating *c, int ldc) noexcept nogil

cdef void step_product(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                       Py_ssize_t lda, const floating *b, Py_ssize_t ldb, floating *c,
                       Py_ssize_t ldc, bint accumulate) noexcept nogil
