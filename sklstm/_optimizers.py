"""Optimizers over the flat parameter vector; each step is one fused kernel pass.

An optimizer's state is its arrays (``ARRAYS``, each the vector's shape) and its scalars
(``SCALARS``: the learning rate, which training may lower, and Adam's step count); its
configuration (``CONFIG``) comes from the estimator's parameters.
"""

from numbers import Integral, Real

import numpy as np

from ._kernels import _optim


class _Optimizer:
    ARRAYS = ()
    SCALARS = ("learning_rate",)
    CONFIG = ()

    def __setstate__(self, state):
        # A loaded state may come from a damaged or hand-made file, and the kernels index
        # every array as long as the parameter vector: check it before use.
        names = {*self.ARRAYS, *self.SCALARS, *self.CONFIG}
        if set(state) != names:
            raise ValueError(f"Not the saved state of a {type(self).__name__} optimizer.")
        arrays = [state[name] for name in self.ARRAYS]
        if not all(
            isinstance(a, np.ndarray)
            and a.ndim == 1
            and a.dtype in (np.float32, np.float64)
            and a.dtype == arrays[0].dtype
            and a.shape == arrays[0].shape
            for a in arrays
        ):
            raise ValueError(
                f"The saved state of the {type(self).__name__} optimizer is damaged: its arrays "
                f"{', '.join(self.ARRAYS)} must be vectors of one length and float dtype."
            )
        for name in (*self.SCALARS, *self.CONFIG):
            value = state[name]
            if not isinstance(value, Real) or not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"The saved state of the {type(self).__name__} optimizer is damaged: "
                    f"{name}={value!r} is not a finite, non-negative number."
                )
        if "steps" in state and not isinstance(state["steps"], Integral):
            raise ValueError(f"The saved Adam step count {state['steps']!r} is not an integer.")
        vars(self).update(state)

    @property
    def n_params(self):
        """Length of the parameter vector the state is for."""
        return getattr(self, self.ARRAYS[0]).shape[0]

    @property
    def dtype(self):
        return getattr(self, self.ARRAYS[0]).dtype


class Adam(_Optimizer):
    ARRAYS = ("m", "v")
    SCALARS = ("learning_rate", "steps")
    CONFIG = ("beta_1", "beta_2", "epsilon")

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


class SGD(_Optimizer):
    ARRAYS = ("velocity",)
    CONFIG = ("momentum", "nesterov")

    def __init__(self, n_params, dtype, learning_rate, momentum, nesterov):
        self.learning_rate = learning_rate
        self.momentum, self.nesterov = momentum, bool(nesterov)
        self.velocity = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_threads):
        _optim.sgd(
            params, grad, self.velocity, self.learning_rate, self.momentum, self.nesterov, n_threads
        )


class RMSprop(_Optimizer):
    ARRAYS = ("mean_square",)
    CONFIG = ("rho", "epsilon")

    def __init__(self, n_params, dtype, learning_rate, rho, epsilon):
        self.learning_rate = learning_rate
        self.rho, self.epsilon = rho, epsilon
        self.mean_square = np.zeros(n_params, dtype=dtype)

    def step(self, params, grad, n_threads):
        _optim.rmsprop(
            params, grad, self.mean_square, self.learning_rate, self.rho, self.epsilon, n_threads
        )


class Adagrad(_Optimizer):
    ARRAYS = ("sum_square",)
    CONFIG = ("epsilon",)

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
