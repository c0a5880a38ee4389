/* batchnorm.c — batch normalisation over the channels of an (M, C) matrix
 * (NHWC activations with M = N*H*W), training and eval, and its backward;
 * optionally with an element-wise activation applied in the same passes
 * (act(bn(x)): the plan fuses a batchnorm node and the activation that alone
 * reads it). Forward: one pass for the statistics, one that writes
 * act(x * scale + shift). Backward: one pass turns d act into d bn in place
 * and sums it, one writes the input gradient. The activation's arithmetic is
 * act_inline.h's, element by element in the same order as the separate
 * passes, so fused results are bit-identical to unfused ones.
 * Per-channel sums run in one pass over memory, split over threads by rows;
 * each thread folds 64-row float partial sums into double, and the threads'
 * totals are added in a fixed order, so results are exact enough for large
 * batches and reproducible for a given thread count. With ws->bn_sync
 * (data-parallel training) the statistics are the whole batch's: the
 * forward's per-channel count, mean and M2 and the backward's two sums are
 * combined over the processes; the parameter gradients stay this process's
 * share (the trainer sums them with the others). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act_inline.h"
#include "bn_rows.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "parallel.h"

/* The work space, laid out in ws->f: the column sums (2c doubles), the
 * threads' double partials (2c each), then the threads' 64-row float partials
 * (2c each), the per-channel coefficients (3c floats) and a copy of the first
 * row of produced rows (c floats: bn_rows.h). */
typedef struct {
    double *sums, *part;
    float *fpart, *coef, *first;
    int threads;
    const BnSync *sync;
} BnWork;

size_t batchnorm_work_floats(int c, int threads)
{
    size_t C = (size_t)c, T = threads > 0 ? (size_t)threads : (size_t)engine_get_threads();
    return 2 * (2 * C + 2 * C * T) + 2 * C * T + 4 * C;
}

static BnWork bn_work(const Workspace *ws, int c)
{
    size_t C = (size_t)c, T = (size_t)ws->threads;
    BnWork w = {.sums = (double *)(void *)ws->f, .threads = ws->threads, .sync = ws->bn_sync};
    w.part = w.sums + 2 * C;
    w.fpart = (float *)(void *)(w.part + 2 * C * T);
    w.coef = w.fpart + 2 * C * T;
    w.first = w.coef + 3 * C;
    return w;
}

/* y = act(x * scale + shift) along one row of c channels. */
static void scale_shift_act_row(BnAct a, int c, const float *x, const float *sc, const float *sh,
                                float *y)
{
    switch (a.kind) {
    case BN_ACT_NONE:
        for (int j = 0; j < c; j++) y[j] = x[j] * sc[j] + sh[j];
        break;
    case BN_ACT_RELU:
        for (int j = 0; j < c; j++) y[j] = relu_value(x[j] * sc[j] + sh[j]);
        break;
    case BN_ACT_LEAKY:
        for (int j = 0; j < c; j++) y[j] = leaky_value(x[j] * sc[j] + sh[j], a.slope);
        break;
    case BN_ACT_GELU:
        SIMD_LOOP
        for (int j = 0; j < c; j++) y[j] = gelu_value(x[j] * sc[j] + sh[j]);
        break;
    case BN_ACT_SILU:
        for (int j = 0; j < c; j++) y[j] = silu_value(x[j] * sc[j] + sh[j]);
        break;
    }
}

/* The activation's backward along one row: d[j] = dout[j] * act'(y[j]) with
 * its input y = x * scale + shift recomputed as forward computed it (d may
 * be dout: in place). */
