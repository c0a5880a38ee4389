/* join.c — layers that combine or mask tensors: add (residual sum, with the
 * ReLU that reads it fused in), concat along channels, dropout with a
 * precomputed mask. */
#include <string.h>

#include "act_inline.h"
#include "cnnrun/kernels.h"
#include "parallel.h"

/* out = ((ins[0] + ins[1]) + ...): one parallel pass (the sums in input
 * order, as a pass per input added them). */
void add_forward(size_t n, int k, const float *const *ins, float *out)
{
    PARALLEL_FOR(n)
    for (size_t i = 0; i < n; i++) {
        float sum = ins[0][i];
        for (int j = 1; j < k; j++) sum += ins[j][i];
        out[i] = sum;
    }
}

/* o (+)= x, or x * scale + shift (co: scale then shift, c each), along c */
static void add_term(int c, const float *x, const float *co, int first, float *o)
{
    if (co) {
        const float *sc = co, *sh = co + c;
        if (first)
            SIMD_LOOP
            for (int j = 0; j < c; j++) o[j] = x[j] * sc[j] + sh[j];
        else
            SIMD_LOOP
            for (int j = 0; j < c; j++) o[j] += x[j] * sc[j] + sh[j];
    } else if (first) {
        memcpy(o, x, sizeof(float) * (size_t)c);
    } else {
        SIMD_LOOP
        for (int j = 0; j < c; j++) o[j] += x[j];
    }
}

/* By blocks of whole rows (about 4096 floats), each finished and packed
 * while it is in cache. */
void add_norm_forward(size_t rows, int c, int k, const float *const *ins,
                      const float *const *coef, int relu, float *out, uint16_t *out_h)
{
    const size_t per = c < 4096 ? 4096 / (size_t)c : 1, blocks = (rows + per - 1) / per;
    PARALLEL_FOR(rows * (size_t)c)
    for (size_t b = 0; b < blocks; b++) {
        const size_t r0 = b * per, r1 = r0 + per < rows ? r0 + per : rows;
        for (size_t r = r0; r < r1; r++)
            for (int j = 0; j < k; j++)
                add_term(c, ins[j] + r * c, coef[j], j == 0, out + r * c);
        const size_t i0 = r0 * c, len = (r1 - r0) * c;
        if (relu)
            SIMD_LOOP
            for (size_t i = i0; i < i0 + len; i++) out[i] = relu_value(out[i]);
        if (out_h) bf16_pack(out + i0, 1, (int)len, (int)len, out_h + i0);
    }
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
