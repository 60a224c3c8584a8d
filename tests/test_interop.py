"""Weight exchange with PyTorch."""

import sys

import numpy as np
import pytest

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.interop import load_torch, to_torch

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_sequence  # noqa: E402


def torch_logits(lstm, head, X):
    """The head on the last layer's final states (both directions: h_n[-2], h_n[-1])."""
    x = pack_sequence([torch.from_numpy(x) for x in X], enforce_sorted=False)
    for module in lstm if isinstance(lstm, torch.nn.ModuleList) else [lstm]:
        x, (h_n, _) = module(x)
    directions = 2 if module.bidirectional else 1
    with torch.no_grad():
        return head(torch.cat(list(h_n[-directions:]), dim=1)).numpy()


def ragged(rng, n, D, dtype):
    return [rng.normal(size=(T, D)).astype(dtype) for T in rng.integers(1, 20, size=n)]


@pytest.mark.parametrize(
    "sizes, module_type",
    [((5,), torch.nn.LSTM), ((6, 6), torch.nn.LSTM), ((6, 3), torch.nn.ModuleList)],
)
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_to_torch_computes_the_fitted_model(rng, sizes, module_type, dtype, tol, bidirectional):
    X = ragged(rng, 30, 3, dtype)
    y = rng.integers(3, size=30)
    clf = LSTMClassifier(
        sizes, max_iter=3, dtype=dtype, random_state=0, bidirectional=bidirectional
    ).fit(X, y)
    lstm, head = to_torch(clf)
    assert isinstance(lstm, module_type) and lstm.training
    logits = torch_logits(lstm, head, X)
    proba = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=tol, atol=tol)
    if module_type is torch.nn.LSTM:
        assert lstm.num_layers == len(sizes) and lstm.batch_first
        assert lstm.bidirectional == bidirectional


@pytest.mark.parametrize("sizes", [(4,), (5, 5), (5, 2)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_load_torch_puts_torch_weights_in(rng, sizes, bidirectional):
    X = ragged(rng, 20, 2, np.float64)
    reg = LSTMRegressor(
        sizes, max_iter=1, dtype="float64", random_state=0, bidirectional=bidirectional
    ).fit(X, rng.normal(loc=50, scale=10, size=20))  # standardised inputs and targets
    lstm, head = to_torch(reg)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in [*lstm.parameters(), *head.parameters()]:
            p.copy_(torch.randn_like(p))
    load_torch(reg, lstm, head)
    # Folding the standardisations in and out rounds: outputs of ~50 agree to ~1e-13.
    expected = torch_logits(lstm, head, X).ravel()
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-12, atol=1e-10)
    # Exported again, the same weights, b_ih and b_hh folded into one bias.
    loaded = lstm[0] if isinstance(lstm, torch.nn.ModuleList) else lstm
    again = to_torch(reg)[0]
    again = again[0] if isinstance(again, torch.nn.ModuleList) else again
    for name in ["l0", *(["l0_reverse"] if bidirectional else [])]:
        np.testing.assert_allclose(
            getattr(again, f"bias_ih_{name}").detach().numpy(),
            (getattr(loaded, f"bias_ih_{name}") + getattr(loaded, f"bias_hh_{name}")).detach(),
            rtol=1e-12,
            atol=1e-12,
        )
        for weight in ("weight_ih", "weight_hh"):
            np.testing.assert_allclose(
                getattr(again, f"{weight}_{name}").detach().numpy(),
                getattr(loaded, f"{weight}_{name}").detach().numpy(),
                rtol=1e-12,
            )


def test_to_torch_reads_raw_inputs_and_answers_in_the_targets_units(rng):
    X = [x * [100.0, 0.01, 1.0] + [50.0, -3.0, 0.0] for x in ragged(rng, 30, 3, np.float64)]
    y = rng.normal(size=30) * 1000.0 + 500.0
    reg = LSTMRegressor((5, 3), max_iter=2, dtype="float64", random_state=0).fit(X, y)
    lstm, head = to_torch(reg)
    np.testing.assert_allclose(torch_logits(lstm, head, X).ravel(), reg.predict(X), rtol=1e-10)


def test_load_torch_rejects_other_architectures_without_changing_the_model(rng):
    X = ragged(rng, 10, 2, np.float32)
    reg = LSTMRegressor(4, max_iter=1, random_state=0).fit(X, np.ones(10))
    before = reg.network_.params.copy()
    with pytest.raises(
        ValueError, match=r"weight_ih_l0 has shape \(20, 2\); the estimator needs \(16, 2\)"
    ):
        load_torch(reg, torch.nn.LSTM(2, 5, batch_first=True), torch.nn.Linear(5, 1))
    with pytest.raises(ValueError, match="head.weight has shape"):
        load_torch(reg, torch.nn.LSTM(2, 4), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="1 LSTM layers, the modules 2"):
        load_torch(reg, torch.nn.LSTM(2, 4, num_layers=2), torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="unidirectional"):
        load_torch(reg, torch.nn.LSTM(2, 4, bidirectional=True), torch.nn.Linear(4, 1))
    lstm, head = to_torch(reg)
    with torch.no_grad():
        lstm.weight_hh_l0[0, 0] = float("nan")
    with pytest.raises(ValueError, match="weight_hh_l0 holds values that are not finite"):
        load_torch(reg, lstm, head)
    np.testing.assert_array_equal(reg.network_.params, before)


def test_clear_error_without_torch(rng, monkeypatch):
    reg = LSTMRegressor(4, max_iter=1).fit(rng.normal(size=(5, 3, 1)), np.ones(5))
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="sklstm.interop needs PyTorch"):
        to_torch(reg)
