"""Thread budgets and determinism across threads and processes."""

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager

import numpy as np
import pytest
from joblib import cpu_count, parallel_backend
from sklearn.model_selection import GridSearchCV, cross_validate
from threadpoolctl import threadpool_info, threadpool_limits

import sklstm._estimators
from sklstm import LSTMClassifier, LSTMRegressor, _threading
from sklstm._kernels._openmp import openmp_enabled
from sklstm._threading import (
    PROBE_SPACING,
    REMEMBER_SECONDS,
    ThreadCount,
    effective_n_threads,
    single_threaded_blas,
)

# Fits a model in a fresh process and prints a digest of its weights.
FIT_AND_DIGEST = """
import hashlib, warnings
import numpy as np
from sklstm import LSTMClassifier, LSTMStepClassifier
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = [rng.normal(size=(n, 3)) for n in rng.integers(1, 40, size=150)]
y = rng.integers(3, size=150)
per_step = [rng.integers(3, size=len(x)) for x in X]
params = {fit}
print(hashlib.sha256(params.network_.params.tobytes()).hexdigest())
"""
FITS = {
    "sequence": "LSTMClassifier((24, 20), batch_size=64, max_iter=3, random_state=7).fit(X, y)",
    "per-step": "LSTMStepClassifier((24, 20), batch_size=64, max_iter=2, random_state=7, "
    "bidirectional=True).fit(X, per_step)",
}


def run_python(code, **env):
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.parametrize("targets", FITS)
def test_same_bits_across_processes_and_thread_counts(targets):
    code = FIT_AND_DIGEST.format(fit=FITS[targets])
    digests = {run_python(code, OMP_NUM_THREADS=n) for n in ("1", "2", "2", "3")}
    assert len(digests) == 1


def test_omp_num_threads_is_honoured():
    code = "from sklstm._threading import effective_n_threads; print(effective_n_threads())"
    assert run_python(code, OMP_NUM_THREADS="1") == "1"


