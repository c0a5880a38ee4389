/* winograd.c — 3x3 stride-1 pad-1 convolutions by Winograd's minimal
 * filtering (Lavin & Gray, 2015), F(2x2,3x3) and F(4x4,3x3), for all three
 * products of a layer.
 *
 * F(m x m, 3x3) computes each m x m output tile from an a x a input tile,
 * a = m + 2, with a*a element-wise products instead of 9*m*m, done for all
 * channels at once as a*a matrix products through cblas_sgemm (gemm()):
 *   forward         M[k] (T, C_out) = V[k] (T, C_in) x U[k] (C_in, C_out)
 *                   V = B^T d B (input tiles), U = G g G^T (filters),
 *                   out tile = A^T M A;
 *   input gradient  the same with dout for the input and the filters flipped
 *                   in space, U[k] used transposed (din is a 3x3 convolution
 *                   of dout with w'[ky][kx][co][ci] = w[2-ky][2-kx][ci][co]);
 *   weight gradient the forward's transpose: as out = A^T ((G g G^T) . V) A
 *                   is linear in g, sum(dY . out) = sum(g . G^T ((A dY A^T)
 *                   . V) G), so
 *                   dW = G^T (sum over tiles of V . Z) G,  Z = A dY A^T,
 *                   i.e. S[k] (C_in, C_out) += V[k]^T (C_in, T) x Z[k] (T, C_out)
 *                   per tile batch and one G^T S G at the end. Output-gradient
 *                   pixels outside the image count as zeros, so an edge tile
 *                   adds exactly its valid outputs' terms.
 * F(2x2): 16 products per tile for 4 outputs (2.25x fewer multiplications
 * than direct); F(4x4): 36 for 16 (4x fewer).
 *
 * Matrices (the standard Lavin-Gray ones). F(2x2,3x3), points 0, 1, -1, inf:
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * F(4x4,3x3), points 0, 1, -1, 2, -2, inf. ±1/2 in place of ±2 is no
 * better: simulated in fp32 (tests/bench/winograd_points.py, 64 and 256
 * input channels) the rms error is the same (1.7e-6, 3.2e-6 of rms |out|)
 * and the max error within ±15 % either way. Mixed points 0, ±1, 2, -1/2
 * (or 1/2, -2) would give 1.5x less rms and 2-3x less max error, not done
 * yet. Measured with these matrices: up to 2.1e-5 of max |out| on the
 * ResNet-18 and airbench layer shapes (F(2x2): 8.5e-7; test_winograd.c).
 *   B^T = [4  0 -5  0 1 0;  0 -4 -4  1 1 0;  0 4 -4 -1 1 0;
 *          0 -2 -1  2 1 0;  0  2 -1 -2 1 0;  0 4  0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
 *          1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 *
 * Layout: transformed tiles are V[k][t][c] (position, tile, channel), so each
 * product's operand is a plain row-major matrix. Every transform is a 1-D
 * transform applied twice (columns, then rows) whose loop runs along a vector
 * of contiguous floats — channels in NHWC, whole tile rows (a*C floats) in
 * the first pass over an interior tile, blocks of (C_in*C_out) filter
 * entries — so it vectorises. Tiles go in batches sized to stay in cache;
 * each thread takes a contiguous range of tiles (outputs never overlap; the
 * weight gradient's per-thread sums S are added in thread order), so results
 * depend only on the shape and the thread count. The weight gradient may
 * instead split by the rows of S (dwsplit.c, wgrad_rows): all threads
 * transform a larger batch together, then each adds its row blocks of the
 * a*a products into the one S — no per-thread S, and results that depend on
 * the shape alone. */
#include <string.h>

#include "cnnrun/kernels.h"
#include "dwsplit.h"
#include "parallel.h"
#include "winograd.h"

/* A 1-D transform: out[r][x] = sum_i L[r][i] * in[i][x] for x < n. */
typedef void (*Xform)(size_t n, const float *const *in, float *const *out);

/* ---- F(2x2,3x3) ---- */

static inline void bt2_k(size_t n, const float *restrict d0, const float *restrict d1,
                         const float *restrict d2, const float *restrict d3, float *restrict o0,
                         float *restrict o1, float *restrict o2, float *restrict o3) {
    for (size_t x = 0; x < n; x++) {
        o0[x] = d0[x] - d2[x];
        o1[x] = d1[x] + d2[x];
        o2[x] = d2[x] - d1[x];
        o3[x] = d1[x] - d3[x];
    }
}

