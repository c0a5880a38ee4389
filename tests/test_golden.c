/* test_golden.c — every engine kernel against PyTorch 1.13 reference values
 * stored in tests/fixtures/<layer>.bin (written by tests/golden/make_fixtures.py).
 *
 * TOLERANCE (forward outputs and gradients alike):
 *     max_i |got_i - ref_i|  <=  1e-4 * max(1, max_i |ref_i|)
 * i.e. a relative error of 1e-4 against the largest reference magnitude, with
 * a scale floor of 1 so near-zero tensors are held to an absolute 1e-4. The
 * reference is float64 PyTorch on the exact float32 inputs, so the budget is
 * for float32 accumulation order (BLAS, im2col) only: ~100x the error seen.
 *
 * Also checked: input gradients with acc=0 overwrite (buffer pre-filled with
 * garbage), acc=1 adds (pre-filled with ones -> ref + 1), parameter gradients
 * accumulate across two backward calls (-> 2 x ref), shape_init outputs.
 * Dropout has no PyTorch counterpart (RNG): a fixed mask is checked by hand;
 * so is max pool's argmax layout (per-image offsets) against a brute force.
 * The Muon optimizer's update (src/train/muon.c) is held to the same tolerance.
 */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "golden/fixture.h"

#define GOLDEN_TOL 1e-4
#define TOL_TEXT "tol: max|err| <= 1e-4*max(1,max|ref|)"
#define GARBAGE 777.0f

/* ------------------------------------------------------------ comparison */

/* Compares got against mul*ref + add. Logs one line; records a failure. */
static void cmp(Report *r, const char *ctx, const char *what, const float *got, const float *ref,
                size_t n, double mul, double add)
{
    double maxref = 0, maxerr = 0, g_at = 0, r_at = 0;
    size_t at = 0;
    int nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        double e = mul * ref[i] + add;
        double err = fabs((double)got[i] - e);
        if (!isfinite(got[i])) nonfinite = 1, err = INFINITY;
        if (fabs(e) > maxref) maxref = fabs(e);
        if (i == 0 || err > maxerr) maxerr = err, at = i, g_at = got[i], r_at = e;
    }
    double scale = maxref > 1 ? maxref : 1;
    int ok = !nonfinite && maxerr <= GOLDEN_TOL * scale;
    printf("golden %-22s %-26s max|err| %.3g (rel %.3g) %s\n", ctx, what, maxerr, maxerr / scale,
           ok ? "ok" : "FAIL");
    if (!ok) {
        r->nfail++;
        rep_add(r, "\n  %s %s: worst |err| %.4g (rel %.4g) at [%zu]: got %.7g, ref %.7g "
                   "(scale %.4g; %s)", ctx, what, maxerr, maxerr / scale, at, g_at, r_at, scale,
                TOL_TEXT);
    }
}

static void cmp_scalar(Report *r, const char *ctx, const char *what, double got, double ref)
{
    double scale = fabs(ref) > 1 ? fabs(ref) : 1;
    double err = fabs(got - ref);
    int ok = isfinite(got) && err <= GOLDEN_TOL * scale;
    printf("golden %-22s %-26s |err| %.3g (rel %.3g) %s\n", ctx, what, err, err / scale,
           ok ? "ok" : "FAIL");
    if (!ok) {
        r->nfail++;
        rep_add(r, "\n  %s %s: got %.9g, ref %.9g, |err| %.4g (%s)", ctx, what, got, ref, err,
                TOL_TEXT);
    }
}

static void cmp_int(Report *r, const char *ctx, const char *what, long got, long ref)
{
    if (got != ref) {
        r->nfail++;
        rep_add(r, "\n  %s %s: got %ld, expected %ld", ctx, what, got, ref);
    }
}

#define REPORT_DONE(rep, ctx) \
    ck_assert_msg((rep).nfail == 0, "%s: %d comparison(s) failed:%s", (ctx), (rep).nfail, (rep).msg)

static float *fbuf(size_t n, float fill)
{
    float *p = alloc_floats(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = fill;
    return p;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; i < n; i++) p[i] = v;
}

/* Loads a fixture file or fails the test with the reader's message. */
#define LOAD(fx, file) ck_assert_msg(fixture_load(&(fx), (file)) == 0, "%s", (fx).err)
/* Gets "<case>/<name>" with an element-count check or fails with a clear message. */
static const float *get_or_fail(Fixture *fx, const char *c, const char *name, size_t count)
{
    const float *p = fixture_getp(fx, c, name, count);
    ck_assert_msg(p != NULL, "%s", fx->err);
    return p;
}
#define GET(c, name, count) get_or_fail(&fx, (c), (name), (count))

