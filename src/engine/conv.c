/* conv.c — 2-D convolution, NHWC, as matrix products through OpenBLAS.
 *
 * Forward: out (M, C_out) = col (M, K) x W (K, C_out), M = N*Ho*Wo,
 * K = KH*KW*C_in, col built by im2col over chunks of output rows sized to stay
 * in cache. A 1x1 stride-1 unpadded conv uses the input itself as col.
 * Backward: dW += col^T x dY; dcol = dY x W^T, scattered back by col2im.
 * Threads take whole images, each with its own partial dW added in thread
 * order, or (dwsplit.c: from 4 threads, or CNNRUN_DWSPLIT) dW splits by its
 * rows over chunks of col the threads build together (im2col_dweight_rows).
 * Which algorithm runs (im2col here, Winograd F(2x2)/F(4x4) in winograd.c,
 * oneDNN's primitives in conv_dnnl.c, im2col where oneDNN refuses a shape)
 * is decided per product from ConvShape.algo / .algo_dweight
 * (conv_algo_resolve, conv_algo_used_dweight). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "conv_dnnl.h"
#include "dwsplit.h"
#include "parallel.h"
#include "winograd.h"

/* Target floats of one thread's im2col chunk (~1 MiB: one core's L2). */
#define CONV_CHUNK_FLOATS (256u * 1024u)

void conv_shape_init(ConvShape *s) {
    s->h_out = (s->h + 2 * s->pad - s->kh) / s->stride + 1;
    s->w_out = (s->w + 2 * s->pad - s->kw) / s->stride + 1;
}

