/* winograd.c — 3x3 stride-1 pad-1 convolutions by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin & Gray, 2015): each 2x2 output tile comes from
 * a 4x4 input tile with 16 element-wise products instead of 36, done for all
 * channels at once as 16 matrix products through cblas_sgemm:
 *     M[k] (T, C_out) = V[k] (T, C_in) x U[k] (C_in, C_out),  k = 0..15,
 * with V = B^T d B (input tiles), U = G g G^T (filters), out = A^T M A.
 * 2.25x fewer multiplications than im2col; used for the forward pass and for
 * the input gradient (itself a 3x3 convolution of dout with the flipped,
 * transposed filters). The weight gradient stays on im2col (conv.c). */
#include <cblas.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "parallel.h"
#include "winograd.h"

/* Floats of one thread's V and M for a chunk of tiles (~2 MiB: one core's
 * L2 and some of L3), and the fewest tiles a chunk has (GEMM rows). */
#define WINO_CHUNK_FLOATS (512u * 1024u)
#define WINO_MIN_TILES 64

int winograd_eligible(const ConvShape *s) {
    return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad == 1 && s->c_in >= 16 &&
           s->c_out >= 16 && s->h >= 4 && s->w >= 4;
}

static size_t tiles_total(const ConvShape *s) {
    return (size_t)s->n * ((s->h + 1) / 2) * ((s->w + 1) / 2);
}

/* Threads sharing the tiles: at most one per WINO_MIN_TILES tiles. */
static int wino_threads(size_t total, int cap) {
#ifndef _OPENMP
    (void)total, (void)cap;
    return 1; /* the parallel region runs once, as thread 0 */
#endif
    int T = engine_get_threads();
    if (cap > 0 && cap < T) T = cap;
    size_t most = total / WINO_MIN_TILES;
    if (most < 1) most = 1;
    return (size_t)T < most ? T : (int)most;
}

static size_t chunk_tiles(int cin, int cout, size_t total) {
    size_t t = WINO_CHUNK_FLOATS / (16u * (size_t)(cin + cout));
    if (t < WINO_MIN_TILES) t = WINO_MIN_TILES;
    return t < total ? t : total;
}

/* Floats of one thread's work area: V and M for a chunk, a row of zeros and
 * a throw-away row. */
static size_t thread_floats(int cin, int cout, size_t total) {
    int big = cin > cout ? cin : cout;
    return 16u * chunk_tiles(cin, cout, total) * (size_t)(cin + cout) + 2u * (size_t)big;
}

size_t winograd_scratch_floats(const ConvShape *s) {
    size_t total = tiles_total(s);
    size_t a = thread_floats(s->c_in, s->c_out, total), b = thread_floats(s->c_out, s->c_in, total);
    /* U (16 cin cout) + flipped weights (9 cin cout) + a work area per thread */
    return 25u * (size_t)s->c_in * s->c_out + (size_t)wino_threads(total, s->threads) * (a > b ? a : b);
}

/* U[k][ci][co] = (G g G^T)[k] for g = w[ky][kx][ci][co]. */
static void transform_filters(int cin, int cout, const float *w, float *U) {
    const size_t cc = (size_t)cin * cout;
    PARALLEL_FOR(cc * 16)
    for (size_t i = 0; i < cc; i++) {
        float g[3][3], t[4][3];
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) g[y][x] = w[(size_t)(y * 3 + x) * cc + i];
        for (int x = 0; x < 3; x++) { /* t = G g */
            t[0][x] = g[0][x];
            t[1][x] = 0.5f * (g[0][x] + g[1][x] + g[2][x]);
            t[2][x] = 0.5f * (g[0][x] - g[1][x] + g[2][x]);
            t[3][x] = g[2][x];
        }
        for (int y = 0; y < 4; y++) { /* U = t G^T */
            U[(size_t)(y * 4 + 0) * cc + i] = t[y][0];
            U[(size_t)(y * 4 + 1) * cc + i] = 0.5f * (t[y][0] + t[y][1] + t[y][2]);
            U[(size_t)(y * 4 + 2) * cc + i] = 0.5f * (t[y][0] - t[y][1] + t[y][2]);
            U[(size_t)(y * 4 + 3) * cc + i] = t[y][2];
        }
    }
}

/* V[k][t][ci] = (B^T d B)[k] for the 4x4 input tiles of tiles t0 .. t0+nt.
 * The loops run along channels (contiguous in NHWC) so they vectorise;
 * positions outside the image read a row of zeros. */
static void transform_inputs(int h, int w, int c, const float *in, size_t t0, size_t nt, float *V,
                             const float *zeros) {
    const int th = (h + 1) / 2, tw = (w + 1) / 2;
    const size_t plane = nt * (size_t)c;
    for (size_t t = 0; t < nt; t++) {
        size_t tile = t0 + t;
        int n = (int)(tile / ((size_t)th * tw));
        int r = (int)(tile % ((size_t)th * tw));
        int y0 = 2 * (r / tw) - 1, x0 = 2 * (r % tw) - 1;
        const float *img = in + (size_t)n * h * w * c;
        const float *p[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                int y = y0 + i, x = x0 + j;
                p[i * 4 + j] =
                    (y >= 0 && y < h && x >= 0 && x < w) ? img + ((size_t)y * w + x) * c : zeros;
            }
        float *v = V + t * (size_t)c;
        float *restrict o[16];
        for (int k = 0; k < 16; k++) o[k] = v + (size_t)k * plane;
        for (int ch = 0; ch < c; ch++) {
            float d[16], u[16];
            for (int k = 0; k < 16; k++) d[k] = p[k][ch];
            for (int j = 0; j < 4; j++) { /* u = B^T d */
                u[0 + j] = d[0 + j] - d[8 + j];
                u[4 + j] = d[4 + j] + d[8 + j];
                u[8 + j] = d[8 + j] - d[4 + j];
                u[12 + j] = d[4 + j] - d[12 + j];
            }
            for (int i = 0; i < 4; i++) { /* (B^T d) B */
                o[i * 4 + 0][ch] = u[i * 4 + 0] - u[i * 4 + 2];
                o[i * 4 + 1][ch] = u[i * 4 + 1] + u[i * 4 + 2];
                o[i * 4 + 2][ch] = u[i * 4 + 2] - u[i * 4 + 1];
                o[i * 4 + 3][ch] = u[i * 4 + 1] - u[i * 4 + 3];
            }
        }
    }
}