static const FixtureTensor *tensor_or_fail(Fixture *fx, const char *c, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s/%s", c, name);
    const FixtureTensor *t = fixture_tensor(fx, full, 0);
    ck_assert_msg(t != NULL, "%s", fx->err);
    return t;
}

/* ------------------------------------------------------------ conv */
static const char *conv_cases[] = {"k1s1", "k1s1_nb", "k1s2", "k3s1p1",
                                   "k3s2p1", "k3s1p0_nb", "k5s1p2", "k7s2p3"};
#define N_CONV (int)(sizeof conv_cases / sizeof conv_cases[0])

START_TEST(test_conv)
{
    const char *c = conv_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "conv/%s", c);
    Fixture fx;
    LOAD(fx, "conv.bin");
    const float *cfg = GET(c, "cfg", 10);
    ConvShape s = {.n = (int)cfg[0], .h = (int)cfg[1], .w = (int)cfg[2], .c_in = (int)cfg[3],
                   .c_out = (int)cfg[4], .kh = (int)cfg[5], .kw = (int)cfg[6],
                   .stride = (int)cfg[7], .pad = (int)cfg[8]};
    int has_bias = (int)cfg[9];
    conv_shape_init(&s);
    const FixtureTensor *td = tensor_or_fail(&fx, c, "dout");
    ck_assert_msg(td->ndim == 4 && s.h_out == td->dims[1] && s.w_out == td->dims[2],
                  "%s: conv_shape_init gives %dx%d, PyTorch %dx%d", ctx, s.h_out, s.w_out,
                  td->dims[1], td->dims[2]);
    size_t nin = (size_t)s.n * s.h * s.w * s.c_in;
    size_t nout = (size_t)s.n * s.h_out * s.w_out * s.c_out;
    size_t nw = (size_t)s.kh * s.kw * s.c_in * s.c_out;
    const float *x = GET(c, "x", nin), *w = GET(c, "w", nw), *dout = GET(c, "dout", nout);
    const float *out_ref = GET(c, "out", nout), *dx_ref = GET(c, "dx", nin);
    const float *dw_ref = GET(c, "dw", nw);
    const float *b = has_bias ? GET(c, "b", (size_t)s.c_out) : NULL;
    const float *db_ref = has_bias ? GET(c, "db", (size_t)s.c_out) : NULL;

    float *scratch = fbuf(conv_scratch_floats(&s) + 1, 0);
    float *out = fbuf(nout, GARBAGE), *dx = fbuf(nin, GARBAGE);
    float *dw = fbuf(nw, 0), *db = has_bias ? fbuf((size_t)s.c_out, 0) : NULL;
    Report rep = {0};

    conv_forward(&s, x, w, b, out, scratch);
    cmp(&rep, ctx, "out", out, out_ref, nout, 1, 0);

    conv_backward(&s, x, w, dout, dx, 0, dw, db, scratch);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, nin, 1, 0);
    cmp(&rep, ctx, "dw", dw, dw_ref, nw, 1, 0);
    if (has_bias) cmp(&rep, ctx, "db", db, db_ref, (size_t)s.c_out, 1, 0);

    fill(dx, nin, 1.0f);
    conv_backward(&s, x, w, dout, dx, 1, dw, db, scratch);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, nin, 1, 1);
    cmp(&rep, ctx, "dw after 2 calls", dw, dw_ref, nw, 2, 0);
    if (has_bias) cmp(&rep, ctx, "db after 2 calls", db, db_ref, (size_t)s.c_out, 2, 0);

    /* dinput NULL: parameter gradients still computed */
    fill(dw, nw, 0);
    if (has_bias) fill(db, (size_t)s.c_out, 0);
    conv_backward(&s, x, w, dout, NULL, 0, dw, db, scratch);
    cmp(&rep, ctx, "dw (din=NULL)", dw, dw_ref, nw, 1, 0);
    if (has_bias) cmp(&rep, ctx, "db (din=NULL)", db, db_ref, (size_t)s.c_out, 1, 0);

    free(scratch), free(out), free(dx), free(dw), free(db);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ batchnorm */
static const char *bn_train_cases[] = {"train_a", "train_b"};

