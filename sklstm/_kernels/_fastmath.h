/* Branch-free exp, sigmoid and tanh for float and double.
 *
 * Written so that a loop calling them vectorises: no branches (selects only), no calls into
 * libm, bit manipulation through memcpy. Within 2.5 ulp over the range the kernels see
 * (tests/test_fastmath.py measures it: float against double, double against long double).
 *
 * exp: x = n ln2 + r with |r| <= ln2/2 (Cody and Waite's two-part ln2, so n ln2 is exact),
 * e^r by its Taylor polynomial, 2^n built in the exponent bits. The input is clamped so
 * that 2^n stays a normal number: results saturate instead of overflowing.
 * tanh: |x| < 0.55 by a polynomial in x^2 (Chebyshev fit of tanh(x)/x), otherwise
 * (1 - e) / (1 + e) with e = exp(-2|x|), which has no cancellation there.
 */
#ifndef SKLSTM_FASTMATH_H
#define SKLSTM_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float sk_expf(float x)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float t = x * 1.44269504088896341f + shift;
    float n = t - shift;
    float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t ti, si;
    float scale;
    memcpy(&ti, &t, sizeof ti);
    memcpy(&si, &shift, sizeof si);
    int32_t bits = (ti - si + 127) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double sk_exp(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    x = x < -708.0 ? -708.0 : (x > 709.0 ? 709.0 : x);
    double t = x * 1.4426950408889634074 + shift;
    double n = t - shift;
    double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t ti, si;
    double scale;
    memcpy(&ti, &t, sizeof ti);
    memcpy(&si, &shift, sizeof si);
    int64_t bits = (ti - si + 1023) << 52;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float sk_sigmoidf(float x) { return 1.0f / (1.0f + sk_expf(-x)); }

static inline double sk_sigmoid(double x) { return 1.0 / (1.0 + sk_exp(-x)); }

static inline float sk_tanhf(float x)
{
    float a = x < 0 ? -x : x;
    float u = a * a;
    float p = -0.0062336334879549583f;
    p = p * u + 0.021038214806276562f;
    p = p * u + -0.053842319246817240f;
    p = p * u + 0.13332456536433137f;
    p = p * u + -0.33333310797748948f;
    p = p * u + 0.99999999905480191f;
    float e = sk_expf(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float y = a < 0.55f ? a * p : big;
    return x < 0 ? -y : y;
}

static inline double sk_tanh(double x)
{
    double a = x < 0 ? -x : x;
    double u = a * a;
    double p = 0.000050835285960847209467;
    p = p * u + -0.00021000824758639779421;
    p = p * u + 0.00057893801967827069307;
    p = p * u + -0.0014531414927844132309;
    p = p * u + 0.0035917022693627031396;
    p = p * u + -0.0088631919608211257048;
    p = p * u + 0.021869485742840416514;
    p = p * u + -0.053968253863418386513;
    p = p * u + 0.13333333333131017855;
    p = p * u + -0.33333333333331807227;
    p = p * u + 0.99999999999999998093;
    double e = sk_exp(-2.0 * a);
    double big = (1.0 - e) / (1.0 + e);
    double y = a < 0.55 ? a * p : big;
    return x < 0 ? -y : y;
}

#endif
