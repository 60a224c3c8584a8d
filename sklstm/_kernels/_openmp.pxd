# OpenMP routines with serial fallbacks, so that the package builds and runs without OpenMP.
# Every other module takes what it needs from OpenMP from here.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define SKLSTM_OPENMP_ENABLED 1
    #else
        #define SKLSTM_OPENMP_ENABLED 0
        #define omp_get_max_threads() 1
    #endif
    """
    bint SKLSTM_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