static void bt2(size_t n, const float *const *in, float *const *out) { /* B^T, 4 -> 4 */
    bt2_k(n, in[0], in[1], in[2], in[3], out[0], out[1], out[2], out[3]);
}

static inline void g2_k(size_t n, const float *restrict g0, const float *restrict g1,
                        const float *restrict g2, float *restrict o0, float *restrict o1,
                        float *restrict o2, float *restrict o3) {
    for (size_t x = 0; x < n; x++) {
        o0[x] = g0[x];
        o1[x] = 0.5f * (g0[x] + g1[x] + g2[x]);
        o2[x] = 0.5f * (g0[x] - g1[x] + g2[x]);
        o3[x] = g2[x];
    }
}

static void g2(size_t n, const float *const *in, float *const *out) { /* G, 3 -> 4 */
    g2_k(n, in[0], in[1], in[2], out[0], out[1], out[2], out[3]);
}

static inline void at2_k(size_t n, const float *restrict m0, const float *restrict m1,
                         const float *restrict m2, const float *restrict m3, float *restrict o0,
                         float *restrict o1) {
    for (size_t x = 0; x < n; x++) {
        o0[x] = m0[x] + m1[x] + m2[x];
        o1[x] = m1[x] - m2[x] - m3[x];
    }
}

static void at2(size_t n, const float *const *in, float *const *out) { /* A^T, 4 -> 2 */
    at2_k(n, in[0], in[1], in[2], in[3], out[0], out[1]);
}

static inline void a2_k(size_t n, const float *restrict e0, const float *restrict e1,
                        float *restrict o0, float *restrict o1, float *restrict o2,
                        float *restrict o3) {
    for (size_t x = 0; x < n; x++) {
        o0[x] = e0[x];
        o1[x] = e0[x] + e1[x];
        o2[x] = e0[x] - e1[x];
        o3[x] = -e1[x];
    }
}

static void a2(size_t n, const float *const *in, float *const *out) { /* A, 2 -> 4 */
    a2_k(n, in[0], in[1], out[0], out[1], out[2], out[3]);
}

static inline void gt2_k(size_t n, const float *restrict s0, const float *restrict s1,
                         const float *restrict s2, const float *restrict s3, float *restrict o0,
                         float *restrict o1, float *restrict o2) {
    for (size_t x = 0; x < n; x++) {
        float p = 0.5f * (s1[x] + s2[x]);
        o0[x] = s0[x] + p;
        o1[x] = 0.5f * (s1[x] - s2[x]);
        o2[x] = p + s3[x];
    }
}

/* ---- F(4x4,3x3) ---- */

static void gt2(size_t n, const float *const *in, float *const *out) { /* G^T, 4 -> 3 */
    gt2_k(n, in[0], in[1], in[2], in[3], out[0], out[1], out[2]);
}

static inline void bt4_k(size_t n, const float *restrict d0, const float *restrict d1,
                         const float *restrict d2, const float *restrict d3,
                         const float *restrict d4, const float *restrict d5, float *restrict o0,
                         float *restrict o1, float *restrict o2, float *restrict o3,
                         float *restrict o4, float *restrict o5) {
    for (size_t x = 0; x < n; x++) {
        float p = d4[x] - 4.0f * d2[x], q = d3[x] - 4.0f * d1[x];
        float r = d4[x] - d2[x], s = 2.0f * (d3[x] - d1[x]);
        o0[x] = 4.0f * d0[x] - 5.0f * d2[x] + d4[x];
        o1[x] = p + q;
        o2[x] = p - q;
        o3[x] = r + s;
        o4[x] = r - s;
        o5[x] = 4.0f * d1[x] - 5.0f * d3[x] + d5[x];
    }
}

static void bt4(size_t n, const float *const *in, float *const *out) { /* B^T, 6 -> 6 */
    bt4_k(n, in[0], in[1], in[2], in[3], in[4], in[5], out[0], out[1], out[2], out[3], out[4],
          out[5]);
}

static inline void g4_k(size_t n, const float *restrict g0, const float *restrict g1,
                        const float *restrict g2, float *restrict o0, float *restrict o1,
                        float *restrict o2, float *restrict o3, float *restrict o4,
                        float *restrict o5) {
    const float sixth = 1.0f / 6.0f;
    for (size_t x = 0; x < n; x++) {
        float p = g0[x] + g2[x], q = g0[x] / 24.0f + g2[x] / 6.0f, r = g1[x] / 12.0f;
        o0[x] = 0.25f * g0[x];
        o1[x] = -sixth * (p + g1[x]);
        o2[x] = -sixth * (p - g1[x]);
        o3[x] = q + r;
        o4[x] = q - r;
        o5[x] = g2[x];
    }
}