static void act_grad_row(BnAct a, int c, const float *x, const float *sc, const float *sh,
                         const float *dout, float *d)
{
    switch (a.kind) {
    case BN_ACT_NONE:
        if (d != dout) memcpy(d, dout, sizeof(float) * (size_t)c);
        break;
    case BN_ACT_RELU:
        for (int j = 0; j < c; j++) d[j] = relu_grad_times(x[j] * sc[j] + sh[j], dout[j]);
        break;
    case BN_ACT_LEAKY:
        for (int j = 0; j < c; j++)
            d[j] = leaky_grad_times(x[j] * sc[j] + sh[j], a.slope, dout[j]);
        break;
    case BN_ACT_GELU:
        SIMD_LOOP
        for (int j = 0; j < c; j++) d[j] = dout[j] * gelu_grad(x[j] * sc[j] + sh[j]);
        break;
    case BN_ACT_SILU:
        for (int j = 0; j < c; j++) d[j] = dout[j] * silu_grad(x[j] * sc[j] + sh[j]);
        break;
    }
}

/* A fused activation's backward done by column_moments on the way: row r of
 * its `a` is d act(y), turned into dy = d act(y) * act'(y), y = b_r * scale
 * + shift, in dy's row r (the row is still in cache when it is summed). */
typedef struct {
    BnAct act;
    const float *scale, *shift;
    float *dy;
} ActBackward;

/* f1[j] += a[r,j] - sa[j], f2[j] += (a[r,j] - sa[j]) * (b[r,j] - sb[j]) over
 * rows r0..r1 in order (sa NULL: 0), 16 channels at a time, whose sums stay
 * in registers across the rows: the same operations per sum as row by row
 * (each part's sum starts at +0, and +0 + u is u). */
#define SUM_PART 16
static void block_sums(int r0, int r1, int c, const float *a, const float *sa, const float *b,
                       const float *sb, float *f1, float *f2)
{
    static const float zero[SUM_PART]; /* x - 0 is x, to the bit */
    int j0 = 0;
    for (; j0 + SUM_PART <= c; j0 += SUM_PART) {
        float s1[SUM_PART] = {0}, s2[SUM_PART] = {0};
        const float *restrict ma = sa ? sa + j0 : zero, *restrict mb = sb + j0;
        for (int r = r0; r < r1; r++) {
            const float *restrict ar = a + (size_t)r * c + j0;
            const float *restrict br = b + (size_t)r * c + j0;
            for (int j = 0; j < SUM_PART; j++) {
                float u = ar[j] - ma[j];
                s1[j] += u;
                s2[j] += u * (br[j] - mb[j]);
            }
        }
        for (int j = 0; j < SUM_PART; j++) f1[j0 + j] += s1[j], f2[j0 + j] += s2[j];
    }
    for (int r = r0; r < r1 && j0 < c; r++) {
        const float *ar = a + (size_t)r * c, *br = b + (size_t)r * c;
        for (int j = j0; j < c; j++) {
            float u = sa ? ar[j] - sa[j] : ar[j];
            f1[j] += u;
            f2[j] += u * (br[j] - sb[j]);
        }
    }
}

/* s1[j] = sum_r (a[r,j] - sa[j]);  s2[j] = sum_r (a[r,j] - sa[j]) * (b[r,j] - sb[j]).
 * sa may be NULL (0). With ab, a's rows are first replaced as ab says; with
 * src, a and b are the rows src produces (each produced once, by the thread
 * that sums it). */
static void column_moments(int m, int c, const float *a, const float *sa, const float *b,
                           const float *sb, double *s1, double *s2, const BnWork *w,
                           const ActBackward *ab, const BnRowSource *src)
{
#ifdef _OPENMP
    int threads = (size_t)m * c > PARALLEL_MIN ? w->threads : 1;
#else
    int threads = 1; /* the region below runs once */
#endif
    double *part = w->part;
    float *fbuf = w->fpart;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), T = omp_get_num_threads();
#else
        int t = 0, T = 1;
