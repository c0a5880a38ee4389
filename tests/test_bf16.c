/* test_bf16.c — the bf16 products ([experiment] precision = bf16,
 * src/engine/bf16.c) against fp64 references, on every CPU.
 *
 * The bound. bf16 keeps 8 significant bits: rounding to nearest gives
 * x(1 + d), |d| <= u = 2^-8. A product of two rounded inputs is exact in
 * fp32, so an output c = sum_k a_k b_k computed from rounded inputs with fp32
 * sums is within
 *     (2u + u^2) S + gamma_K(fp32) (1 + u)^2 S,   S = sum_k |a_k b_k|,
 * of the exact value, where gamma_K = K 2^-24 / (1 - K 2^-24) bounds K fp32
 * additions in any order. Asserted element by element for the products
 * (every transpose, beta 0 and 1, the emulated path and the CPU's own), for
 * im2col convolutions (forward, input and weight gradients) and linear
 * layers. Winograd's products work on transformed tiles whose entries the
 * bound above does not cover; for F(2x2) and F(4x4) the test asserts the
 * largest error against the same S-scaled bound times the factor measured
 * with margin (stated below). Every check also asserts that the error is
 * above what fp32 inputs would give somewhere: the inputs were rounded
 * (a bf16 path that computed fp32 fails).
 *
 * oneDNN's convolution primitives (CONV_ONEDNN) are one of the algorithms
 * checked against the direct bound (factor 1: bf16 inputs, fp32 sums) where
 * they run (a CPU with bf16 instructions).
 *
 * `test_bf16 --hardware` compares the CPU's bf16 path with the emulated one
 * (the same rounded inputs: only the fp32 sums' order differs, gamma_K S of
 * the rounded inputs), and oneDNN's convolutions with im2col's bf16 products
 * (with a bias and gradients added to; the same bits twice); it exits 77
 * with the reason where the path is the emulated one (no AVX512-BF16/
 * AMX-BF16, or built without oneDNN). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

static const double U = 1.0 / 256; /* bf16's unit roundoff */

static double gamma_k(double k)
{
    double e = k * ldexp(1.0, -24);
    return e / (1 - e);
}

static double bound(double S, int k)
{
    return (2 * U + U * U) * S + gamma_k(k) * (1 + U) * (1 + U) * S;
}

static float *randn(size_t n, Rng *r, float scale)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * rng_normal(r);
    return p;
}

START_TEST(test_round)
{
    ck_assert(bf16_round(1.0f) == 1.0f);
    ck_assert(bf16_round(-3.5f) == -3.5f);
    /* 1 + 2^-8 is the tie between 1 and 1 + 2^-7: to the even one, 1 */
    ck_assert(bf16_round(1.0f + 0x1p-8f) == 1.0f);
    ck_assert(bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    /* 1 + 3 * 2^-8 ties between 1 + 2^-7 and 1 + 2^-6: the even one */
    ck_assert(bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    ck_assert(isinf(bf16_round(INFINITY)) && bf16_round(-INFINITY) < 0);
    ck_assert(isnan(bf16_round(NAN)));
    ck_assert(isinf(bf16_round(3.4e38f))); /* past bf16's largest value */
    ck_assert(bf16_round(0x1p-130f) == 0x1p-130f); /* a subnormal with 8 bits kept */
    Rng r;
    rng_seed(&r, 7, 1);
    for (int i = 0; i < 10000; i++) {
        float x = rng_normal(&r) * 100, y = bf16_round(x);
        ck_assert(fabs((double)y - x) <= U * fabs(x));
        ck_assert(bf16_round(y) == y);
    }
}
END_TEST

/* c = op(a) op(b) + beta c (m x n, inner k) by the emulated or the CPU's path
 * against fp64, every element within the bound. */
static void check_product(int ta, int tb, int m, int n, int k, float beta, int emulate)
{
    Rng r;
    rng_seed(&r, 11, (uint64_t)(m * 7 + n * 3 + k + ta * 2 + tb));
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2; /* padded rows */
    float *a = randn((size_t)(ta ? k : m) * lda, &r, 1), *b = randn((size_t)(tb ? n : k) * ldb, &r, 1);
    float *c = randn((size_t)m * ldc, &r, 1), *c0 = alloc_floats((size_t)m * ldc);
    memcpy(c0, c, sizeof(float) * (size_t)m * ldc);
    bf16_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, emulate);
    double worst = 0, above_fp32 = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double exact = beta * (double)c0[(size_t)i * ldc + j], S = fabs(exact);
            for (int p = 0; p < k; p++) {
                double x = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double y = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                exact += x * y;
                S += fabs(x * y);
            }
            double err = fabs(c[(size_t)i * ldc + j] - exact), tol = bound(S, k + 1);
            ck_assert_msg(err <= tol, "%s %dx%dx%d t%d%d beta %g: c[%d][%d] off by %g > %g",
                          emulate ? "emulated" : bf16_path_name(bf16_path()), m, n, k, ta, tb,
                          beta, i, j, err, tol);
            if (err / tol > worst) worst = err / tol;
            double fp32_tol = gamma_k(k + 1) * S;
            if (err > fp32_tol) above_fp32 = 1;
        }
    ck_assert_msg(above_fp32, "no error above fp32 inputs' bound: the inputs were not rounded");
    free(a), free(b), free(c), free(c0);
}

