"""sklstm inside the tools its users already have; each test is skipped when its tool is
not installed (CI installs them: the ``integrations`` extra)."""

import warnings

import numpy as np
import pytest

from sklstm import SKOPS_TRUSTED_TYPES, LSTMClassifier


def test_mlflow_sklearn_flavour_in_its_default_skops_format(rng, tmp_path):
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    X = rng.normal(size=(20, 5, 2)).astype(np.float32)
    clf = LSTMClassifier(3, max_iter=1, random_state=0).fit(X, np.arange(20) % 2)
    path = tmp_path / "model"
    with warnings.catch_warnings():  # MLflow's own, about type hints and requirements
        warnings.simplefilter("ignore")
        mlflow_sklearn.save_model(clf, path, skops_trusted_types=list(SKOPS_TRUSTED_TYPES))
    assert (path / "model.skops").exists()  # skops, MLflow's default, not pickle
    np.testing.assert_array_equal(mlflow_sklearn.load_model(str(path)).predict(X), clf.predict(X))
