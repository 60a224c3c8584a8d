"""What the build knows about OpenMP, for the Python side."""


def openmp_enabled():
    """Whether these kernels were compiled with OpenMP."""
    return bool(SKLSTM_OPENMP_ENABLED)


def omp_max_threads():
    """OpenMP's thread budget (``OMP_NUM_THREADS``, ``threadpool_limits``); 1 without OpenMP."""
    return omp_get_max_threads()


cdef int check_threads(int n_threads) except -1:
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")
    return 0
