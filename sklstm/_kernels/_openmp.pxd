# OpenMP routines with serial fallbacks, so that the package builds and runs without OpenMP.
# Modules take OpenMP's routines from here; their parallel loops come from cython.parallel.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define SKLSTM_OPENMP_ENABLED 1
        #define sk_barrier() _Pragma("omp barrier")
    #else
        #define SKLSTM_OPENMP_ENABLED 0
        #define omp_get_max_threads() 1
        #define sk_barrier()
    #endif
    """
    bint SKLSTM_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    # Every thread of the team waits here for the others (Cython's prange inside a
    # parallel block ends without a barrier).
    void sk_barrier() noexcept nogil


# The thread count that every kernel checks before a parallel region: OpenMP aborts the
# process on a num_threads clause below 1.
cdef int check_threads(int n_threads) except -1
