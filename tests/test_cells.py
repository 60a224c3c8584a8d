"""The cell specs: layout of one direction of a layer, views, initialisation."""

import numpy as np
import pytest

from sklstm._cells import CELLS, GRUParams, LSTMParams
from sklstm._kernels._recurrent import GRULayer, LSTMLayer


def test_cells_and_their_kernels():
    assert CELLS["lstm"].kernel is LSTMLayer and CELLS["gru"].kernel is GRULayer
    for name, spec in CELLS.items():
        assert spec.name == name == spec.kernel.CELL
        # The params a kernel reads: W_ih, W_hh, bias, then its extra biases.
        assert spec.params._fields == ("W_ih", "W_hh", "bias", *spec.kernel.EXTRA_BIASES)
    assert CELLS["lstm"].gates == 4 and CELLS["gru"].gates == 3


def test_layouts():
    assert CELLS["lstm"].shapes(3, 5) == [(20, 3), (5, 20), (20,)]
    assert CELLS["gru"].shapes(3, 5) == [(15, 3), (5, 15), (15,), (5,)]


@pytest.mark.parametrize("cell", CELLS)
def test_views_show_pytorch_shapes_of_the_stored_blocks(cell):
    spec = CELLS[cell]
    blocks = [np.zeros(shape) for shape in spec.shapes(3, 5)]
    params = spec.views(blocks)
    assert isinstance(params, LSTMParams if cell == "lstm" else GRUParams)
    assert params.W_ih is blocks[0] and params.bias is blocks[2]
    assert params.W_hh.shape == (spec.gates * 5, 5) and params.W_hh.base is blocks[1]


@pytest.mark.parametrize("cell", CELLS)
def test_keras_initialisation(cell):
    spec, H, D = CELLS[cell], 6, 4
    params = spec.views([np.full(shape, np.nan) for shape in spec.shapes(D, H)])
    spec.initialize(params, np.random.default_rng(0))
    limit = np.sqrt(6 / (spec.gates * H + D))  # Glorot-uniform
    assert np.abs(params.W_ih).max() <= limit and np.abs(params.W_ih).max() > limit / 2
    np.testing.assert_allclose(params.W_hh.T @ params.W_hh, np.eye(H), atol=1e-12)
    forget = np.zeros(spec.gates * H)
    if cell == "lstm":  # Keras's unit_forget_bias
        forget[H : 2 * H] = 1
    np.testing.assert_array_equal(params.bias, forget)
    for bias in params[3:]:  # a GRU's b_hn
        np.testing.assert_array_equal(bias, 0)
