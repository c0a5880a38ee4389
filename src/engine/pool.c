/* pool.c — max, average and global average pooling over NHWC tensors, with
 * PyTorch's conventions (floor output size, max pool pads with -inf, average
 * pool counts padding in the divisor); and a max pool that computes a batch
 * norm's training statistics of its output while it writes it. */
#include <float.h>
#include <string.h>

#include "bn_rows.h"
#include "cnnrun/kernels.h"
#include "parallel.h"

void pool_shape_init(PoolShape *s)
{
    s->h_out = (s->h + 2 * s->pad - s->size) / s->stride + 1;
    s->w_out = (s->w + 2 * s->pad - s->size) / s->stride + 1;
}

static size_t in_elems(const PoolShape *s)
{
    return (size_t)s->n * s->h * s->w * s->c;
}

/* Each window's first valid tap is copied, the others compared by a
 * branch-free select, so the channel loops vectorise. A NaN is taken (and
 * then kept), as in PyTorch; ties keep the first tap. Every window holds at
 * least one input pixel (pad < size, checked by the builder). argmax holds
 * offsets within the image (< H*W*C), not within the batch: a batch offset
 * overflows int32 past 2^31 input elements (batch 65,536 of 32x32x64 already
 * does), an image's never does in practice. */
static inline void maxpool_pixel(const PoolShape *s, const float *restrict image, int oy, int ox,
                                 float *restrict y, int32_t *restrict am)
{
    const int c = s->c;
    int first = 1;
    for (int ky = 0; ky < s->size; ky++) {
        int iy = oy * s->stride - s->pad + ky;
        if (iy < 0 || iy >= s->h) continue;
        for (int kx = 0; kx < s->size; kx++) {
            int ix = ox * s->stride - s->pad + kx;
            if (ix < 0 || ix >= s->w) continue;
            int32_t base = (int32_t)(((size_t)iy * s->w + ix) * c);
            const float *restrict x = image + base;
            if (first) {
                for (int j = 0; j < c; j++) {
                    y[j] = x[j];
                    am[j] = base + j;
                }
                first = 0;
                continue;
            }
            for (int j = 0; j < c; j++) {
                int take = (x[j] > y[j]) | (x[j] != x[j]);
                y[j] = take ? x[j] : y[j];
                am[j] = take ? base + j : am[j];
            }
        }
    }
}

void maxpool_forward(const PoolShape *s, const float *in, float *out, int32_t *argmax)
{
    const int c = s->c;
    PARALLEL_FOR(in_elems(s))
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->h_out; oy++)
            for (int ox = 0; ox < s->w_out; ox++) {
                size_t o = (((size_t)n * s->h_out + oy) * s->w_out + ox) * c;
                maxpool_pixel(s, in + (size_t)n * s->h * s->w * c, oy, ox, out + o, argmax + o);
            }
}

/* The max pool as a source of rows for the batch-norm statistics: row r is
 * output pixel r (image, y, x in order), written to out and argmax. */
typedef struct {
    const PoolShape *s;
    const float *in;
    float *out;
    int32_t *argmax;
} PoolRows;

static const float *maxpool_row(void *ctx, int r)
{
    const PoolRows *p = ctx;
    const PoolShape *s = p->s;
    const int per_image = s->h_out * s->w_out, n = r / per_image, q = r % per_image;
    const size_t o = (size_t)r * s->c;
    maxpool_pixel(s, p->in + (size_t)n * s->h * s->w * s->c, q / s->w_out, q % s->w_out,
                  p->out + o, p->argmax + o);
    return p->out + o;
}

void maxpool_batchnorm_statistics(const PoolShape *s, const float *in, float *out,
                                  int32_t *argmax, const float *gamma, const float *beta,
                                  float *mean, float *rstd, float *scale_shift,
                                  float *running_mean, float *running_var, float momentum,
                                  float eps, const Workspace *ws)
{
    PoolRows rows = {s, in, out, argmax};
    BnRowSource src = {maxpool_row, &rows};
    batchnorm_statistics_of_rows(s->n * s->h_out * s->w_out, s->c, &src, gamma, beta, mean, rstd,
                                 scale_shift, running_mean, running_var, momentum, eps, ws);
}

