"""float64 finite-difference checks of the gradient of every parameter."""

import numpy as np
import pytest

from sklstm._losses import SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError

from conftest import loss_and_grad, make_network, random_sequences


def targets(rng, kind, n, n_outputs):
    if kind == "softmax":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n)]
    if kind == "sigmoid":
        return rng.integers(2, size=(n, n_outputs)).astype(float)
    return rng.normal(size=(n, n_outputs))


LOSSES = {
    "binary": (SigmoidCrossEntropy(), "sigmoid", 1),
    "multilabel": (SigmoidCrossEntropy(), "sigmoid", 3),
    "multiclass": (SoftmaxCrossEntropy(), "softmax", 4),
    "mse-identity": (SquaredError("identity"), "regression", 2),
    "mse-tanh": (SquaredError("tanh"), "regression", 1),
    "mse-sigmoid": (SquaredError("sigmoid"), "regression", 2),
}

# (lengths, n_features, hidden sizes): equal and variable lengths, 1 and 2 layers, a batch
# wider than one row block (16 rows) and a single step.
SHAPES = [
    ([5, 5, 5], 3, (4,)),
    ([1, 1], 2, (3,)),
    ([7, 3, 5, 1, 6], 2, (5,)),
    ([4] * 20 + [9, 2, 6], 3, (3,)),
    ([6, 6, 6, 6], 3, (4, 5)),
    ([8, 2, 5, 5, 3, 1], 2, (3, 4)),
]


def numerical_gradient(net, X, Y, loss, masks=None, eps=1e-6):
    grad = np.empty_like(net.params)
    for i in range(net.params.size):
        saved = net.params[i]
        net.params[i] = saved + eps
        up, _ = loss_and_grad(net, X, Y, loss, masks=masks)
        net.params[i] = saved - eps
        down, _ = loss_and_grad(net, X, Y, loss, masks=masks)
        net.params[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("lengths, n_features, hidden", SHAPES)
def test_gradient_matches_finite_differences(rng, scheme, loss_name, lengths, n_features, hidden):
    loss, kind, n_outputs = LOSSES[loss_name]
    net = make_network(rng, n_features, hidden, n_outputs)
    X = random_sequences(rng, lengths, n_features)
    Y = targets(rng, kind, len(lengths), n_outputs)

    _, grad = loss_and_grad(net, X, Y, loss)
    expected = numerical_gradient(net, X, Y, loss)

    assert np.abs(expected).max() > 1e-3  # the check has something to check
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-9)


def check_gradient(net, X, Y, loss, masks=None):
    _, grad = loss_and_grad(net, X, Y, loss, masks=masks)
    expected = numerical_gradient(net, X, Y, loss, masks)
    assert np.abs(expected).max() > 1e-3  # the check has something to check
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-9)


# Variable lengths, 1 and 2 layers, and a batch of more than one row block.
MORE_SHAPES = [
    ([5, 2, 7, 1], 3, (4,)),
    ([6, 3, 6, 2, 4], 2, (3, 4)),
    ([4] * 20 + [9, 1], 2, (3,)),
]


@pytest.mark.parametrize("loss_name", ["multiclass", "mse-tanh"])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_bidirectional_gradient(rng, scheme, loss_name, lengths, n_features, hidden):
    loss, kind, n_outputs = LOSSES[loss_name]
    net = make_network(rng, n_features, hidden, n_outputs, bidirectional=True)
    X = random_sequences(rng, lengths, n_features)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_gradient_with_fixed_dropout_masks(rng, scheme, bidirectional, lengths, n_features, hidden):
    loss, kind, n_outputs = LOSSES["mse-identity"]
    net = make_network(rng, n_features, hidden, n_outputs, bidirectional=bidirectional)
    X = random_sequences(rng, lengths, n_features)
    masks = net.draw_masks(rng, len(lengths), dropout=0.3, recurrent_dropout=0.4)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss, masks)


def test_l2_penalty_gradient(rng):
    net = make_network(rng, 2, (3,), 1)
    g = np.zeros_like(net.params)
    scale = 0.3
    penalty = net.add_l2(net.unpack(g), scale)
    weights = np.concatenate([w.ravel() for w in net.views.weights])
    assert penalty == pytest.approx(0.5 * scale * weights @ weights)
    # Only weights are penalised: bias entries of the gradient stay zero.
    assert np.count_nonzero(g) == weights.size
    np.testing.assert_allclose(
        np.concatenate([w.ravel() for w in net.unpack(g).weights]), scale * weights
    )
