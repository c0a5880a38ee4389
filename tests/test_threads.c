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
#include <stdio.h>
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
    ck_assert_msg(worst <= 1e-5 * scale, "%s: more threads differ from 1 by %g (tolerance %g)",
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
    /* the weight gradient split by rows (forced) on 5 threads, accumulating
     * into 0.5 next to the input gradient written and added: 1 thread's too */
    ConvShape rows_split = s;
    rows_split.dwsplit = CONV_DWSPLIT_ROWS;
    conv_run(&rows_split, 5, x, w, b, dy, y2, dx2, dw2, db2);
    assert_close("forward, rows split", y2, y[0], n_out);
    assert_close("dinput, rows split", dx2, dx[0], n_in);
    assert_close("dweight, rows split", dw2, dw[0], n_w);
    assert_close("dbias, rows split", db2, db[0], nc);
    free(y2), free(dx2), free(dw2), free(db2);
    free(x); free(w); free(b); free(dy);
    for (int t = 0; t < 2; t++) {
        free(y[t]); free(dx[t]); free(dw[t]); free(db[t]);
    }
}
END_TEST

/* ---- the weight gradient split by rows against split by the batch ----
 * The two splits add the same fp32 products in different orders and
 * groupings, so each element of a sum of n products x_i y_i differs from the
 * exact sum by at most gamma_n * sum |x_i y_i|, gamma_n = n u / (1 - n u),
 * u = 2^-24 (whatever the order, FMA or not), and the two results from each
 * other by twice that. im2col: the sum over the M output pixels of
 * col[m][k] dy[m][co]. Winograd: the sum over the tiles of V[k] Z[k] in the
 * transformed domain (the transforms are the same code on the same tiles in
 * both splits), then dW = G^T S G by the same code on the two S:
 *   |dW_rows - dW_batch| <= (2 gamma_tiles + 2 gamma_16) * |G|^T P |G|,
 *   P[k][ci][co] = sum over tiles of (|B^T| |d| |B|)[k][ci] (|A| |dy| |A^T|)[k][co],
 * an upper bound of sum |V Z| computed here in double from the standard
 * matrices (winograd.c), gamma_16 for the filter transform's own roundings
 * (at most 13 on any path, both S). Nothing here is measured or tuned. */
