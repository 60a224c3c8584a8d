"""What the build knows about OpenMP, for the Python side."""


def openmp_enabled():
    """Whether these kernels were compiled with OpenMP."""
    return bool(SKLSTM_OPENMP_ENABLED)


def omp_max_threads():
    """OpenMP's thread budget (``OMP_NUM_THREADS``, ``threadpool_limits``); 1 without OpenMP."""
    return omp_get_max_threads()
