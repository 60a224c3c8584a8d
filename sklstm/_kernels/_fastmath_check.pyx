"""Tests only: ``_fastmath.h``'s exp, sigmoid and tanh elementwise over an array.

This module exists for ``tests/test_fastmath.py``, which measures their error in ulp; the
package never imports it. The functions are ``static inline`` in the header, so each copy
is compiled where it is called: ``evaluate`` runs them in ``omp simd`` loops like the
cells', one copy per ISA level (``_isa.h``: with GCC on x86-64 Linux, baseline, x86-64-v3
with its FMA contractions, x86-64-v4; one copy elsewhere), and ``gate_activations`` runs
``_cells.h``'s LSTM forward pass, compiled here as in ``_recurrent`` (same header, same
flags), at a level.
"""
from cython cimport floating
from libc.stdlib cimport free, malloc
from libc.string cimport memset

cdef extern from *:
    """
    #include "_fastmath.h"
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wunused-function"  /* the other cells' math, unused here */
    #include "_cells.h"
    #pragma GCC diagnostic pop

    /* y[i] = F(x[i]), compiled with the attributes ATTR (an ISA level, or none). */
    #define SK_FM_LOOP(T, NAME, F, ATTR)                                                  \
        ATTR static void NAME(const T *x, T *y, ptrdiff_t n)                              \
        {                                                                                 \
            _Pragma("omp simd")                                                           \
            for (ptrdiff_t i = 0; i < n; i++) y[i] = F(x[i]);                             \
        }

    /* Six loops (three functions, two types) at one level, and their choice by code:
     * 0 exp, 1 sigmoid, 2 tanh. */
    #define SK_FM_LEVEL(L, ATTR)                                                          \
        SK_FM_LOOP(float, sk_fm_exp_f_##L, sk_expf, ATTR)                                 \
        SK_FM_LOOP(float, sk_fm_sigmoid_f_##L, sk_sigmoidf, ATTR)                         \
        SK_FM_LOOP(float, sk_fm_tanh_f_##L, sk_tanhf, ATTR)                               \
        SK_FM_LOOP(double, sk_fm_exp_d_##L, sk_exp, ATTR)                                 \
        SK_FM_LOOP(double, sk_fm_sigmoid_d_##L, sk_sigmoid, ATTR)                         \
        SK_FM_LOOP(double, sk_fm_tanh_d_##L, sk_tanh, ATTR)                               \
        static void sk_fm_f_##L(int f, const float *x, float *y, ptrdiff_t n)             \
        {                                                                                 \
            (f == 0 ? sk_fm_exp_f_##L : f == 1 ? sk_fm_sigmoid_f_##L : sk_fm_tanh_f_##L)  \
                (x, y, n);                                                                \
        }                                                                                 \
        static void sk_fm_d_##L(int f, const double *x, double *y, ptrdiff_t n)           \
        {                                                                                 \
            (f == 0 ? sk_fm_exp_d_##L : f == 1 ? sk_fm_sigmoid_d_##L : sk_fm_tanh_d_##L)  \
                (x, y, n);                                                                \
        }

    SK_FM_LEVEL(v1, )
    #ifdef SK_ISA_X86
    SK_FM_LEVEL(v3, SK_ISA_V3)
    SK_FM_LEVEL(v4, SK_ISA_V4)
    #endif

    static void sk_fm_f(int f, const float *x, float *y, ptrdiff_t n)
    {
        SK_ISA_CALL(sk_fm_f, (f, x, y, n));
    }

    static void sk_fm_d(int f, const double *x, double *y, ptrdiff_t n)
    {
        SK_ISA_CALL(sk_fm_d, (f, x, y, n));
    }
    """
    void sk_fm_f(int f, const float *x, float *y, Py_ssize_t n) noexcept nogil
    void sk_fm_d(int f, const double *x, double *y, Py_ssize_t n) noexcept nogil
    void sk_lstm_forward_f(float *g, const float *bias, const float *c_prev, float *c,
                           float *h, Py_ssize_t H) noexcept nogil
    void sk_lstm_forward_d(double *g, const double *bias, const double *c_prev,
                           double *c, double *h, Py_ssize_t H) noexcept nogil

include "_isa.pxi"


FUNCTIONS = ("exp", "sigmoid", "tanh")


def evaluate(str function, const floating[::1] x not None, floating[::1] out not None,
             int level=1):
    """out[i] = function(x[i]), ``function`` one of ``FUNCTIONS``, by the copy compiled
    for ``level`` (one of ``isa_levels()``)."""
    if function not in FUNCTIONS:
        raise ValueError(f"function must be one of {FUNCTIONS}, not {function!r}")
    if out.shape[0] != x.shape[0]:
        raise ValueError(f"out has shape ({out.shape[0]},), expected ({x.shape[0]},)")
    cdef int f = FUNCTIONS.index(function)
    if x.shape[0] == 0:
        return
    _force_isa_level(level)
    try:
        with nogil:
            if floating is float:
                sk_fm_f(f, &x[0], &out[0], x.shape[0])
            else:
                sk_fm_d(f, &x[0], &out[0], x.shape[0])
    finally:
        _force_isa_level(0)


def gate_activations(const floating[::1] x not None, floating[::1] sigmoid not None,
                     floating[::1] tanh not None, int level):
    """sigmoid[i] and tanh[i] of x[i], from one call of the LSTM's forward pass at
    ``level`` on a row whose four gate blocks all hold x (bias -0.0, which adds exactly,
    and a zero cell state)."""
    cdef Py_ssize_t n = x.shape[0], j
    if sigmoid.shape[0] != n or tanh.shape[0] != n:
        raise ValueError(f"sigmoid and tanh must have shape ({n},)")
    if n == 0:
        return
    _force_isa_level(level)
    # g (4n), bias (4n), c_prev, c, h (n each).
    cdef floating *g = <floating *> malloc(11 * n * sizeof(floating))
    if g == NULL:
        _force_isa_level(0)
        raise MemoryError()
    cdef floating *bias = g + 4 * n
    cdef floating *c_prev = bias + 4 * n
    with nogil:
        for j in range(4 * n):
            g[j] = x[j % n]
            bias[j] = -0.0
        memset(c_prev, 0, n * sizeof(floating))
        if floating is float:
            sk_lstm_forward_f(g, bias, c_prev, c_prev + n, c_prev + 2 * n, n)
        else:
            sk_lstm_forward_d(g, bias, c_prev, c_prev + n, c_prev + 2 * n, n)
        for j in range(n):
            sigmoid[j] = g[j]
            tanh[j] = g[2 * n + j]
    free(g)
    _force_isa_level(0)