START_TEST(test_product)
{
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 64}, {64, 48, 577},
                                    {130, 9, 1000}};
    for (int emulate = 1; emulate >= 0; emulate--)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++)
                for (int beta = 0; beta <= 1; beta++)
                    check_product(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                  (float)beta, emulate);
}
END_TEST

/* gemm() with a PRECISION_BF16 work space takes the bf16 path, also split
 * over threads (rows, columns, the inner dimension). */
START_TEST(test_gemm_dispatch)
{
    const int m = 96, n = 80, k = 4000;
    Rng r;
    rng_seed(&r, 3, 3);
    float *a = randn((size_t)m * k, &r, 1), *b = randn((size_t)k * n, &r, 1);
    float *c = alloc_floats((size_t)m * n), *ref = alloc_floats((size_t)m * n);
    for (int threads = 1; threads <= 3; threads++) {
        Workspace ws = workspace_alloc(gemm_work_floats(m, n, k, threads), threads);
        ws.precision = PRECISION_BF16;
        gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c, n, &ws);
        bf16_gemm(0, 0, m, n, k, a, k, b, n, 0.0f, ref, n, 1);
        for (size_t i = 0; i < (size_t)m * n; i++) {
            double S = 0;
            for (int p = 0; p < k; p++)
                S += fabs((double)bf16_round(a[(i / n) * k + p]) * bf16_round(b[(size_t)p * n + i % n]));
            ck_assert_msg(fabs((double)c[i] - ref[i]) <= 2 * gamma_k(k) * S,
                          "%d threads: %g vs %g", threads, c[i], ref[i]);
        }
        workspace_free(&ws);
    }
    free(a), free(b), free(c), free(ref);
}
END_TEST

/* ---- convolutions and linear layers ---------------------------------------- */

typedef struct {
    double *y, *sy;   /* forward and its S */
    double *dx, *sdx; /* input gradient */
    double *dw, *sdw; /* weight gradient */
} ConvRef;

/* Direct convolution in fp64 (NHWC, weight KH KW Cin Cout), each output's sum
 * of |terms| beside it. */
