"""Parameter updates: one fused pass over the flat parameter vector per step.

Elementwise only, so splitting the vector among threads cannot change a result. The
arithmetic is in the parameters' own type, which lets the loops vectorise.

The loops index without bounds checks: each kernel first checks that the gradient and
every state array have the parameters' length (a tampered pickle could hold others) and
that it is given at least one thread.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf

from ._openmp cimport check_threads

cdef enum:
    # Below this many parameters, waking a second thread costs more than it saves.
    PARALLEL_MIN = 1 << 15


cdef inline int _threads(Py_ssize_t n, int n_threads) noexcept nogil:
    return n_threads if n >= PARALLEL_MIN else 1


cdef inline int _check_length(str name, Py_ssize_t length, Py_ssize_t n) except -1:
    # Typed: checking costs no Python object but on failure.
    if length != n:
        raise ValueError(f"{name} has shape ({length},), expected ({n},), the shape of params")
    return 0


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


def adam(
    floating[::1] params,               # IN/OUT
    const floating[::1] grad,           # IN
    floating[::1] m,                    # IN/OUT first moment
    floating[::1] v,                    # IN/OUT second moment
    double lr, double beta_1, double beta_2, double epsilon,
    long step,                          # 1 for the first update
    int n_threads,
):
    """Adam (Kingma & Ba, 2015, algorithm 1), epsilon added to the bias-corrected root."""
    cdef floating step_size = lr / (1.0 - beta_1 ** step)
    cdef floating root_scale = 1.0 / sqrt(1.0 - beta_2 ** step)
    cdef floating b1 = beta_1, b2 = beta_2, eps = epsilon
    cdef floating c1 = 1 - beta_1, c2 = 1 - beta_2  # in floating: no double in the loop
    cdef Py_ssize_t i, n = params.shape[0]
    check_threads(n_threads)
    _check_length("grad", grad.shape[0], n)
    _check_length("m", m.shape[0], n)
    _check_length("v", v.shape[0], n)
    for i in prange(n, schedule="static", nogil=True, num_threads=_threads(n, n_threads)):
        m[i] = b1 * m[i] + c1 * grad[i]
        v[i] = b2 * v[i] + c2 * grad[i] * grad[i]
        params[i] -= step_size * m[i] / (_sqrt(v[i]) * root_scale + eps)


def sgd(
    floating[::1] params,               # IN/OUT
    const floating[::1] grad,           # IN
    floating[::1] velocity,             # IN/OUT
    double lr, double momentum, bint nesterov,
    int n_threads,
):
    """SGD with momentum, Nesterov's optional, as scikit-learn's MLP does it."""
    cdef floating rate = lr, mu = momentum
    cdef Py_ssize_t i, n = params.shape[0]
    check_threads(n_threads)
    _check_length("grad", grad.shape[0], n)
    _check_length("velocity", velocity.shape[0], n)
    for i in prange(n, schedule="static", nogil=True, num_threads=_threads(n, n_threads)):
        velocity[i] = mu * velocity[i] - rate * grad[i]
        if nesterov:
            params[i] += mu * velocity[i] - rate * grad[i]
        else:
            params[i] += velocity[i]


def rmsprop(
    floating[::1] params,               # IN/OUT
    const floating[::1] grad,           # IN
    floating[::1] mean_square,          # IN/OUT
    double lr, double rho, double epsilon,
    int n_threads,
):
    """RMSprop (Hinton's lecture 6e): divide by a running root mean square."""
    cdef floating rate = lr, r = rho, eps = epsilon, c = 1 - rho
    cdef Py_ssize_t i, n = params.shape[0]
    check_threads(n_threads)
    _check_length("grad", grad.shape[0], n)
    _check_length("mean_square", mean_square.shape[0], n)
    for i in prange(n, schedule="static", nogil=True, num_threads=_threads(n, n_threads)):
        mean_square[i] = r * mean_square[i] + c * grad[i] * grad[i]
        params[i] -= rate * grad[i] / (_sqrt(mean_square[i]) + eps)


def adagrad(
    floating[::1] params,               # IN/OUT
    const floating[::1] grad,           # IN
    floating[::1] sum_square,           # IN/OUT
    double lr, double epsilon,
    int n_threads,
):
    """Adagrad (Duchi et al., 2011): divide by the root of all squared gradients so far."""
    cdef floating rate = lr, eps = epsilon
    cdef Py_ssize_t i, n = params.shape[0]
    check_threads(n_threads)
    _check_length("grad", grad.shape[0], n)
    _check_length("sum_square", sum_square.shape[0], n)
    for i in prange(n, schedule="static", nogil=True, num_threads=_threads(n, n_threads)):
        sum_square[i] += grad[i] * grad[i]
        params[i] -= rate * grad[i] / (_sqrt(sum_square[i]) + eps)
