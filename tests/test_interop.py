"""Weight exchange with PyTorch: one module for every cell, stack and readout."""

import io
import sys

import numpy as np
import pytest

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.interop import load_torch, to_torch

torch = pytest.importorskip("torch")

CELLS = ["lstm", "gru"]
READOUTS = ["last", "mean", "max", "attention"]


def ragged(rng, n, D, dtype):
    return [rng.normal(size=(T, D)).astype(dtype) for T in rng.integers(1, 20, size=n)]


def padded(X):
    """X as a zero-padded tensor (N, T, D) and the lengths tensor."""
    lengths = [len(x) for x in X]
    out = np.zeros((len(X), max(lengths), X[0].shape[1]), dtype=X[0].dtype)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return torch.from_numpy(out), torch.tensor(lengths)


def module_outputs(module, X):
    with torch.no_grad():
        return module(*padded(X)).numpy()


def trained_readout(est):
    """Attention weights away from zero, so that the export is tested on a real weighting."""
    if est.network_.readout == "attention":
        (w,) = est.network_.views.readout
        w[:] = np.random.RandomState(1).normal(size=w.shape)
    return est


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("sizes", [(5,), (6, 3)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_to_torch_computes_the_fitted_model(rng, cell, readout, sizes, bidirectional):
    X = ragged(rng, 30, 3, np.float64)
    y = rng.integers(3, size=30)
    clf = LSTMClassifier(
        sizes,
        cell=cell,
        readout=readout,
        max_iter=2,
        dtype="float64",
        random_state=0,
        bidirectional=bidirectional,
    ).fit(X, y)
    trained_readout(clf)
    module = to_torch(clf)
    assert module.training and isinstance(module.head, torch.nn.Linear)
    rnn_type = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    if len(set(sizes)) == 1:
        assert type(module.rnn) is rnn_type and module.rnn.num_layers == len(sizes)
        assert module.rnn.batch_first and module.rnn.bidirectional == bidirectional
    else:
        assert all(type(layer) is rnn_type for layer in module.rnn)
    proba = torch.softmax(torch.from_numpy(module_outputs(module, X)), dim=1).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("readout", READOUTS)
def test_to_torch_in_float32_without_lengths(rng, cell, readout):
    X = rng.normal(size=(20, 7, 2)).astype(np.float32)
    reg = LSTMRegressor(4, cell=cell, readout=readout, max_iter=2, random_state=0)
    reg = trained_readout(reg.fit(X, X[:, -1, 0]))
    with torch.no_grad():
        out = to_torch(reg)(torch.from_numpy(X)).numpy().ravel()
    np.testing.assert_allclose(out, reg.predict(X), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("sizes", [(4,), (5, 2)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_load_torch_puts_torch_weights_in(rng, cell, readout, sizes, bidirectional):
    X = ragged(rng, 20, 2, np.float64)
    reg = LSTMRegressor(
        sizes,
        cell=cell,
        readout=readout,
        max_iter=1,
        dtype="float64",
        random_state=0,
        bidirectional=bidirectional,
    ).fit(X, rng.normal(loc=50, scale=10, size=20))  # standardised inputs and targets
    module = to_torch(reg)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    load_torch(reg, module)
    # Folding the standardisations in and out rounds: outputs of ~50 agree to ~1e-12.
    np.testing.assert_allclose(reg.predict(X), module_outputs(module, X).ravel(), rtol=1e-11)
    # Exported again: the same function (the GRU's b_hr, b_hz and the LSTM's b_hh were
    # folded into b_ih).
    again = to_torch(reg)
    np.testing.assert_allclose(
        module_outputs(again, X), module_outputs(module, X), rtol=1e-11, atol=1e-11
    )


def test_to_torch_reads_raw_inputs_and_answers_in_the_targets_units(rng):
    X = [x * [100.0, 0.01, 1.0] + [50.0, -3.0, 0.0] for x in ragged(rng, 30, 3, np.float64)]
    y = rng.normal(size=30) * 1000.0 + 500.0
    reg = LSTMRegressor((5, 3), max_iter=2, dtype="float64", random_state=0).fit(X, y)
    np.testing.assert_allclose(module_outputs(to_torch(reg), X).ravel(), reg.predict(X), rtol=1e-10)


def test_the_module_saves_and_loads_with_torch(rng):
    X = rng.normal(size=(10, 4, 2))
    reg = LSTMRegressor(3, cell="gru", readout="attention", max_iter=1, random_state=0)
    module = to_torch(trained_readout(reg.fit(X, X[:, -1, 0])))
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = torch.from_numpy(X.astype(np.float32))
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), module(x).numpy())


def test_load_torch_rejects_other_architectures_without_changing_the_model(rng):
    X = ragged(rng, 10, 2, np.float32)
    reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, np.ones(10))
    before = reg.network_.params.copy()

    def other(n_outputs=1, **params):
        est = LSTMRegressor(max_iter=1, random_state=0, **params)
        return to_torch(est.fit(X, np.ones((10, n_outputs))))

    with pytest.raises(TypeError, match="takes the module that to_torch returns, not LSTM"):
        load_torch(reg, torch.nn.LSTM(2, 4))
    with pytest.raises(
        ValueError, match=r"weight_ih_l0 has shape \(20, 2\); the estimator needs \(16, 2\)"
    ):
        load_torch(reg, other(hidden_layer_sizes=5))
    with pytest.raises(ValueError, match="head.weight has shape"):
        load_torch(reg, other(n_outputs=2, hidden_layer_sizes=4))
    with pytest.raises(ValueError, match="1 recurrent layers, the module 2"):
        load_torch(reg, other(hidden_layer_sizes=(4, 4)))
    with pytest.raises(ValueError, match="The module is bidirectional"):
        load_torch(reg, other(hidden_layer_sizes=4, bidirectional=True))
    with pytest.raises(ValueError, match="layers are GRU, the estimator's cell is 'lstm'"):
        load_torch(reg, other(hidden_layer_sizes=4, cell="gru"))
    with pytest.raises(ValueError, match="readout is 'mean', the estimator's 'last'"):
        load_torch(reg, other(hidden_layer_sizes=4, readout="mean"))
    module = to_torch(reg)
    with torch.no_grad():
        module.rnn.weight_hh_l0[0, 0] = float("nan")
    with pytest.raises(ValueError, match="weight_hh_l0 holds values that are not finite"):
        load_torch(reg, module)
    np.testing.assert_array_equal(reg.network_.params, before)


def test_clear_error_without_torch(rng, monkeypatch):
    reg = LSTMRegressor(4, max_iter=1).fit(rng.normal(size=(5, 3, 1)), np.ones(5))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="sklstm.interop needs PyTorch"):
        to_torch(reg)