static ConvRef conv_ref(const ConvShape *s, const float *x, const float *w, const float *dy)
{
    size_t ny = (size_t)s->n * s->h_out * s->w_out * s->c_out, nx = (size_t)s->n * s->h * s->w * s->c_in;
    size_t nw = (size_t)s->kh * s->kw * s->c_in * s->c_out;
    ConvRef r = {calloc(ny, 8), calloc(ny, 8), calloc(nx, 8), calloc(nx, 8), calloc(nw, 8),
                 calloc(nw, 8)};
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->h_out; oy++)
            for (int ox = 0; ox < s->w_out; ox++)
                for (int ky = 0; ky < s->kh; ky++)
                    for (int kx = 0; kx < s->kw; kx++) {
                        int iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
                        if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                        size_t xo = (((size_t)n * s->h + iy) * s->w + ix) * s->c_in;
                        size_t yo = (((size_t)n * s->h_out + oy) * s->w_out + ox) * s->c_out;
                        for (int ci = 0; ci < s->c_in; ci++) {
                            size_t wo = (((size_t)ky * s->kw + kx) * s->c_in + ci) * s->c_out;
                            for (int co = 0; co < s->c_out; co++) {
                                double a = x[xo + ci], b = w[wo + co], g = dy[yo + co];
                                r.y[yo + co] += a * b, r.sy[yo + co] += fabs(a * b);
                                r.dx[xo + ci] += g * b, r.sdx[xo + ci] += fabs(g * b);
                                r.dw[wo + co] += a * g, r.sdw[wo + co] += fabs(a * g);
                            }
                        }
                    }
    return r;
}

static void conv_ref_free(ConvRef *r)
{
    free(r->y), free(r->sy), free(r->dx), free(r->sdx), free(r->dw), free(r->sdw);
}

/* got within factor x the bound of want (S beside it, K terms); the largest
 * error as a fraction of the bound, and whether any error was above fp32's */
static double check_close(const char *what, const float *got, const double *want, const double *S,
                          size_t n, int K, double factor, int *above_fp32)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]), tol = factor * bound(S[i], K);
        ck_assert_msg(err <= tol, "%s[%zu]: %g, want %g (off by %g > %g)", what, i, got[i], want[i],
                      err, tol);
        if (err / tol > worst) worst = err / tol;
        if (err > 2 * gamma_k(K) * S[i]) *above_fp32 = 1;
    }
    return worst;
}

/* Winograd's factor over the bound (transformed tiles, fp32 transforms):
 * measured on these shapes (2026-12-07, the test prints them), the largest
 * error over the direct bound, F(2x2) 0.76 (its weight gradient), F(4x4)
 * 8.3 (weight gradient; 2.7-5.2 elsewhere); asserted with about twice that
 * margin. F(4x4)'s transforms grow the rounded inputs' error eightfold. */
static const struct {
    int algo;
    double factor;
    const char *name;
} conv_algos[] = {{CONV_IM2COL, 1, "im2col"}, {CONV_WINOGRAD, 2, "F(2x2)"},
                  {CONV_WINOGRAD4, 16, "F(4x4)"}, {CONV_ONEDNN, 1, "oneDNN"}};