static void g4(size_t n, const float *const *in, float *const *out) { /* G, 3 -> 6 */
    g4_k(n, in[0], in[1], in[2], out[0], out[1], out[2], out[3], out[4], out[5]);
}

static inline void at4_k(size_t n, const float *restrict m0, const float *restrict m1,
                         const float *restrict m2, const float *restrict m3,
                         const float *restrict m4, const float *restrict m5, float *restrict o0,
                         float *restrict o1, float *restrict o2, float *restrict o3) {
    for (size_t x = 0; x < n; x++) {
        float p = m1[x] + m2[x], q = m1[x] - m2[x], r = m3[x] + m4[x], s = m3[x] - m4[x];
        o0[x] = m0[x] + p + r;
        o1[x] = q + 2.0f * s;
        o2[x] = p + 4.0f * r;
        o3[x] = q + 8.0f * s + m5[x];
    }
}

static void at4(size_t n, const float *const *in, float *const *out) { /* A^T, 6 -> 4 */
    at4_k(n, in[0], in[1], in[2], in[3], in[4], in[5], out[0], out[1], out[2], out[3]);
}

static inline void a4_k(size_t n, const float *restrict e0, const float *restrict e1,
                        const float *restrict e2, const float *restrict e3, float *restrict o0,
                        float *restrict o1, float *restrict o2, float *restrict o3,
                        float *restrict o4, float *restrict o5) {
    for (size_t x = 0; x < n; x++) {
        float p = e0[x] + e2[x], q = e1[x] + e3[x];
        float r = e0[x] + 4.0f * e2[x], s = 2.0f * e1[x] + 8.0f * e3[x];
        o0[x] = e0[x];
        o1[x] = p + q;
        o2[x] = p - q;
        o3[x] = r + s;
        o4[x] = r - s;
        o5[x] = e3[x];
    }
}

static void a4(size_t n, const float *const *in, float *const *out) { /* A, 4 -> 6 */
    a4_k(n, in[0], in[1], in[2], in[3], out[0], out[1], out[2], out[3], out[4], out[5]);
}

static inline void gt4_k(size_t n, const float *restrict s0, const float *restrict s1,
                         const float *restrict s2, const float *restrict s3,
                         const float *restrict s4, const float *restrict s5, float *restrict o0,
                         float *restrict o1, float *restrict o2) {
    const float sixth = 1.0f / 6.0f;
    for (size_t x = 0; x < n; x++) {
        float p = s1[x] + s2[x], q = s3[x] + s4[x];
        o0[x] = 0.25f * s0[x] - sixth * p + q / 24.0f;
        o1[x] = sixth * (s2[x] - s1[x]) + (s3[x] - s4[x]) / 12.0f;
        o2[x] = sixth * (q - p) + s5[x];
    }
}

static void gt4(size_t n, const float *const *in, float *const *out) { /* G^T, 6 -> 3 */
    gt4_k(n, in[0], in[1], in[2], in[3], in[4], in[5], out[0], out[1], out[2]);
}

/* One tile size: its transforms and how its tiles are batched. */
typedef struct {
    int m, a; /* m x m outputs from a x a inputs, a = m + 2 */
    Xform bt, g, at, ad, gt;
    size_t chunk_floats; /* target floats of one batch's transformed tiles, in and out */
    size_t min_tiles;    /* fewest tiles in a batch (the products' rows) and per thread */
} Variant;

/* F(2x2): ~2 MiB batches, measured (docs/performance.md). F(4x4): ~1 MiB,
 * one core's L2 (not yet measured against other sizes). */
static const Variant F2 = {2, 4, bt2, g2, at2, a2, gt2, 512u * 1024u, 64};
static const Variant F4 = {4, 6, bt4, g4, at4, a4, gt4, 256u * 1024u, 32};
static const Variant *variant(const ConvShape *s, int tile) {
    (void)s; /* bf16 batches of 1x, 2x and 4x this size measured the same (docs/performance.md) */
    return tile == 4 ? &F4 : &F2;
}

/* Floats that hold the a*a transformed filters as bf16 bits (bf16 only). */
static size_t filters_bf16_floats(const Variant *v, const ConvShape *s) {
    if (s->precision != PRECISION_BF16) return 0;
    return ((size_t)v->a * v->a * s->c_in * s->c_out + 1) / 2;
}

int winograd_eligible(const ConvShape *s) {
    return s->kh == 3 && s->kw == 3 && s->stride == 1 && s->pad == 1 && s->n >= 1 && s->h >= 1 &&
           s->w >= 1 && s->c_in >= 1 && s->c_out >= 1;
}

