/* activation.c — element-wise activations (ReLU, leaky ReLU, exact GELU,
 * SiLU) and their backward passes, each one pass over memory. The arithmetic
 * per element is act_inline.h's (a batch norm applies the same functions in
 * its own passes when the plan fuses them: batchnorm.c). Backward reads the
 * activation's input (ReLU's may read its output: the same positive entries). */
#include "act_inline.h"
#include "cnnrun/kernels.h"
#include "parallel.h"

void relu_forward(size_t n, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = relu_value(in[i]);
}

void relu_backward(size_t n, const float *in, const float *dout, float *din, int acc)
{
    if (acc)
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += relu_grad_times(in[i], dout[i]);
    else
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = relu_grad_times(in[i], dout[i]);
}

void leaky_forward(size_t n, float slope, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = leaky_value(in[i], slope);
}

void leaky_backward(size_t n, float slope, const float *in, const float *dout, float *din, int acc)
{
    if (acc)
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += leaky_grad_times(in[i], slope, dout[i]);
    else
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = leaky_grad_times(in[i], slope, dout[i]);
}

void gelu_forward(size_t n, const float *in, float *out)
{
    PARALLEL_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) out[i] = gelu_value(in[i]);
}

void gelu_backward(size_t n, const float *in, const float *dout, float *din, int acc)
{
    if (acc) {
        PARALLEL_FOR_SIMD(n)
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * gelu_grad(in[i]);
    } else {
        PARALLEL_FOR_SIMD(n)
        for (size_t i = 0; i < n; i++) din[i] = dout[i] * gelu_grad(in[i]);
    }
}

void silu_forward(size_t n, const float *in, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = silu_value(in[i]);
}

void silu_backward(size_t n, const float *in, const float *dout, float *din, int acc)
{
    if (acc) {
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * silu_grad(in[i]);
    } else {
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = dout[i] * silu_grad(in[i]);
    }
}