#endif
        int r_begin = (int)((long)m * t / T), r_end = (int)((long)m * (t + 1) / T);
        double *d1 = part + 2 * (size_t)c * t, *d2 = d1 + c;
        float *f1 = fbuf + 2 * (size_t)c * t, *f2 = f1 + c;
        memset(d1, 0, sizeof(double) * 2 * (size_t)c);
        enum { BLOCK = 64 };
        for (int r0 = r_begin; r0 < r_end; r0 += BLOCK) {
            int r1 = r0 + BLOCK < r_end ? r0 + BLOCK : r_end;
            memset(f1, 0, sizeof(float) * 2 * (size_t)c);
            if (!src) { /* the block's rows in memory: by parts of channels */
                const float *ab_a = a;
                if (ab) {
                    for (int r = r0; r < r1; r++)
                        act_grad_row(ab->act, c, b + (size_t)r * c, ab->scale, ab->shift,
                                     a + (size_t)r * c, ab->dy + (size_t)r * c);
                    ab_a = ab->dy;
                }
                block_sums(r0, r1, c, ab_a, sa, b, sb, f1, f2);
            } else { /* each row as src produces it: a block of one row */
                for (int r = r0; r < r1; r++) {
                    const float *row = src->row(src->ctx, r);
                    block_sums(0, 1, c, row, sa, row, sb, f1, f2);
                }
            }
            for (int j = 0; j < c; j++) {
                d1[j] += f1[j];
                d2[j] += f2[j];
            }
        }
    }
    memset(s1, 0, sizeof(double) * (size_t)c);
    memset(s2, 0, sizeof(double) * (size_t)c);
    for (int t = 0; t < threads; t++) {
        const double *d1 = part + 2 * (size_t)c * t, *d2 = d1 + c;
        for (int j = 0; j < c; j++) {
            s1[j] += d1[j];
            s2[j] += d2[j];
        }
    }
}

/* out = act(in * scale + shift), row by row: one pass. */
static void scale_shift_act(int m, int c, const float *in, const float *scale, const float *shift,
                            BnAct act, float *out)
{
    PARALLEL_FOR((size_t)m * c)
    for (int r = 0; r < m; r++)
        scale_shift_act_row(act, c, in + (size_t)r * c, scale, shift, out + (size_t)r * c);
}

/* Values written as bf16 bits (to nearest even, as bf16_pack): computed in
 * fp32 by blocks of rows into a buffer of the thread's, converted at once
 * (one row in parts when it is longer than the buffer), and copied to out as
 * fp32 too where out is not NULL. part(ctx, r, j0, j1, t) puts row r's
 * channels [j0, j1) in t. */
#define BN_BF16_BLOCK 4096

typedef void (*RowPart)(const void *ctx, int r, int j0, int j1, float *t);

static void write_bf16(int m, int c, RowPart part, const void *ctx, uint16_t *out_h, float *out)
{
    const int rows = c <= BN_BF16_BLOCK ? BN_BF16_BLOCK / c : 1;
    const int blocks = (m + rows - 1) / rows;
    PARALLEL_FOR((size_t)m * c)
    for (int k = 0; k < blocks; k++) {
        float t[BN_BF16_BLOCK];
        const int r0 = k * rows, r1 = r0 + rows < m ? r0 + rows : m;
        for (int j0 = 0; j0 < c; j0 += BN_BF16_BLOCK) {
            const int j1 = c - j0 < BN_BF16_BLOCK ? c : j0 + BN_BF16_BLOCK;
            for (int r = r0; r < r1; r++) part(ctx, r, j0, j1, t + (size_t)(r - r0) * (j1 - j0));
            const int len = (r1 - r0) * (j1 - j0); /* whole rows, or one row's part */
            bf16_pack(t, 1, len, len, out_h + (size_t)r0 * c + j0);
            if (out) memcpy(out + (size_t)r0 * c + j0, t, sizeof(float) * (size_t)len);
        }
    }
}

/* act(in * scale + shift), for write_bf16 */
typedef struct {
    BnAct act;
    int c;
    const float *in, *scale, *shift;
} ApplyRows;

