"""Thread budgets, following scikit-learn's convention for OpenMP estimators.

The kernels parallelise with OpenMP and call BLAS from inside OpenMP threads, so BLAS is
held to one thread while they run: threads are never nested.
"""

import os
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


def single_threaded_blas():
    """Context manager that holds every loaded BLAS to one thread."""
    return _controller().limit(limits=1, user_api="blas")
