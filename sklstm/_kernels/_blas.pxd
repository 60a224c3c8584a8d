from cython cimport floating


cdef void step_product(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                       Py_ssize_t lda, const floating *b, Py_ssize_t ldb, floating *c,
                       Py_ssize_t ldc, bint accumulate) noexcept nogil

cdef void step_product2(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k1, const floating *a1,
                        Py_ssize_t lda1, const floating *b1, Py_ssize_t ldb1, Py_ssize_t k2,
                        const floating *a2, Py_ssize_t lda2, const floating *b2,
                        Py_ssize_t ldb2, floating *c, Py_ssize_t ldc) noexcept nogil

cdef void rows_product(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                       Py_ssize_t lda, const floating *b, Py_ssize_t ldb, floating *c,
                       Py_ssize_t ldc, bint accumulate) noexcept nogil