START_TEST(test_bn_train)
{
    const char *c = bn_train_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "batchnorm/%s", c);
    Fixture fx;
    LOAD(fx, "batchnorm.bin");
    const float *cfg = GET(c, "cfg", 4);
    int m = (int)cfg[0], ch = (int)cfg[1];
    float mom = cfg[2], eps = cfg[3];
    size_t n = (size_t)m * ch;
    const float *x = GET(c, "x", n), *gamma = GET(c, "gamma", ch), *beta = GET(c, "beta", ch);
    const float *dout = GET(c, "dout", n), *out_ref = GET(c, "out", n);
    const float *mean_ref = GET(c, "mean", ch), *rstd_ref = GET(c, "rstd", ch);
    const float *rm_ref = GET(c, "running_mean", ch), *rv_ref = GET(c, "running_var", ch);
    const float *dx_ref = GET(c, "dx", n), *dg_ref = GET(c, "dgamma", ch);
    const float *dbt_ref = GET(c, "dbeta", ch);

    float *out = fbuf(n, GARBAGE), *mean = fbuf(ch, GARBAGE), *rstd = fbuf(ch, GARBAGE);
    float *rm = fbuf(ch, 0), *rv = fbuf(ch, 1), *dx = fbuf(n, GARBAGE);
    float *dg = fbuf(ch, 0), *dbt = fbuf(ch, 0);
    Report rep = {0};
    Workspace ws = workspace_alloc(batchnorm_work_floats(ch, 0), 0);

    batchnorm_forward_train(m, ch, x, gamma, beta, out, mean, rstd, rm, rv, mom, eps, &ws);
    cmp(&rep, ctx, "out", out, out_ref, n, 1, 0);
    cmp(&rep, ctx, "saved mean", mean, mean_ref, ch, 1, 0);
    cmp(&rep, ctx, "saved rstd", rstd, rstd_ref, ch, 1, 0);
    cmp(&rep, ctx, "running_mean (from 0)", rm, rm_ref, ch, 1, 0);
    cmp(&rep, ctx, "running_var (from 1)", rv, rv_ref, ch, 1, 0);

    batchnorm_backward(m, ch, x, gamma, mean, rstd, dout, dx, 0, dg, dbt, &ws);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, n, 1, 0);
    cmp(&rep, ctx, "dgamma", dg, dg_ref, ch, 1, 0);
    cmp(&rep, ctx, "dbeta", dbt, dbt_ref, ch, 1, 0);

    fill(dx, n, 1.0f);
    batchnorm_backward(m, ch, x, gamma, mean, rstd, dout, dx, 1, dg, dbt, &ws);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, n, 1, 1);
    cmp(&rep, ctx, "dgamma after 2 calls", dg, dg_ref, ch, 2, 0);
    cmp(&rep, ctx, "dbeta after 2 calls", dbt, dbt_ref, ch, 2, 0);

    free(out), free(mean), free(rstd), free(rm), free(rv), free(dx), free(dg), free(dbt);
    workspace_free(&ws);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