/* ---- sizes ---- */

static size_t up16(size_t n) { /* keeps every area 64-byte aligned */
    return (n + 15) & ~(size_t)15;
}

static size_t tiles_total(const Variant *v, const ConvShape *s) {
    return (size_t)s->n * ((s->h + v->m - 1) / v->m) * ((s->w + v->m - 1) / v->m);
}

/* Threads sharing the tiles: at most one per min_tiles tiles. */
static int wino_threads(const Variant *v, size_t total, int cap) {
#ifndef _OPENMP
    (void)v, (void)total, (void)cap;
    return 1; /* the parallel regions run once, as thread 0 */
#else
    int T = engine_get_threads();
    if (cap > 0 && cap < T) T = cap;
    size_t most = total / v->min_tiles;
    if (most < 1) most = 1;
    return (size_t)T < most ? T : (int)most;
#endif
}

static size_t chunk_tiles(const Variant *v, int cin, int cout, size_t total) {
    size_t t = v->chunk_floats / ((size_t)v->a * v->a * (size_t)(cin + cout));
    if (t < v->min_tiles) t = v->min_tiles;
    return t < total ? t : total;
}

/* One thread's transform buffers: pass-1 results (a*a vectors), one output
 * tile (m*m), a row of zeros (a pixels). */
static size_t tile_buffers(const Variant *v, int big) {
    return up16((size_t)v->a * v->a * big) + up16((size_t)v->m * v->m * big) +
           up16((size_t)v->a * big);
}

/* Forward / input gradient: one thread's V and M for a batch, and buffers. */
static size_t conv_thread_floats(const Variant *v, int cin, int cout, size_t total) {
    size_t C = chunk_tiles(v, cin, cout, total), aa = (size_t)v->a * v->a;
    return up16(aa * C * cin) + up16(aa * C * cout) + tile_buffers(v, cin > cout ? cin : cout);
}

/* Weight gradient: one thread's S, V and Z for a batch, and buffers. */
static size_t wgrad_thread_floats(const Variant *v, int cin, int cout, size_t total) {
    size_t aa = (size_t)v->a * v->a;
    return up16(aa * cin * cout) + conv_thread_floats(v, cin, cout, total);
}

/* The weight gradient's rows split (dwsplit.c): all threads transform one
 * batch of tiles into a shared V and Z of about this many floats (16 MiB),
 * then each adds its row blocks of the a*a products into the one S. A fixed
 * size, not per thread: the batches decide how each element's sum is
 * grouped, and that must not depend on the thread count. */
#define ROWS_CHUNK_FLOATS (4u << 20)

static size_t rows_chunk_tiles(const Variant *v, int cin, int cout, size_t total) {
    size_t t = ROWS_CHUNK_FLOATS / ((size_t)v->a * v->a * (size_t)(cin + cout));
    if (t < v->min_tiles) t = v->min_tiles;
    return t < total ? t : total;
}

/* Rows of one block of S[k] (C_in x C_out), from the shape alone. */
static size_t rows_block(const Variant *v, int cin) {
    return dwsplit_block_rows((size_t)cin, (size_t)v->a * v->a);
}

/* Whether the weight gradient of s splits by rows, on *T threads. */
static int wgrad_by_rows(const Variant *v, const ConvShape *s, int *T) {
    size_t R = rows_block(v, s->c_in);
    *T = dwsplit_threads(s->threads);
    return dwsplit_rows(s->dwsplit, *T, (size_t)v->a * v->a * (((size_t)s->c_in + R - 1) / R));
}

/* Weight gradient, rows split: the one S, a batch's V and Z, and each
 * thread's transform buffers. */
static size_t wgrad_rows_floats(const Variant *v, int cin, int cout, size_t total, int T) {
    size_t aa = (size_t)v->a * v->a, C = rows_chunk_tiles(v, cin, cout, total);
    return up16(aa * cin * cout) + up16(aa * C * cin) + up16(aa * C * cout) +
           (size_t)T * tile_buffers(v, cin > cout ? cin : cout);
}