START_TEST(test_conv)
{
    const int a = _i;
    static const int shapes[][6] = {/* n h w cin cout stride */ {2, 7, 6, 5, 4, 1},
                                    {2, 9, 9, 16, 24, 1},
                                    {1, 8, 8, 64, 32, 1},
                                    {2, 9, 8, 6, 5, 2}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        ConvShape s = {.n = shapes[si][0], .h = shapes[si][1], .w = shapes[si][2],
                       .c_in = shapes[si][3], .c_out = shapes[si][4], .kh = 3, .kw = 3,
                       .stride = shapes[si][5], .pad = 1, .algo = conv_algos[a].algo,
                       .algo_dweight = conv_algos[a].algo, .precision = PRECISION_BF16};
        conv_shape_init(&s);
        if (!conv_algo_eligible(s.algo, &s)) continue;
        Rng r;
        rng_seed(&r, 35, si);
        size_t nx = (size_t)s.n * s.h * s.w * s.c_in, ny = (size_t)s.n * s.h_out * s.w_out * s.c_out;
        size_t nw = (size_t)9 * s.c_in * s.c_out;
        float *x = randn(nx, &r, 1), *w = randn(nw, &r, 0.3f), *dy = randn(ny, &r, 1);
        float *y = alloc_floats(ny), *dx = alloc_floats(nx), *dw = alloc_floats(nw);
        float *scratch = alloc_floats(conv_scratch_floats(&s) + 1);
        memset(dw, 0, sizeof(float) * nw);
        conv_forward(&s, x, w, NULL, y, scratch);
        conv_backward(&s, x, w, dy, dx, 0, dw, NULL, scratch);
        ConvRef ref = conv_ref(&s, x, w, dy);
        int above = 0;
        char what[96];
        snprintf(what, sizeof what, "%s bf16 shape %zu forward", conv_algos[a].name, si);
        double f = conv_algos[a].factor, worst[3];
        worst[0] = check_close(what, y, ref.y, ref.sy, ny, 9 * s.c_in, f, &above);
        snprintf(what, sizeof what, "%s bf16 shape %zu dinput", conv_algos[a].name, si);
        worst[1] = check_close(what, dx, ref.dx, ref.sdx, nx, 9 * s.c_out, f, &above);
        snprintf(what, sizeof what, "%s bf16 shape %zu dweight", conv_algos[a].name, si);
        worst[2] = check_close(what, dw, ref.dw, ref.sdw, nw, s.n * s.h_out * s.w_out, f, &above);
        printf("%s shape %zu: largest error / unscaled bound: forward %.3f, dinput %.3f, "
               "dweight %.3f\n", conv_algos[a].name, si, f * worst[0], f * worst[1], f * worst[2]);
        ck_assert_msg(above, "%s shape %zu: no error above fp32's: computed in fp32?",
                      conv_algos[a].name, si);
        conv_ref_free(&ref);
        free(x), free(w), free(dy), free(y), free(dx), free(dw), free(scratch);
    }
}
END_TEST

START_TEST(test_linear)
{
    const int n = 6, in_f = 300, out_f = 10;
    Rng r;
    rng_seed(&r, 5, 5);
    float *x = randn((size_t)n * in_f, &r, 1), *w = randn((size_t)in_f * out_f, &r, 0.1f);
    float *dy = randn((size_t)n * out_f, &r, 1), *y = alloc_floats((size_t)n * out_f);
    float *dx = alloc_floats((size_t)n * in_f), *dw = alloc_floats((size_t)in_f * out_f);
    memset(dw, 0, sizeof(float) * in_f * out_f);
    Workspace ws = workspace_alloc(1 << 16, 2);
    ws.precision = PRECISION_BF16;
    linear_forward(n, in_f, out_f, x, w, NULL, y, &ws);
    linear_backward(n, in_f, out_f, x, w, dy, dx, 0, dw, NULL, &ws);
    int above = 0;
    double *want = calloc((size_t)n * out_f, 8), *S = calloc((size_t)n * out_f, 8);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out_f; o++)
            for (int p = 0; p < in_f; p++) {
                double t = (double)x[i * in_f + p] * w[p * out_f + o];
                want[i * out_f + o] += t, S[i * out_f + o] += fabs(t);
            }
    check_close("linear forward", y, want, S, (size_t)n * out_f, in_f, 1, &above);
    double *wdw = calloc((size_t)in_f * out_f, 8), *sdw = calloc((size_t)in_f * out_f, 8);
    for (int p = 0; p < in_f; p++)
        for (int o = 0; o < out_f; o++)
            for (int i = 0; i < n; i++) {
                double t = (double)x[i * in_f + p] * dy[i * out_f + o];
                wdw[p * out_f + o] += t, sdw[p * out_f + o] += fabs(t);
            }
    check_close("linear dweight", dw, wdw, sdw, (size_t)in_f * out_f, n, 1, &above);
    ck_assert(above);
    workspace_free(&ws);
    free(want), free(S), free(wdw), free(sdw);
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
}
END_TEST

/* One conv of s with algorithm algo: out = conv + bias, din = 1 + the input
 * gradient (acc), dw = 1 + the weight gradient, into r[0..2]. */
