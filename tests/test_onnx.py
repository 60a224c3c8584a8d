"""ONNX export: onnxruntime computes what predict and predict_proba do."""

import sys

import numpy as np
import pytest

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.onnx import to_onnx

ort = pytest.importorskip("onnxruntime")


def run(model, **inputs):
    return ort.InferenceSession(model.SerializeToString()).run(None, inputs)


def labels(rng, kind, n):
    if kind == "binary":
        return rng.integers(2, size=n)
    if kind == "strings":
        return np.array(["low", "mid", "high"])[rng.integers(3, size=n)]
    return rng.integers(2, size=(n, 3))  # multilabel


@pytest.mark.parametrize("kind", ["binary", "strings", "multilabel"])
@pytest.mark.parametrize("hidden, bidirectional", [((6,), False), ((5, 4), False), ((4, 4), True)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_classifier(rng, kind, hidden, bidirectional, dtype):
    X = rng.normal(size=(40, 7, 3)).astype(np.float32)
    clf = LSTMClassifier(
        hidden, bidirectional=bidirectional, dtype=dtype, max_iter=3, random_state=0
    ).fit(X, labels(rng, kind, 40))
    label, proba = run(to_onnx(clf), X=X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("activation, n_outputs", [("identity", 1), ("tanh", 2), ("sigmoid", 1)])
@pytest.mark.parametrize("hidden, bidirectional", [((6,), False), ((5, 4), True)])
def test_regressor(rng, activation, n_outputs, hidden, bidirectional):
    X = rng.normal(size=(40, 7, 2)).astype(np.float32)
    y = rng.uniform(0.1, 0.9, size=(40, n_outputs)).squeeze()
    reg = LSTMRegressor(
        hidden,
        bidirectional=bidirectional,
        output_activation=activation,
        max_iter=3,
        random_state=0,
    ).fit(X, y)
    (values,) = run(to_onnx(reg), X=X)
    assert values.shape == (40, n_outputs)
    np.testing.assert_allclose(values.squeeze(), reg.predict(X), atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_standardisations_are_in_the_graph(rng, bidirectional):
    # Inputs and targets far from standard: the graph reads raw inputs and answers in y's
    # units, the standardisations folded into the first layer and the head.
    X = (rng.normal(size=(40, 7, 2)) * [100.0, 0.01] + [50.0, -3.0]).astype(np.float32)
    y = rng.normal(size=(40, 2)) * [1000.0, 0.1] + [500.0, 7.0]
    reg = LSTMRegressor((5, 4), bidirectional=bidirectional, max_iter=3, random_state=0)
    (values,) = run(to_onnx(reg.fit(X, y)), X=X)
    np.testing.assert_allclose(values, reg.predict(X), rtol=1e-5, atol=1e-3 * np.abs(y).max())
    assert np.abs(reg.predict(X)[:, 0]).mean() > 100  # in y's units, not standardised


@pytest.mark.parametrize("bidirectional", [False, True])
def test_variable_lengths(rng, bidirectional):
    X = [rng.normal(size=(T, 2)).astype(np.float32) for T in rng.integers(1, 12, size=30)]
    clf = LSTMClassifier((5, 4), bidirectional=bidirectional, max_iter=2, random_state=0).fit(
        X, rng.integers(3, size=30)
    )
    padded = np.zeros((30, 11, 2), dtype=np.float32)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    lengths = np.array([len(x) for x in X], dtype=np.int64)
    _, proba = run(to_onnx(clf, variable_lengths=True), X=padded, lengths=lengths)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("hidden, bidirectional", [((5,), False), ((5, 4), True)])
@pytest.mark.parametrize("variable_lengths", [False, True])
def test_every_cell_and_readout(rng, cell, readout, hidden, bidirectional, variable_lengths):
    lengths = rng.integers(1, 12, size=30) if variable_lengths else np.full(30, 11)
    X = [rng.normal(size=(T, 2)).astype(np.float32) for T in lengths]
    clf = LSTMClassifier(
        hidden,
        cell=cell,
        readout=readout,
        bidirectional=bidirectional,
        max_iter=2,
        random_state=0,
    ).fit(X, rng.integers(3, size=30))
    if readout == "attention":  # a real weighting of the steps, not the initial uniform one
        (w,) = clf.network_.views.readout
        w[:] = rng.normal(size=w.shape)
    padded = np.zeros((30, 11, 2), dtype=np.float32)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    inputs = {"X": padded}
    if variable_lengths:
        inputs["lengths"] = lengths.astype(np.int64)
    _, proba = run(to_onnx(clf, variable_lengths=variable_lengths), **inputs)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("bad", [0, 12, -1])
def test_lengths_out_of_range_are_refused(rng, bad):
    X = rng.normal(size=(4, 11, 2)).astype(np.float32)
    clf = LSTMClassifier(3, max_iter=1, random_state=0).fit(X, [0, 1, 0, 1])
    lengths = np.array([11, bad, 3, 1], dtype=np.int64)
    with pytest.raises(Exception, match="every entry of lengths must be from 1 to T"):
        run(to_onnx(clf, variable_lengths=True), X=X, lengths=lengths)


def test_clear_error_without_onnx(rng, monkeypatch):
    reg = LSTMRegressor(3, max_iter=1).fit(rng.normal(size=(5, 3, 1)), np.ones(5))
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="sklstm.onnx needs onnx"):
        to_onnx(reg)
