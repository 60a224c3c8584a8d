"""Thread budgets, following scikit-learn's convention for OpenMP estimators.

The kernels parallelise with OpenMP and multiply with a kernel of their own; the numpy
products around them (the head, some readouts) use BLAS, which is held to one thread while
a fit or a prediction runs, whichever thread of the process runs it: BLAS's threads never
compete with OpenMP's, and a fit has the same bits on any thread, next to any other fits.

A process forked after the kernels ran parallel regions runs them on one thread, silently:
OpenMP's thread pool does not survive a fork, and libgomp would hang in the child's next
parallel region of more than one thread.

A fit uses its budget of threads only while they pay (``ThreadCount``): on a machine where
other processes hold cores, a thread that waits for its core holds every other one at the
end of each parallel region, and fewer threads run faster. The kernels' results do not
depend on the thread count, so a fit may change it from batch to batch.
"""

import os
import threading
import time
from collections import deque
from contextlib import contextmanager
from functools import cache

import numpy as np
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


# ThreadCount. A level's speed is seconds per packed row over a window of batches: a thread
# that waits for its core stalls one batch in a few, for a time slice of the scheduler,
# which a median would not see and a window shorter than a few slices may miss.
# The current level's recent batches, the reference a probe is compared with.
RECENT_BATCHES = 8
# A probe, and its check: at least this many consecutive batches and seconds.
PROBE_BATCHES = 3
PROBE_SECONDS = 0.02
# A probe starts at most once in this many times the last probe's cost: a probe of a level
# that loses costs at most about 1 / PROBE_SPACING of the fit.
PROBE_SPACING = 100
# A probe's level takes over when it beats the current one by this share.
PROBE_MARGIN = 0.1
# A fit continues from where the process's last fit of the same budget ended, its level and
# its next probe, if it ended this recently (seconds): consecutive fits (a search, rounds of
# a benchmark) neither find the level again nor probe more often than one long fit would.
REMEMBER_SECONDS = 10.0

_last_levels = {}  # budget: (level, quiet_until, direction, time.monotonic() at its end)


class ThreadCount:
    """The thread count of each batch of a fit: the budget, or fewer when fewer are faster.

    Levels are the budget halved down to one thread (2: 2, 1; 8: 8, 4, 2, 1). The fit
    runs on the current level and times each batch (``begin`` / ``end``). Now and then
    it runs a probe: batches on a neighbouring level, one level down or up in turn, for
    at least ``PROBE_BATCHES`` batches and ``PROBE_SECONDS``. A probe faster per row than
    the current level's recent batches by ``PROBE_MARGIN`` is checked against as long a
    run on the current level right after (the recent batches may have met a passing load,
    such as another library's threads spinning after their work); if it beats that too,
    its level becomes current. Probes are spaced by ``PROBE_SPACING`` times the last
    one's cost: on an idle machine, where fewer threads lose, and on a busy one, where
    more threads lose, they cost a small share of the fit, and a fit still follows the
    load as it changes. The first batch (the pool's threads start, the buffers are
    touched) is not timed and the first probe follows the next two, so that a fit on a
    busy machine leaves its slow level early; the next fit of the process continues from
    where this one ended (``REMEMBER_SECONDS``).

    Wall time is the measure because it is what the threads are for; nothing here changes
    a result: the kernels give the same bits on any thread count.
    """

    def __init__(self, budget, clock=time.perf_counter):
        self.levels = sorted({max(1, budget >> k) for k in range(budget.bit_length())})
        self.budget, self.clock = budget, clock
        self.current = len(self.levels) - 1
        self.direction = -1  # the next probe's: down first
        self.quiet_until = 0.0  # no probe starts before this clock time
        level, quiet_until, direction, ended = _last_levels.get(budget, (0, 0, 0, -np.inf))
        if time.monotonic() - ended < REMEMBER_SECONDS:
            self.current = self.levels.index(level)
            self.quiet_until, self.direction = quiet_until, direction
        self.recent = deque(maxlen=RECENT_BATCHES)  # the current level's (seconds, rows)
        self.probe_level = None  # the running probe's level index, None between probes
        self.probe = []  # its batches' (seconds, rows)
        self.check = None  # the current level's, right after a winning probe
        self.warm = False
        self.started = 0.0

    @property
    def n_threads(self):
        """The current level's thread count (for work outside the timed batches)."""
        return self.levels[self.current]

    def begin(self):
        """The thread count of the next batch."""
        self.started = self.clock()
        if (
            self.probe_level is None
            and len(self.levels) > 1
            and len(self.recent) >= 2
            and self.started >= self.quiet_until
        ):
            if not 0 <= self.current + self.direction < len(self.levels):
                self.direction = -self.direction
            self.probe_level = self.current + self.direction
        running_probe = self.probe_level is not None and self.check is None
        return self.levels[self.probe_level if running_probe else self.current]

    def end(self, rows):
        """The batch that ``begin`` started has ended; it had ``rows`` packed rows."""
        now = self.clock()
        batch = (now - self.started, rows)
        if not self.warm:
            self.warm = True
        elif self.probe_level is None:
            self.recent.append(batch)
        elif self.check is None:
            self.probe.append(batch)
            if _complete(self.probe):
                if _rate(self.probe) < (1 - PROBE_MARGIN) * _rate(self.recent):
                    self.check = []  # confirmed against the current level, now
                else:
                    self._end_probe(now, won=False)
        else:
            self.check.append(batch)
            if _complete(self.check):
                self.recent.extend(self.check)
                self._end_probe(now, _rate(self.probe) < (1 - PROBE_MARGIN) * _rate(self.check))

    def _end_probe(self, now, won):
        cost = sum(seconds for seconds, _ in self.probe)
        if won:
            # The level left behind is the next probe's: spaced by its cost, not this one's.
            cost *= _rate(self.check) / _rate(self.probe)
            self.current = self.probe_level
            self.recent.clear()
            self.recent.extend(self.probe)
        self.direction = -self.direction
        self.quiet_until = now + PROBE_SPACING * cost
        self.probe_level, self.probe, self.check = None, [], None

    def close(self):
        """The fit has ended: the process's next fit of this budget continues from here."""
        _last_levels[self.budget] = (
            self.n_threads,
            self.quiet_until,
            self.direction,
            time.monotonic(),
        )


def _rate(batches):
    """Seconds per row over ``batches``, (seconds, rows) pairs."""
    return sum(seconds for seconds, _ in batches) / sum(rows for _, rows in batches)


def _complete(batches):
    """Whether a probe's (or its check's) batches are enough to judge by."""
    return len(batches) >= PROBE_BATCHES and sum(s for s, _ in batches) >= PROBE_SECONDS
