/* test_gradcheck.c — every backward kernel against central finite differences
 * of its own forward, independent of PyTorch.
 *
 * Loss: L = sum_i out_i * R_i for a fixed random R (accumulated in double;
 * the forward itself runs in float32), so dL/dout = R is the upstream
 * gradient given to backward. For softmax_xent, L = loss * scale directly.
 * For each input / parameter tensor, ~20 sampled coordinates (all of them
 * when the tensor is smaller) are checked:
 *     numeric = (L(v + eps) - L(v - eps)) / ((v + eps) - (v - eps)),  eps = 1e-2
 * TOLERANCE: a coordinate passes if |numeric - analytic| <= 1e-3 (abs) OR
 *     |numeric - analytic| <= 2e-2 * max(|numeric|, |analytic|) (rel).
 * Non-smooth kernels get inputs with no kink within eps: relu/leaky inputs
 * have |x| >= 0.05, max-pool inputs are distinct with spacing 0.05 > 2*eps,
 * batch norm fused with relu/leaky (batchnorm_act_*) gets |bn(x)| >= 0.19.
 *
 * Convolutions run each algorithm: im2col, and Winograd F(2x2) and F(4x4)
 * forced on 3x3 stride-1 layers (alone, each also with its weight gradient
 * split by rows over 5 threads, and F(4x4) through two layers;
 * F(4x4)'s worst |num - ana| is ~6e-4, against ~3e-5 for im2col: its float
 * forward's larger rounding (~1e-5 relative), divided by eps, in numeric).
 * Each check is guarded against being vacuous: the sampled numeric gradients
 * must reach max |numeric| >= 1e-2 (10x the abs tolerance), and the same
 * comparison run on the sign-flipped analytic gradient must fail — so a sign
 * flip, a zero gradient or a dropped term in a kernel would be caught.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"
#include "golden/fixture.h"

#define GC_EPS 1e-2f
#define GC_ABS 1e-3
#define GC_REL 2e-2
#define GC_SAMPLES 20
#define GC_MIN_SIGNAL 1e-2
#define TOL_TEXT "tol: |num-ana| <= 1e-3 or <= 2e-2*max(|num|,|ana|), eps 1e-2"

typedef double (*LossFn)(void *ctx);


#define REPORT_DONE(rep, ctx) \
    ck_assert_msg((rep).nfail == 0, "%s: %d check(s) failed:%s", (ctx), (rep).nfail, (rep).msg)

static int coord_ok(double num, double ana)
{
    double d = fabs(num - ana);
    double m = fabs(num) > fabs(ana) ? fabs(num) : fabs(ana);
    return d <= GC_ABS || d <= GC_REL * m;
}

/* Checks analytic grad[] of L with respect to param[] (n floats) at sampled
 * coordinates. param is perturbed in place and restored exactly. */
static void check_grad(Report *r, const char *ctx, const char *what, float *param,
                       const float *grad, size_t n, LossFn loss, void *lctx, uint64_t seed)
{
    size_t idx[GC_SAMPLES];
    size_t m = n <= GC_SAMPLES ? n : GC_SAMPLES;
    Rng rng;
    rng_seed(&rng, seed, 17);
    for (size_t k = 0; k < m; k++) {
        if (n <= GC_SAMPLES) {
            idx[k] = k;
            continue;
        }
        for (;;) { /* distinct random coordinates */
            size_t cand = rng_below(&rng, (uint32_t)n), dup = 0;
            for (size_t j = 0; j < k; j++) dup |= idx[j] == cand;
            if (!dup) {
                idx[k] = cand;
                break;
            }
        }
    }
    int bad = 0, flipped_bad = 0;
    double worst = 0, worst_num = 0, worst_ana = 0, max_num = 0;
    size_t worst_at = 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = idx[k];
        float v = param[i];
        float vp = v + GC_EPS, vm = v - GC_EPS;
        param[i] = vp;
        double lp = loss(lctx);
        param[i] = vm;
        double lm = loss(lctx);
        param[i] = v;
        double num = (lp - lm) / ((double)vp - (double)vm);
        double ana = grad[i];
        if (fabs(num) > max_num) max_num = fabs(num);
        if (!coord_ok(num, ana)) {
            if (!bad || fabs(num - ana) > worst)
                worst = fabs(num - ana), worst_num = num, worst_ana = ana, worst_at = i;
            bad++;
        } else if (!bad && fabs(num - ana) >= worst) {
            worst = fabs(num - ana), worst_num = num, worst_ana = ana, worst_at = i;
        }
        flipped_bad += !coord_ok(num, -ana);
    }
    int meaningful = max_num >= GC_MIN_SIGNAL && flipped_bad > 0;
    printf("gradcheck %-24s %-8s %2zu/%-4zu coords, worst |num-ana| %.2e (num %.5g ana %.5g), "
           "max|num| %.3g, sign-flip caught at %d: %s\n", ctx, what, m, n, worst, worst_num,
           worst_ana, max_num, flipped_bad, bad ? "FAIL" : meaningful ? "ok" : "VACUOUS");
    if (bad) {
        r->nfail++;
        rep_add(r, "\n  %s d/d%s: %d of %zu coords off; worst at [%zu]: numeric %.6g, "
                   "analytic %.6g, |diff| %.3g (%s)", ctx, what, bad, m, worst_at, worst_num,
                worst_ana, worst, TOL_TEXT);
    }
    if (!meaningful) {
        r->nfail++;
        rep_add(r, "\n  %s d/d%s: check is vacuous (max|numeric| %.3g < %.0e or sign flip not "
                   "caught) — fix the test data", ctx, what, max_num, GC_MIN_SIGNAL);
    }
}