static int conv_is_pointwise(const ConvShape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

static size_t conv_k(const ConvShape *s) {
    return (size_t)s->kh * s->kw * s->c_in;
}

static size_t conv_m(const ConvShape *s) {
    return (size_t)s->n * s->h_out * s->w_out;
}

/* Threads that share a conv: each takes whole images, so the scatter of one
 * thread's input gradient never touches another's. */
static int conv_threads(const ConvShape *s) {
#ifndef _OPENMP
    (void)s;
    return 1; /* the parallel regions below run once, as thread 0 */
#endif
    int t = conv_max_threads(s);
    return t < s->n ? t : s->n;
}

/* The output tile side of a Winograd algorithm, 0 for im2col. */
static int wino_tile(int algo) {
    return algo == CONV_WINOGRAD4 ? 4 : algo == CONV_WINOGRAD ? 2 : 0;
}

/* In bf16, chunks of BF16_ROWS times as many rows: the products run several
 * times faster there and each call costs the same (measured,
 * docs/performance.md). */
#define BF16_ROWS 1

static int conv_bf16(const ConvShape *s) {
    return s->precision == PRECISION_BF16;
}

/* Rows of col per chunk: at least 128 (for GEMM efficiency), at most M. */
static size_t conv_chunk_rows(const ConvShape *s) {
    size_t rows = CONV_CHUNK_FLOATS / conv_k(s) * (conv_bf16(s) ? BF16_ROWS : 1);
    if (rows < 128) rows = 128;
    size_t m = conv_m(s);
    return rows < m ? rows : m;
}

/* The weight gradient's rows split (dwsplit.c): the threads build one
 * im2col chunk of about this many floats (8 MiB) together, then each adds its
 * row blocks of dW over it. A fixed size, not per thread: the chunks decide
 * how each element's sum is grouped, and that must not depend on the thread
 * count. */
#define CONV_ROWS_CHUNK_FLOATS (2u << 20)

/* Rows of col per chunk of the rows split: at least 128, at most M. */
static size_t rows_chunk_rows(const ConvShape *s) {
    size_t rows = CONV_ROWS_CHUNK_FLOATS / conv_k(s);
    if (rows < 128) rows = 128;
    size_t m = conv_m(s);
    return rows < m ? rows : m;
}

/* Whether the im2col weight gradient of s splits by rows (on *T threads);
 * only asked of shapes whose weight gradient runs im2col. */
static int im2col_dw_by_rows(const ConvShape *s, int *T) {
    size_t k = conv_k(s), R = dwsplit_block_rows(k, 1);
    *T = dwsplit_threads(s->threads);
    return dwsplit_rows(s->dwsplit, *T, (k + R - 1) / R);
}

/* Scratch of one thread: its im2col chunk (in bf16: the chunk's input
 * gradient in fp32, then its im2col and output gradient as bf16), then, when
 * the im2col weight gradient splits by the batch, its partial weight
 * gradient. */
static size_t conv_col_floats(const ConvShape *s) {
    size_t rows = conv_chunk_rows(s), k = conv_k(s);
    if (!conv_bf16(s)) return rows * k;
    return rows * k + bf16_floats(rows * k) + bf16_floats(rows * s->c_out);
}

static size_t conv_thread_floats(const ConvShape *s) {
    int T;
    size_t partial = !wino_tile(conv_algo_used_dweight(s)) && !im2col_dw_by_rows(s, &T)
                         ? conv_k(s) * (size_t)s->c_out
                         : 0;
    return conv_col_floats(s) + partial;
}

/* The im2col products' weights as bf16 bits (bf16 only), after the threads'
 * areas: converted once per call, not per chunk. */
static size_t conv_weight_bf16_floats(const ConvShape *s) {
    return conv_bf16(s) ? bf16_floats(conv_k(s) * s->c_out) : 0;
}

/* Output rows [*r0, *r1) of thread t of T: whole images. */
static void conv_thread_rows(const ConvShape *s, int t, int T, size_t *r0, size_t *r1) {
    size_t hw = (size_t)s->h_out * s->w_out;
    *r0 = (size_t)s->n * t / T * hw;
    *r1 = (size_t)s->n * (t + 1) / T * hw;
}

/* The pointwise products' work space: the whole scratch, on the conv's
 * threads (the products are split in gemm, not by images). */
static Workspace pointwise_ws(const ConvShape *s, float *scratch) {
    int T = conv_max_threads(s);
    Workspace ws = {.f = scratch, .floats = conv_scratch_floats(s), .threads = T,
                    .precision = s->precision};
    return ws;
}

/* Most floats any of a pointwise conv's three products keeps (gemm_work_floats). */
static size_t pointwise_work_floats(const ConvShape *s) {
    int T = conv_max_threads(s);
    int m = (int)conv_m(s), k = (int)conv_k(s), cout = s->c_out;
    size_t a = gemm_work_floats(m, cout, k, T), b = gemm_work_floats(k, cout, m, T),
           c = gemm_work_floats(m, k, cout, T);
    size_t most = a > b ? a : b;
    return most > c ? most : c;
}

/* 1 where oneDNN's primitives run the forward pass and input gradient, or
 * the weight gradient, of s. */
static int dnnl_fwd(const ConvShape *s) { return conv_algo_resolve(s) == CONV_ONEDNN; }
static int dnnl_dw(const ConvShape *s) { return conv_algo_used_dweight(s) == CONV_ONEDNN; }

static size_t conv_scratch_others(const ConvShape *s);

/* oneDNN's needs, and what the other algorithms need to stand in where it
 * refuses the shape. */
size_t conv_scratch_floats(const ConvShape *s) {
    size_t need = conv_scratch_others(s);
    if (dnnl_fwd(s) || dnnl_dw(s)) {
        size_t d = conv_dnnl_scratch_floats(s);
        if (d > need) need = d;
    }
    return need;
}

static size_t conv_scratch_others(const ConvShape *s) {
    size_t bias = (size_t)conv_threads(s) * s->c_out; /* bias_grad's partial sums */
    if (conv_is_pointwise(s)) {
        size_t w = pointwise_work_floats(s);
        return w > bias ? w : bias;
    }
    const int fwd = wino_tile(conv_algo_resolve(s)), dw = wino_tile(conv_algo_used_dweight(s));
    size_t need = bias;
    int T, rows = !dw && im2col_dw_by_rows(s, &T);
    if (!fwd || (!dw && !rows)) { /* im2col per thread for some product */
        size_t c = (size_t)conv_threads(s) * conv_thread_floats(s) + conv_weight_bf16_floats(s);
        if (c > need) need = c;
    }
    if (rows) { /* the rows split's one chunk */
        size_t c = rows_chunk_rows(s) * conv_k(s);
        if (c > need) need = c;
    }
    if (fwd) {
        size_t w = winograd_scratch_floats(s, fwd, fwd == dw);
        if (w > need) need = w;
    }
    if (dw && dw != fwd) {
        size_t w = winograd_scratch_floats(s, dw, 1);
        if (w > need) need = w;
    }
    return need;
}

/* The image n and output pixel (oy, ox) of im2col's row m. */
static void row_position(const ConvShape *s, size_t m, int *n, int *oy, int *ox) {
    const size_t hw_out = (size_t)s->h_out * s->w_out;
    const int rem = (int)(m % hw_out);
    *n = (int)(m / hw_out);
    *oy = rem / s->w_out;
    *ox = rem % s->w_out;
}

/* col[r, (ky,kx,ci)] for output rows m0 .. m0+rows. */
static void im2col(const ConvShape *s, const float *in, size_t m0, size_t rows, float *col) {
    const size_t cin = (size_t)s->c_in;
    const size_t k = conv_k(s);
    PARALLEL_FOR(rows * k)
    for (size_t r = 0; r < rows; r++) {
        int n, oy, ox;
        row_position(s, m0 + r, &n, &oy, &ox);
        float *dst = col + r * k;
        const float *img = in + (size_t)n * s->h * s->w * cin;
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->stride - s->pad + ky;
            if (iy < 0 || iy >= s->h) {
                memset(dst, 0, sizeof(float) * cin * s->kw);
                dst += cin * s->kw;
                continue;
            }
            for (int kx = 0; kx < s->kw; kx++, dst += cin) {
                int ix = ox * s->stride - s->pad + kx;
                if (ix < 0 || ix >= s->w)
                    memset(dst, 0, sizeof(float) * cin);
                else
                    memcpy(dst, img + ((size_t)iy * s->w + ix) * cin, sizeof(float) * cin);
            }
        }
    }
}

