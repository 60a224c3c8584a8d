"""float64 finite-difference checks of the gradient of every parameter."""

import numpy as np
import pytest

from sklstm._losses import SigmoidCrossEntropy, SoftmaxCrossEntropy, SquaredError
from sklstm._sequences import check_sequences, pack_batch

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


@pytest.mark.parametrize("lengths, n_features, hidden", SHAPES)
def test_gru_gradient_matches_finite_differences(rng, scheme, lengths, n_features, hidden):
    # Every loss is checked on LSTMs above: it enters the same way whatever the cell.
    loss, kind, n_outputs = LOSSES["multiclass"]
    net = make_network(rng, n_features, hidden, n_outputs, cell="gru")
    X = random_sequences(rng, lengths, n_features)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss)


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


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("loss_name", ["multiclass", "mse-tanh"])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_bidirectional_gradient(rng, scheme, loss_name, lengths, n_features, hidden, cell):
    loss, kind, n_outputs = LOSSES[loss_name]
    net = make_network(rng, n_features, hidden, n_outputs, bidirectional=True, cell=cell)
    X = random_sequences(rng, lengths, n_features)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_gradient_with_fixed_dropout_masks(
    rng, scheme, bidirectional, lengths, n_features, hidden, cell
):
    loss, kind, n_outputs = LOSSES["mse-identity"]
    net = make_network(rng, n_features, hidden, n_outputs, bidirectional=bidirectional, cell=cell)
    X = random_sequences(rng, lengths, n_features)
    masks = net.draw_masks(rng, len(lengths), dropout=0.3, recurrent_dropout=0.4)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss, masks)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_readout_gradient(rng, readout, bidirectional, lengths, n_features, hidden, cell):
    # Every parameter, the readout's (attention's w) included, through the stack below it.
    loss, kind, n_outputs = LOSSES["multiclass"]
    net = make_network(
        rng,
        n_features,
        hidden,
        n_outputs,
        bidirectional=bidirectional,
        cell=cell,
        readout=readout,
    )
    X = random_sequences(rng, lengths, n_features)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["mean", "attention"])
def test_readout_gradient_with_fixed_dropout_masks(rng, cell, readout):
    loss, kind, n_outputs = LOSSES["mse-identity"]
    net = make_network(rng, 2, (3, 4), n_outputs, bidirectional=True, cell=cell, readout=readout)
    lengths = [6, 3, 6, 2, 4]
    X = random_sequences(rng, lengths, 2)
    masks = net.draw_masks(rng, len(lengths), dropout=0.3, recurrent_dropout=0.4)
    check_gradient(net, X, targets(rng, kind, len(lengths), n_outputs), loss, masks)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("loss_name", ["binary", "multiclass", "mse-identity"])
@pytest.mark.parametrize("lengths, n_features, hidden", MORE_SHAPES)
def test_per_step_gradient(
    rng, scheme, loss_name, bidirectional, lengths, n_features, hidden, cell
):
    # The per-step readout: a loss over every step's outputs (the step estimators').
    loss, kind, n_outputs = LOSSES[loss_name]
    net = make_network(
        rng, n_features, hidden, n_outputs, bidirectional=bidirectional, cell=cell, readout="steps"
    )
    X = random_sequences(rng, lengths, n_features)
    check_gradient(net, X, targets(rng, kind, sum(lengths), n_outputs), loss)


def test_per_step_gradient_with_fixed_dropout_masks(rng):
    loss, kind, n_outputs = LOSSES["mse-identity"]
    net = make_network(rng, 2, (3, 4), n_outputs, bidirectional=True, readout="steps")
    lengths = [6, 3, 6, 2, 4]
    X = random_sequences(rng, lengths, 2)
    masks = net.draw_masks(rng, len(lengths), dropout=0.3, recurrent_dropout=0.4)
    check_gradient(net, X, targets(rng, kind, sum(lengths), n_outputs), loss, masks)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_l2_penalty_gradient(rng, cell):
    net = make_network(rng, 2, (3, 2), 1, bidirectional=True, cell=cell, readout="attention")
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


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_input_gradient_of_a_layer_matches_finite_differences(rng, scheme, cell, masked):
    # dL/dX of a layer's backward (the network checks it through the layers above the
    # first; here the first's too), for L = sum(V * Hs), V fixed: dL/dh = V.
    net = make_network(rng, 3, (4,), 1, cell=cell)
    params = net.views.layers[0][0]
    seqs = check_sequences(random_sequences(rng, [5, 2, 4, 1], 3), dtype=np.float64)
    batch = pack_batch(seqs, np.arange(seqs.n_samples))
    N, B = batch.offsets[-1], len(batch.order)
    layer = net.spec.kernel(3, 4, np.float64, N, B, recurrent_dropout=masked)
    mask = net.draw_masks(rng, B, 0, 0.5).recurrent[0][0] if masked else None
    V = rng.normal(size=(N, 4))

    def loss(X):
        layer.forward_train(X, batch.offsets, params, mask, 1)
        return float(np.sum(V * layer.Hs[:N]))

    X = batch.X.copy()
    loss(X)
    layer.dHs[:N] = V
    dX = np.empty_like(X)
    grads = net.unpack(np.zeros_like(net.params)).layers[0][0]
    layer.backward(X, batch.offsets, params, grads, dX, mask, 1)
    expected = np.empty_like(X)
    for index in np.ndindex(X.shape):
        saved = X[index]
        X[index] = saved + 1e-6
        up = loss(X)
        X[index] = saved - 1e-6
        expected[index] = (up - loss(X)) / 2e-6
        X[index] = saved
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(dX, expected, rtol=1e-6, atol=1e-9)