static void conv_run(ConvShape s, int algo, const float *x, const float *w, const float *bias,
                     const float *dy, float **r, int keep)
{
    s.algo = s.algo_dweight = algo;
    size_t nx = (size_t)s.n * s.h * s.w * s.c_in, nw = (size_t)s.kh * s.kw * s.c_in * s.c_out;
    size_t ny = (size_t)s.n * s.h_out * s.w_out * s.c_out;
    r[0] = alloc_floats(ny), r[1] = alloc_floats(nx), r[2] = alloc_floats(nw);
    for (size_t i = 0; i < nx; i++) r[1][i] = 1;
    for (size_t i = 0; i < nw; i++) r[2][i] = 1;
    float *scratch = alloc_floats(conv_scratch_floats(&s) + 1);
    float *kept = keep ? alloc_floats(conv_keep_floats(&s) + 1) : NULL;
    conv_forward_keep(&s, x, w, bias, r[0], scratch, kept);
    conv_backward_keep(&s, x, w, dy, r[1], 1, r[2], NULL, scratch, kept);
    free(scratch), free(kept);
}

/* oneDNN's convolution primitives against im2col's bf16 products (the same
 * rounded inputs; only the order of the fp32 sums differs: within
 * 2 gamma_K S), with a bias and the gradients added to, on shapes with
 * stride 2, a 1x1 and a 2x2 kernel, 3 input channels and a batch whose
 * added input gradient goes by parts (conv_dnnl.c: acc_part); and the call again,
 * with the input's bf16 copy kept from forward to backward
 * (conv_forward_keep), gives the same bits. */
static int hardware_conv(void)
{
    static const int shapes[][8] = {/* n h cin cout k stride pad */ {2, 9, 3, 16, 3, 1, 1},
                                    {3, 8, 16, 24, 3, 2, 1},
                                    {2, 8, 32, 48, 1, 2, 0},
                                    {2, 7, 8, 24, 2, 1, 0},
                                    {4, 5, 64, 32, 3, 1, 1},
                                    /* the added input gradient by parts of 8 images */
                                    {16, 16, 64, 32, 3, 1, 1}};
    int bad = 0;
    Rng rg;
    rng_seed(&rg, 11, 11);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !bad; i++) {
        const int *d = shapes[i];
        ConvShape s = {.n = d[0], .h = d[1], .w = d[1], .c_in = d[2], .c_out = d[3], .kh = d[4],
                       .kw = d[4], .stride = d[5], .pad = d[6], .precision = PRECISION_BF16};
        conv_shape_init(&s);
        size_t nx = (size_t)s.n * s.h * s.w * s.c_in, nw = (size_t)s.kh * s.kw * s.c_in * s.c_out;
        size_t ny = (size_t)s.n * s.h_out * s.w_out * s.c_out, n[3] = {ny, nx, nw};
        float *x = randn(nx, &rg, 1), *w = randn(nw, &rg, 0.3f), *dy = randn(ny, &rg, 1);
        float *bias = randn((size_t)s.c_out, &rg, 1);
        float *dn[3], *again[3], *im[3];
        conv_run(s, CONV_ONEDNN, x, w, bias, dy, dn, 0);
        conv_run(s, CONV_ONEDNN, x, w, bias, dy, again, 1); /* the input's copy kept */
        conv_run(s, CONV_IM2COL, x, w, bias, dy, im, 0);
        ConvRef ref = conv_ref(&s, x, w, dy); /* S of the unrounded inputs: the rounded
                                                 ones' within (1 + u)^2 of it */
        const double *S[3] = {ref.sy, ref.sdx, ref.sdw};
        const int K[3] = {s.kh * s.kw * s.c_in, s.kh * s.kw * s.c_out, s.n * s.h_out * s.w_out};
        const char *what[3] = {"forward", "dinput", "dweight"};
        for (int p = 0; p < 3 && !bad; p++)
            for (size_t j = 0; j < n[p]; j++) {
                /* the sums' order, then the bias or the 1 added (rounded once each) */
                double tol = 2 * gamma_k(K[p]) * (1 + U) * (1 + U) * S[p][j] +
                             4 * ldexp(fabs(im[p][j]), -24);
                if (memcmp(&dn[p][j], &again[p][j], sizeof(float))) {
                    printf("FAIL: oneDNN conv shape %zu %s[%zu]: %g, then %g (not the same bits)\n",
                           i, what[p], j, dn[p][j], again[p][j]);
                    bad = 1;
                    break;
                }
                if (fabs((double)dn[p][j] - im[p][j]) > tol) {
                    printf("FAIL: oneDNN conv shape %zu %s[%zu]: %g vs im2col %g (> %g)\n", i,
                           what[p], j, dn[p][j], im[p][j], tol);
                    bad = 1;
                    break;
                }
            }
        if (!bad) printf("oneDNN conv shape %zu (%d x %dx%d -> %d, %dx%d/%d): as im2col\n", i, s.c_in,
                         s.h, s.w, s.c_out, s.kh, s.kw, s.stride);
        conv_ref_free(&ref);
        for (int p = 0; p < 3; p++) free(dn[p]), free(again[p]), free(im[p]);
        free(x), free(w), free(dy), free(bias);
    }
    return bad;
}