/* im2col's rows m0 .. m0+rows as bf16 bits (to nearest, ties to even). */
static void im2col_bf16(const ConvShape *s, const float *in, size_t m0, size_t rows,
                        uint16_t *col) {
    const int cin = s->c_in;
    const size_t k = conv_k(s);
    for (size_t r = 0; r < rows; r++) {
        int n, oy, ox;
        row_position(s, m0 + r, &n, &oy, &ox);
        uint16_t *dst = col + r * k;
        const float *img = in + (size_t)n * s->h * s->w * cin;
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->stride - s->pad + ky;
            for (int kx = 0; kx < s->kw; kx++, dst += cin) {
                int ix = ox * s->stride - s->pad + kx;
                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                    memset(dst, 0, sizeof(uint16_t) * cin); /* bf16 zero: all bits 0 */
                else
                    bf16_pack(img + ((size_t)iy * s->w + ix) * cin, 1, cin, cin, dst);
            }
        }
    }
}

/* The weights (K x C_out) as bf16 bits after the threads' areas of scratch,
 * or NULL in fp32. */
static uint16_t *weight_bf16(const ConvShape *s, const float *weight, float *scratch) {
    if (!conv_bf16(s)) return NULL;
    uint16_t *wh = (uint16_t *)(scratch + (size_t)conv_threads(s) * conv_thread_floats(s));
    const size_t k = conv_k(s);
    PARALLEL_FOR(k * s->c_out)
    for (size_t r = 0; r < k; r++)
        bf16_pack(weight + r * s->c_out, 1, s->c_out, s->c_out, wh + r * s->c_out);
    return wh;
}

/* din += scatter of dcol rows m0 .. m0+rows (the adjoint of im2col). */
static void col2im_add(const ConvShape *s, const float *dcol, size_t m0, size_t rows, float *din) {
    const size_t cin = (size_t)s->c_in;
    const size_t k = conv_k(s);
    for (size_t r = 0; r < rows; r++) {
        int n, oy, ox;
        row_position(s, m0 + r, &n, &oy, &ox);
        const float *src = dcol + r * k;
        float *img = din + (size_t)n * s->h * s->w * cin;
        for (int ky = 0; ky < s->kh; ky++) {
            int iy = oy * s->stride - s->pad + ky;
            if (iy < 0 || iy >= s->h) {
                src += cin * s->kw;
                continue;
            }
            for (int kx = 0; kx < s->kw; kx++, src += cin) {
                int ix = ox * s->stride - s->pad + kx;
                if (ix < 0 || ix >= s->w) continue;
                float *d = img + ((size_t)iy * s->w + ix) * cin;
                for (size_t c = 0; c < cin; c++) d[c] += src[c];
            }
        }
    }
}