static const double F2_BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double F2_G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
static const double F2_AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const double F4_BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                   {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double F4_G[6][3] = {{1 / 4., 0, 0},             {-1 / 6., -1 / 6., -1 / 6.},
                                  {-1 / 6., 1 / 6., -1 / 6.}, {1 / 24., 1 / 12., 1 / 6.},
                                  {1 / 24., -1 / 12., 1 / 6.}, {0, 0, 1}};
static const double F4_AT[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

static double gamma_n(double n)
{
    const double u = ldexp(1.0, -24);
    return n * u / (1 - n * u);
}

/* tol[tap][ci][co] for the im2col weight gradient of s. */
static void im2col_tolerance(const ConvShape *s, const float *x, const float *dy, double *tol)
{
    const size_t K = (size_t)s->kh * s->kw * s->c_in, cout = (size_t)s->c_out;
    const size_t M = (size_t)s->n * s->h_out * s->w_out;
    memset(tol, 0, sizeof(double) * K * cout);
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->h_out; oy++)
            for (int ox = 0; ox < s->w_out; ox++) {
                const float *g = dy + (((size_t)n * s->h_out + oy) * s->w_out + ox) * cout;
                for (int ky = 0; ky < s->kh; ky++)
                    for (int kx = 0; kx < s->kw; kx++) {
                        int iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
                        if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                        const float *px = x + (((size_t)n * s->h + iy) * s->w + ix) * s->c_in;
                        for (int ci = 0; ci < s->c_in; ci++) {
                            double *t = tol + (((size_t)ky * s->kw + kx) * s->c_in + ci) * cout;
                            for (size_t co = 0; co < cout; co++)
                                t[co] += fabs(px[ci] * (double)g[co]);
                        }
                    }
            }
    for (size_t i = 0; i < K * cout; i++) tol[i] *= 2 * gamma_n((double)M);
}

/* out[r*no + c][ch] = sum_ij |L[r][i] L[c][j]| |win[i][j][ch]| for the
 * ni x ni window of the (h, w, C) image img at (y0, x0) (zeros outside). */
static void abs_transform(int ni, int no, const double *L, const float *img, int h, int w, int C,
                          int y0, int x0, double *out)
{
    memset(out, 0, sizeof(double) * no * no * C);
    for (int i = 0; i < ni; i++)
        for (int j = 0; j < ni; j++) {
            int y = y0 + i, xx = x0 + j;
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
            const float *p = img + ((size_t)y * w + xx) * C;
            for (int r = 0; r < no; r++)
                for (int c = 0; c < no; c++) {
                    double f = fabs(L[r * ni + i] * L[c * ni + j]);
                    if (f == 0) continue;
                    double *o = out + (size_t)(r * no + c) * C;
                    for (int ch = 0; ch < C; ch++) o[ch] += f * fabs(p[ch]);
                }
        }
}

/* tol[tap][ci][co] for the Winograd weight gradient of s with tile m. */
static void winograd_tolerance(const ConvShape *s, int m, const float *x, const float *dy,
                               double *tol)
{
    const int a = m + 2, aa = a * a, cin = s->c_in, cout = s->c_out;
    const double *BT = m == 4 ? &F4_BT[0][0] : &F2_BT[0][0];
    const double *G = m == 4 ? &F4_G[0][0] : &F2_G[0][0];
    const double *ATm = m == 4 ? &F4_AT[0][0] : &F2_AT[0][0];
    double A[24]; /* A (a x m) = (A^T)^T */
    for (int r = 0; r < a; r++)
        for (int i = 0; i < m; i++) A[r * m + i] = ATm[i * a + r];
    const int th = (s->h + m - 1) / m, tw = (s->w + m - 1) / m;
    const size_t cc = (size_t)cin * cout, tiles = (size_t)s->n * th * tw;
    double *P = calloc((size_t)aa * cc, sizeof(double));
    double *V = malloc(sizeof(double) * aa * cin), *Z = malloc(sizeof(double) * aa * cout);
    for (int n = 0; n < s->n; n++)
        for (int ty = 0; ty < th; ty++)
            for (int tx = 0; tx < tw; tx++) {
                abs_transform(a, a, BT, x + (size_t)n * s->h * s->w * cin, s->h, s->w, cin,
                              m * ty - 1, m * tx - 1, V);
                abs_transform(m, a, A, dy + (size_t)n * s->h * s->w * cout, s->h, s->w, cout,
                              m * ty, m * tx, Z);
                for (int k = 0; k < aa; k++)
                    for (int ci = 0; ci < cin; ci++) {
                        double v = V[(size_t)k * cin + ci];
                        double *p = P + k * cc + (size_t)ci * cout;
                        for (int co = 0; co < cout; co++) p[co] += v * Z[(size_t)k * cout + co];
                    }
            }
    const double f = 2 * gamma_n((double)tiles) + 2 * gamma_n(16);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double *t = tol + (size_t)(r * 3 + c) * cc;
            memset(t, 0, sizeof(double) * cc);
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    double g = fabs(G[i * 3 + r] * G[j * 3 + c]);
                    const double *p = P + (size_t)(i * a + j) * cc;
                    for (size_t e = 0; e < cc; e++) t[e] += f * g * p[e];
                }
        }
    free(P), free(V), free(Z);
}

/* Shapes: im2col with one row block (threads without rows), stride 2, and
 * K = 2304 over two chunks of col (36 blocks); Winograd with 3 and 2 input
 * channels (16 and 36 blocks), and 500 (no multiple of a block or of any
 * thread count) over two batches of tiles. */
static const ConvShape dw_shapes[] = {
    {.n = 3, .h = 7, .w = 6, .c_in = 5, .c_out = 6, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_IM2COL},
    {.n = 3, .h = 9, .w = 8, .c_in = 5, .c_out = 6, .kh = 3, .kw = 3, .stride = 2, .pad = 1,
     .algo = CONV_IM2COL},
    {.n = 2, .h = 24, .w = 24, .c_in = 256, .c_out = 7, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_IM2COL},
    {.n = 2, .h = 5, .w = 7, .c_in = 3, .c_out = 5, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD, .algo_dweight = CONV_WINOGRAD},
    {.n = 9, .h = 16, .w = 15, .c_in = 500, .c_out = 12, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD, .algo_dweight = CONV_WINOGRAD},
    {.n = 1, .h = 7, .w = 5, .c_in = 2, .c_out = 3, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD4},
    {.n = 27, .h = 12, .w = 11, .c_in = 500, .c_out = 12, .kh = 3, .kw = 3, .stride = 1, .pad = 1,
     .algo = CONV_WINOGRAD4},
};

