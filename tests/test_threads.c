/* test_threads.c — the engine's thread splits give the single-thread answer:
 * gemm() split by rows, by columns and by the inner dimension (with beta 0
 * and 1, transposes, ldc > n) against a double-precision reference; conv
 * forward and backward (im2col, 1x1, Winograd F(2x2) and F(4x4)) on 2
 * threads against 1 thread, with an odd image count so the threads get
 * unequal shares (Winograd splits tiles, not images: 5 images of 17x15 give
 * 360 F(2x2) and 100 F(4x4) tiles, enough for both threads), and a rerun on
 * 2 threads is bit-identical. Without OpenMP the 2-thread runs take the
 * OpenBLAS path and the test still holds.
 * Tolerance: |a - b| <= 1e-5 * (sum_k |a_ik b_kj| + |beta c|) per element for
 * gemm; 1e-5 * max(1, max |ref|) for conv (only summation order differs). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

static float *randn(size_t n, Rng *r)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(r);
    return p;
}

static const struct {
    const char *what;
    int m, n, k, ta, tb;
} products[] = {
    {"rows", 300, 70, 200, 0, 0},        {"rows, A^T", 300, 70, 200, 1, 0},
    {"columns", 20, 500, 300, 0, 1},     {"columns, A^T B^T", 20, 500, 300, 1, 1},
    {"inner (dW)", 40, 30, 5000, 1, 0},  {"inner, B^T", 40, 30, 5000, 0, 1},
    {"small", 7, 5, 3, 0, 0},
};

START_TEST(test_gemm_splits)
{
    const int m = products[_i].m, n = products[_i].n, k = products[_i].k;
    const int ta = products[_i].ta, tb = products[_i].tb;
    const int lda = ta ? m : k, ldb = tb ? k : n, ldc = n + 3;
    Rng r;
    rng_seed(&r, 7, (uint64_t)_i);
    float *a = randn((size_t)m * k, &r), *b = randn((size_t)k * n, &r);
    float *c0 = randn((size_t)m * ldc, &r), *c = alloc_floats((size_t)m * ldc);
    for (int threads = 1; threads <= 2; threads++) {
        engine_set_threads(threads);
        Workspace ws = workspace_alloc(gemm_work_floats(m, n, k, threads), threads);
        for (int beta = 0; beta <= 1; beta++) {
            for (size_t i = 0; i < (size_t)m * ldc; i++) c[i] = c0[i];
            gemm(ta, tb, m, n, k, a, lda, b, ldb, (float)beta, c, ldc, &ws);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = beta ? c0[(size_t)i * ldc + j] : 0, mag = fabs(sum);
                    for (int p = 0; p < k; p++) {
                        double x = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                        double y = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                        sum += x * y;
                        mag += fabs(x * y);
                    }
                    double got = c[(size_t)i * ldc + j];
                    ck_assert_msg(fabs(got - sum) <= 1e-5 * mag,
                                  "%s, %d threads, beta %d: c[%d,%d] = %.7g, want %.7g",
                                  products[_i].what, threads, beta, i, j, got, sum);
                }
                /* the padding columns beyond n are left alone */
                for (int j = n; j < ldc; j++)
                    ck_assert(c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j]);
            }
        }
        workspace_free(&ws);
    }
    free(a); free(b); free(c0); free(c);
}
END_TEST

static void assert_close(const char *what, const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (d > worst) worst = d;
    }
    ck_assert_msg(worst <= 1e-5 * scale, "%s: 2 threads differ from 1 by %g (tolerance %g)",
                  what, worst, 1e-5 * scale);
}

/* conv forward, then backward (acc = 0, then acc = 1) with `threads`;
 * gradients start from the same non-zero values. */
static void conv_run(const ConvShape *s, int threads, const float *x, const float *w,
                     const float *b, const float *dy, float *y, float *dx, float *dw, float *db)
{
    engine_set_threads(threads);
    size_t n_in = (size_t)s->n * s->h * s->w * s->c_in, n_w = (size_t)s->kh * s->kw * s->c_in * s->c_out;
    float *scratch = alloc_floats(conv_scratch_floats(s) + 1);
    conv_forward(s, x, w, b, y, scratch);
    for (size_t i = 0; i < n_in; i++) dx[i] = 1e6f; /* acc = 0 must overwrite */
    for (size_t i = 0; i < n_w; i++) dw[i] = 0.5f;  /* weight gradients accumulate */
    for (int c = 0; c < s->c_out; c++) db[c] = -0.25f;
    conv_backward(s, x, w, dy, dx, 0, dw, db, scratch);
    conv_backward(s, x, w, dy, dx, 1, dw, db, scratch);
    free(scratch);
}

