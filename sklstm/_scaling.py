"""Standardisation of inputs and targets inside the estimators, and its folding into
weights for exports.

The network trains on ``(x - shift) / scale``, per input feature (over all samples and
steps, as ``SequenceScaler``) and, for regression, per target; predictions come back as
``shift + scale * outputs``. Both are affine, so an export computes the same model on raw
inputs and in the target's units by folding them into the first layer's input weights and
the head (``fold_*``), and an import takes them back out (``unfold_*``).
"""

import numpy as np
from sklearn.preprocessing import StandardScaler


def standardisation(A, weights=None):
    """(shift, scale): each column's mean and standard deviation of the 2-D A, rows
    weighted by ``weights`` (a weight of k counts as k copies), in float64.

    StandardScaler's statistics, constant columns (to rounding) included, whose scale is
    then any positive number: (x - shift) / scale is 0 there. They are computed on A over
    its largest magnitude, so that no square overflows.
    """
    magnitude = np.abs(A).max(axis=0).astype(np.float64)
    magnitude[magnitude == 0] = 1.0
    scaler = StandardScaler().fit(A / magnitude, sample_weight=weights)
    return scaler.mean_ * magnitude, scaler.scale_ * magnitude


def identity(n):
    """(shift, scale) that change nothing."""
    return np.zeros(n), np.ones(n)


def fold_input(W_ih, bias, shift, scale):
    """Weights on raw inputs x equal to (W_ih, bias) on (x - shift) / scale."""
    W = W_ih / scale
    return W, bias - W @ shift


def unfold_input(W, b, shift, scale):
    """The inverse of ``fold_input``."""
    return W * scale, b + W @ shift


def fold_output(W, b, shift, scale):
    """A head whose outputs are shift + scale * the outputs of (W, b)."""
    return W * scale[:, None], b * scale + shift


def unfold_output(W, b, shift, scale):
    """The inverse of ``fold_output``."""
    return W / scale[:, None], (b - shift) / scale


def fold(views, input_units, output_units):
    """Copies of the network's first layer and head weights (``views``: ``Params``) with
    the standardisations folded in: ``(layer_0, head_W, head_b)``, layer_0 a list of
    (W_ih, bias) per direction. Units are (shift, scale), or None for none."""
    layer_0 = [(cell.W_ih.copy(), cell.bias.copy()) for cell in views.layers[0]]
    if input_units is not None:
        layer_0 = [fold_input(W, b, *input_units) for W, b in layer_0]
    head = (views.head_W.copy(), views.head_b.copy())
    if output_units is not None:
        head = fold_output(*head, *output_units)
    return layer_0, *head


def unfold(views, input_units, output_units):
    """Take the standardisations back out of weights in raw units, in place in ``views``."""
    if input_units is not None:
        for cell in views.layers[0]:
            cell.W_ih[:], cell.bias[:] = unfold_input(cell.W_ih, cell.bias, *input_units)
    if output_units is not None:
        views.head_W[:], views.head_b[:] = unfold_output(views.head_W, views.head_b, *output_units)