size_t conv_keep_floats(const ConvShape *s) {
    return conv_dnnl_keep_floats(s);
}

void conv_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                  float *out, float *scratch) {
    conv_forward_keep(s, in, weight, bias, out, scratch, NULL);
}

void conv_backward(const ConvShape *s, const float *in, const float *weight, const float *dout,
                   float *din, int acc, float *dweight, float *dbias, float *scratch) {
    conv_backward_keep(s, in, weight, dout, din, acc, dweight, dbias, scratch, NULL);
}

void conv_forward_keep(const ConvShape *s, const float *in, const float *weight, const float *bias,
                       float *out, float *scratch, float *keep) {
    const size_t m = conv_m(s), k = conv_k(s), cout = (size_t)s->c_out;
    if (dnnl_fwd(s) && conv_dnnl_forward(s, in, weight, bias, out, scratch, keep) == 0) return;
    const int tile = wino_tile(conv_algo_resolve(s));
    if (tile) {
        winograd_forward(s, tile, in, weight, bias, out, scratch);
        return;
    }
    if (bias) {
        PARALLEL_FOR(m * cout)
        for (size_t i = 0; i < m; i++) memcpy(out + i * cout, bias, sizeof(float) * cout);
    }
    const float beta = bias ? 1.0f : 0.0f;
    if (conv_is_pointwise(s)) {
        Workspace ws = pointwise_ws(s, scratch);
        gemm(0, 0, (int)m, (int)cout, (int)k, in, (int)k, weight, (int)cout, beta, out, (int)cout,
             &ws);
        return;
    }
    const size_t chunk = conv_chunk_rows(s);
    const int T = conv_threads(s);
    const uint16_t *wh = weight_bf16(s, weight, scratch);
    /* each thread's products run on it alone */
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        int t = parallel_thread_num();
        float *col = scratch + (size_t)t * conv_thread_floats(s);
        uint16_t *colh = (uint16_t *)col; /* bf16: the chunk written as bf16 */
        size_t r0, r1;
        conv_thread_rows(s, t, T, &r0, &r1);
        for (size_t m0 = r0; m0 < r1; m0 += chunk) {
            size_t rows = r1 - m0 < chunk ? r1 - m0 : chunk;
            if (wh) {
                im2col_bf16(s, in, m0, rows, colh);
                bf16_gemm_h(0, 0, (int)rows, (int)cout, (int)k, NULL, colh, (int)k, NULL, wh,
                            (int)cout, beta, out + m0 * cout, (int)cout, 0);
                continue;
            }
            im2col(s, in, m0, rows, col);
            gemm(0, 0, (int)rows, (int)cout, (int)k, col, (int)k, weight, (int)cout, beta,
                 out + m0 * cout, (int)cout, &one);
        }
    }
}

/* dbias += column sums of dout (M, C_out): per-thread partial sums over whole
 * images, added in thread order (reproducible for a thread count). */
static void bias_grad(const ConvShape *s, const float *dout, float *dbias, float *partial) {
    const size_t cout = (size_t)s->c_out;
    const int T = conv_threads(s);
    PARALLEL_THREADS(T)
    {
        int t = parallel_thread_num();
        float *p = partial + (size_t)t * cout;
        memset(p, 0, sizeof(float) * cout);
        size_t r0, r1;
        conv_thread_rows(s, t, T, &r0, &r1);
        for (size_t i = r0; i < r1; i++)
            for (size_t c = 0; c < cout; c++) p[c] += dout[i * cout + c];
    }
    for (int t = 0; t < T; t++)
        for (size_t c = 0; c < cout; c++) dbias[c] += partial[(size_t)t * cout + c];
}

/* One chunk of the im2col backward in bf16: its output gradient converted
 * once for both products, its im2col written as bf16; dw (not NULL) += col^T
 * x dY, din (not NULL) += the scatter of dY x W^T (wh: W as bf16). col: the
 * thread's area (conv_col_floats). */