def test_grid_search_workers_do_not_oversubscribe(rng):
    X, y = rng.normal(size=(40, 5, 2)), rng.normal(size=40)
    search = GridSearchCV(
        LSTMRegressor(4, max_iter=1),
        {"alpha": [0.0, 0.1]},
        cv=2,
        n_jobs=2,
        # Runs in the worker process that fitted the estimator: its thread budget.
        scoring=lambda est, X, y: effective_n_threads(),
        refit=False,
    ).fit(X, y)
    # joblib gives each process worker OMP_NUM_THREADS = cores // n_jobs, and sklstm
    # follows it: two workers together never run more threads than there are cores.
    threads = search.cv_results_["mean_test_score"]
    np.testing.assert_array_equal(threads, max(1, cpu_count() // 2))


# --- BLAS held to one thread in every thread, and the user's limit restored -----------------


def openblas_threads():
    """The thread count of each OpenBLAS loaded with its own thread pool (not OpenMP's):
    one limit for the whole process, which only one thread may change at a time."""
    return [
        lib["num_threads"]
        for lib in threadpool_info()
        if lib["internal_api"] == "openblas" and lib.get("threading_layer") != "openmp"
    ]


def in_thread(fn):
    """``fn()`` run in a new thread; its result."""
    result = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def openblas_inside():
    with single_threaded_blas():
        return openblas_threads()


@pytest.fixture
def users_blas_limit():
    """A BLAS limit of the user's, neither 1 nor the default: 3 threads.

    Set by a ``with`` block, which keeps the control of OpenBLAS's limit in this (main)
    thread until it ends, as a user's would."""
    if not openblas_threads():
        pytest.skip("no OpenBLAS with its own thread pool loaded")
    with threadpool_limits(limits=3, user_api="blas"):
        assert set(openblas_threads()) == {3}
        yield 3


def test_blas_limit_holds_in_a_thread_after_another_one(users_blas_limit):
    # threadpoolctl >= 3.6 lets only the thread that set a limit first change OpenBLAS's
    # (pthreads) limits, unless it gives that control back.
    assert set(openblas_inside()) == {1}
    assert set(openblas_threads()) == {users_blas_limit}
    assert set(in_thread(openblas_inside)) == {1}
    assert set(openblas_threads()) == {users_blas_limit}
    assert set(openblas_inside()) == {1}
    assert set(openblas_threads()) == {users_blas_limit}


def test_last_thread_out_restores_the_users_blas_limit(users_blas_limit):
    entered, main_left = threading.Event(), threading.Event()
    inside_after_main_left, after = [], []

    def worker():
        with single_threaded_blas():
            entered.set()
            main_left.wait(10)
            inside_after_main_left.extend(openblas_threads())
        after.extend(openblas_threads())

    thread = threading.Thread(target=worker)
    with single_threaded_blas():  # entered first: sets the limit
        thread.start()
        assert entered.wait(10)
    main_left.set()
    thread.join()
    # The limit holds while the worker is inside, and its exit, the last, restores the user's.
    assert set(inside_after_main_left) == {1}
    assert set(after) == {users_blas_limit}
    assert set(openblas_threads()) == {users_blas_limit}


def sequences(n=200, n_features=32, seed=0):
    """Ragged sequences wide enough that BLAS's thread count changes the bits of a fit."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(T, n_features)) for T in rng.integers(1, 30, size=n)]
    return X, rng.integers(2, size=n)


def wide_model(random_state=0):
    return LSTMClassifier((64,), batch_size=64, max_iter=2, random_state=random_state)


@pytest.fixture
def blas_limits_inside(monkeypatch):
    """OpenBLAS's thread counts seen inside the fits' ``single_threaded_blas``, per fit."""
    seen = []

    @contextmanager
    def recording():
        with single_threaded_blas():
            seen.append(openblas_threads())
            yield

    monkeypatch.setattr(sklstm._estimators, "single_threaded_blas", recording)
    return seen


def test_fit_in_a_thread_equals_fit_on_the_main_thread(blas_limits_inside):
    X, y = sequences()
    main = wide_model().fit(X, y)
    worker = in_thread(lambda: wide_model().fit(X, y))
    assert len(blas_limits_inside) == 2
    assert all(n == 1 for limits in blas_limits_inside for n in limits), blas_limits_inside
    np.testing.assert_array_equal(worker.network_.params, main.network_.params)


def test_concurrent_fits_equal_sequential_ones(blas_limits_inside):
    data = [sequences(seed=0), sequences(seed=1)]
    sequential = [wide_model(seed).fit(X, y) for seed, (X, y) in enumerate(data)]
    barrier = threading.Barrier(2)
    concurrent = [None, None]

    def fit(i):
        barrier.wait(10)
        concurrent[i] = wide_model(i).fit(*data[i])

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(blas_limits_inside) == 4
    assert all(n == 1 for limits in blas_limits_inside for n in limits), blas_limits_inside
    for a, b in zip(concurrent, sequential, strict=True):
        np.testing.assert_array_equal(a.network_.params, b.network_.params)


@pytest.mark.parametrize("backend", ["threading", "loky", "dask"])
def test_cross_validation_is_the_same_under_every_joblib_backend(backend):
    X, y = sequences()
    kwargs = dict(cv=3, return_estimator=True)
    sequential = cross_validate(wide_model(), X, y, n_jobs=1, **kwargs)
    with ExitStack() as stack:
        if backend == "dask":
            distributed = pytest.importorskip("distributed")
            # Workers as threads of this process: fast to start, and the fits run in
            # threads other than the main one.
            stack.enter_context(
                distributed.Client(
                    processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
                )
            )
        stack.enter_context(parallel_backend(backend))
        parallel = cross_validate(wide_model(), X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(parallel["test_score"], sequential["test_score"])
    for a, b in zip(parallel["estimator"], sequential["estimator"], strict=True):
        np.testing.assert_array_equal(a.network_.params, b.network_.params)


# --- fork after fit ---------------------------------------------------------------------------

# Fits with two OpenMP threads, then predicts 200 sequences (parallel kernels) in a forked
# child and in that child's forked child; prints whether they equal the parent's predictions.
FIT_FORK_PREDICT = """
import multiprocessing, sys, warnings
import numpy as np
from sklstm import LSTMClassifier
from sklstm._threading import effective_n_threads
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X, y = rng.normal(size=(200, 10, 3)), rng.integers(2, size=200)
clf = LSTMClassifier(16, max_iter=2, random_state=0).fit(X, y)
assert effective_n_threads() == 2
expected = clf.predict_proba(X)
fork = multiprocessing.get_context("fork")

def predict_in_child(conn, depth):
    predictions = [clf.predict_proba(X)]
    if depth < 2:
        predictions += in_child(depth + 1)
    conn.send(predictions)

def in_child(depth):
    receiver, sender = fork.Pipe(duplex=False)
    child = fork.Process(target=predict_in_child, args=(sender, depth))
    child.start()
    if not receiver.poll(20):
        child.kill()  # else the exit would wait for it
        sys.exit(f"the child of depth {depth} hangs")
    predictions = receiver.recv()
    child.join()
    return predictions

print([np.array_equal(p, expected) for p in in_child(1)])
"""


def test_a_child_forked_after_fit_predicts():
    if not openmp_enabled():
        pytest.skip("kernels built without OpenMP: no thread pool to lose in a fork")
    # Its own process group, so that children left hanging are killed with it.
    proc = subprocess.Popen(
        [sys.executable, "-c", FIT_FORK_PREDICT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 0, err
    assert out.strip() == "[True, True]"


# --- the thread count of each batch (ThreadCount) ---------------------------------------


class FakeClock:
    """A clock that moves only when a batch runs."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_batches(threads, clock, seconds_per_row, n_batches, rows=10):
    """Run ``n_batches`` batches, each taking ``seconds_per_row(n_threads)`` per row; return
    the seconds spent at each thread count."""
    spent = {}
    for _ in range(n_batches):
        n = threads.begin()
        seconds = seconds_per_row(n) * rows
        clock.now += seconds
        spent[n] = spent.get(n, 0.0) + seconds
        threads.end(rows)
    return spent


@pytest.fixture
def fresh_levels(monkeypatch):
    """No fit of this process is remembered."""
    monkeypatch.setattr(_threading, "_last_levels", {})


def test_thread_count_leaves_the_budget_on_a_busy_machine(fresh_levels):
    clock = FakeClock()
    threads = ThreadCount(2, clock)
    busy = {2: 3.0, 1: 1.0}.get  # a thread waiting for its core: 2 threads 3x slower
    # One batch warms up, two are timed, then a probe of three and its check of three.
    run_batches(threads, clock, busy, 9)
    assert threads.n_threads == 1
    # Later, only the probes run on two threads: a small share of the time.
    spent = run_batches(threads, clock, busy, 2000)
    assert 0 < spent[2] / sum(spent.values()) < 3 / PROBE_SPACING


def test_thread_count_keeps_the_budget_on_an_idle_machine(fresh_levels):
    clock = FakeClock()
    threads = ThreadCount(2, clock)
    idle = {2: 0.6, 1: 1.0}.get
    spent = run_batches(threads, clock, idle, 2000)
    assert threads.n_threads == 2
    assert 0 < spent[1] / sum(spent.values()) < 3 / PROBE_SPACING


def test_thread_count_keeps_the_budget_through_a_passing_load(fresh_levels):
    # Another library's threads spin for the fit's first batches (on two threads they
    # wait for their cores), then stop: the winning probe's check finds the budget faster.
    clock = FakeClock()
    threads = ThreadCount(2, clock)
    batches = iter(range(10**6))

    def passing(n):
        return {2: 3.0, 1: 1.0}[n] if next(batches) < 3 else {2: 0.6, 1: 1.0}[n]

    run_batches(threads, clock, passing, 9)
    assert threads.n_threads == 2


def test_thread_count_follows_the_load(fresh_levels):
    clock = FakeClock()
    threads = ThreadCount(2, clock)
    run_batches(threads, clock, {2: 3.0, 1: 1.0}.get, 100)
    assert threads.n_threads == 1
    run_batches(threads, clock, {2: 0.6, 1: 1.0}.get, 1000)  # the other process ended
    assert threads.n_threads == 2


def test_thread_count_finds_the_best_of_several_levels(fresh_levels):
    clock = FakeClock()
    threads = ThreadCount(8, clock)
    assert threads.levels == [1, 2, 4, 8]
    run_batches(threads, clock, {8: 3.0, 4: 1.0, 2: 1.5, 1: 2.5}.get, 2000)
    assert threads.n_threads == 4


def test_thread_count_with_one_thread_never_probes(fresh_levels):
    clock = FakeClock()
    assert run_batches(ThreadCount(1, clock), clock, {1: 1.0}.get, 100).keys() == {1}


def test_a_fit_continues_from_the_last_recent_fit(fresh_levels, monkeypatch):
    clock = FakeClock()
    threads = ThreadCount(2, clock)
    run_batches(threads, clock, {2: 3.0, 1: 1.0}.get, 10)
    threads.close()
    following = ThreadCount(2, clock)
    assert following.n_threads == 1
    # ... and its next probe is the last fit's: not right away, as a new fit's would be.
    assert run_batches(following, clock, {2: 3.0, 1: 1.0}.get, 20).keys() == {1}
    assert ThreadCount(4, clock).n_threads == 4  # another budget: its own memory
    later = time.monotonic() + REMEMBER_SECONDS
    monkeypatch.setattr(_threading.time, "monotonic", lambda: later)
    assert ThreadCount(2, clock).n_threads == 2


def test_a_fit_changing_its_thread_count_has_the_bits_of_a_one_thread_fit(monkeypatch):
    if not openmp_enabled():
        pytest.skip("kernels built without OpenMP: one thread only")

    class Alternating(ThreadCount):
        """Every batch on another thread count."""

        def begin(self):
            self.i = getattr(self, "i", 0) + 1
            return 1 + self.i % 2

    X, y = sequences(120, n_features=4)
    params = {"hidden_layer_sizes": 16, "batch_size": 16, "max_iter": 2, "random_state": 0}
    with threadpool_limits(limits=1, user_api="openmp"):
        expected = LSTMClassifier(**params).fit(X, y).network_.params
    monkeypatch.setattr(sklstm._estimators, "ThreadCount", Alternating)
    with threadpool_limits(limits=2, user_api="openmp"):
        got = LSTMClassifier(**params).fit(X, y).network_.params
    np.testing.assert_array_equal(got, expected)