static const ConvShape convs[] = {
    {.n = 5, .h = 9, .w = 7, .c_in = 3, .c_out = 16, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_IM2COL},
    {.n = 3, .h = 12, .w = 12, .c_in = 24, .c_out = 40, .kh = 3, .kw = 3, .stride = 2, .pad = 1,
     .algo = CONV_IM2COL},
    {.n = 7, .h = 6, .w = 6, .c_in = 64, .c_out = 32, .kh = 2, .kw = 2, .stride = 1, .pad = 0,
     .algo = CONV_IM2COL},
    {.n = 5, .h = 6, .w = 6, .c_in = 8, .c_out = 12, .kh = 1, .kw = 1, .stride = 1, .pad = 0,
     .algo = CONV_IM2COL},
    {.n = 5, .h = 17, .w = 15, .c_in = 24, .c_out = 40, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD},
    {.n = 5, .h = 17, .w = 15, .c_in = 24, .c_out = 40, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD4},
};

START_TEST(test_conv_threads)
{
    ConvShape s = convs[_i];
    conv_shape_init(&s);
    ck_assert_int_eq(conv_algo_resolve(&s), s.algo);
    Rng r;
    rng_seed(&r, 11, (uint64_t)_i);
    size_t n_in = (size_t)s.n * s.h * s.w * s.c_in, n_out = (size_t)s.n * s.h_out * s.w_out * s.c_out;
    size_t n_w = (size_t)s.kh * s.kw * s.c_in * s.c_out, nc = (size_t)s.c_out;
    float *x = randn(n_in, &r), *w = randn(n_w, &r), *b = randn(nc, &r), *dy = randn(n_out, &r);
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int t = 0; t < 2; t++) {
        y[t] = alloc_floats(n_out), dx[t] = alloc_floats(n_in);
        dw[t] = alloc_floats(n_w), db[t] = alloc_floats(nc);
        conv_run(&s, t + 1, x, w, b, dy, y[t], dx[t], dw[t], db[t]);
    }
    /* the same thread count again: the same numbers, bit for bit */
    float *y2 = alloc_floats(n_out), *dx2 = alloc_floats(n_in), *dw2 = alloc_floats(n_w);
    float *db2 = alloc_floats(nc);
    conv_run(&s, 2, x, w, b, dy, y2, dx2, dw2, db2);
    ck_assert(memcmp(y2, y[1], sizeof(float) * n_out) == 0);
    ck_assert(memcmp(dx2, dx[1], sizeof(float) * n_in) == 0);
    ck_assert(memcmp(dw2, dw[1], sizeof(float) * n_w) == 0);
    ck_assert(memcmp(db2, db[1], sizeof(float) * nc) == 0);
    free(y2), free(dx2), free(dw2), free(db2);
    assert_close("forward", y[1], y[0], n_out);
    assert_close("dinput", dx[1], dx[0], n_in);
    assert_close("dweight", dw[1], dw[0], n_w);
    assert_close("dbias", db[1], db[0], nc);
    /* not vacuous: acc = 0 overwrote the 1e6 garbage, and the gradients moved */
    double norm = 0, top = 0;
    for (size_t i = 0; i < n_in; i++) {
        norm += fabs(dx[0][i]);
        if (fabs(dx[1][i]) > top) top = fabs(dx[1][i]);
    }
    ck_assert(norm > 1.0 && top < 1e5);
    ck_assert(fabs(dw[0][0] - 0.5f) > 1e-3 && fabs(db[0][0] + 0.25f) > 1e-3);
    free(x); free(w); free(b); free(dy);
    for (int t = 0; t < 2; t++) {
        free(y[t]); free(dx[t]); free(dw[t]); free(db[t]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_gemm_splits, 0, (int)(sizeof products / sizeof products[0]));
    tcase_add_loop_test(tc, test_conv_threads, 0, (int)(sizeof convs / sizeof convs[0]));
    suite_add_tcase(s, tc);
    return check_run(s);
}
