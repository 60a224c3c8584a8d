"""Optimizers over the flat parameter vector; each step is one fused kernel pass.

An optimizer's state is its arrays (``ARRAYS``, each the vector's shape) and its scalars
(``SCALARS``: the learning rate, which training may lower, and Adam's step count).
"""

import numpy as np

from ._kernels import _optim


class Adam:
    ARRAYS = ("m", "v")
    SCALARS = ("learning_rate", "steps")

    def __init__(self, n_params, dtype, learning_rate, beta_1, beta_2, epsilon):
        self.learning_rate = learning_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)
        self.steps = 0

    def step(self, params, grad, n_threads):
        self.steps += 1
        _optim.adam(
            params,
            grad,
            self.m,
            self.v,
            self.learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.steps,
            n_threads,
        )


class SGD:
    ARRAYS = ("velocity",)
    SCALARS = ("learning_rate",)

    def __init__(self, n_params, dtype, learning_rate, momentum, nesterov):
        self.learning_rate = learning_rate
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_threads):
        _optim.sgd(
            params, grad, self.velocity, self.learning_rate, self.momentum, self.nesterov, n_threads
        )


class RMSprop:
    ARRAYS = ("mean_square",)
    SCALARS = ("learning_rate",)

    def __init__(self, n_params, dtype, learning_rate, rho, epsilon):
        self.learning_rate = learning_rate
        self.rho, self.epsilon = rho, epsilon
        self.mean_square = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_threads):
        _optim.rmsprop(
            params, grad, self.mean_square, self.learning_rate, self.rho, self.epsilon, n_threads
        )


class Adagrad:
    ARRAYS = ("sum_square",)
    SCALARS = ("learning_rate",)

    def __init__(self, n_params, dtype, learning_rate, epsilon):
        self.learning_rate = learning_rate
        self.epsilon = epsilon
        self.sum_square = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_threads):
        _optim.adagrad(params, grad, self.sum_square, self.learning_rate, self.epsilon, n_threads)


def make_optimizer(est, n_params, dtype):
    """The optimizer named by ``est.solver``, configured from the estimator's parameters."""
    lr = est.learning_rate_init
    if est.solver == "adam":
        return Adam(n_params, dtype, lr, est.beta_1, est.beta_2, est.epsilon)
    if est.solver == "sgd":
        return SGD(n_params, dtype, lr, est.momentum, est.nesterovs_momentum)
    if est.solver == "rmsprop":
        return RMSprop(n_params, dtype, lr, est.rho, est.epsilon)
    return Adagrad(n_params, dtype, lr, est.epsilon)
