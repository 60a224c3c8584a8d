"""The task decides the loss: output activation, loss value and d loss / d logits.

Losses are means over samples and outputs, as in PyTorch and Keras, weighted by the sample
weights when there are any (as scikit-learn's MLP does: sum(w * loss) / sum(w)); they are
computed in float64 whatever the network's dtype.
"""

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax


def _weigh(losses, grads, sample_weight):
    """Mean of per-sample ``losses`` and the matching per-sample scale of ``grads``, both
    weighted by ``sample_weight`` (None: equal weights)."""
    if sample_weight is None:
        return losses.mean(), grads / len(losses)
    total = sample_weight.sum()
    return (sample_weight @ losses) / total, grads * (sample_weight / total)[:, None]


class SigmoidCrossEntropy:
    """Binary and multilabel classification: a sigmoid per output, binary cross-entropy."""

    out_activation = "sigmoid"

    def predict(self, z):
        return expit(z)

    def log_predict(self, z):
        return log_expit(z)

    def loss_gradient(self, y, z, sample_weight=None):
        z64 = z.astype(np.float64)
        # log(1 + exp(z)) - y z, stable for any z; the mean over outputs per sample.
        losses = np.mean(np.logaddexp(0.0, z64) - y * z64, axis=1)
        loss, grad = _weigh(losses, (expit(z64) - y) / z.shape[1], sample_weight)
        return loss, grad.astype(z.dtype)


class SoftmaxCrossEntropy:
    """Multiclass classification: softmax over the outputs, categorical cross-entropy."""

    out_activation = "softmax"

    def predict(self, z):
        return softmax(z, axis=1)

    def log_predict(self, z):
        return log_softmax(z, axis=1)

    def loss_gradient(self, y, z, sample_weight=None):
        z64 = z.astype(np.float64)
        losses = -np.sum(y * log_softmax(z64, axis=1), axis=1)
        loss, grad = _weigh(losses, softmax(z64, axis=1) - y, sample_weight)
        return loss, grad.astype(z.dtype)


def _identity(z):
    return z


def _identity_derivative(a):
    return np.ones_like(a)


def _tanh_derivative(a):
    return 1.0 - a * a


def _sigmoid_derivative(a):
    return a * (1.0 - a)


# Output activations of regression: value, and derivative given the value.
OUTPUT_ACTIVATIONS = {
    "identity": (_identity, _identity_derivative),
    "tanh": (np.tanh, _tanh_derivative),
    "sigmoid": (expit, _sigmoid_derivative),
}


class SquaredError:
    """Regression: an output activation, then mean squared error."""

    def __init__(self, out_activation):
        self.out_activation = out_activation

    def predict(self, z):
        return OUTPUT_ACTIVATIONS[self.out_activation][0](z)

    def loss_gradient(self, y, z, sample_weight=None):
        f, df = OUTPUT_ACTIVATIONS[self.out_activation]
        a = f(z.astype(np.float64))
        residual = a - y
        losses = np.mean(residual * residual, axis=1)
        loss, grad = _weigh(losses, 2.0 * residual * df(a) / z.shape[1], sample_weight)
        return loss, grad.astype(z.dtype)