static void apply_part(const void *ctx, int r, int j0, int j1, float *t)
{
    const ApplyRows *a = ctx;
    scale_shift_act_row(a->act, j1 - j0, a->in + (size_t)r * a->c + j0, a->scale + j0,
                        a->shift + j0, t);
}

static const BnAct no_act = {BN_ACT_NONE, 0.0f};

/* The training statistics of the m rows of in (or of the rows src
 * produces, in NULL): mean, rstd, the running statistics, and the scale and
 * shift that normalise (bn(x) = x * scale + shift) in sc_sh (2c). */
static void bn_statistics(int m, int c, const float *in, const BnRowSource *src,
                          const float *gamma, const float *beta, float *mean, float *rstd,
                          float *sc_sh, float *running_mean, float *running_var, float momentum,
                          float eps, const BnWork *w)
{
    double *s1 = w->sums, *s2 = w->sums + c;
    /* shift by the first row: one pass without cancellation trouble */
    const float *k = in;
    if (src) { /* a copy: its producer writes the row again */
        memcpy(w->first, src->row(src->ctx, 0), sizeof(float) * (size_t)c);
        k = w->first;
    }
    column_moments(m, c, in, k, in, k, s1, s2, w, NULL, src);
    double count = m;
    if (w->sync) { /* the whole batch's: mean into s1, M2 into s2 */
        for (int j = 0; j < c; j++) {
            double d = s1[j] / m;
            s2[j] = s2[j] - s1[j] * d;
            s1[j] = (double)k[j] + d;
        }
        w->sync->moments(w->sync->ctx, c, &count, s1, s2);
    }
    float *sc = sc_sh, *sh = sc + c;
    for (int j = 0; j < c; j++) {
        double d = w->sync ? 0 : s1[j] / m;
        double var = w->sync ? s2[j] / count : s2[j] / m - d * d;
        if (var < 0) var = 0;
        double mu = w->sync ? s1[j] : (double)k[j] + d;
        mean[j] = (float)mu;
        rstd[j] = (float)(1.0 / sqrt(var + eps));
        if (running_mean) {
            double unbiased = count > 1 ? var * count / (count - 1) : var;
            running_mean[j] = (float)((1.0 - momentum) * running_mean[j] + momentum * mu);
            running_var[j] = (float)((1.0 - momentum) * running_var[j] + momentum * unbiased);
        }
        sc[j] = rstd[j] * gamma[j];
        sh[j] = (float)(beta[j] - mu * sc[j]);
    }
}

/* Training forward; sc_sh (2c: scale, shift) gets the coefficients out =
 * act(in * scale + shift) used, or NULL. */
static void bn_train(int m, int c, const float *in, const float *gamma, const float *beta,
                     BnAct act, float *out, float *mean, float *rstd, float *sc_sh,
                     float *running_mean, float *running_var, float momentum, float eps,
                     const Workspace *ws)
{
    BnWork w = bn_work(ws, c);
    float *sc = sc_sh ? sc_sh : w.coef;
    bn_statistics(m, c, in, NULL, gamma, beta, mean, rstd, sc, running_mean, running_var,
                  momentum, eps, &w);
    scale_shift_act(m, c, in, sc, sc + c, act, out);
}

void batchnorm_act_forward_train_bf16(int m, int c, const float *in, const float *gamma,
                                      const float *beta, BnAct act, uint16_t *out_h, float *out,
                                      float *mean, float *rstd, float *scale_shift,
                                      float *running_mean, float *running_var, float momentum,
                                      float eps, const Workspace *ws)
{
    BnWork w = bn_work(ws, c);
    bn_statistics(m, c, in, NULL, gamma, beta, mean, rstd, scale_shift, running_mean, running_var,
                  momentum, eps, &w);
    ApplyRows rows = {act, c, in, scale_shift, scale_shift + c};
    write_bf16(m, c, apply_part, &rows, out_h, out);
}