/* out tile = A^T M A (+ bias), written or added into the (N,H,W,C) output;
 * positions outside the image go to a throw-away row. */
static void transform_outputs(int h, int w, int c, const float *M, size_t t0, size_t nt,
                              const float *bias, float *out, int acc, const float *zeros,
                              float *discard) {
    const int th = (h + 1) / 2, tw = (w + 1) / 2;
    const size_t plane = nt * (size_t)c;
    const float *b = bias ? bias : zeros;
    for (size_t t = 0; t < nt; t++) {
        size_t tile = t0 + t;
        int n = (int)(tile / ((size_t)th * tw));
        int r = (int)(tile % ((size_t)th * tw));
        int y0 = 2 * (r / tw), x0 = 2 * (r % tw);
        float *img = out + (size_t)n * h * w * c;
        const float *m = M + t * (size_t)c;
        const float *q[16];
        for (int k = 0; k < 16; k++) q[k] = m + (size_t)k * plane;
        float *dst[4];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                dst[i * 2 + j] = (y0 + i < h && x0 + j < w)
                                     ? img + ((size_t)(y0 + i) * w + (x0 + j)) * c
                                     : discard;
        for (int ch = 0; ch < c; ch++) {
            float a[8], y[4];
            for (int j = 0; j < 4; j++) { /* a = A^T q */
                a[j] = q[0 + j][ch] + q[4 + j][ch] + q[8 + j][ch];
                a[4 + j] = q[4 + j][ch] - q[8 + j][ch] - q[12 + j][ch];
            }
            for (int i = 0; i < 2; i++) {
                y[i * 2 + 0] = a[i * 4 + 0] + a[i * 4 + 1] + a[i * 4 + 2] + b[ch];
                y[i * 2 + 1] = a[i * 4 + 1] - a[i * 4 + 2] - a[i * 4 + 3] + b[ch];
            }
            if (acc)
                for (int k = 0; k < 4; k++) dst[k][ch] += y[k];
            else
                for (int k = 0; k < 4; k++) dst[k][ch] = y[k];
        }
    }
}

/* out (N,H,W,cout) (+)= conv3x3(in (N,H,W,cin)) with filters already in U.
 * Each thread takes a range of tiles (output tiles never overlap) and runs
 * its chunks' 16 products on its own. */
static void winograd_run(const ConvShape *s, int cin, int cout, const float *in, const float *U,
                         const float *bias, float *out, int acc, float *work) {
    const int h = s->h, w = s->w;
    const size_t total = tiles_total(s);
    const size_t C = chunk_tiles(cin, cout, total);
    const int T = wino_threads(total, s->threads);
    const size_t stride = thread_floats(cin, cout, total);
    int big = cin > cout ? cin : cout;
    const Workspace one = {.threads = 1}; /* each thread's products run on it alone */
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = parallel_thread_num();
        float *V = work + (size_t)t * stride, *M = V + 16 * C * (size_t)cin;
        float *zeros = M + 16 * C * (size_t)cout, *discard = zeros + big;
        memset(zeros, 0, sizeof(float) * (size_t)big);
        size_t a = total * t / T, b = total * (t + 1) / T;
        for (size_t t0 = a; t0 < b; t0 += C) {
            size_t nt = b - t0 < C ? b - t0 : C;
            transform_inputs(h, w, cin, in, t0, nt, V, zeros);
            for (int k = 0; k < 16; k++)
                gemm(0, 0, (int)nt, cout, cin, V + (size_t)k * nt * cin, cin,
                     U + (size_t)k * cin * cout, cout, 0.0f, M + (size_t)k * nt * cout, cout, &one);
            transform_outputs(h, w, cout, M, t0, nt, bias, out, acc, zeros, discard);
        }
    }
}

void winograd_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                      float *out, float *scratch) {
    float *U = scratch, *work = scratch + 25u * (size_t)s->c_in * s->c_out;
    transform_filters(s->c_in, s->c_out, weight, U);
    winograd_run(s, s->c_in, s->c_out, in, U, bias, out, 0, work);
}

void winograd_backward_data(const ConvShape *s, const float *weight, const float *dout, float *din,
                            int acc, float *scratch) {
    /* din = conv3x3(dout) with w'[ky][kx][co][ci] = w[2-ky][2-kx][ci][co] */
    const size_t cc = (size_t)s->c_in * s->c_out;
    float *U = scratch, *flipped = scratch + 16 * cc, *work = scratch + 25 * cc;
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
            const float *src = weight + (size_t)((2 - ky) * 3 + (2 - kx)) * cc;
            float *dst = flipped + (size_t)(ky * 3 + kx) * cc;
            for (int ci = 0; ci < s->c_in; ci++)
                for (int co = 0; co < s->c_out; co++)
                    dst[(size_t)co * s->c_in + ci] = src[(size_t)ci * s->c_out + co];
        }
    transform_filters(s->c_out, s->c_in, flipped, U);
    winograd_run(s, s->c_out, s->c_in, dout, U, NULL, din, acc, work);
}
