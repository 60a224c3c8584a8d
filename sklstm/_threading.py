"""Thread budgets, following scikit-learn's convention for OpenMP estimators.

The kernels parallelise with OpenMP and call BLAS from inside OpenMP threads, so BLAS is
held to one thread while they run: threads are never nested.
"""

import os
import threading
from contextlib import contextmanager
from functools import cache

from joblib import cpu_count
from threadpoolctl import ThreadpoolController

from ._kernels._openmp import omp_max_threads, openmp_enabled


def effective_n_threads():
    """OpenMP threads to use: all cores unless ``OMP_NUM_THREADS`` or threadpoolctl say less."""
    if not openmp_enabled():
        return 1
    if os.environ.get("OMP_NUM_THREADS"):
        return omp_max_threads()
    return max(1, min(omp_max_threads(), _cores()))


@cache
def _cores():
    # Reading cgroup quotas takes tens of microseconds; they do not change in a process.
    return cpu_count(only_physical_cores=True)


@cache
def _controller():
    # Created once, after the kernels loaded scipy's BLAS: inspecting the loaded libraries
    # costs milliseconds, changing their thread counts only microseconds.
    return ThreadpoolController()


_blas_lock = threading.Lock()
_blas_holders = 0
_blas_limit = None


@contextmanager
def single_threaded_blas():
    """Hold every loaded BLAS to one thread while any thread of the process is inside.

    Threads that predict at once share one limit: the first one in sets it, the last one
    out restores the user's settings. (A limit per caller would let one caller's exit lift
    the limit under another's kernels, or leave it on for good.)
    """
    global _blas_holders, _blas_limit
    with _blas_lock:
        if _blas_holders == 0:
            _blas_limit = _controller().limit(limits=1, user_api="blas")
        _blas_holders += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                _blas_limit.restore_original_limits()
                _blas_limit = None
