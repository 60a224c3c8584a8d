"""The network over the layer kernels: cells, saved states, training through it."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from sklstm import _network
from sklstm._losses import SoftmaxCrossEntropy, SquaredError
from sklstm._network import LSTMNetwork, Workspace
from sklstm._optimizers import Adam
from sklstm._readouts import READOUTS
from sklstm._sequences import check_sequences, pack_batch
from sklstm._threading import single_threaded_blas

from conftest import chunked_predictions, loss_and_grad, make_network, random_sequences

# Models fitted and pickled by sklstm at commit 8c055cc, before the GRU: an LSTMClassifier
# (two layers, bidirectional, float32) and an LSTMRegressor (float64), with the inputs X
# and their outputs then (predict_proba and predict).
LEGACY = Path(__file__).parent / "fixtures" / "lstm_models_8c055cc.pkl"


def test_models_pickled_before_the_gru_load_and_predict_the_same():
    saved = pickle.loads(LEGACY.read_bytes())
    X, models, outputs = saved["X"], saved["models"], saved["outputs"]
    clf, reg = models["classifier"], models["regressor"]
    assert clf.network_.cell == reg.network_.cell == "lstm"
    np.testing.assert_array_equal(clf.predict_proba(X), outputs["classifier"])
    np.testing.assert_array_equal(reg.predict(X), outputs["regressor"])
    # Saved again, they keep their cell; and they train on.
    again = pickle.loads(pickle.dumps(clf))
    assert again.network_.__getstate__()["cell"] == "lstm"
    np.testing.assert_array_equal(again.predict_proba(X), outputs["classifier"])
    labels = np.arange(len(X)) % 3
    assert np.isfinite(again.partial_fit(X, labels).network_.params).all()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_saved_state_keeps_the_cell(rng, cell):
    net = make_network(rng, 3, (4, 2), 2, np.float32, bidirectional=True, cell=cell)
    state = net.__getstate__()
    assert state["cell"] == cell and isinstance(state["cell"], str)
    restored = pickle.loads(pickle.dumps(net))
    assert restored.cell == cell and restored.spec.kernel is net.spec.kernel
    np.testing.assert_array_equal(restored.params, net.params)
    X = check_sequences(random_sequences(rng, [5, 3], 3, np.float32), dtype=np.float32)
    np.testing.assert_array_equal(restored.predict(X, 1), net.predict(X, 1))


def test_saved_states_refuse_an_unknown_cell(rng):
    state = make_network(rng, 3, (4,), 1).__getstate__()
    for cell in ("rnn", None, 1):
        with pytest.raises(ValueError, match="Not the saved state of an LSTMNetwork"):
            LSTMNetwork.__new__(LSTMNetwork).__setstate__({**state, "cell": cell})
    # A GRU's state has other shapes: the parameters of an LSTM do not fit it.
    with pytest.raises(ValueError, match="do not fit the saved network shape"):
        LSTMNetwork.__new__(LSTMNetwork).__setstate__({**state, "cell": "gru"})
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm'\], got 'rnn'"):
        LSTMNetwork(3, (4,), 1, np.float64, cell="rnn")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["last", "attention"])
def test_layout_derives_from_the_cell_and_the_readout(cell, readout):
    net = LSTMNetwork(3, (5, 4), 2, np.float64, bidirectional=True, cell=cell, readout=readout)
    gates, extra = (4, 0) if cell == "lstm" else (3, 1)
    per_layer = [gates * 5 * (3 + 5 + 1) + extra * 5, gates * 4 * (10 + 4 + 1) + extra * 4]
    readout_size = 8 if readout == "attention" else 0
    assert net.params.size == 2 * sum(per_layer) + readout_size + 2 * 8 + 2
    # The views cover the vector once, in order, sharing its memory.
    views = [a for layer in net.views.layers for p in layer for a in p]
    views += [*net.views.readout, net.views.head_W, net.views.head_b]
    assert sum(v.size for v in views) == net.params.size
    net.params[:] = np.arange(net.params.size)
    flat = np.concatenate([v.ravel(order="K") for v in views])
    np.testing.assert_array_equal(flat, np.arange(net.params.size))


def batch_of(net, X):
    seqs = check_sequences(X, dtype=net.dtype)
    return seqs, np.arange(seqs.n_samples)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_trains_through_the_network(rng, bidirectional):
    # The estimators get cell= from the coordinator; here training's loop by hand: a GRU
    # learns the sign of a sequence's mean.
    net = LSTMNetwork(2, (8, 6), 2, np.float64, bidirectional, cell="gru")
    net.initialize(rng)
    X = random_sequences(rng, rng.integers(3, 12, size=64), 2)
    Y = np.eye(2)[[int(x[:, 0].mean() > 0) for x in X]]
    seqs, idx = batch_of(net, X)
    ws = Workspace(net, int(seqs.lengths.sum()), seqs.n_samples, 0.1, 0.1)
    grad = np.zeros_like(net.params)
    adam, loss = Adam(net.params.size, net.dtype, 0.01, 0.9, 0.999, 1e-8), SoftmaxCrossEntropy()
    losses = []
    with single_threaded_blas():
        for _ in range(60):
            batch = pack_batch(seqs, idx, ws.X)
            masks = net.draw_masks(rng, len(idx), 0.1, 0.1)
            value, d_out = loss.loss_gradient(Y[batch.order], net.forward(batch, ws, 2, masks))
            net.backward(batch, ws, d_out, net.unpack(grad), 2)
            net.add_l2(net.unpack(grad), 1e-4)
            adam.step(net.params, grad, 2)
            losses.append(value)
        accuracy = (net.predict(seqs, 2).argmax(1) == Y.argmax(1)).mean()
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.9


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_each_sequence_predicts_the_same_alone_as_in_a_batch(rng, cell, readout, dtype, rtol):
    net = make_network(rng, 3, (6, 5), 2, dtype, bidirectional=True, cell=cell, readout=readout)
    X = random_sequences(rng, rng.integers(1, 20, size=30), 3, dtype)
    with single_threaded_blas():
        in_batch = net.predict(check_sequences(X, dtype=dtype), 2)
        alone = np.vstack([net.predict(check_sequences([x], dtype=dtype), 2) for x in X])
    np.testing.assert_allclose(alone, in_batch, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("readout", ["last", "attention"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_is_bitwise_independent_of_threads(rng, scheme, cell, readout, dtype):
    net = make_network(rng, 3, (20, 7), 2, dtype, bidirectional=True, cell=cell, readout=readout)
    X = random_sequences(rng, rng.integers(1, 15, size=50), 3, dtype)
    Y = rng.normal(size=(50, 2))
    masks = net.draw_masks(rng, 50, 0.2, 0.3)
    one = loss_and_grad(net, X, Y, SquaredError("identity"), 1, masks)
    two = loss_and_grad(net, X, Y, SquaredError("identity"), 2, masks)
    assert one[0] == two[0] and np.array_equal(one[1], two[1])


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("hidden_sizes", [(5,), (6, 4)])
@pytest.mark.parametrize("window_rows", [1, 7])
def test_readouts_in_windows_equal_training_forward(
    rng, monkeypatch, readout, bidirectional, hidden_sizes, window_rows
):
    # Prediction feeds the readout window after window (its online form); training's
    # forward reads all steps at once. Last, mean and max agree to the bit, attention's
    # online softmax to rounding.
    from sklstm import _network

    net = make_network(rng, 3, hidden_sizes, 2, np.float64, bidirectional, "gru", readout)
    X = random_sequences(rng, [13, 1, 4, 13, 6, 9, 2, 13, 5], 3)
    seqs = check_sequences(X, dtype=np.float64)
    monkeypatch.setattr(_network, "PREDICT_BYTES", window_rows * max(hidden_sizes) * 8)
    out, chunks = chunked_predictions(net, seqs, 2, monkeypatch)
    assert len(chunks) > 1 or window_rows == 7  # 1 row: a chunk per long sequence
    expected = np.empty_like(out)
    for idx in chunks:  # training's forward over the same chunks (BLAS: the same shapes)
        ws = Workspace(net, int(seqs.lengths[idx].sum()), len(idx))
        with single_threaded_blas():
            batch = pack_batch(seqs, idx, ws.X)
            expected[batch.order] = net.forward(batch, ws, 2)
    if readout == "attention":
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(out, expected)


def test_networks_saved_before_readouts_read_their_last_states(rng):
    state = make_network(rng, 3, (4,), 1).__getstate__()
    del state["readout"]
    net = LSTMNetwork.__new__(LSTMNetwork)
    net.__setstate__(state)
    assert net.readout == "last" and net.views.readout == []
    for readout in ("first", None):
        with pytest.raises(ValueError, match="Not the saved state of an LSTMNetwork"):
            LSTMNetwork.__new__(LSTMNetwork).__setstate__({**state, "readout": readout})


@pytest.mark.parametrize("readout", [*READOUTS, "steps"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("n", [1, 5])
def test_sequences_of_one_length_predict_as_the_general_path_bitwise(
    rng, monkeypatch, readout, bidirectional, n
):
    # Sequences of one length skip the sort and the chunking's sums: the general path
    # gives the same chunks and the same bits.
    net = make_network(rng, 3, (4, 5), 2, np.float32, bidirectional, readout=readout)
    seqs = check_sequences(rng.normal(size=(n, 6, 3)), dtype=np.float32)
    assert seqs.equal_lengths
    general = seqs._replace(equal_lengths=False)
    for per_chunk in (_network.PREDICT_SEQUENCES, 2):  # one chunk, then several (n > 1)
        monkeypatch.setattr(_network, "PREDICT_SEQUENCES", per_chunk)
        out, chunks = chunked_predictions(net, seqs, 1, monkeypatch)
        expected, expected_chunks = chunked_predictions(net, general, 1, monkeypatch)
        np.testing.assert_array_equal(out, expected)
        assert [c.tolist() for c in chunks] == [c.tolist() for c in expected_chunks]
        assert out.shape == (n * 6 if readout == "steps" else n, 2)
