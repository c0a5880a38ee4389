/* join.c — layers that combine or mask tensors: add (residual sum, with the
 * ReLU that reads it fused in), concat along channels, dropout with a
 * precomputed mask. */
#include <string.h>

#include "act_inline.h"
#include "cnnrun/kernels.h"
#include "parallel.h"

/* out[i] = ((ins[0][at + i] + ins[1][at + i]) + ...), ReLU'd when relu
 * (the sums in input order, as a pass per input added them), on this
 * thread. */
static void add_part(size_t n, int k, const float *const *ins, size_t at, int relu, float *out)
{
    if (k == 2) {
        const float *a = ins[0] + at, *b = ins[1] + at;
        if (relu)
            SIMD_LOOP
            for (size_t i = 0; i < n; i++) out[i] = relu_value(a[i] + b[i]);
        else
            SIMD_LOOP
            for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float sum = ins[0][at + i];
        for (int j = 1; j < k; j++) sum += ins[j][at + i];
        out[i] = relu ? relu_value(sum) : sum;
    }
}

/* The same over all n, in parallel by blocks, each also written as bf16
 * bits into out_h (not NULL) while it is in cache. */
static void add_pass(size_t n, int k, const float *const *ins, int relu, float *out,
                     uint16_t *out_h)
{
    enum { BLOCK = 4096 };
    const size_t blocks = (n + BLOCK - 1) / BLOCK;
    PARALLEL_FOR(n)
    for (size_t b = 0; b < blocks; b++) {
        const size_t i0 = b * BLOCK, len = n - i0 < BLOCK ? n - i0 : BLOCK;
        add_part(len, k, ins, i0, relu, out + i0);
        if (out_h) bf16_pack(out + i0, 1, (int)len, (int)len, out_h + i0);
    }
}

void add_forward(size_t n, int k, const float *const *ins, float *out)
{
    add_pass(n, k, ins, 0, out, NULL);
}

void add_relu_forward(size_t n, int k, const float *const *ins, float *out)
{
    add_pass(n, k, ins, 1, out, NULL);
}

void add_forward_bf16(size_t n, int k, const float *const *ins, int relu, float *out,
                      uint16_t *out_h)
{
    add_pass(n, k, ins, relu, out, out_h);
}

void add_backward(size_t n, int k, const float *dout, float *const *dins, const int *acc)
{
    for (int j = 0; j < k; j++) {
        float *d = dins[j];
        if (!d || d == dout) continue; /* dout itself: the plan shares it with that input */
        if (acc[j])
            PARALLEL_FOR_SIMD(n)
            for (size_t i = 0; i < n; i++) d[i] += dout[i];
        else
            PARALLEL_FOR_SIMD(n)
            for (size_t i = 0; i < n; i++) d[i] = dout[i];
    }
}

void add_relu_backward(size_t n, int k, const float *out, float *dout, float *const *dins,
                       const int *acc)
{
    PARALLEL_FOR_SIMD(n)
    for (size_t i = 0; i < n; i++) dout[i] = relu_grad_times(out[i], dout[i]);
    add_backward(n, k, dout, dins, acc);
}

void concat_forward(size_t m, int k, const int *cs, const float *const *ins, float *out)
{
    int total = 0;
    for (int j = 0; j < k; j++) total += cs[j];
    PARALLEL_FOR(m * (size_t)total)
    for (size_t r = 0; r < m; r++) {
        float *y = out + r * total;
        for (int j = 0; j < k; j++) {
            memcpy(y, ins[j] + r * cs[j], sizeof(float) * cs[j]);
            y += cs[j];
        }
    }
}

void concat_backward(size_t m, int k, const int *cs, const float *dout, float *const *dins,
                     const int *acc)
{
    int total = 0;
    for (int j = 0; j < k; j++) total += cs[j];
    PARALLEL_FOR(m * (size_t)total)
    for (size_t r = 0; r < m; r++) {
        const float *g = dout + r * total;
        for (int j = 0; j < k; j++) {
            float *d = dins[j];
            if (d) {
                d += r * cs[j];
                if (acc[j])
                    for (int i = 0; i < cs[j]; i++) d[i] += g[i];
                else
                    memcpy(d, g, sizeof(float) * cs[j]);
            }
            g += cs[j];
        }
    }
}

void dropout_forward(size_t n, const float *in, const float *mask, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) out[i] = in[i] * mask[i];
}

void dropout_backward(size_t n, const float *mask, const float *dout, float *din, int acc)
{
    if (acc)
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] += dout[i] * mask[i];
    else
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) din[i] = dout[i] * mask[i];
}
