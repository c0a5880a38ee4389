/* act_inline.h — private to src/engine: the element-wise activations' value
 * and derivative per element, shared by their own passes (activation.c) and
 * by the batch-norm passes that apply them fused (batchnorm.c). One
 * definition, so a fused pass computes bit for bit what the separate passes
 * do (no -ffast-math, no FP contraction under -std=c11). */
#ifndef CNNRUN_ACT_INLINE_H
#define CNNRUN_ACT_INLINE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

static inline float relu_value(float x) { return x > 0.0f ? x : 0.0f; }
/* `y`: the ReLU's input or output (the same positive entries) */
static inline float relu_grad_times(float y, float d) { return y > 0.0f ? d : 0.0f; }

static inline float leaky_value(float x, float slope) { return x > 0.0f ? x : slope * x; }
static inline float leaky_grad_times(float x, float slope, float d)
{
    return x > 0.0f ? d : slope * d;
}

/* GELU needs erf and exp for every element; libm's erff/expf are calls the
 * compiler cannot vectorise, and they took 15 % of a training step of the
 * airbench94 network. These inline versions are plain arithmetic, so the
 * loops over them vectorise. Accuracy (tests/test_activation.c, against double
 * precision over [-12, 12]): relative error of the GELU output and gradient
 * within a few 1e-7. */

/* e^x for x in [-87, 88] (clamped), Cody-Waite reduction x = n ln2 + r and a
 * degree-7 polynomial for e^r (the classic Cephes expf coefficients), then
 * 2^n put into the exponent bits. */
static inline float exp_inline(float x)
{
    /* written so that NaN becomes -87 (the callers' other factor keeps the
     * NaN): (int32_t)n below is then always in range */
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    /* n = round(x / ln 2): adding and removing 1.5 * 2^23 rounds to an integer
     * (floorf would be a call the compiler does not vectorise) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* e^(-x^2 / 2) without rounding x^2 first: x^2 = hi + lo exactly (fma), and
 * e^(-lo/2) = 1 - lo/2 to float precision. (Rounding x^2, or x / sqrt 2,
 * to float costs ~1e-5 relative at |x| = 12.) */
static inline float gauss_inline(float x)
{
    float hi = x * x, lo = fmaf(x, x, -hi);
    return exp_inline(-0.5f * hi) * (1.0f - 0.5f * lo);
}

/* Phi(x) = P(N(0,1) <= x) = erfc(-x / sqrt 2) / 2, with erfc(z), z >= 0, in
 * the Chebyshev-fitted form t exp(-z^2 + P(t)), t = 1 / (1 + z / 2),
 * fractional error < 1.2e-7 (Press et al., Numerical Recipes, erfcc); the
 * tail is computed directly, so there is no cancellation for x < 0. */
static inline float normal_cdf(float x)
{
    float t = 1.0f / (1.0f + 0.5f * INV_SQRT2 * fabsf(x));
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float q = 0.5f * t * exp_inline(p) * gauss_inline(x); /* erfc(|x| / sqrt 2) / 2 */
    float pos = x > 0.0f; /* q for x <= 0, 1 - q above: a select without a branch */
    return q + pos * (1.0f - 2.0f * q);
}

/* exact GELU: x Phi(x) */
static inline float gelu_value(float x) { return x * normal_cdf(x); }

/* d gelu(x) / dx = Phi(x) + x phi(x) */
static inline float gelu_grad(float x)
{
    return normal_cdf(x) + x * INV_SQRT_2PI * gauss_inline(x);
}

/* sigmoid(x) without overflow: e = exp(-|x|) <= 1, so 1/(1+e) for x >= 0
 * and e/(1+e) below. */
static inline float sigmoid(float x)
{
    float e = expf(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

static inline float silu_value(float x) { return x * sigmoid(x); }

/* d silu(x) / dx = s + x s (1 - s), s = sigmoid(x) */
static inline float silu_grad(float x)
{
    float s = sigmoid(x);
    return s + x * s * (1.0f - s);
}

#endif