static void im2col_backward_bf16(const ConvShape *s, const float *in, const uint16_t *wh,
                                 const float *dy, size_t m0, size_t rows, float *din, float *dw,
                                 float *col) {
    const int k = (int)conv_k(s), cout = s->c_out, r = (int)rows;
    uint16_t *colh = (uint16_t *)(col + conv_chunk_rows(s) * conv_k(s));
    uint16_t *dyh = colh + 2 * bf16_floats(conv_chunk_rows(s) * conv_k(s));
    bf16_pack(dy, r, cout, cout, dyh);
    if (dw) {
        im2col_bf16(s, in, m0, rows, colh);
        bf16_gemm_h(1, 0, k, cout, r, NULL, colh, k, NULL, dyh, cout, 1.0f, dw, cout, 0);
    }
    if (din) {
        bf16_gemm_h(0, 1, r, k, cout, NULL, dyh, cout, NULL, wh, cout, 0.0f, col, k, 0);
        col2im_add(s, col, m0, rows, din);
    }
}

/* The im2col backward of a k x k conv: with dweight (not NULL) dweight +=
 * col^T x dY, with din (not NULL) the input gradient, written (acc = 0) or
 * added. */
static void im2col_backward(const ConvShape *s, const float *in, const float *weight,
                            const float *dout, float *din, int acc, float *dweight,
                            float *scratch) {
    const size_t k = conv_k(s), cout = (size_t)s->c_out;
    const size_t chunk = conv_chunk_rows(s);
    const size_t kc = k * cout;
    const int T = conv_threads(s);
    const uint16_t *wh = din ? weight_bf16(s, weight, scratch) : NULL;
    /* each thread's products run on it alone */
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        int t = parallel_thread_num();
        float *col = scratch + (size_t)t * conv_thread_floats(s);
        /* Thread 0 adds into the weight gradient; the others into their own. */
        float *dw = dweight;
        if (t > 0 && dweight) {
            dw = col + conv_col_floats(s);
            memset(dw, 0, sizeof(float) * kc);
        }
        size_t r0, r1;
        conv_thread_rows(s, t, T, &r0, &r1);
        if (din && !acc) {
            size_t img = (size_t)s->h * s->w * s->c_in, hw = (size_t)s->h_out * s->w_out;
            memset(din + r0 / hw * img, 0, sizeof(float) * (r1 - r0) / hw * img);
        }
        for (size_t m0 = r0; m0 < r1; m0 += chunk) {
            size_t rows = r1 - m0 < chunk ? r1 - m0 : chunk;
            const float *dy = dout + m0 * cout;
            if (conv_bf16(s)) {
                im2col_backward_bf16(s, in, wh, dy, m0, rows, din, dw, col);
                continue;
            }
            if (dweight) {
                im2col(s, in, m0, rows, col);
                gemm(1, 0, (int)k, (int)cout, (int)rows, col, (int)k, dy, (int)cout, 1.0f, dw,
                     (int)cout, &one);
            }
            if (din) {
                gemm(0, 1, (int)rows, (int)k, (int)cout, dy, (int)cout, weight, (int)cout, 0.0f,
                     col, (int)k, &one);
                col2im_add(s, col, m0, rows, din);
            }
        }
    }
    /* The other threads' partial gradients, added in thread order. */
    if (dweight && T > 1)
        add_partials(dweight, scratch + conv_thread_floats(s) + conv_col_floats(s),
                     conv_thread_floats(s), T - 1, kc);
}

/* dweight += col^T x dY, the rows split: per chunk of output rows the
 * threads build their shares of the chunk's im2col rows; barrier; each adds
 * its blocks of dW's rows (rows r .. r+R += col^T rows r .. r+R x dY);
 * barrier. Each element of dW is the sum over the chunks, in order, of one
 * fixed product call: the same numbers on any thread count. */
static void im2col_dweight_rows(const ConvShape *s, const float *in, const float *dout,
                                float *dweight, float *col, int T) {
    const size_t m = conv_m(s), k = conv_k(s), cout = (size_t)s->c_out;
    const size_t chunk = rows_chunk_rows(s), R = dwsplit_block_rows(k, 1);
    const size_t blocks = (k + R - 1) / R;
    const Workspace one = {.threads = 1, .precision = s->precision};
    PARALLEL_THREADS(T)
    {
        const size_t t = (size_t)parallel_thread_num(), nth = (size_t)parallel_num_threads();
        const size_t b0 = blocks * t / nth, b1 = blocks * (t + 1) / nth;
        for (size_t m0 = 0; m0 < m; m0 += chunk) {
            const size_t rows = m - m0 < chunk ? m - m0 : chunk;
            const size_t i0 = rows * t / nth, i1 = rows * (t + 1) / nth;
            if (i1 > i0) im2col(s, in, m0 + i0, i1 - i0, col + i0 * k);
            PARALLEL_BARRIER
            for (size_t b = b0; b < b1; b++) {
                const size_t r0 = b * R, r = k - r0 < R ? k - r0 : R;
                gemm(1, 0, (int)r, (int)cout, (int)rows, col + r0, (int)k, dout + m0 * cout,
                     (int)cout, 1.0f, dweight + r0 * cout, (int)cout, &one);
            }
            PARALLEL_BARRIER /* before the next chunk overwrites col */
        }
    }
}

