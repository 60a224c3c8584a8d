"""Scale-out on Dask: joblib's dask backend, and dask-ml's partial_fit wrappers."""

import numpy as np
import pytest
from joblib import parallel_backend
from scipy.stats import loguniform
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier

da = pytest.importorskip("dask.array")
db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")
dask_ml = pytest.importorskip("dask_ml")
from dask_ml.model_selection import HyperbandSearchCV  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes on this machine, on loopback, as a real cluster would have."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def data(n=200, T=6, D=2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, T, D)).astype(np.float32)
    return X, (X[:, :, 0].sum(axis=1) > 0).astype(int)


def test_grid_search_on_the_cluster_equals_the_local_one(client):
    X, y = data()
    grid = {"hidden_layer_sizes": [4, 8], "learning_rate_init": [0.003, 0.01]}
    kwargs = dict(cv=3, refit=False)
    local = GridSearchCV(LSTMClassifier(max_iter=5, random_state=0), grid, **kwargs).fit(X, y)
    with parallel_backend("dask"):
        remote = GridSearchCV(LSTMClassifier(max_iter=5, random_state=0), grid, **kwargs)
        remote.fit(X, y)
    # Fits are deterministic, whatever the process or thread count: the same scores.
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )


def test_incremental_trains_from_a_3d_dask_array(client):
    X, y = data()
    X_dask, y_dask = da.from_array(X, chunks=(50, 6, 2)), da.from_array(y, chunks=50)
    # dask-ml's Incremental finds the blocks of 2-D arrays only; a bag of the 3-D array's
    # blocks hands each of them to partial_fit as it is.
    blocks = db.from_delayed(X_dask.to_delayed().ravel())
    inc = Incremental(LSTMClassifier(6, random_state=0), shuffle_blocks=False)
    inc.fit(blocks, y_dask, classes=[0, 1])
    sequential = LSTMClassifier(6, random_state=0)
    for start in range(0, 200, 50):
        sequential.partial_fit(X[start : start + 50], y[start : start + 50], classes=[0, 1])
    assert inc.estimator_.t_ == 200
    np.testing.assert_array_equal(inc.estimator_.network_.params, sequential.network_.params)


def test_hyperband_search_over_sklstm(client):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8)).astype(np.float32)  # univariate sequences of 8 steps
    y = (X.sum(axis=1) > 0).astype(int)
    X_dask, y_dask = da.from_array(X, chunks=(100, 8)), da.from_array(y, chunks=100)
    search = HyperbandSearchCV(
        LSTMClassifier(8, random_state=0),
        {"learning_rate_init": loguniform(1e-3, 3e-2), "hidden_layer_sizes": [4, 8]},
        max_iter=9,
        random_state=0,
    ).fit(X_dask, y_dask, classes=[0, 1])
    assert 0.5 < search.best_score_ <= 1
    assert search.best_estimator_.predict(X).shape == (400,)