void maxpool_backward(const PoolShape *s, const int32_t *argmax, const float *dout, float *din,
                      int acc)
{
    if (!acc) memset(din, 0, sizeof(float) * in_elems(s));
    /* argmax offsets are within each image, so images are independent */
    const size_t out_per_image = (size_t)s->h_out * s->w_out * s->c;
    const size_t in_per_image = (size_t)s->h * s->w * s->c;
    PARALLEL_FOR(in_elems(s))
    for (int n = 0; n < s->n; n++) {
        float *image = din + (size_t)n * in_per_image;
        for (size_t i = (size_t)n * out_per_image; i < ((size_t)n + 1) * out_per_image; i++)
            image[argmax[i]] += dout[i];
    }
}

/* PyTorch's divisor with count_include_pad: window clipped to the padded input. */
static int avg_divisor(const PoolShape *s, int oy, int ox)
{
    int y0 = oy * s->stride - s->pad, x0 = ox * s->stride - s->pad;
    int y1 = y0 + s->size, x1 = x0 + s->size;
    if (y1 > s->h + s->pad) y1 = s->h + s->pad;
    if (x1 > s->w + s->pad) x1 = s->w + s->pad;
    return (y1 - y0) * (x1 - x0);
}

void avgpool_forward(const PoolShape *s, const float *in, float *out)
{
    const int c = s->c;
    PARALLEL_FOR(in_elems(s))
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->h_out; oy++)
            for (int ox = 0; ox < s->w_out; ox++) {
                float *y = out + (((size_t)n * s->h_out + oy) * s->w_out + ox) * c;
                memset(y, 0, sizeof(float) * (size_t)c);
                for (int ky = 0; ky < s->size; ky++) {
                    int iy = oy * s->stride - s->pad + ky;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int kx = 0; kx < s->size; kx++) {
                        int ix = ox * s->stride - s->pad + kx;
                        if (ix < 0 || ix >= s->w) continue;
                        const float *x = in + (((size_t)n * s->h + iy) * s->w + ix) * c;
                        for (int j = 0; j < c; j++) y[j] += x[j];
                    }
                }
                float inv = 1.0f / (float)avg_divisor(s, oy, ox);
                for (int j = 0; j < c; j++) y[j] *= inv;
            }
}

void avgpool_backward(const PoolShape *s, const float *dout, float *din, int acc)
{
    const int c = s->c;
    if (!acc) memset(din, 0, sizeof(float) * in_elems(s));
    PARALLEL_FOR(in_elems(s))
    for (int n = 0; n < s->n; n++)
        for (int oy = 0; oy < s->h_out; oy++)
            for (int ox = 0; ox < s->w_out; ox++) {
                const float *g = dout + (((size_t)n * s->h_out + oy) * s->w_out + ox) * c;
                float inv = 1.0f / (float)avg_divisor(s, oy, ox);
                for (int ky = 0; ky < s->size; ky++) {
                    int iy = oy * s->stride - s->pad + ky;
                    if (iy < 0 || iy >= s->h) continue;
                    for (int kx = 0; kx < s->size; kx++) {
                        int ix = ox * s->stride - s->pad + kx;
                        if (ix < 0 || ix >= s->w) continue;
                        float *d = din + (((size_t)n * s->h + iy) * s->w + ix) * c;
                        for (int j = 0; j < c; j++) d[j] += g[j] * inv;
                    }
                }
            }
}

void global_avgpool_forward(int n, int hw, int c, const float *in, float *out)
{
    float inv = 1.0f / (float)hw;
    PARALLEL_FOR((size_t)n * hw * c)
    for (int i = 0; i < n; i++) {
        float *y = out + (size_t)i * c;
        memset(y, 0, sizeof(float) * (size_t)c);
        for (int p = 0; p < hw; p++) {
            const float *x = in + ((size_t)i * hw + p) * c;
            for (int j = 0; j < c; j++) y[j] += x[j];
        }
        for (int j = 0; j < c; j++) y[j] *= inv;
    }
}

void global_avgpool_backward(int n, int hw, int c, const float *dout, float *din, int acc)
{
    float inv = 1.0f / (float)hw;
    PARALLEL_FOR((size_t)n * hw * c)
    for (int i = 0; i < n; i++) {
        const float *g = dout + (size_t)i * c;
        for (int p = 0; p < hw; p++) {
            float *d = din + ((size_t)i * hw + p) * c;
            if (acc)
                for (int j = 0; j < c; j++) d[j] += g[j] * inv;
            else
                for (int j = 0; j < c; j++) d[j] = g[j] * inv;
        }
    }
}