void conv_backward_keep(const ConvShape *s, const float *in, const float *weight,
                        const float *dout, float *din, int acc, float *dweight, float *dbias,
                        float *scratch, const float *keep) {
    const size_t m = conv_m(s), k = conv_k(s), cout = (size_t)s->c_out;
    if (dbias) bias_grad(s, dout, dbias, scratch); /* before scratch holds anything else */
    const int dn_din = din && dnnl_fwd(s), dn_dw = dweight && dnnl_dw(s);
    /* the kept input is the forward's only where oneDNN ran the forward */
    if ((dn_din || dn_dw) &&
        conv_dnnl_backward(s, in, dnnl_fwd(s) ? keep : NULL, weight, dout, NULL,
                           dn_din ? din : NULL, acc, dn_dw ? dweight : NULL, scratch) == 0) {
        if (dn_din) din = NULL; /* done */
        if (dn_dw) dweight = NULL;
        if (!din && !dweight) return;
    }
    if (conv_is_pointwise(s)) {
        Workspace ws = pointwise_ws(s, scratch);
        if (dweight)
            gemm(1, 0, (int)k, (int)cout, (int)m, in, (int)k, dout, (int)cout, 1.0f, dweight,
                 (int)cout, &ws);
        if (din)
            gemm(0, 1, (int)m, (int)k, (int)cout, dout, (int)cout, weight, (int)cout,
                 acc ? 1.0f : 0.0f, din, (int)k, &ws);
        return;
    }
    const int tile = wino_tile(conv_algo_resolve(s)), dw_tile = wino_tile(conv_algo_used_dweight(s));
    int T, dw_rows = !dw_tile && dweight && im2col_dw_by_rows(s, &T);
    if (dw_tile && dweight) winograd_backward_weight(s, dw_tile, in, dout, dweight, scratch);
    if (dw_rows) im2col_dweight_rows(s, in, dout, dweight, scratch, T);
    if ((!dw_tile && !dw_rows) || (din && !tile)) /* the rest per thread, by images */
        im2col_backward(s, in, weight, dout, tile ? NULL : din, acc,
                        dw_tile || dw_rows ? NULL : dweight, scratch);
    if (din && tile) winograd_backward_data(s, tile, weight, dout, din, acc, scratch);
}

/* The bf16-only entry points below exist only for shapes conv_dnnl_ready
 * made: a refusal there is a bug, not a fallback. */
static void dnnl_refused_late(void)
{
    fprintf(stderr, "cnnrun: oneDNN's convolution was refused after it was made\n");
    exit(CN_EXIT_FAIL);
}

int conv_takes_bf16_dout(const ConvShape *s, int has_bias) {
    return !has_bias && dnnl_fwd(s) && dnnl_dw(s) && conv_dnnl_ready(s);
}

void conv_backward_bf16(const ConvShape *s, const float *in, const float *weight,
                        const uint16_t *dout_h, float *din, int acc, float *dweight,
                        float *scratch, const float *keep) {
    if (conv_dnnl_backward(s, in, keep, weight, NULL, dout_h, din, acc, dweight, scratch) != 0)
        dnnl_refused_late();
}

int conv_takes_bf16_input(const ConvShape *s) {
    return dnnl_fwd(s) && dnnl_dw(s) && conv_dnnl_ready(s);
}

void conv_forward_bf16in(const ConvShape *s, const float *weight, const float *bias, float *out,
                         float *scratch, float *keep) {
    if (conv_dnnl_forward(s, NULL, weight, bias, out, scratch, keep) != 0) dnnl_refused_late();
}
