/* batchnorm.c — batch normalisation over the channels of an (M, C) matrix
 * (NHWC activations with M = N*H*W), training and eval, and its backward.
 * Statistics are accumulated in double so large batches stay exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

/* Per-channel work space, grown on first use and then reused: the training
 * loop allocates nothing after its first step. */
static _Thread_local struct {
    void *p;
    size_t size;
} work[4];

static void *bn_work(int slot, size_t bytes)
{
    if (work[slot].size < bytes) {
        free(work[slot].p);
        work[slot].p = xmalloc(bytes);
        work[slot].size = bytes;
    }
    return work[slot].p;
}

/* Per-channel sums over rows, in double: s1 = sum x, s2 = sum x*y (y may be NULL → s2 unused). */
static void column_sums(int m, int c, const float *x, const float *y, double *s1, double *s2)
{
    memset(s1, 0, sizeof(double) * (size_t)c);
    if (y) memset(s2, 0, sizeof(double) * (size_t)c);
    /* Accumulate blocks of rows in float (vectorisable), fold into double. */
    enum { BLOCK = 64 };
    float *f1 = bn_work(0, sizeof(float) * (size_t)c);
    float *f2 = bn_work(1, sizeof(float) * (size_t)c);
    for (int r0 = 0; r0 < m; r0 += BLOCK) {
        int r1 = r0 + BLOCK < m ? r0 + BLOCK : m;
        memset(f1, 0, sizeof(float) * (size_t)c);
        if (y) memset(f2, 0, sizeof(float) * (size_t)c);
        for (int r = r0; r < r1; r++) {
            const float *xr = x + (size_t)r * c;
            for (int j = 0; j < c; j++) f1[j] += xr[j];
            if (y) {
                const float *yr = y + (size_t)r * c;
                for (int j = 0; j < c; j++) f2[j] += xr[j] * yr[j];
            }
        }
        for (int j = 0; j < c; j++) s1[j] += f1[j];
        if (y)
            for (int j = 0; j < c; j++) s2[j] += f2[j];
    }
}

void batchnorm_forward_train(int m, int c, const float *in, const float *gamma, const float *beta,
                             float *out, float *mean, float *rstd, float *running_mean,
                             float *running_var, float momentum, float eps)
{
    double *s1 = bn_work(2, sizeof(double) * (size_t)c * 2), *s2 = s1 + c;
    column_sums(m, c, in, NULL, s1, NULL);
    for (int j = 0; j < c; j++) mean[j] = (float)(s1[j] / m);
    /* Centered second pass for the variance (no cancellation). */
    memset(s2, 0, sizeof(double) * (size_t)c);
    enum { BLOCK = 64 };
    float *f = bn_work(0, sizeof(float) * (size_t)c);
    for (int r0 = 0; r0 < m; r0 += BLOCK) {
        int r1 = r0 + BLOCK < m ? r0 + BLOCK : m;
        memset(f, 0, sizeof(float) * (size_t)c);
        for (int r = r0; r < r1; r++) {
            const float *xr = in + (size_t)r * c;
            for (int j = 0; j < c; j++) {
                float d = xr[j] - mean[j];
                f[j] += d * d;
            }
        }
        for (int j = 0; j < c; j++) s2[j] += f[j];
    }
    for (int j = 0; j < c; j++) {
        double var = s2[j] / m;
        rstd[j] = (float)(1.0 / sqrt(var + eps));
        if (running_mean) {
            double unbiased = m > 1 ? s2[j] / (m - 1) : var;
            running_mean[j] = (1.0f - momentum) * running_mean[j] + momentum * mean[j];
            running_var[j] = (float)((1.0 - momentum) * running_var[j] + momentum * unbiased);
        }
    }
    /* out = (x - mean) * (rstd * gamma) + beta */
    float *scale = bn_work(3, sizeof(float) * (size_t)c * 2), *shift = scale + c;
    for (int j = 0; j < c; j++) {
        scale[j] = rstd[j] * gamma[j];
        shift[j] = beta[j] - mean[j] * scale[j];
    }
    for (size_t r = 0; r < (size_t)m; r++) {
        const float *xr = in + r * c;
        float *yr = out + r * c;
        for (int j = 0; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
    }
}

void batchnorm_forward_eval(int m, int c, const float *in, const float *gamma, const float *beta,
                            float *out, const float *running_mean, const float *running_var,
                            float eps)
{
    float *scale = bn_work(3, sizeof(float) * (size_t)c * 2), *shift = scale + c;
    for (int j = 0; j < c; j++) {
        scale[j] = gamma[j] / sqrtf(running_var[j] + eps);
        shift[j] = beta[j] - running_mean[j] * scale[j];
    }
    for (size_t r = 0; r < (size_t)m; r++) {
        const float *xr = in + r * c;
        float *yr = out + r * c;
        for (int j = 0; j < c; j++) yr[j] = xr[j] * scale[j] + shift[j];
    }
}

void batchnorm_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                        const float *rstd, const float *dout, float *din, int acc, float *dgamma,
                        float *dbeta)
{
    /* sum(dy) and sum(dy * x) → sum(dy * xhat) = rstd * (sum(dy*x) - mean*sum(dy)) */
    double *sdy = bn_work(2, sizeof(double) * (size_t)c * 2), *sdyx = sdy + c;
    column_sums(m, c, dout, in, sdy, sdyx);
    float *a = bn_work(3, sizeof(float) * (size_t)c * 3), *b = a + c, *d = b + c;
    for (int j = 0; j < c; j++) {
        double sum_dy = sdy[j];
        double sum_dy_xhat = rstd[j] * (sdyx[j] - mean[j] * sum_dy);
        dbeta[j] += (float)sum_dy;
        dgamma[j] += (float)sum_dy_xhat;
        /* din = gamma*rstd * (dy - sum_dy/m - xhat * sum_dy_xhat/m)
         *     = a*dy + b*x + d  with xhat = (x-mean)*rstd */
        double g = (double)gamma[j] * rstd[j];
        double k = sum_dy_xhat / m * rstd[j];
        a[j] = (float)g;
        b[j] = (float)(-g * k);
        d[j] = (float)(g * (-sum_dy / m + k * mean[j]));
    }
    if (din) {
        for (size_t r = 0; r < (size_t)m; r++) {
            const float *xr = in + r * c, *gr = dout + r * c;
            float *dr = din + r * c;
            if (acc)
                for (int j = 0; j < c; j++) dr[j] += a[j] * gr[j] + b[j] * xr[j] + d[j];
            else
                for (int j = 0; j < c; j++) dr[j] = a[j] * gr[j] + b[j] * xr[j] + d[j];
        }
    }
}