START_TEST(test_bn_eval)
{
    const char *c = "eval_a", *ctx = "batchnorm/eval_a";
    Fixture fx;
    LOAD(fx, "batchnorm.bin");
    const float *cfg = GET(c, "cfg", 3);
    int m = (int)cfg[0], ch = (int)cfg[1];
    float eps = cfg[2];
    size_t n = (size_t)m * ch;
    const float *x = GET(c, "x", n), *gamma = GET(c, "gamma", ch), *beta = GET(c, "beta", ch);
    const float *rm = GET(c, "running_mean", ch), *rv = GET(c, "running_var", ch);
    const float *out_ref = GET(c, "out", n);
    float *out = fbuf(n, GARBAGE);
    Report rep = {0};
    Workspace ws = workspace_alloc(batchnorm_work_floats(ch, 0), 0);
    batchnorm_forward_eval(m, ch, x, gamma, beta, out, rm, rv, eps, &ws);
    cmp(&rep, ctx, "out", out, out_ref, n, 1, 0);
    free(out);
    workspace_free(&ws);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ activations */
static const char *act_cases[] = {"relu", "leaky", "gelu", "silu"};

START_TEST(test_act)
{
    const char *c = act_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "act/%s", c);
    Fixture fx;
    LOAD(fx, "act.bin");
    int leaky = strcmp(c, "leaky") == 0;
    const float *cfg = GET(c, "cfg", leaky ? 2 : 1);
    size_t n = (size_t)cfg[0];
    float slope = leaky ? cfg[1] : 0;
    const float *x = GET(c, "x", n), *dout = GET(c, "dout", n);
    const float *out_ref = GET(c, "out", n), *dx_ref = GET(c, "dx", n);
    float *out = fbuf(n, GARBAGE), *dx = fbuf(n, GARBAGE);
    Report rep = {0};
    for (int pass = 0; pass < 2; pass++) {
        int acc = pass;
        if (acc) fill(dx, n, 1.0f);
        if (_i == 0) {
            if (!pass) relu_forward(n, x, out);
            relu_backward(n, x, dout, dx, acc);
        } else if (_i == 1) {
            if (!pass) leaky_forward(n, slope, x, out);
            leaky_backward(n, slope, x, dout, dx, acc);
        } else if (_i == 2) {
            if (!pass) gelu_forward(n, x, out);
            gelu_backward(n, x, dout, dx, acc);
        } else {
            if (!pass) silu_forward(n, x, out);
            silu_backward(n, x, dout, dx, acc);
        }
        if (!pass) cmp(&rep, ctx, "out", out, out_ref, n, 1, 0);
        cmp(&rep, ctx, acc ? "dx (acc=1 on ones)" : "dx (acc=0, garbage in)", dx, dx_ref, n, 1,
            acc);
    }
    free(out), free(dx);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ pooling */
static const char *pool_cases[] = {"max_2_2_0", "max_3_2_1", "max_3_1_1", "avg_2_2_0",
                                   "avg_3_2_1"};

START_TEST(test_pool)
{
    const char *c = pool_cases[_i];
    int is_max = strncmp(c, "max", 3) == 0;
    char ctx[64];
    snprintf(ctx, sizeof ctx, "pool/%s", c);
    Fixture fx;
    LOAD(fx, "pool.bin");
    const float *cfg = GET(c, "cfg", 7);
    PoolShape s = {.n = (int)cfg[0], .h = (int)cfg[1], .w = (int)cfg[2], .c = (int)cfg[3],
                   .size = (int)cfg[4], .stride = (int)cfg[5], .pad = (int)cfg[6]};
    pool_shape_init(&s);
    const FixtureTensor *td = tensor_or_fail(&fx, c, "dout");
    ck_assert_msg(td->ndim == 4 && s.h_out == td->dims[1] && s.w_out == td->dims[2],
                  "%s: pool_shape_init gives %dx%d, PyTorch %dx%d", ctx, s.h_out, s.w_out,
                  td->dims[1], td->dims[2]);
    size_t nin = (size_t)s.n * s.h * s.w * s.c, nout = (size_t)s.n * s.h_out * s.w_out * s.c;
    const float *x = GET(c, "x", nin), *dout = GET(c, "dout", nout);
    const float *out_ref = GET(c, "out", nout), *dx_ref = GET(c, "dx", nin);
    float *out = fbuf(nout, GARBAGE), *dx = fbuf(nin, GARBAGE);
    int32_t *argmax = calloc(nout, sizeof *argmax);
    Report rep = {0};
    if (is_max) {
        maxpool_forward(&s, x, out, argmax);
        maxpool_backward(&s, argmax, dout, dx, 0);
    } else {
        avgpool_forward(&s, x, out);
        avgpool_backward(&s, dout, dx, 0);
    }
    cmp(&rep, ctx, "out", out, out_ref, nout, 1, 0);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, nin, 1, 0);
    fill(dx, nin, 1.0f);
    if (is_max)
        maxpool_backward(&s, argmax, dout, dx, 1);
    else
        avgpool_backward(&s, dout, dx, 1);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, nin, 1, 1);
    free(out), free(dx), free(argmax);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* Max pool's argmax, by hand (no PyTorch counterpart: PyTorch's indices are
 * per-plane): every recorded offset lies within its own image, in
 * [0, H*W*C) -- a batch-wide int32 offset overflowed past 2^31 input
 * elements -- and equals a brute-force first-maximum search; backward over
 * several images scatters into the right image (acc=0 on garbage, acc=1 on
 * ones). Inputs are small integers, so there are ties (first tap wins) and
 * the comparisons are exact. */
