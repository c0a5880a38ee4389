/* join.c — layers that combine or mask tensors: add (residual sum), concat
 * along channels, dropout with a precomputed mask. */
#include <string.h>

#include "cnnrun/kernels.h"
#include "parallel.h"

void add_forward(size_t n, int k, const float *const *ins, float *out)
{
    memcpy(out, ins[0], sizeof(float) * n);
    for (int j = 1; j < k; j++) {
        const float *x = ins[j];
        PARALLEL_FOR(n)
        for (size_t i = 0; i < n; i++) out[i] += x[i];
    }
}

void add_backward(size_t n, int k, const float *dout, float *const *dins, const int *acc)
{
    for (int j = 0; j < k; j++) {
        float *d = dins[j];
        if (!d) continue;
        if (acc[j])
            PARALLEL_FOR(n)
            for (size_t i = 0; i < n; i++) d[i] += dout[i];
        else
            memcpy(d, dout, sizeof(float) * n);
    }
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