void batchnorm_statistics(int m, int c, const float *in, const float *gamma, const float *beta,
                          float *mean, float *rstd, float *scale_shift, float *running_mean,
                          float *running_var, float momentum, float eps, const Workspace *ws)
{
    BnWork w = bn_work(ws, c);
    bn_statistics(m, c, in, NULL, gamma, beta, mean, rstd, scale_shift, running_mean,
                  running_var, momentum, eps, &w);
}

void batchnorm_eval_coefficients(int c, const float *gamma, const float *beta,
                                 const float *running_mean, const float *running_var, float eps,
                                 float *scale_shift)
{
    float *sc = scale_shift, *sh = sc + c;
    for (int j = 0; j < c; j++) {
        sc[j] = gamma[j] / sqrtf(running_var[j] + eps);
        sh[j] = beta[j] - running_mean[j] * sc[j];
    }
}

void batchnorm_statistics_of_rows(int m, int c, const BnRowSource *src, const float *gamma,
                                  const float *beta, float *mean, float *rstd,
                                  float *scale_shift, float *running_mean, float *running_var,
                                  float momentum, float eps, const Workspace *ws)
{
    BnWork w = bn_work(ws, c);
    bn_statistics(m, c, NULL, src, gamma, beta, mean, rstd, scale_shift, running_mean,
                  running_var, momentum, eps, &w);
}

void batchnorm_act_apply(int m, int c, const float *in, const float *scale_shift, BnAct act,
                         float *out)
{
    scale_shift_act(m, c, in, scale_shift, scale_shift + c, act, out);
}

void batchnorm_forward_train(int m, int c, const float *in, const float *gamma, const float *beta,
                             float *out, float *mean, float *rstd, float *running_mean,
                             float *running_var, float momentum, float eps, const Workspace *ws)
{
    bn_train(m, c, in, gamma, beta, no_act, out, mean, rstd, NULL, running_mean, running_var,
             momentum, eps, ws);
}

void batchnorm_act_forward_train(int m, int c, const float *in, const float *gamma,
                                 const float *beta, BnAct act, float *out, float *mean,
                                 float *rstd, float *scale_shift, float *running_mean,
                                 float *running_var, float momentum, float eps,
                                 const Workspace *ws)
{
    bn_train(m, c, in, gamma, beta, act, out, mean, rstd, scale_shift, running_mean, running_var,
             momentum, eps, ws);
}

void batchnorm_act_forward_eval(int m, int c, const float *in, const float *gamma,
                                const float *beta, BnAct act, float *out,
                                const float *running_mean, const float *running_var, float eps,
                                const Workspace *ws)
{
    BnWork w = bn_work(ws, c);
    batchnorm_eval_coefficients(c, gamma, beta, running_mean, running_var, eps, w.coef);
    scale_shift_act(m, c, in, w.coef, w.coef + c, act, out);
}

void batchnorm_forward_eval(int m, int c, const float *in, const float *gamma, const float *beta,
                            float *out, const float *running_mean, const float *running_var,
                            float eps, const Workspace *ws)
{
    batchnorm_act_forward_eval(m, c, in, gamma, beta, no_act, out, running_mean, running_var, eps,
                               ws);
}

/* din = a dy + b x + d, for write_bf16 */
typedef struct {
    int c;
    const float *x, *dy, *a, *b, *d;
} GradRows;

static void grad_part(const void *ctx, int r, int j0, int j1, float *t)
{
    const GradRows *g = ctx;
    const float *xr = g->x + (size_t)r * g->c, *gr = g->dy + (size_t)r * g->c;
    for (int j = j0; j < j1; j++) t[j - j0] = g->a[j] * gr[j] + g->b[j] * xr[j] + g->d[j];
}

/* Backward; with ab (a fused activation), dout is d act(bn(x)) and ab->dy
 * gets d bn(x) in the reduction pass, which the input-gradient pass reads;
 * din_h (not NULL): the input gradient written as bf16 bits instead of din
 * (write_bf16). */
