/* activation.c — element-wise activations (ReLU, leaky ReLU, exact GELU) and
 * their backward passes. Backward reads the activation's input. */
#include <math.h>

#include "cnnrun/kernels.h"
#include "parallel.h"

void relu_forward(size_t n, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void relu_backward(size_t n, const float *in, const float *dout, float *din, int acc)
{
    if (acc)
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
    else
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
}

void leaky_forward(size_t n, float slope, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : slope * in[i];
}

void leaky_backward(size_t n, float slope, const float *in, const float *dout, float *din, int acc)
{
    if (acc)
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += in[i] > 0.0f ? dout[i] : slope * dout[i];
    else
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = in[i] > 0.0f ? dout[i] : slope * dout[i];
}

#define INV_SQRT2 0.70710678118654752440f
#define INV_SQRT_2PI 0.39894228040143267794f

void gelu_forward(size_t n, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    }
}

void gelu_backward(size_t n, const float *in, const float *dout, float *din, int acc)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float cdf = 0.5f * (1.0f + erff(x * INV_SQRT2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        float g = dout[i] * (cdf + x * pdf);
        din[i] = acc ? din[i] + g : g;
    }
}