/* Batch norm's forward writing its output as bf16 bits (for a oneDNN
 * convolution after it), and its backward writing the input gradient so
 * (for one before it), give the bits bf16_pack gives of the fp32 results:
 * with and without a fused activation, channels below the block of rows
 * they convert at once and above it (5000 > 4096: a row in parts). */
START_TEST(test_bn_bf16_gradient)
{
    static const int shapes[][2] = {/* rows, channels */ {300, 16}, {70, 64}, {3, 5000}};
    static const BnAct acts[] = {{BN_ACT_NONE, 0}, {BN_ACT_RELU, 0}, {BN_ACT_GELU, 0}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
            const int m = shapes[si][0], c = shapes[si][1];
            const size_t n = (size_t)m * c;
            Rng r;
            rng_seed(&r, 36, si * 8 + ai);
            float *x = randn(n, &r, 1), *dy = randn(n, &r, 1), *dy2 = alloc_floats(n);
            float *gamma = randn((size_t)c, &r, 1), *beta = randn((size_t)c, &r, 1);
            float *y = alloc_floats(n), *saved = alloc_floats(4 * (size_t)c);
            float *rm = alloc_floats((size_t)c), *rv = alloc_floats((size_t)c);
            float *dg = alloc_floats(2 * (size_t)c), *db = alloc_floats(2 * (size_t)c);
            float *dx = alloc_floats(n), *packed = alloc_floats(n), *got = alloc_floats(n);
            Workspace ws = workspace_alloc(1 << 20, 2);
            float *saved2 = alloc_floats(4 * (size_t)c), *yh = alloc_floats(n);
            float *rm2 = alloc_floats((size_t)c), *rv2 = alloc_floats((size_t)c);
            float *y2 = alloc_floats(n); /* the fp32 output written beside the bits */
            batchnorm_act_forward_train_bf16(m, c, x, gamma, beta, acts[ai], (uint16_t *)yh, y2,
                                             saved2, saved2 + c, saved2 + 2 * c, rm2, rv2, 0.1f,
                                             1e-5f, &ws);
            batchnorm_act_forward_train(m, c, x, gamma, beta, acts[ai], y, saved, saved + c,
                                        saved + 2 * c, rm, rv, 0.1f, 1e-5f, &ws);
            bf16_pack(y, 1, (int)n, (int)n, (uint16_t *)packed);
            ck_assert_msg(memcmp(yh, packed, n * sizeof(uint16_t)) == 0 &&
                              memcmp(saved, saved2, 4 * sizeof(float) * c) == 0 &&
                              memcmp(rm, rm2, sizeof(float) * c) == 0,
                          "%d x %d, activation %d: the bf16 forward is not the fp32 one rounded",
                          m, c, (int)acts[ai].kind);
            ck_assert_msg(memcmp(y, y2, sizeof(float) * n) == 0,
                          "%d x %d, activation %d: the fp32 output beside the bf16 one differs", m,
                          c, (int)acts[ai].kind);
            free(saved2), free(yh), free(rm2), free(rv2), free(y2);
            memcpy(dy2, dy, sizeof(float) * n); /* each backward turns it in place */
            batchnorm_act_backward(m, c, x, gamma, saved, saved + c, saved + 2 * c, acts[ai], dy,
                                   dx, 0, dg, db, &ws);
            batchnorm_act_backward_bf16(m, c, x, gamma, saved, saved + c, saved + 2 * c, acts[ai],
                                        dy2, (uint16_t *)got, dg + c, db + c, &ws);
            bf16_pack(dx, 1, (int)n, (int)n, (uint16_t *)packed);
            ck_assert_msg(memcmp(got, packed, n * sizeof(uint16_t)) == 0,
                          "%d x %d, activation %d: not the bits of the fp32 gradient, rounded", m,
                          c, (int)acts[ai].kind);
            ck_assert_msg(memcmp(dg, dg + c, sizeof(float) * c) == 0 &&
                              memcmp(db, db + c, sizeof(float) * c) == 0,
                          "%d x %d: the parameters' gradients differ", m, c);
            workspace_free(&ws);
            free(x), free(dy), free(dy2), free(gamma), free(beta), free(y), free(saved), free(rm);
            free(rv), free(dg), free(db), free(dx), free(packed), free(got);
        }
}
END_TEST

