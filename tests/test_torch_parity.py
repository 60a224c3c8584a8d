"""Parity with torch.nn.LSTM and torch.nn.GRU from the same weights, in float64: outputs,
loss, gradients."""

import json
from pathlib import Path

import numpy as np
import pytest

from sklstm._losses import SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError
from sklstm._network import LSTMNetwork
from sklstm._sequences import check_sequences
from sklstm._threading import single_threaded_blas

from conftest import loss_and_grad, make_network, random_sequences
from make_torch_fixtures import targets

FIXTURE = Path(__file__).parent / "fixtures" / "torch_parity.npz"
RTOL = 1e-9  # float64 against float64: far below the ~1e-6 asked of parity


def make_loss(name):
    if name in ("binary", "multilabel"):
        return SigmoidCrossEntropy()
    if name == "multiclass":
        return SoftmaxCrossEntropy()
    return SquaredError(name[4:])


def check_against(net, X, Y, loss_name, out, loss, grad):
    with single_threaded_blas():
        predicted = net.predict(check_sequences(X, dtype=np.float64), n_threads=2)
    value, our_grad = loss_and_grad(net, X, Y, make_loss(loss_name), n_threads=2)
    np.testing.assert_allclose(predicted, out, rtol=RTOL, atol=1e-12)
    assert value == pytest.approx(loss, rel=RTOL)
    np.testing.assert_allclose(our_grad, grad, rtol=RTOL, atol=1e-12)


def load_cases():
    data = np.load(FIXTURE)
    return [
        (case, {k.split("/")[1]: data[k] for k in data.files if k.startswith(case["name"] + "/")})
        for case in json.loads(str(data["cases"]))
    ]


@pytest.mark.parametrize("case, arrays", load_cases(), ids=lambda c: c.get("name", ""))
def test_matches_torch_fixture(scheme, case, arrays):
    net = LSTMNetwork(
        case["n_features"],
        case["hidden"],
        case["n_outputs"],
        np.float64,
        case["bidirectional"],
        case["cell"],
        case.get("readout", "last"),
    )
    net.params[:] = arrays["params"]
    X = np.split(arrays["X"], np.cumsum(arrays["lengths"])[:-1])
    check_against(
        net, X, arrays["Y"], case["loss"], arrays["out"], float(arrays["loss"]), arrays["grad"]
    )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("loss_name", ["binary", "multiclass", "mse-identity", "mse-sigmoid"])
def test_matches_torch_live(scheme, seed, loss_name, bidirectional, cell):
    pytest.importorskip("torch")
    from torch_reference import torch_forward_backward

    rng = np.random.default_rng(seed)
    hidden = tuple(int(h) for h in rng.integers(2, 9, size=rng.integers(1, 4)))
    n_features, n_outputs = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    if loss_name == "binary":
        n_outputs = 1
    elif loss_name == "multiclass":
        n_outputs += 1
    lengths = rng.integers(1, 15, size=rng.integers(1, 40))
    net = make_network(rng, n_features, hidden, n_outputs, bidirectional=bidirectional, cell=cell)
    X = random_sequences(rng, lengths, n_features)
    Y = targets(rng, loss_name, len(lengths), n_outputs)
    check_against(net, X, Y, loss_name, *torch_forward_backward(net, X, Y, loss_name))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("loss_name", ["multilabel", "multiclass", "mse-sigmoid"])
def test_per_step_matches_torch_live(seed, loss_name, bidirectional, cell):
    """The per-step readout: the head on every step of nn.LSTM's / nn.GRU's output."""
    pytest.importorskip("torch")
    from torch_reference import torch_forward_backward

    rng = np.random.default_rng(100 + seed)
    hidden = tuple(int(h) for h in rng.integers(2, 7, size=rng.integers(1, 3)))
    n_features, n_outputs = int(rng.integers(1, 5)), int(rng.integers(2, 4))
    lengths = rng.integers(1, 12, size=rng.integers(1, 20))
    net = make_network(
        rng, n_features, hidden, n_outputs, bidirectional=bidirectional, cell=cell, readout="steps"
    )
    X = random_sequences(rng, lengths, n_features)
    Y = targets(rng, loss_name, int(lengths.sum()), n_outputs)
    check_against(net, X, Y, loss_name, *torch_forward_backward(net, X, Y, loss_name))