static void bn_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                        const float *rstd, const float *dout, const ActBackward *ab, float *din,
                        uint16_t *din_h, int acc, float *dgamma, float *dbeta, const Workspace *ws)
{
    /* sum(dy) and sum(dy * (x - mean)) in one pass */
    BnWork w = bn_work(ws, c);
    double *sdy = w.sums, *sdyx = w.sums + c;
    column_moments(m, c, dout, NULL, in, mean, sdy, sdyx, &w, ab, NULL);
    if (ab) dout = ab->dy;
    float *a = w.coef, *b = a + c, *d = b + c;
    double count = m;
    if (w.sync) { /* this process's share of dgamma, dbeta; the batch's sums for din */
        for (int j = 0; j < c; j++) {
            dbeta[j] += (float)sdy[j];
            dgamma[j] += (float)(rstd[j] * sdyx[j]);
        }
        if (!din && !din_h) return;
        sdy[2 * c] = m; /* w.sums has room: the threads' partials follow */
        w.sync->sums(w.sync->ctx, 2 * c + 1, sdy);
        count = sdy[2 * c];
    }
    for (int j = 0; j < c; j++) {
        double sum_dy = sdy[j];
        double sum_dy_xhat = rstd[j] * sdyx[j];
        if (!w.sync) {
            dbeta[j] += (float)sum_dy;
            dgamma[j] += (float)sum_dy_xhat;
        }
        /* din = gamma*rstd * (dy - sum_dy/m - xhat * sum_dy_xhat/m)
         *     = a*dy + b*x + d  with xhat = (x-mean)*rstd */
        double g = (double)gamma[j] * rstd[j];
        double kk = sum_dy_xhat / count * rstd[j];
        a[j] = (float)g;
        b[j] = (float)(-g * kk);
        d[j] = (float)(g * (-sum_dy / count + kk * mean[j]));
    }
    if (din_h) {
        GradRows rows = {c, in, dout, a, b, d};
        write_bf16(m, c, grad_part, &rows, din_h, NULL);
        return;
    }
    if (!din) return;
    PARALLEL_FOR((size_t)m * c)
    for (int r = 0; r < m; r++) {
        const float *xr = in + (size_t)r * c, *gr = dout + (size_t)r * c;
        float *dr = din + (size_t)r * c;
        if (acc)
            for (int j = 0; j < c; j++) dr[j] += a[j] * gr[j] + b[j] * xr[j] + d[j];
        else
            for (int j = 0; j < c; j++) dr[j] = a[j] * gr[j] + b[j] * xr[j] + d[j];
    }
}

void batchnorm_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                        const float *rstd, const float *dout, float *din, int acc, float *dgamma,
                        float *dbeta, const Workspace *ws)
{
    bn_backward(m, c, in, gamma, mean, rstd, dout, NULL, din, NULL, acc, dgamma, dbeta, ws);
}

void batchnorm_act_backward(int m, int c, const float *in, const float *gamma, const float *mean,
                            const float *rstd, const float *scale_shift, BnAct act, float *dout,
                            float *din, int acc, float *dgamma, float *dbeta, const Workspace *ws)
{
    ActBackward ab = {act, scale_shift, scale_shift + c, dout};
    bn_backward(m, c, in, gamma, mean, rstd, dout, act.kind == BN_ACT_NONE ? NULL : &ab, din, NULL,
                acc, dgamma, dbeta, ws);
}

void batchnorm_act_backward_bf16(int m, int c, const float *in, const float *gamma,
                                 const float *mean, const float *rstd, const float *scale_shift,
                                 BnAct act, float *dout, uint16_t *din_h, float *dgamma,
                                 float *dbeta, const Workspace *ws)
{
    ActBackward ab = {act, scale_shift, scale_shift + c, dout};
    bn_backward(m, c, in, gamma, mean, rstd, dout, act.kind == BN_ACT_NONE ? NULL : &ab, NULL,
                din_h, 0, dgamma, dbeta, ws);
}