size_t winograd_scratch_floats(const ConvShape *s, int tile, int weight_grad) {
    const Variant *v = variant(s, tile);
    size_t total = tiles_total(v, s);
    int T = wino_threads(v, total, s->threads);
    size_t cc = (size_t)s->c_in * s->c_out, aa = (size_t)v->a * v->a;
    size_t f = conv_thread_floats(v, s->c_in, s->c_out, total);
    size_t b = conv_thread_floats(v, s->c_out, s->c_in, total);
    /* U (and its bf16 copy), then the threads' areas */
    size_t need = up16(aa * cc) + up16(filters_bf16_floats(v, s)) + (size_t)T * (f > b ? f : b);
    if (weight_grad) {
        int TR;
        size_t w = wgrad_by_rows(v, s, &TR)
                       ? wgrad_rows_floats(v, s->c_in, s->c_out, total, TR)
                       : (size_t)T * wgrad_thread_floats(v, s->c_in, s->c_out, total);
        if (w > need) need = w;
    }
    return need;
}

/* ---- transforms ---- */

/* out (no x no vectors) = L in L^T for the 1-D transform f = L (no x ni),
 * over vectors of n floats: in[i*ni + j], out[r*no + c]. With `rows`, each
 * row of in is contiguous (in[i*ni + j] = in[i*ni] + j*n) and the first pass
 * runs once over whole rows. tmp: no*ni*n floats. */
static void xform2(Xform f, int ni, int no, size_t n, const float *const *in, int rows,
                   float *const *out, float *tmp) {
    const float *vi[6] = {0};
    float *vo[6] = {0}; /* (all set before use; gcc -O2 cannot tell) */
    if (rows) { /* tmp[r] (a row of ni vectors) = sum_i L[r][i] in row i */
        for (int i = 0; i < ni; i++) vi[i] = in[i * ni];
        for (int r = 0; r < no; r++) vo[r] = tmp + (size_t)r * ni * n;
        f((size_t)ni * n, vi, vo);
    } else {
        for (int j = 0; j < ni; j++) { /* tmp[r][j] = sum_i L[r][i] in[i][j] */
            for (int i = 0; i < ni; i++) vi[i] = in[i * ni + j];
            for (int r = 0; r < no; r++) vo[r] = tmp + ((size_t)r * ni + j) * n;
            f(n, vi, vo);
        }
    }
    for (int r = 0; r < no; r++) { /* out[r][c] = sum_j L[c][j] tmp[r][j] */
        for (int j = 0; j < ni; j++) vi[j] = tmp + ((size_t)r * ni + j) * n;
        for (int c = 0; c < no; c++) vo[c] = out[r * no + c];
        f(n, vi, vo);
    }
}

/* V[k][t][ch] for k < no*no, i0 <= t < i1 of a batch of nt tiles: the 2-D
 * transform f (ni -> no) of the ni x ni pixel window at (m*ty - off,
 * m*tx - off) of tile t0 + t of the (N,h,w,c) tensor x: input tiles (ni = a,
 * off = 1, B^T d B) or output-gradient tiles (ni = m, off = 0, A dY A^T).
 * Pixels outside the image read `zeros` (ni*c floats). */
static void transform_tiles(const Variant *v, Xform f, int ni, int no, int off, int h, int w, int c,
                            const float *x, size_t t0, size_t i0, size_t i1, size_t nt, float *V,
                            const float *zeros, float *tmp) {
    const int th = (h + v->m - 1) / v->m, tw = (w + v->m - 1) / v->m;
    const size_t plane = nt * (size_t)c;
    const float *p[36];
    float *o[36];
    for (size_t t = i0; t < i1; t++) {
        size_t tile = t0 + t;
        int n = (int)(tile / ((size_t)th * tw)), r = (int)(tile % ((size_t)th * tw));
        int y0 = v->m * (r / tw) - off, x0 = v->m * (r % tw) - off;
        const float *img = x + (size_t)n * h * w * c;
        int rows = x0 >= 0 && x0 + ni <= w; /* every row inside or outside as a whole */
        for (int i = 0; i < ni; i++) {
            int y = y0 + i;
            for (int j = 0; j < ni; j++) {
                int xx = x0 + j;
                int inside = y >= 0 && y < h && xx >= 0 && xx < w;
                p[i * ni + j] =
                    inside ? img + ((size_t)y * w + xx) * c : zeros + (rows ? (size_t)j * c : 0);
            }
        }
        for (int k = 0; k < no * no; k++) o[k] = V + (size_t)k * plane + t * (size_t)c;
        xform2(f, ni, no, (size_t)c, p, rows, o, tmp);
    }
}

/* The output tiles A^T M A of tiles t0 .. t0+nt, plus bias (NULL: none),
 * written (acc = 0) or added into the (N,h,w,c) tensor out; the tile's
 * positions outside the image are dropped. ybuf: m*m*c floats. */
