/* The elementwise gate math of one batch row: the LSTM cell forward and backward.
 *
 * In C rather than Cython for two things Cython cannot say: that the loop has no
 * dependence between iterations (omp simd; the gate blocks of g are read and written at
 * one index only), and, with GCC on x86-64 Linux, target_clones: the loops are compiled
 * for the baseline ISA, AVX2 + FMA and AVX-512, and the best one for the CPU is picked
 * when the module loads. No build flag raises the ISA the package needs.
 *
 * g holds a row's four gate blocks i, f, g, o of H values each (PyTorch's order).
 */
#ifndef SKLSTM_GATES_H
#define SKLSTM_GATES_H

#include <stddef.h>

#include "_fastmath.h"

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) \
    && defined(__linux__)
#define SK_DISPATCH __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define SK_DISPATCH
#endif

/* Forward: g holds pre-activations (without bias) in, activations out; c_prev may alias c. */
#define SK_GATES_FORWARD(T, NAME, SIGMOID, TANH)                                            \
    SK_DISPATCH static void NAME(T *g, const T *bias, const T *c_prev, T *c, T *h,          \
                                 ptrdiff_t H)                                               \
    {                                                                                       \
        _Pragma("omp simd")                                                                 \
        for (ptrdiff_t j = 0; j < H; j++) {                                                 \
            T gi = SIGMOID(g[j] + bias[j]);                                                 \
            T gf = SIGMOID(g[H + j] + bias[H + j]);                                         \
            T gg = TANH(g[2 * H + j] + bias[2 * H + j]);                                    \
            T go = SIGMOID(g[3 * H + j] + bias[3 * H + j]);                                 \
            T cj = gf * c_prev[j] + gi * gg;                                                \
            g[j] = gi;                                                                      \
            g[H + j] = gf;                                                                  \
            g[2 * H + j] = gg;                                                              \
            g[3 * H + j] = go;                                                              \
            c[j] = cj;                                                                      \
            h[j] = go * TANH(cj);                                                           \
        }                                                                                   \
    }

/* Backward: g holds activations in, gradients of the pre-activations out; dh is dL/dh of
 * the step (recurrent part included), dc is dL/dc from the next step in, dL/dc_prev out. */
#define SK_GATES_BACKWARD(T, NAME, TANH)                                                    \
    SK_DISPATCH static void NAME(T *g, const T *c, const T *c_prev, const T *dh, T *dc,     \
                                 ptrdiff_t H)                                               \
    {                                                                                       \
        _Pragma("omp simd")                                                                 \
        for (ptrdiff_t j = 0; j < H; j++) {                                                 \
            T gi = g[j], gf = g[H + j], gg = g[2 * H + j], go = g[3 * H + j];               \
            T tc = TANH(c[j]);                                                              \
            T dcj = dh[j] * go * (1 - tc * tc) + dc[j];                                     \
            g[j] = dcj * gg * gi * (1 - gi);                                                \
            g[H + j] = dcj * c_prev[j] * gf * (1 - gf);                                     \
            g[2 * H + j] = dcj * gi * (1 - gg * gg);                                        \
            g[3 * H + j] = dh[j] * tc * go * (1 - go);                                      \
            dc[j] = dcj * gf;                                                               \
        }                                                                                   \
    }

/* Recurrent dropout: out = a * mask (the masked hidden state), acc += mask * r (its
 * gradient back through the mask). */
#define SK_MASKING(T, MUL, MUL_ADD)                                                         \
    static inline void MUL(T *out, const T *a, const T *mask, ptrdiff_t H)                  \
    {                                                                                       \
        _Pragma("omp simd")                                                                 \
        for (ptrdiff_t j = 0; j < H; j++) out[j] = a[j] * mask[j];                          \
    }                                                                                       \
    static inline void MUL_ADD(T *acc, const T *mask, const T *r, ptrdiff_t H)              \
    {                                                                                       \
        _Pragma("omp simd")                                                                 \
        for (ptrdiff_t j = 0; j < H; j++) acc[j] += mask[j] * r[j];                         \
    }

SK_GATES_FORWARD(float, sk_gates_forward_f, sk_sigmoidf, sk_tanhf)
SK_GATES_FORWARD(double, sk_gates_forward_d, sk_sigmoid, sk_tanh)
SK_GATES_BACKWARD(float, sk_gates_backward_f, sk_tanhf)
SK_GATES_BACKWARD(double, sk_gates_backward_d, sk_tanh)
SK_MASKING(float, sk_mul_f, sk_mul_add_f)
SK_MASKING(double, sk_mul_d, sk_mul_add_d)

#endif