/* The weight gradient alone, from zero, split by `split` on `threads`. */
static float *dw_run(const ConvShape *shape, int split, int threads, const float *x,
                     const float *dy)
{
    ConvShape split_shape = *shape;
    split_shape.dwsplit = split;
    const ConvShape *s = &split_shape;
    const size_t n_w = (size_t)s->kh * s->kw * s->c_in * s->c_out;
    engine_set_threads(threads);
    float *scratch = alloc_floats(conv_scratch_floats(s) + 1), *dw = alloc_floats(n_w);
    memset(dw, 0, sizeof(float) * n_w);
    conv_backward(s, x, NULL, dy, NULL, 0, dw, NULL, scratch);
    free(scratch);
    return dw;
}

START_TEST(test_dw_rows)
{
    ConvShape s = dw_shapes[_i];
    conv_shape_init(&s);
    const int tile = conv_algo_used_dweight(&s) == CONV_WINOGRAD4 ? 4
                     : conv_algo_used_dweight(&s) == CONV_WINOGRAD ? 2
                                                                   : 0;
    ck_assert_int_eq(tile, s.algo == CONV_WINOGRAD4 ? 4 : s.algo == CONV_WINOGRAD ? 2 : 0);
    Rng r;
    rng_seed(&r, 25, (uint64_t)_i);
    const size_t n_in = (size_t)s.n * s.h * s.w * s.c_in;
    const size_t n_out = (size_t)s.n * s.h_out * s.w_out * s.c_out;
    const size_t n_w = (size_t)s.kh * s.kw * s.c_in * s.c_out;
    float *x = randn(n_in, &r), *dy = randn(n_out, &r);
    float *batch = dw_run(&s, CONV_DWSPLIT_BATCH, 2, x, dy);
    const int threads[] = {4, 5, 7, 16};
    float *rows[4];
    for (int i = 0; i < 4; i++) {
        rows[i] = dw_run(&s, CONV_DWSPLIT_ROWS, threads[i], x, dy);
        ck_assert_msg(memcmp(rows[i], rows[0], sizeof(float) * n_w) == 0,
                      "shape %d: the rows split on %d threads differs from 4 threads'", _i,
                      threads[i]);
    }
    double *tol = malloc(sizeof(double) * n_w);
    if (tile)
        winograd_tolerance(&s, tile, x, dy, tol);
    else
        im2col_tolerance(&s, x, dy, tol);
    double worst = 0, top = 0;
    for (size_t i = 0; i < n_w; i++) {
        double d = fabs((double)rows[0][i] - batch[i]);
        ck_assert_msg(d <= tol[i],
                      "shape %d: dw[%zu] = %.9g split by rows, %.9g by the batch (tolerance %.3g)",
                      _i, i, rows[0][i], batch[i], tol[i]);
        if (d / tol[i] > worst) worst = d / tol[i];
        if (fabs(batch[i]) > top) top = fabs(batch[i]);
    }
    ck_assert(top > 1.0); /* not vacuous: the gradient is there */
    printf("dw rows split, shape %d: |rows - batch| at most %.3g of the tolerance\n", _i, worst);
    for (int i = 0; i < 4; i++) free(rows[i]);
    free(batch), free(tol), free(x), free(dy);
}
END_TEST

/* CNNRUN_DWSPLIT's values (read with the engine's other settings); a wrong
 * one is refused (the command exits 2). */
START_TEST(test_dwsplit_env)
{
    static const struct {
        const char *v;
        int want;
    } cases[] = {{"", CONV_DWSPLIT_AUTO},       {"auto", CONV_DWSPLIT_AUTO},
                 {"batch", CONV_DWSPLIT_BATCH}, {"rows", CONV_DWSPLIT_ROWS},
                 {"Rows", -1},                  {"columns", -1}};
    EngineSettings es;
    unsetenv("CNNRUN_DWSPLIT");
    ck_assert_int_eq(engine_settings_from_env(&es), 0);
    ck_assert_int_eq(es.dwsplit, CONV_DWSPLIT_AUTO);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("CNNRUN_DWSPLIT", cases[i].v, 1);
        int rc = engine_settings_from_env(&es);
        ck_assert_int_eq(rc < 0 ? -1 : es.dwsplit, cases[i].want);
    }
    unsetenv("CNNRUN_DWSPLIT");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_gemm_splits, 0, (int)(sizeof products / sizeof products[0]));
    tcase_add_loop_test(tc, test_conv_threads, 0, (int)(sizeof convs / sizeof convs[0]));
    tcase_add_loop_test(tc, test_dw_rows, 0, (int)(sizeof dw_shapes / sizeof dw_shapes[0]));
    tcase_add_test(tc, test_dwsplit_env);
    suite_add_tcase(s, tc);
    return check_run(s);
}