static void output_tiles(const Variant *v, int h, int w, int c, const float *M, size_t t0,
                         size_t nt, const float *bias, float *out, int acc, const float *zeros,
                         float *ybuf, float *tmp) {
    const int m = v->m, a = v->a, th = (h + m - 1) / m, tw = (w + m - 1) / m;
    const size_t plane = nt * (size_t)c;
    const float *restrict b = bias ? bias : zeros;
    const float *q[36];
    float *o[16];
    for (int k = 0; k < m * m; k++) o[k] = ybuf + (size_t)k * c;
    for (size_t t = 0; t < nt; t++) {
        size_t tile = t0 + t;
        int n = (int)(tile / ((size_t)th * tw)), r = (int)(tile % ((size_t)th * tw));
        int y0 = m * (r / tw), x0 = m * (r % tw);
        for (int k = 0; k < a * a; k++) q[k] = M + (size_t)k * plane + t * (size_t)c;
        xform2(v->at, a, m, (size_t)c, q, 0, o, tmp);
        float *img = out + (size_t)n * h * w * c;
        for (int i = 0; i < m && y0 + i < h; i++)
            for (int j = 0; j < m && x0 + j < w; j++) {
                float *restrict dst = img + ((size_t)(y0 + i) * w + (x0 + j)) * c;
                const float *restrict y = o[i * m + j];
                if (acc)
                    for (int ch = 0; ch < c; ch++) dst[ch] += y[ch] + b[ch];
                else
                    for (int ch = 0; ch < c; ch++) dst[ch] = y[ch] + b[ch];
            }
    }
}

/* Entries of a filter block: the 2-D filter transforms run over blocks of
 * this many (ci, co) pairs (a few KiB of pass-1 results, on the stack). */
#define FILTER_BLOCK 64

/* U[k][i] (k < a*a, i < cc) = (G g G^T)[k] for g[ky][kx] = w[tap*cc + i],
 * tap = ky*3 + kx, or (2-ky)*3 + (2-kx) with flip (the input gradient's
 * filters, flipped in space). */
static void transform_filters(const Variant *v, size_t cc, const float *w, int flip, float *U) {
    const size_t blocks = (cc + FILTER_BLOCK - 1) / FILTER_BLOCK;
    const int a = v->a;
    PARALLEL_FOR(cc * a * a)
    for (size_t bl = 0; bl < blocks; bl++) {
        float tmp[6 * 3 * FILTER_BLOCK];
        size_t i0 = bl * FILTER_BLOCK, n = cc - i0 < FILTER_BLOCK ? cc - i0 : FILTER_BLOCK;
        const float *p[9];
        float *o[36];
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                int tap = flip ? (2 - ky) * 3 + (2 - kx) : ky * 3 + kx;
                p[ky * 3 + kx] = w + (size_t)tap * cc + i0;
            }
        for (int k = 0; k < a * a; k++) o[k] = U + (size_t)k * cc + i0;
        xform2(v->g, 3, a, n, p, 0, o, tmp);
    }
}

/* dw[tap*cc + i] += (G^T S G)[tap][i]: the weight gradient from the summed
 * products S[k][i] (k < a*a). */
static void add_filter_gradient(const Variant *v, size_t cc, const float *S, float *dw) {
    const size_t blocks = (cc + FILTER_BLOCK - 1) / FILTER_BLOCK;
    const int a = v->a;
    PARALLEL_FOR(cc * a * a)
    for (size_t bl = 0; bl < blocks; bl++) {
        float tmp[3 * 6 * FILTER_BLOCK], g[9 * FILTER_BLOCK];
        size_t i0 = bl * FILTER_BLOCK, n = cc - i0 < FILTER_BLOCK ? cc - i0 : FILTER_BLOCK;
        const float *p[36];
        float *o[9];
        for (int k = 0; k < a * a; k++) p[k] = S + (size_t)k * cc + i0;
        for (int k = 0; k < 9; k++) o[k] = g + (size_t)k * n;
        xform2(v->gt, a, 3, n, p, 0, o, tmp);
        for (int k = 0; k < 9; k++) {
            float *restrict d = dw + (size_t)k * cc + i0;
            const float *restrict e = o[k];
            for (size_t x = 0; x < n; x++) d[x] += e[x];
        }
    }
}

/* ---- the three products ---- */

/* out (N,H,W,cout) (+)= conv3x3(in (N,H,W,cin)) with filters already in U:
 * U[k] is (cin, cout), or with u_trans (cout, cin) used transposed. Each
 * thread takes a range of tiles and runs its batches' products on its own. */