/* ------------------------------------------------------------ helpers */
static float *randn_buf(Rng *r, size_t n, float scale, float shift)
{
    float *p = alloc_floats(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = shift + scale * rng_normal(r);
    return p;
}

/* |x| >= 0.05: no relu/leaky kink within eps. */
static float *away_buf(Rng *r, size_t n)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        float z = rng_normal(r);
        p[i] = z < 0 ? z - 0.05f : z + 0.05f;
    }
    return p;
}

/* distinct values k*0.05 (a shuffled grid, centred): no max-pool ties within eps. */
static float *distinct_buf(Rng *r, size_t n)
{
    int *perm = xmalloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++) perm[i] = (int)i;
    rng_shuffle(r, perm, (int)n);
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) p[i] = 0.05f * ((float)perm[i] - 0.5f * (float)n);
    free(perm);
    return p;
}

static double dotd(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------ conv */
typedef struct {
    ConvShape s;
    float *x, *w, *b, *out, *R, *scratch;
    size_t nout;
} ConvCtx;

static double conv_loss(void *p)
{
    ConvCtx *c = p;
    conv_forward(&c->s, c->x, c->w, c->b, c->out, c->scratch);
    return dotd(c->out, c->R, c->nout);
}

static const struct {
    const char *name;
    int n, h, w, cin, cout, k, stride, pad, bias;
    int algo; /* CONV_* (0: auto, im2col at these sizes) */
} conv_cfg[] = {
    {"k3s1p1", 2, 5, 4, 2, 3, 3, 1, 1, 1, 0},  {"k3s2p1", 2, 5, 6, 3, 2, 3, 2, 1, 1, 0},
    {"k3s1p0_nb", 2, 5, 5, 2, 2, 3, 1, 0, 0, 0}, {"k1s1", 2, 4, 3, 3, 2, 1, 1, 0, 1, 0},
    {"k1s2_nb", 2, 5, 4, 3, 2, 1, 2, 0, 0, 0},  {"k5s1p2", 1, 5, 4, 2, 2, 5, 1, 2, 1, 0},
    {"k7s2p3", 1, 6, 5, 2, 3, 7, 2, 3, 1, 0},
    /* Winograd: partial edge tiles (5, 7 and 3 are no multiple of 2 or 4) */
    {"k3s1p1_winograd", 2, 5, 4, 2, 3, 3, 1, 1, 1, CONV_WINOGRAD},
    {"k3s1p1_winograd4", 2, 7, 7, 2, 3, 3, 1, 1, 1, CONV_WINOGRAD4},
    {"k3s1p1_winograd4_nb", 1, 3, 5, 3, 2, 3, 1, 1, 0, CONV_WINOGRAD4},
};
#define N_CONV (int)(sizeof conv_cfg / sizeof conv_cfg[0])

/* conv_cfg[i] with the weight gradient split by `split` (CONV_DWSPLIT_*)
 * on `threads` threads (0: as the engine is). */
static void conv_case(int i, int split, int threads)
{
    char ctx[80];
    snprintf(ctx, sizeof ctx, "conv/%s%s", conv_cfg[i].name,
             split == CONV_DWSPLIT_ROWS ? " (weight gradient split by rows, 5 threads)" : "");
    int was = engine_get_threads();
    if (threads > 0) engine_set_threads(threads);
    Rng r;
    rng_seed(&r, 100 + (uint64_t)i, 1);
    ConvCtx c = {.s = {.n = conv_cfg[i].n, .h = conv_cfg[i].h, .w = conv_cfg[i].w,
                       .c_in = conv_cfg[i].cin, .c_out = conv_cfg[i].cout,
                       .kh = conv_cfg[i].k, .kw = conv_cfg[i].k,
                       .stride = conv_cfg[i].stride, .pad = conv_cfg[i].pad,
                       .algo = conv_cfg[i].algo ? conv_cfg[i].algo : CONV_IM2COL,
                       /* all three products by it */
                       .algo_dweight = conv_cfg[i].algo ? conv_cfg[i].algo : CONV_IM2COL,
                       .dwsplit = split}};
    conv_shape_init(&c.s);
    ck_assert_int_eq(conv_algo_resolve(&c.s), conv_cfg[i].algo ? conv_cfg[i].algo : CONV_IM2COL);
    ck_assert_int_eq(conv_algo_used_dweight(&c.s),
                     conv_cfg[i].algo ? conv_cfg[i].algo : CONV_IM2COL);
    size_t nin = (size_t)c.s.n * c.s.h * c.s.w * c.s.c_in;
    size_t nw = (size_t)c.s.kh * c.s.kw * c.s.c_in * c.s.c_out;
    c.nout = (size_t)c.s.n * c.s.h_out * c.s.w_out * c.s.c_out;
    c.x = randn_buf(&r, nin, 1, 0);
    c.w = randn_buf(&r, nw, 1.0f / sqrtf((float)(c.s.kh * c.s.kw * c.s.c_in)), 0);
    c.b = conv_cfg[i].bias ? randn_buf(&r, c.s.c_out, 0.5f, 0) : NULL;
    c.R = randn_buf(&r, c.nout, 1, 0);
    c.out = alloc_floats(c.nout);
    c.scratch = alloc_floats(conv_scratch_floats(&c.s) + 1);
    float *dx = alloc_floats(nin), *dw = alloc_floats(nw);
    float *db = c.b ? alloc_floats(c.s.c_out) : NULL;
    conv_loss(&c);
    conv_backward(&c.s, c.x, c.w, c.R, dx, 0, dw, db, c.scratch);
    Report rep = {0};
    check_grad(&rep, ctx, "x", c.x, dx, nin, conv_loss, &c, 1);
    check_grad(&rep, ctx, "w", c.w, dw, nw, conv_loss, &c, 2);
    if (c.b) check_grad(&rep, ctx, "b", c.b, db, c.s.c_out, conv_loss, &c, 3);
    free(c.x), free(c.w), free(c.b), free(c.R), free(c.out), free(c.scratch);
    free(dx), free(dw), free(db);
    engine_set_threads(was);
    REPORT_DONE(rep, ctx);
}

START_TEST(test_conv)
{
    conv_case(_i, CONV_DWSPLIT_AUTO, 0);
}
END_TEST

/* The same through the rows split of the weight gradients (forced: the
 * automatic choice takes it from 4 threads), 5 threads sharing blocks of
 * rows: k3s1p1's 18 rows are one block, so four threads have none. */
START_TEST(test_conv_rows)
{
    conv_case(_i, CONV_DWSPLIT_ROWS, 5);
}
END_TEST

/* ------------------------------------------------------------ two convs, Winograd F(4x4)
 * A tiny network: conv1 (2 -> 3 channels, bias) then conv2 (3 -> 2), both
 * 3x3 pad 1 on 6x5 images forced to CONV_WINOGRAD4, so the gradients of x
 * and conv1's weights come through conv2's Winograd input gradient and
 * conv1's Winograd weight gradient. */
typedef struct {
    ConvShape s1, s2;
    float *x, *w1, *b1, *w2, *h, *out, *R, *scratch;
    size_t nout;
} ChainCtx;

static double chain_loss(void *p)
{
    ChainCtx *c = p;
    conv_forward(&c->s1, c->x, c->w1, c->b1, c->h, c->scratch);
    conv_forward(&c->s2, c->h, c->w2, NULL, c->out, c->scratch);
    return dotd(c->out, c->R, c->nout);
}

START_TEST(test_conv_chain_winograd4)
{
    const char *ctx = "conv_chain/winograd4";
    Rng r;
    rng_seed(&r, 12004, 1);
    ChainCtx c = {.s1 = {.n = 2, .h = 6, .w = 5, .c_in = 2, .c_out = 3, .kh = 3, .kw = 3,
                         .stride = 1, .pad = 1, .algo = CONV_WINOGRAD4}};
    c.s2 = c.s1;
    c.s2.c_in = 3, c.s2.c_out = 2;
    conv_shape_init(&c.s1);
    conv_shape_init(&c.s2);
    ck_assert(conv_algo_resolve(&c.s1) == CONV_WINOGRAD4 && conv_algo_resolve(&c.s2) == CONV_WINOGRAD4);
    size_t px = 2 * 6 * 5, nin = px * 2, nh = px * 3, nw1 = 9 * 2 * 3, nw2 = 9 * 3 * 2;
    c.nout = px * 2;
    c.x = randn_buf(&r, nin, 1, 0);
    c.w1 = randn_buf(&r, nw1, 1.0f / sqrtf(18.0f), 0);
    c.b1 = randn_buf(&r, 3, 0.5f, 0);
    c.w2 = randn_buf(&r, nw2, 1.0f / sqrtf(27.0f), 0);
    c.R = randn_buf(&r, c.nout, 1, 0);
    c.h = alloc_floats(nh), c.out = alloc_floats(c.nout);
    size_t sc1 = conv_scratch_floats(&c.s1), sc2 = conv_scratch_floats(&c.s2);
    c.scratch = alloc_floats((sc1 > sc2 ? sc1 : sc2) + 1);
    float *dx = alloc_floats(nin), *dh = alloc_floats(nh), *dw1 = alloc_floats(nw1);
    float *db1 = alloc_floats(3), *dw2 = alloc_floats(nw2);
    chain_loss(&c);
    conv_backward(&c.s2, c.h, c.w2, c.R, dh, 0, dw2, NULL, c.scratch);
    conv_backward(&c.s1, c.x, c.w1, dh, dx, 0, dw1, db1, c.scratch);
    Report rep = {0};
    check_grad(&rep, ctx, "x", c.x, dx, nin, chain_loss, &c, 1);
    check_grad(&rep, ctx, "w1", c.w1, dw1, nw1, chain_loss, &c, 2);
    check_grad(&rep, ctx, "b1", c.b1, db1, 3, chain_loss, &c, 3);
    check_grad(&rep, ctx, "w2", c.w2, dw2, nw2, chain_loss, &c, 4);
    free(c.x), free(c.w1), free(c.b1), free(c.w2), free(c.R), free(c.h), free(c.out);
    free(c.scratch), free(dx), free(dh), free(dw1), free(db1), free(dw2);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ batchnorm (train) */
typedef struct {
    int m, c;
    float *x, *gamma, *beta, *out, *mean, *rstd, *rm, *rv, *R;
    Workspace ws;
} BnCtx;

static double bn_loss(void *p)
{
    BnCtx *b = p;
    batchnorm_forward_train(b->m, b->c, b->x, b->gamma, b->beta, b->out, b->mean, b->rstd, b->rm,
                            b->rv, 0.1f, 1e-5f, &b->ws);
    return dotd(b->out, b->R, (size_t)b->m * b->c);
}

START_TEST(test_bn)
{
    const char *ctx = "batchnorm_train";
    Rng r;
    rng_seed(&r, 200, 1);
    BnCtx b = {.m = 2 * 3 * 3, .c = 3};
    size_t n = (size_t)b.m * b.c;
    b.x = randn_buf(&r, n, 1.5f, 0.3f);
    b.gamma = randn_buf(&r, b.c, 0.3f, 1.0f);
    b.beta = randn_buf(&r, b.c, 0.5f, 0);
    b.R = randn_buf(&r, n, 1, 0);
    b.out = alloc_floats(n);
    b.mean = alloc_floats(b.c), b.rstd = alloc_floats(b.c);
    b.rm = alloc_floats(b.c), b.rv = alloc_floats(b.c);
    float *dx = alloc_floats(n), *dg = alloc_floats(b.c), *dbt = alloc_floats(b.c);
    b.ws = workspace_alloc(batchnorm_work_floats(b.c, 0), 0);
    bn_loss(&b);
    batchnorm_backward(b.m, b.c, b.x, b.gamma, b.mean, b.rstd, b.R, dx, 0, dg, dbt, &b.ws);
    Report rep = {0};
    check_grad(&rep, ctx, "x", b.x, dx, n, bn_loss, &b, 1);
    check_grad(&rep, ctx, "gamma", b.gamma, dg, b.c, bn_loss, &b, 2);
    check_grad(&rep, ctx, "beta", b.beta, dbt, b.c, bn_loss, &b, 3);
    free(b.x), free(b.gamma), free(b.beta), free(b.R), free(b.out), free(b.mean), free(b.rstd);
    free(b.rm), free(b.rv), free(dx), free(dg), free(dbt);
    workspace_free(&b.ws);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ batchnorm + activation, fused */
/* L = sum(R * act(bn(x))) through batchnorm_act_forward_train and its
 * backward (the passes plan_fusion gives a batch norm and the activation
 * after it). For relu and leaky, every channel holds pairs +v, -v with
 * |v| in [0.6, 2], gamma in [0.8, 1.2] and |beta| <= 0.05: |bn(x)| >= 0.19,
 * far from the kink for any perturbation of eps. */
typedef struct {
    BnCtx b;
    BnAct act;
    float *ss;
} BnActCtx;

static double bn_act_loss(void *p)
{
    BnActCtx *a = p;
    BnCtx *b = &a->b;
    batchnorm_act_forward_train(b->m, b->c, b->x, b->gamma, b->beta, a->act, b->out, b->mean,
                                b->rstd, a->ss, b->rm, b->rv, 0.1f, 1e-5f, &b->ws);
    return dotd(b->out, b->R, (size_t)b->m * b->c);
}

START_TEST(test_bn_act)
{
    static const struct {
        const char *name;
        BnActKind kind;
        int kinked;
    } acts[] = {{"bn+relu (fused)", BN_ACT_RELU, 1},
                {"bn+leaky (fused)", BN_ACT_LEAKY, 1},
                {"bn+gelu (fused)", BN_ACT_GELU, 0},
                {"bn+silu (fused)", BN_ACT_SILU, 0}};
    const char *ctx = acts[_i].name;
    Rng r;
    rng_seed(&r, 13300 + (uint64_t)_i, 1);
    BnActCtx a = {.b = {.m = 2 * 3 * 3, .c = 3}, .act = {acts[_i].kind, 0.1f}};
    BnCtx *b = &a.b;
    size_t n = (size_t)b->m * b->c;
    if (acts[_i].kinked) {
        b->x = alloc_floats(n);
        b->gamma = alloc_floats(b->c), b->beta = alloc_floats(b->c);
        for (int row = 0; row < b->m; row += 2)
            for (int j = 0; j < b->c; j++) {
                float v = 0.6f + 1.4f * rng_uniform(&r);
                b->x[(size_t)row * b->c + j] = v;
                b->x[(size_t)(row + 1) * b->c + j] = -v;
            }
        for (int j = 0; j < b->c; j++) {
            b->gamma[j] = 0.8f + 0.4f * rng_uniform(&r);
            b->beta[j] = 0.1f * rng_uniform(&r) - 0.05f;
        }
    } else {
        b->x = randn_buf(&r, n, 1.5f, 0.3f);
        b->gamma = randn_buf(&r, b->c, 0.3f, 1.0f);
        b->beta = randn_buf(&r, b->c, 0.5f, 0);
    }
    b->R = randn_buf(&r, n, 1, 0);
    b->out = alloc_floats(n);
    b->mean = alloc_floats(b->c), b->rstd = alloc_floats(b->c);
    b->rm = alloc_floats(b->c), b->rv = alloc_floats(b->c);
    a.ss = alloc_floats(2 * (size_t)b->c);
    float *dx = alloc_floats(n), *dg = alloc_floats(b->c), *dbt = alloc_floats(b->c);
    float *d = alloc_floats(n);
    b->ws = workspace_alloc(batchnorm_work_floats(b->c, 0), 0);
    bn_act_loss(&a);
    if (acts[_i].kinked) { /* the data keeps bn(x) away from the kink */
        float *y = alloc_floats(n);
        BnAct none = {BN_ACT_NONE, 0};
        batchnorm_act_forward_train(b->m, b->c, b->x, b->gamma, b->beta, none, y, b->mean,
                                    b->rstd, a.ss, b->rm, b->rv, 0.1f, 1e-5f, &b->ws);
        for (size_t i = 0; i < n; i++) ck_assert_msg(fabsf(y[i]) >= 0.1f, "bn(x) = %g", y[i]);
        free(y);
        bn_act_loss(&a);
    }
    memcpy(d, b->R, sizeof(float) * n);
    batchnorm_act_backward(b->m, b->c, b->x, b->gamma, b->mean, b->rstd, a.ss, a.act, d, dx, 0,
                           dg, dbt, &b->ws);
    Report rep = {0};
    check_grad(&rep, ctx, "x", b->x, dx, n, bn_act_loss, &a, 1);
    check_grad(&rep, ctx, "gamma", b->gamma, dg, b->c, bn_act_loss, &a, 2);
    check_grad(&rep, ctx, "beta", b->beta, dbt, b->c, bn_act_loss, &a, 3);
    free(b->x), free(b->gamma), free(b->beta), free(b->R), free(b->out), free(b->mean);
    free(b->rstd), free(b->rm), free(b->rv), free(a.ss), free(dx), free(dg), free(dbt), free(d);
    workspace_free(&b->ws);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ activations, dropout */
typedef struct {
    int kind; /* 0 relu, 1 leaky, 2 gelu, 3 dropout, 4 silu */
    size_t n;
    float *x, *out, *R, *mask;
} ActCtx;

static double act_loss(void *p)
{
    ActCtx *a = p;
    switch (a->kind) {
    case 0: relu_forward(a->n, a->x, a->out); break;
    case 1: leaky_forward(a->n, 0.1f, a->x, a->out); break;
    case 2: gelu_forward(a->n, a->x, a->out); break;
    case 4: silu_forward(a->n, a->x, a->out); break;
    default: dropout_forward(a->n, a->x, a->mask, a->out); break;
    }
    return dotd(a->out, a->R, a->n);
}

START_TEST(test_act)
{
    static const char *names[] = {"relu", "leaky", "gelu", "dropout", "silu"};
    const char *ctx = names[_i];
    Rng r;
    rng_seed(&r, 300 + (uint64_t)_i, 1);
    ActCtx a = {.kind = _i, .n = 2 * 4 * 4 * 3};
    a.x = _i == 2 || _i == 4 ? randn_buf(&r, a.n, 1.5f, 0) : away_buf(&r, a.n);
    a.R = randn_buf(&r, a.n, 1, 0);
    a.out = alloc_floats(a.n);
    a.mask = alloc_floats(a.n);
    for (size_t i = 0; i < a.n; i++) a.mask[i] = rng_uniform(&r) < 0.3f ? 0.0f : 1.0f / 0.7f;
    float *dx = alloc_floats(a.n);
    act_loss(&a);
    switch (_i) {
    case 0: relu_backward(a.n, a.x, a.R, dx, 0); break;
    case 1: leaky_backward(a.n, 0.1f, a.x, a.R, dx, 0); break;
    case 2: gelu_backward(a.n, a.x, a.R, dx, 0); break;
    case 4: silu_backward(a.n, a.x, a.R, dx, 0); break;
    default: dropout_backward(a.n, a.mask, a.R, dx, 0); break;
    }
    Report rep = {0};
    check_grad(&rep, ctx, "x", a.x, dx, a.n, act_loss, &a, 1);
    if (_i == 1) {
        /* the negative side specifically: leaky's slope must be 0.1, not 0 or 1 */
        size_t neg = 0;
        for (size_t i = 0; i < a.n; i++) neg += a.x[i] < 0;
        float *xn = alloc_floats(neg), *dn = alloc_floats(neg);
        size_t k = 0;
        for (size_t i = 0; i < a.n; i++)
            if (a.x[i] < 0) xn[k] = a.x[i], dn[k] = dx[i], k++;
        ActCtx an = {.kind = 1, .n = neg, .x = xn, .out = alloc_floats(neg), .R = alloc_floats(neg)};
        for (size_t i = 0, j = 0; i < a.n; i++)
            if (a.x[i] < 0) an.R[j++] = a.R[i];
        check_grad(&rep, "leaky(x<0 only)", "x", xn, dn, neg, act_loss, &an, 2);
        free(xn), free(dn), free(an.out), free(an.R);
    }
    free(a.x), free(a.R), free(a.out), free(a.mask), free(dx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ pooling */
typedef struct {
    int kind; /* 0 max, 1 avg, 2 global */
    PoolShape s;
    float *x, *out, *R;
    int32_t *argmax;
    size_t nout;
} PoolCtx;

static double pool_loss(void *p)
{
    PoolCtx *q = p;
    if (q->kind == 0)
        maxpool_forward(&q->s, q->x, q->out, q->argmax);
    else if (q->kind == 1)
        avgpool_forward(&q->s, q->x, q->out);
    else
        global_avgpool_forward(q->s.n, q->s.h * q->s.w, q->s.c, q->x, q->out);
    return dotd(q->out, q->R, q->nout);
}

static const struct {
    const char *name;
    int kind, n, h, w, c, size, stride, pad;
} pool_cfg[] = {
    {"maxpool_2_2_0", 0, 2, 5, 4, 2, 2, 2, 0}, {"maxpool_3_2_1", 0, 2, 5, 6, 2, 3, 2, 1},
    {"maxpool_3_1_1", 0, 1, 4, 5, 2, 3, 1, 1}, {"avgpool_2_2_0", 1, 2, 5, 4, 2, 2, 2, 0},
    {"avgpool_3_2_1", 1, 2, 5, 6, 2, 3, 2, 1}, {"global_avgpool", 2, 2, 3, 4, 3, 0, 0, 0},
};
#define N_POOL (int)(sizeof pool_cfg / sizeof pool_cfg[0])

START_TEST(test_pool)
{
    const char *ctx = pool_cfg[_i].name;
    Rng r;
    rng_seed(&r, 400 + (uint64_t)_i, 1);
    PoolCtx q = {.kind = pool_cfg[_i].kind,
                 .s = {.n = pool_cfg[_i].n, .h = pool_cfg[_i].h, .w = pool_cfg[_i].w,
                       .c = pool_cfg[_i].c, .size = pool_cfg[_i].size,
                       .stride = pool_cfg[_i].stride, .pad = pool_cfg[_i].pad}};
    size_t nin = (size_t)q.s.n * q.s.h * q.s.w * q.s.c;
    if (q.kind == 2) {
        q.nout = (size_t)q.s.n * q.s.c;
    } else {
        pool_shape_init(&q.s);
        q.nout = (size_t)q.s.n * q.s.h_out * q.s.w_out * q.s.c;
    }
    q.x = q.kind == 0 ? distinct_buf(&r, nin) : randn_buf(&r, nin, 1, 0);
    q.R = randn_buf(&r, q.nout, 1, 0);
    q.out = alloc_floats(q.nout);
    q.argmax = calloc(q.nout, sizeof *q.argmax);
    float *dx = alloc_floats(nin);
    pool_loss(&q);
    if (q.kind == 0)
        maxpool_backward(&q.s, q.argmax, q.R, dx, 0);
    else if (q.kind == 1)
        avgpool_backward(&q.s, q.R, dx, 0);
    else
        global_avgpool_backward(q.s.n, q.s.h * q.s.w, q.s.c, q.R, dx, 0);
    Report rep = {0};
    check_grad(&rep, ctx, "x", q.x, dx, nin, pool_loss, &q, 1);
    free(q.x), free(q.R), free(q.out), free(q.argmax), free(dx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ linear */
typedef struct {
    int n, fin, fout;
    float *x, *w, *b, *out, *R;
} LinCtx;

static double lin_loss(void *p)
{
    LinCtx *l = p;
    linear_forward(l->n, l->fin, l->fout, l->x, l->w, l->b, l->out, NULL);
    return dotd(l->out, l->R, (size_t)l->n * l->fout);
}

START_TEST(test_linear)
{
    const char *ctx = _i == 0 ? "linear/bias" : "linear/nobias";
    Rng r;
    rng_seed(&r, 500 + (uint64_t)_i, 1);
    LinCtx l = {.n = 3, .fin = 6 + _i, .fout = 5 - _i};
    size_t nin = (size_t)l.n * l.fin, nw = (size_t)l.fin * l.fout, nout = (size_t)l.n * l.fout;
    l.x = randn_buf(&r, nin, 1, 0);
    l.w = randn_buf(&r, nw, 1.0f / sqrtf((float)l.fin), 0);
    l.b = _i == 0 ? randn_buf(&r, l.fout, 0.5f, 0) : NULL;
    l.R = randn_buf(&r, nout, 1, 0);
    l.out = alloc_floats(nout);
    float *dx = alloc_floats(nin), *dw = alloc_floats(nw), *db = l.b ? alloc_floats(l.fout) : NULL;
    lin_loss(&l);
    linear_backward(l.n, l.fin, l.fout, l.x, l.w, l.R, dx, 0, dw, db, NULL);
    Report rep = {0};
    check_grad(&rep, ctx, "x", l.x, dx, nin, lin_loss, &l, 1);
    check_grad(&rep, ctx, "w", l.w, dw, nw, lin_loss, &l, 2);
    if (l.b) check_grad(&rep, ctx, "b", l.b, db, l.fout, lin_loss, &l, 3);
    free(l.x), free(l.w), free(l.b), free(l.R), free(l.out), free(dx), free(dw), free(db);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ add / concat */
typedef struct {
    int concat;
    size_t m; /* concat: rows (add: each input has nout floats) */
    int k, cs[3];
    float *x[3], *out, *R;
    size_t nout;
} JoinCtx;

static double join_loss(void *p)
{
    JoinCtx *j = p;
    const float *ins[3] = {j->x[0], j->x[1], j->x[2]};
    if (j->concat)
        concat_forward(j->m, j->k, j->cs, ins, j->out);
    else
        add_forward(j->nout, j->k, ins, j->out);
    return dotd(j->out, j->R, j->nout);
}

START_TEST(test_join)
{
    const char *ctx = _i == 0 ? "add3" : "concat3";
    Rng r;
    rng_seed(&r, 600 + (uint64_t)_i, 1);
    JoinCtx j = {.concat = _i, .m = 2 * 3 * 3, .k = 3, .cs = {2, 1, 3}};
    size_t sz[3];
    for (int i = 0; i < 3; i++) {
        sz[i] = j.concat ? j.m * j.cs[i] : j.m * 2;
        j.x[i] = randn_buf(&r, sz[i], 1, 0);
    }
    j.nout = j.concat ? j.m * 6 : j.m * 2;
    j.R = randn_buf(&r, j.nout, 1, 0);
    j.out = alloc_floats(j.nout);
    float *dx[3];
    for (int i = 0; i < 3; i++) dx[i] = alloc_floats(sz[i]);
    int acc[3] = {0, 0, 0};
    join_loss(&j);
    if (j.concat)
        concat_backward(j.m, j.k, j.cs, j.R, dx, acc);
    else
        add_backward(j.nout, j.k, j.R, dx, acc);
    Report rep = {0};
    static const char *nm[] = {"x0", "x1", "x2"};
    for (int i = 0; i < 3; i++) check_grad(&rep, ctx, nm[i], j.x[i], dx[i], sz[i], join_loss, &j, i);
    for (int i = 0; i < 3; i++) free(j.x[i]), free(dx[i]);
    free(j.R), free(j.out);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ softmax xent */
typedef struct {
    int n, k;
    float *logits;
    int labels[8];
} XentCtx;

static double xent_loss(void *p)
{
    XentCtx *x = p;
    return softmax_xent(x->n, x->k, x->logits, x->labels, NULL, 1.0f, NULL) / x->n;
}

START_TEST(test_xent)
{
    const char *ctx = "softmax_xent";
    Rng r;
    rng_seed(&r, 700, 1);
    XentCtx x = {.n = 4, .k = 6};
    size_t nl = (size_t)x.n * x.k;
    x.logits = randn_buf(&r, nl, 1.5f, 0);
    for (int i = 0; i < x.n; i++) x.labels[i] = (int)rng_below(&r, (uint32_t)x.k);
    float *dl = alloc_floats(nl);
    softmax_xent(x.n, x.k, x.logits, x.labels, dl, 1.0f / x.n, NULL);
    Report rep = {0};
    check_grad(&rep, ctx, "logits", x.logits, dl, nl, xent_loss, &x, 1);
    free(x.logits), free(dl);
    REPORT_DONE(rep, ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *tc = tcase_create("finite_differences");
    tcase_add_loop_test(tc, test_conv, 0, N_CONV);
    tcase_add_loop_test(tc, test_conv_rows, 0, N_CONV);
    tcase_add_test(tc, test_conv_chain_winograd4);
    tcase_add_test(tc, test_bn);
    tcase_add_loop_test(tc, test_bn_act, 0, 4);
    tcase_add_loop_test(tc, test_act, 0, 5);
    tcase_add_loop_test(tc, test_pool, 0, N_POOL);
    tcase_add_loop_test(tc, test_linear, 0, 2);
    tcase_add_loop_test(tc, test_join, 0, 2);
    tcase_add_test(tc, test_xent);
    suite_add_tcase(s, tc);
    return check_run(s);
}
