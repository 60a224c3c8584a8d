"""Thread budgets and determinism across threads and processes."""

import os
import subprocess
import sys

import numpy as np
from joblib import cpu_count
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMRegressor
from sklstm._threading import effective_n_threads

# Fits a model in a fresh process and prints a digest of its weights.
FIT_AND_DIGEST = """
import hashlib, warnings
import numpy as np
from sklstm import LSTMClassifier
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = [rng.normal(size=(n, 3)) for n in rng.integers(1, 40, size=150)]
y = rng.integers(3, size=150)
params = LSTMClassifier((24, 20), batch_size=64, max_iter=3, random_state=7).fit(X, y)
print(hashlib.sha256(params.network_.params.tobytes()).hexdigest())
"""


def run_python(code, **env):
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    return out.stdout.strip()


def test_same_bits_across_processes_and_thread_counts():
    digests = {run_python(FIT_AND_DIGEST, OMP_NUM_THREADS=n) for n in ("1", "2", "2", "3")}
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