static void winograd_run(const Variant *v, const ConvShape *s, int cin, int cout, const float *in,
                         const float *U, const uint16_t *Uh, int u_trans, const float *bias,
                         float *out, int acc, float *work) {
    const size_t total = tiles_total(v, s), aa = (size_t)v->a * v->a;
    const size_t C = chunk_tiles(v, cin, cout, total);
    const int T = wino_threads(v, total, s->threads), big = cin > cout ? cin : cout;
    const size_t stride = conv_thread_floats(v, cin, cout, total);
    /* each thread's products run on it alone */
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        int t = parallel_thread_num();
        float *V = work + (size_t)t * stride, *M = V + up16(aa * C * cin);
        float *tmp = M + up16(aa * C * cout), *ybuf = tmp + up16(aa * big);
        float *zeros = ybuf + up16((size_t)v->m * v->m * big);
        memset(zeros, 0, sizeof(float) * (size_t)v->a * big);
        size_t lo = total * t / T, hi = total * (t + 1) / T;
        for (size_t t0 = lo; t0 < hi; t0 += C) {
            size_t nt = hi - t0 < C ? hi - t0 : C;
            transform_tiles(v, v->bt, v->a, v->a, 1, s->h, s->w, cin, in, t0, 0, nt, nt, V, zeros,
                            tmp);
            for (size_t k = 0; k < aa; k++) {
                const size_t u = k * (size_t)cin * cout;
                if (Uh) /* the filters converted once, not per product */
                    bf16_gemm_h(0, u_trans, (int)nt, cout, cin, V + k * nt * cin, NULL, cin, NULL,
                                Uh + u, u_trans ? cin : cout, 0.0f, M + k * nt * cout, cout, 0);
                else
                    gemm(0, u_trans, (int)nt, cout, cin, V + k * nt * cin, cin, U + u,
                         u_trans ? cin : cout, 0.0f, M + k * nt * cout, cout, &one);
            }
            output_tiles(v, s->h, s->w, cout, M, t0, nt, bias, out, acc, zeros, ybuf, tmp);
        }
    }
}

/* The transformed filters U at the start of scratch and, in bf16, their
 * bf16 copy after them (*Uh; else NULL), converted once for all the
 * products that use them. */
static float *filters(const Variant *v, const ConvShape *s, const float *weight, int flip,
                      float *scratch, uint16_t **Uh) {
    const size_t cc = (size_t)s->c_in * s->c_out, n = (size_t)v->a * v->a * cc;
    transform_filters(v, cc, weight, flip, scratch);
    *Uh = NULL;
    if (s->precision == PRECISION_BF16) {
        *Uh = (uint16_t *)(scratch + up16(n));
        const size_t a2 = (size_t)v->a * v->a;
        PARALLEL_FOR(n)
        for (size_t k = 0; k < a2; k++)
            bf16_pack(scratch + k * cc, 1, (int)cc, (int)cc, *Uh + k * cc);
    }
    return scratch;
}

void winograd_forward(const ConvShape *s, int tile, const float *in, const float *weight,
                      const float *bias, float *out, float *scratch) {
    const Variant *v = variant(s, tile);
    uint16_t *Uh;
    float *U = filters(v, s, weight, 0, scratch, &Uh);
    float *work = scratch + up16((size_t)v->a * v->a * s->c_in * s->c_out) +
                  up16(filters_bf16_floats(v, s));
    winograd_run(v, s, s->c_in, s->c_out, in, U, Uh, 0, bias, out, 0, work);
}

void winograd_backward_data(const ConvShape *s, int tile, const float *weight, const float *dout,
                            float *din, int acc, float *scratch) {
    /* din = conv3x3(dout) with w'[ky][kx][co][ci] = w[2-ky][2-kx][ci][co]:
     * the flipped filters' transforms are (cin, cout) matrices, used transposed */
    const Variant *v = variant(s, tile);
    uint16_t *Uh;
    float *U = filters(v, s, weight, 1, scratch, &Uh);
    float *work = scratch + up16((size_t)v->a * v->a * s->c_in * s->c_out) +
                  up16(filters_bf16_floats(v, s));
    winograd_run(v, s, s->c_out, s->c_in, dout, U, Uh, 1, NULL, din, acc, work);
}

/* S[k] (k < a*a) = sum over all tiles of V[k]^T Z[k], the rows split: per
 * batch of tiles, the threads transform their shares of the tiles into the
 * shared V and Z; barrier; each adds its row blocks of all a*a products
 * (S[k] rows r .. r+R += V[k]^T columns r .. r+R x Z[k]); barrier. Each
 * element of S is the sum over the batches, in order, of one fixed product
 * call: the same numbers on any thread count. */