START_TEST(test_maxpool_argmax_per_image)
{
    const char *ctx = "pool/max_argmax_3img";
    PoolShape s = {.n = 3, .h = 5, .w = 6, .c = 3, .size = 3, .stride = 2, .pad = 1};
    pool_shape_init(&s);
    const size_t img = (size_t)s.h * s.w * s.c, oimg = (size_t)s.h_out * s.w_out * s.c;
    const size_t nin = img * s.n, nout = oimg * s.n;
    float *x = fbuf(nin, 0), *dout = fbuf(nout, 0), *out = fbuf(nout, GARBAGE);
    float *dx = fbuf(nin, GARBAGE), *out_ref = fbuf(nout, 0), *dx_ref = fbuf(nin, 0);
    int32_t *argmax = calloc(nout, sizeof *argmax), *am_ref = calloc(nout, sizeof *am_ref);
    for (size_t i = 0; i < nin; i++) x[i] = (float)((i * 7919) % 11) - 5.0f;
    for (size_t i = 0; i < nout; i++) dout[i] = 0.25f * (float)(i % 9) - 1.0f;
    for (int n = 0; n < s.n; n++)
        for (int oy = 0; oy < s.h_out; oy++)
            for (int ox = 0; ox < s.w_out; ox++)
                for (int j = 0; j < s.c; j++) {
                    size_t o = (((size_t)n * s.h_out + oy) * s.w_out + ox) * s.c + j;
                    int best = -1;
                    for (int ky = 0; ky < s.size; ky++)
                        for (int kx = 0; kx < s.size; kx++) {
                            int iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                            int off = (iy * s.w + ix) * s.c + j;
                            if (best < 0 || x[n * img + off] > x[n * img + best]) best = off;
                        }
                    am_ref[o] = best;
                    out_ref[o] = x[n * img + best];
                    dx_ref[n * img + best] += dout[o];
                }
    Report rep = {0};
    maxpool_forward(&s, x, out, argmax);
    cmp(&rep, ctx, "out", out, out_ref, nout, 1, 0);
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < nout; i++)
        if (argmax[i] != am_ref[i] && bad++ == 0) first_bad = i;
    if (bad) {
        rep.nfail++;
        rep_add(&rep, "\n  %s: %zu argmax value(s) are not the per-image offset (< H*W*C = %zu); "
                      "first at [%zu] (image %zu): got %d, expected %d",
                ctx, bad, img, first_bad, first_bad / oimg, (int)argmax[first_bad],
                (int)am_ref[first_bad]);
    }
    maxpool_backward(&s, argmax, dout, dx, 0);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, nin, 1, 0);
    fill(dx, nin, 1.0f);
    maxpool_backward(&s, argmax, dout, dx, 1);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, nin, 1, 1);
    free(x), free(dout), free(out), free(dx), free(out_ref), free(dx_ref);
    free(argmax), free(am_ref);
    REPORT_DONE(rep, ctx);
}
END_TEST

START_TEST(test_global_avgpool)
{
    const char *c = "gap", *ctx = "pool/gap";
    Fixture fx;
    LOAD(fx, "pool.bin");
    const float *cfg = GET(c, "cfg", 4);
    int n = (int)cfg[0], hw = (int)cfg[1] * (int)cfg[2], ch = (int)cfg[3];
    size_t nin = (size_t)n * hw * ch, nout = (size_t)n * ch;
    const float *x = GET(c, "x", nin), *dout = GET(c, "dout", nout);
    const float *out_ref = GET(c, "out", nout), *dx_ref = GET(c, "dx", nin);
    float *out = fbuf(nout, GARBAGE), *dx = fbuf(nin, GARBAGE);
    Report rep = {0};
    global_avgpool_forward(n, hw, ch, x, out);
    cmp(&rep, ctx, "out", out, out_ref, nout, 1, 0);
    global_avgpool_backward(n, hw, ch, dout, dx, 0);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, nin, 1, 0);
    fill(dx, nin, 1.0f);
    global_avgpool_backward(n, hw, ch, dout, dx, 1);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, nin, 1, 1);
    free(out), free(dx);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ linear */
static const char *lin_cases[] = {"bias", "nobias"};

