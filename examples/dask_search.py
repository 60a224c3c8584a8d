"""Run a grid search on a Dask cluster: here two local worker processes.

To use a real cluster, replace the LocalCluster by the scheduler's address:
    client = Client("tcp://scheduler-host:8786")
and make sure sklstm is installed on the workers. Everything else stays the same.

Run: python examples/dask_search.py   (needs: pip install "sklstm[distributed]")
"""

from distributed import Client, LocalCluster
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier
from sklstm.datasets import load_japanese_vowels
from sklstm.preprocessing import SequenceScaler

if __name__ == "__main__":  # worker processes re-import this file
    X_train, y_train = load_japanese_vowels(subset="train", return_X_y=True)
    X_test, y_test = load_japanese_vowels(subset="test", return_X_y=True)
    model = make_pipeline(SequenceScaler(), LSTMClassifier(random_state=0))
    grid = {
        "lstmclassifier__hidden_layer_sizes": [(32,), (64,)],
        "lstmclassifier__learning_rate_init": [1e-3, 3e-3],
    }

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster: {client}")
        with parallel_backend("dask"):  # joblib sends scikit-learn's jobs to the workers
            search = GridSearchCV(model, grid, cv=3).fit(X_train, y_train)
    print(f"best: {search.best_params_}, cross-validated accuracy {search.best_score_:.3f}")
    print(f"test accuracy: {search.score(X_test, y_test):.3f}")