static void wgrad_rows(const Variant *v, const ConvShape *s, const float *in, const float *dout,
                       float *S, int T) {
    const int cin = s->c_in, cout = s->c_out, big = cin > cout ? cin : cout;
    const size_t total = tiles_total(v, s), aa = (size_t)v->a * v->a, cc = (size_t)cin * cout;
    const size_t C = rows_chunk_tiles(v, cin, cout, total), R = rows_block(v, cin);
    const size_t per = ((size_t)cin + R - 1) / R, blocks = aa * per;
    float *V = S + up16(aa * cc), *Z = V + up16(aa * C * cin), *bufs = Z + up16(aa * C * cout);
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        const size_t t = (size_t)parallel_thread_num(), nth = (size_t)parallel_num_threads();
        float *tmp = bufs + t * tile_buffers(v, big);
        float *zeros = tmp + up16(aa * big) + up16((size_t)v->m * v->m * big);
        memset(zeros, 0, sizeof(float) * (size_t)v->a * big);
        const size_t b0 = blocks * t / nth, b1 = blocks * (t + 1) / nth;
        for (size_t t0 = 0; t0 < total; t0 += C) {
            const size_t nt = total - t0 < C ? total - t0 : C;
            const size_t i0 = nt * t / nth, i1 = nt * (t + 1) / nth;
            transform_tiles(v, v->bt, v->a, v->a, 1, s->h, s->w, cin, in, t0, i0, i1, nt, V, zeros,
                            tmp);
            transform_tiles(v, v->ad, v->m, v->a, 0, s->h, s->w, cout, dout, t0, i0, i1, nt, Z,
                            zeros, tmp);
            PARALLEL_BARRIER
            for (size_t b = b0; b < b1; b++) {
                const size_t k = b / per, r0 = b % per * R, r = cin - r0 < R ? cin - r0 : R;
                gemm(1, 0, (int)r, cout, (int)nt, V + k * nt * cin + r0, cin, Z + k * nt * cout,
                     cout, t0 ? 1.0f : 0.0f, S + k * cc + r0 * cout, cout, &one);
            }
            PARALLEL_BARRIER /* before the next batch overwrites V and Z */
        }
    }
}

void winograd_backward_weight(const ConvShape *s, int tile, const float *in, const float *dout,
                              float *dweight, float *scratch) {
    const Variant *v = variant(s, tile);
    int TR;
    if (wgrad_by_rows(v, s, &TR)) {
        wgrad_rows(v, s, in, dout, scratch, TR);
        add_filter_gradient(v, (size_t)s->c_in * s->c_out, scratch, dweight);
        return;
    }
    const int cin = s->c_in, cout = s->c_out, big = cin > cout ? cin : cout;
    const size_t total = tiles_total(v, s), aa = (size_t)v->a * v->a, cc = (size_t)cin * cout;
    const size_t C = chunk_tiles(v, cin, cout, total);
    const int T = wino_threads(v, total, s->threads);
    const size_t stride = wgrad_thread_floats(v, cin, cout, total);
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        int t = parallel_thread_num();
        float *S = scratch + (size_t)t * stride, *V = S + up16(aa * cc);
        float *Z = V + up16(aa * C * cin), *tmp = Z + up16(aa * C * cout);
        float *zeros = tmp + up16(aa * big) + up16((size_t)v->m * v->m * big);
        memset(zeros, 0, sizeof(float) * (size_t)v->a * big);
        memset(S, 0, sizeof(float) * aa * cc);
        size_t lo = total * t / T, hi = total * (t + 1) / T;
        for (size_t t0 = lo; t0 < hi; t0 += C) {
            size_t nt = hi - t0 < C ? hi - t0 : C;
            transform_tiles(v, v->bt, v->a, v->a, 1, s->h, s->w, cin, in, t0, 0, nt, nt, V, zeros,
                            tmp);
            transform_tiles(v, v->ad, v->m, v->a, 0, s->h, s->w, cout, dout, t0, 0, nt, nt, Z,
                            zeros, tmp);
            for (size_t k = 0; k < aa; k++)
                gemm(1, 0, cin, cout, (int)nt, V + k * nt * cin, cin, Z + k * nt * cout, cout, 1.0f,
                     S + k * cc, cout, &one);
        }
    }
    /* the other threads' sums into thread 0's, in thread order */
    add_partials(scratch, scratch + stride, stride, T - 1, aa * cc);
    add_filter_gradient(v, cc, scratch, dweight);
}