START_TEST(test_linear)
{
    const char *c = lin_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "linear/%s", c);
    Fixture fx;
    LOAD(fx, "linear.bin");
    const float *cfg = GET(c, "cfg", 4);
    int n = (int)cfg[0], fin = (int)cfg[1], fout = (int)cfg[2], has_bias = (int)cfg[3];
    size_t nin = (size_t)n * fin, nout = (size_t)n * fout, nw = (size_t)fin * fout;
    const float *x = GET(c, "x", nin), *w = GET(c, "w", nw), *dout = GET(c, "dout", nout);
    const float *out_ref = GET(c, "out", nout), *dx_ref = GET(c, "dx", nin);
    const float *dw_ref = GET(c, "dw", nw);
    const float *b = has_bias ? GET(c, "b", fout) : NULL;
    const float *db_ref = has_bias ? GET(c, "db", fout) : NULL;
    float *out = fbuf(nout, GARBAGE), *dx = fbuf(nin, GARBAGE), *dw = fbuf(nw, 0);
    float *db = has_bias ? fbuf(fout, 0) : NULL;
    Report rep = {0};
    Workspace ws = workspace_alloc(linear_work_floats(n, fin, fout, 0), 0);

    linear_forward(n, fin, fout, x, w, b, out, &ws);
    cmp(&rep, ctx, "out", out, out_ref, nout, 1, 0);
    linear_backward(n, fin, fout, x, w, dout, dx, 0, dw, db, &ws);
    cmp(&rep, ctx, "dx (acc=0, garbage in)", dx, dx_ref, nin, 1, 0);
    cmp(&rep, ctx, "dw", dw, dw_ref, nw, 1, 0);
    if (has_bias) cmp(&rep, ctx, "db", db, db_ref, fout, 1, 0);
    fill(dx, nin, 1.0f);
    linear_backward(n, fin, fout, x, w, dout, dx, 1, dw, db, &ws);
    cmp(&rep, ctx, "dx (acc=1 on ones)", dx, dx_ref, nin, 1, 1);
    cmp(&rep, ctx, "dw after 2 calls", dw, dw_ref, nw, 2, 0);
    if (has_bias) cmp(&rep, ctx, "db after 2 calls", db, db_ref, fout, 2, 0);
    fill(dw, nw, 0);
    if (has_bias) fill(db, fout, 0);
    linear_backward(n, fin, fout, x, w, dout, NULL, 0, dw, db, &ws);
    cmp(&rep, ctx, "dw (din=NULL)", dw, dw_ref, nw, 1, 0);

    free(out), free(dx), free(dw), free(db);
    workspace_free(&ws);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ add / concat */
