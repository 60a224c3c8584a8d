"""Thread budgets, following scikit-learn's convention for OpenMP estimators.

The kernels parallelise with OpenMP and call BLAS from inside OpenMP threads, so BLAS is
held to one thread while they run, whichever thread of the process runs them: threads are
never nested, and a fit has the same bits on any thread, next to any other fits.

A process forked after the kernels ran parallel regions runs them on one thread, silently:
OpenMP's thread pool does not survive a fork, and libgomp would hang in the child's next
parallel region of more than one thread.
"""

import os
import threading
from contextlib import contextmanager
from functools import cache

import threadpoolctl
from joblib import cpu_count
from threadpoolctl import ThreadpoolController

from ._kernels._openmp import omp_max_threads, openmp_enabled

# More than one thread handed out in this process; one only in a child forked after that.
_parallel_ran = False
_forked_after_parallel = False


def effective_n_threads():
    """OpenMP threads to use: all cores unless ``OMP_NUM_THREADS`` or threadpoolctl say less.

    One, whatever they say, in a process forked (``os.fork``, multiprocessing's "fork"
    context) from one that had handed out more, or forked from such a child: libgomp keeps
    the pool of threads that ran a parallel region, a forked child inherits the pool but not
    its threads, and its next parallel region of more than one thread waits for them forever.
    """
    global _parallel_ran
    if _forked_after_parallel or not openmp_enabled():
        return 1
    if os.environ.get("OMP_NUM_THREADS"):
        n_threads = omp_max_threads()
    else:
        n_threads = max(1, min(omp_max_threads(), _cores()))
    if n_threads > 1:
        _parallel_ran = True
    return n_threads


def _after_fork_in_child():
    global _forked_after_parallel
    # _parallel_ran is inherited: children of this child, heirs of the same pool, go
    # serial too. A team of one thread does not use the pool: it works in the child.
    if _parallel_ran:
        _forked_after_parallel = True


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


@cache
def _cores():
    # Reading cgroup quotas takes tens of microseconds; they do not change in a process.
    return cpu_count(only_physical_cores=True)


@cache
def _controller():
    # Created once, after the kernels loaded scipy's BLAS: inspecting the loaded libraries
    # costs milliseconds, changing their thread counts only microseconds.
    return ThreadpoolController()


# threadpoolctl >= 3.6 lets only one thread change the limit of an OpenBLAS with its own
# (pthreads) thread pool, process-wide: the first that sets one, until it gives the control
# back; the calls of other threads silently do nothing. Older versions obey every thread.
_clear_openblas_control = getattr(
    getattr(threadpoolctl, "OpenBLASController", None), "clear_controlling_thread", None
)


def _in_control_of_openblas(change):
    """``change()`` with this thread in control of OpenBLAS's limit, given back after."""
    if _clear_openblas_control is None:
        return change()
    # Forced: whichever thread set a limit last may have kept the control (the one that set
    # ours, or a user's threadpool_limits called as a function); the calls in change() take
    # it, and then it goes back to no thread, for any thread to take.
    _clear_openblas_control(force=True)
    try:
        return change()
    finally:
        _clear_openblas_control(force=True)


_blas_lock = threading.Lock()
_blas_holders = 0
_blas_limit = None


@contextmanager
def single_threaded_blas():
    """Hold every loaded BLAS to one thread while any thread of the process is inside.

    Threads that fit or predict at once share one limit: the first one in sets it, the last
    one out restores the user's settings, from when the first one came in. (A limit per
    caller would let one caller's exit lift the limit under another's kernels, or leave it
    on for good.) Both take the control of OpenBLAS's limit for their change, under the
    lock, so that the change holds whichever threads they are.
    """
    global _blas_holders, _blas_limit
    with _blas_lock:
        if _blas_holders == 0:
            _blas_limit = _in_control_of_openblas(
                lambda: _controller().limit(limits=1, user_api="blas")
            )
        _blas_holders += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                _in_control_of_openblas(_blas_limit.restore_original_limits)
                _blas_limit = None