/* The CPU's path against the emulated one: the same rounded inputs, only the
 * order of the fp32 sums differs. */
static int hardware(void)
{
    if (bf16_path() == BF16_EMULATED) {
        char why[320];
        bf16_path_warning(why, sizeof why);
        printf("SKIP: no bf16 hardware path to compare: %s\n", why);
        return 77;
    }
    printf("bf16 path: %s\n", bf16_path_name(bf16_path()));
    static const int shapes[][3] = {{64, 64, 64}, {300, 70, 1152}, {5, 512, 4608}};
    Rng r;
    rng_seed(&r, 9, 9);
    int bad = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = t & 1, tb = t >> 1;
            float *a = randn((size_t)m * k, &r, 1), *b = randn((size_t)k * n, &r, 1);
            float *hw = alloc_floats((size_t)m * n), *em = alloc_floats((size_t)m * n);
            bf16_gemm(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, 0.0f, hw, n, 0);
            bf16_gemm(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, 0.0f, em, n, 1);
            for (int i = 0; i < m && !bad; i++)
                for (int j = 0; j < n; j++) {
                    double S = 0;
                    for (int p = 0; p < k; p++)
                        S += fabs((double)bf16_round(ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p]) *
                                  bf16_round(tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j]));
                    if (fabs((double)hw[i * n + j] - em[i * n + j]) > 2 * gamma_k(k) * S) {
                        printf("FAIL: %dx%dx%d t%d%d [%d][%d]: %g vs emulated %g\n", m, n, k, ta,
                               tb, i, j, hw[i * n + j], em[i * n + j]);
                        bad = 1;
                        break;
                    }
                }
            free(a), free(b), free(hw), free(em);
        }
    bad |= hardware_conv();
    printf("%s\n", bad ? "1 passed, 1 failed" : "1 passed, 0 failed");
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--hardware") == 0) return hardware();
    engine_set_threads(2);
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round);
    tcase_add_test(tc, test_product);
    tcase_add_test(tc, test_gemm_dispatch);
    tcase_add_loop_test(tc, test_conv, 0, (int)(sizeof conv_algos / sizeof conv_algos[0]));
    tcase_add_test(tc, test_linear);
    tcase_add_test(tc, test_bn_bf16_gradient);
    suite_add_tcase(s, tc);
    return check_run(s);
}