START_TEST(test_add)
{
    const char *c = _i == 0 ? "add2" : "add3";
    char ctx[64], nm[32];
    snprintf(ctx, sizeof ctx, "join/%s", c);
    Fixture fx;
    LOAD(fx, "join.bin");
    const float *cfg = GET(c, "cfg", 2);
    size_t n = (size_t)cfg[0];
    int k = (int)cfg[1];
    ck_assert_int_eq(k, 2 + _i);
    const float *xs[3], *dxr[3];
    float *dx[3];
    for (int j = 0; j < k; j++) {
        snprintf(nm, sizeof nm, "x%d", j);
        xs[j] = GET(c, nm, n);
        snprintf(nm, sizeof nm, "dx%d", j);
        dxr[j] = GET(c, nm, n);
        dx[j] = fbuf(n, GARBAGE);
    }
    const float *dout = GET(c, "dout", n), *out_ref = GET(c, "out", n);
    float *out = fbuf(n, GARBAGE);
    Report rep = {0};
    add_forward(n, k, xs, out);
    cmp(&rep, ctx, "out", out, out_ref, n, 1, 0);
    int acc0[3] = {0, 0, 0};
    add_backward(n, k, dout, dx, acc0);
    for (int j = 0; j < k; j++) {
        snprintf(nm, sizeof nm, "dx%d (acc=0)", j);
        cmp(&rep, ctx, nm, dx[j], dxr[j], n, 1, 0);
    }
    /* mixed: input 0 accumulates onto ones, input 1 skipped (NULL), input 2 overwritten */
    int accm[3] = {1, 0, 0};
    fill(dx[0], n, 1.0f);
    fill(dx[1], n, 5.0f);
    if (k == 3) fill(dx[2], n, GARBAGE);
    float *dins[3] = {dx[0], NULL, k == 3 ? dx[2] : NULL};
    add_backward(n, k, dout, dins, accm);
    cmp(&rep, ctx, "dx0 (acc=1 on ones)", dx[0], dxr[0], n, 1, 1);
    cmp(&rep, ctx, "dx1 (NULL: untouched)", dx[1], dxr[1], n, 0, 5.0);
    if (k == 3) cmp(&rep, ctx, "dx2 (acc=0, garbage in)", dx[2], dxr[2], n, 1, 0);
    for (int j = 0; j < k; j++) free(dx[j]);
    free(out);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

START_TEST(test_concat)
{
    const char *c = "concat3", *ctx = "join/concat3";
    char nm[32];
    Fixture fx;
    LOAD(fx, "join.bin");
    const float *cfg = GET(c, "cfg", 5);
    size_t m = (size_t)cfg[0];
    int k = (int)cfg[1];
    ck_assert_int_eq(k, 3);
    int cs[3] = {(int)cfg[2], (int)cfg[3], (int)cfg[4]};
    int ctot = cs[0] + cs[1] + cs[2];
    const float *xs[3], *dxr[3];
    float *dx[3];
    for (int j = 0; j < k; j++) {
        snprintf(nm, sizeof nm, "x%d", j);
        xs[j] = GET(c, nm, m * cs[j]);
        snprintf(nm, sizeof nm, "dx%d", j);
        dxr[j] = GET(c, nm, m * cs[j]);
        dx[j] = fbuf(m * cs[j], GARBAGE);
    }
    const float *dout = GET(c, "dout", m * ctot), *out_ref = GET(c, "out", m * ctot);
    float *out = fbuf(m * ctot, GARBAGE);
    Report rep = {0};
    concat_forward(m, k, cs, xs, out);
    cmp(&rep, ctx, "out", out, out_ref, m * ctot, 1, 0);
    int acc0[3] = {0, 0, 0};
    concat_backward(m, k, cs, dout, dx, acc0);
    for (int j = 0; j < k; j++) {
        snprintf(nm, sizeof nm, "dx%d (acc=0)", j);
        cmp(&rep, ctx, nm, dx[j], dxr[j], m * cs[j], 1, 0);
    }
    int accm[3] = {1, 0, 1};
    fill(dx[0], m * cs[0], 1.0f);
    fill(dx[1], m * cs[1], GARBAGE);
    fill(dx[2], m * cs[2], 1.0f);
    concat_backward(m, k, cs, dout, dx, accm); /* NULL entries: documented for add only */
    cmp(&rep, ctx, "dx0 (acc=1 on ones)", dx[0], dxr[0], m * cs[0], 1, 1);
    cmp(&rep, ctx, "dx1 (acc=0, garbage in)", dx[1], dxr[1], m * cs[1], 1, 0);
    cmp(&rep, ctx, "dx2 (acc=1 on ones)", dx[2], dxr[2], m * cs[2], 1, 1);
    for (int j = 0; j < k; j++) free(dx[j]);
    free(out);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ softmax xent */
static const char *xent_cases[] = {"small", "wide", "large_logits"};

START_TEST(test_xent)
{
    const char *c = xent_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "xent/%s", c);
    Fixture fx;
    LOAD(fx, "xent.bin");
    const float *cfg = GET(c, "cfg", 2);
    int n = (int)cfg[0], k = (int)cfg[1];
    const float *logits = GET(c, "logits", (size_t)n * k), *labf = GET(c, "labels", n);
    const float *dl_ref = GET(c, "dlogits", (size_t)n * k);
    double loss_sum = GET(c, "loss_sum", 1)[0], loss_mean = GET(c, "loss_mean", 1)[0];
    int correct_ref = (int)GET(c, "correct", 1)[0];
    int labels[64];
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) labels[i] = (int)labf[i];
    float *dl = fbuf((size_t)n * k, GARBAGE);
    Report rep = {0};
    int correct = 0;
    double loss = softmax_xent(n, k, logits, labels, dl, 1.0f / n, &correct);
    cmp_scalar(&rep, ctx, "summed loss", loss, loss_sum);
    cmp_scalar(&rep, ctx, "mean loss (sum/N)", loss / n, loss_mean);
    cmp(&rep, ctx, "dlogits (scale 1/N)", dl, dl_ref, (size_t)n * k, 1, 0);
    cmp_int(&rep, ctx, "correct", correct, correct_ref);
    double loss2 = softmax_xent(n, k, logits, labels, NULL, 1.0f, NULL);
    cmp_scalar(&rep, ctx, "loss (dlogits=NULL)", loss2, loss_sum);
    free(dl);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ dropout (by hand) */
START_TEST(test_dropout)
{
    enum { N = 24 };
    const char *ctx = "dropout/fixed_mask";
    const float p = 0.25f, keep = 1.0f / (1.0f - p);
    float in[N], mask[N], dout[N], exp_out[N], exp_din[N];
    for (int i = 0; i < N; i++) {
        in[i] = (float)(i % 7) - 3.25f + 0.1f * i;
        dout[i] = 0.5f - 0.05f * i;
        mask[i] = (i % 4 == 1) ? 0.0f : keep; /* a fixed pattern, 1/4 dropped */
        exp_out[i] = in[i] * mask[i];
        exp_din[i] = dout[i] * mask[i];
    }
    float *out = fbuf(N, GARBAGE), *din = fbuf(N, GARBAGE);
    Report rep = {0};
    dropout_forward(N, in, mask, out);
    cmp(&rep, ctx, "out = in*mask", out, exp_out, N, 1, 0);
    for (int i = 0; i < N; i++)
        if (mask[i] == 0.0f && out[i] != 0.0f) cmp_int(&rep, ctx, "dropped element is 0", 1, 0);
    dropout_backward(N, mask, dout, din, 0);
    cmp(&rep, ctx, "din (acc=0, garbage in)", din, exp_din, N, 1, 0);
    fill(din, N, 1.0f);
    dropout_backward(N, mask, dout, din, 1);
    cmp(&rep, ctx, "din (acc=1 on ones)", din, exp_din, N, 1, 1);
    free(out), free(din);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ muon */
/* The Muon optimizer's update (src/train/muon.c) against airbench94_muon's
 * formulas in float64 PyTorch: weights in cnnrun's (K, out) layout, several
 * steps so the momentum buffer and the renormalisation carry over; cases
 * with out < K, out > K (PyTorch iterates on the transpose) and out == K. */
static const char *muon_cases[] = {"conv3x3", "conv1x1_tall", "linear", "linear_tall", "square"};

START_TEST(test_muon)
{
    const char *c = muon_cases[_i];
    char ctx[64];
    snprintf(ctx, sizeof ctx, "muon/%s", c);
    Fixture fx;
    LOAD(fx, "muon.bin");
    const float *cfg = GET(c, "cfg", 7);
    int rows = (int)cfg[0], cols = (int)cfg[1], steps = (int)cfg[2], ns = (int)cfg[5];
    float mu = cfg[3], lr = cfg[6];
    bool nesterov = cfg[4] != 0;
    size_t n = (size_t)rows * cols;
    float *w = fbuf(n, 0), *buf = fbuf(n, 0), *work = fbuf(muon_work_floats(rows, cols), GARBAGE);
    memcpy(w, GET(c, "w0", n), n * sizeof *w);
    Workspace ws = workspace_alloc(muon_gemm_floats(rows, cols, 0), 0);
    Report rep = {0};
    for (int s = 0; s < steps; s++) {
        char name[16];
        snprintf(name, sizeof name, "g%d", s);
        muon_update(rows, cols, w, GET(c, name, n), buf, lr, mu, nesterov, 0.0f, false, ns, work,
                    &ws);
        snprintf(name, sizeof name, "w%d", s + 1);
        char what[32];
        snprintf(what, sizeof what, "weight after step %d", s + 1);
        cmp(&rep, ctx, what, w, GET(c, name, n), n, 1, 0);
    }
    cmp(&rep, ctx, "momentum buffer", buf, GET(c, "buf", n), n, 1, 0);
    free(w), free(buf), free(work);
    workspace_free(&ws);
    fixture_free(&fx);
    REPORT_DONE(rep, ctx);
}
END_TEST

/* ------------------------------------------------------------ fixture reader */
START_TEST(test_fixture_reader)
{
    Fixture fx;
    LOAD(fx, "linear.bin");
    ck_assert_ptr_null(fixture_get(&fx, "bias/x", 12345));
    ck_assert_msg(strstr(fx.err, "elements") != NULL, "unexpected message: %s", fx.err);
    ck_assert_ptr_null(fixture_get(&fx, "no/such", 0));
    ck_assert_msg(strstr(fx.err, "no tensor named") != NULL, "unexpected message: %s", fx.err);
    ck_assert_ptr_nonnull(fixture_get(&fx, "bias/cfg", 4));
    fixture_free(&fx);
    ck_assert_int_ne(fixture_load(&fx, "does_not_exist.bin"), 0);
    ck_assert_msg(strstr(fx.err, "cannot open") != NULL, "unexpected message: %s", fx.err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("pytorch");
    tcase_add_test(tc, test_fixture_reader);
    tcase_add_loop_test(tc, test_conv, 0, N_CONV);
    tcase_add_loop_test(tc, test_bn_train, 0, 2);
    tcase_add_test(tc, test_bn_eval);
    tcase_add_loop_test(tc, test_act, 0, 4);
    tcase_add_loop_test(tc, test_pool, 0, 5);
    tcase_add_test(tc, test_maxpool_argmax_per_image);
    tcase_add_test(tc, test_global_avgpool);
    tcase_add_loop_test(tc, test_linear, 0, 2);
    tcase_add_loop_test(tc, test_add, 0, 2);
    tcase_add_test(tc, test_concat);
    tcase_add_loop_test(tc, test_xent, 0, 3);
    tcase_add_test(tc, test_dropout);
    tcase_add_loop_test(tc, test_muon, 0, 5);
    suite_add_tcase(s, tc);
    return check_run(s);
}
