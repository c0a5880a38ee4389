/* conv_dnnl.h — the convolution as oneDNN's primitives (conv_dnnl.c). */
#ifndef CNNRUN_CONV_DNNL_H
#define CNNRUN_CONV_DNNL_H

#include "cnnrun/kernels.h"

/* Floats that hold n bf16 values, rounded up to keep 64-byte alignment
 * (conv.c's and conv_dnnl.c's scratch). */
static inline size_t bf16_floats(size_t n)
{
    return ((n + 1) / 2 + 15) & ~(size_t)15;
}

/* Most threads a conv of s uses: the engine's, or fewer where s says so. */
static inline int conv_max_threads(const ConvShape *s)
{
    int t = engine_get_threads();
    return s->threads > 0 && s->threads < t ? s->threads : t;
}

/* 1 where s is bf16 and oneDNN runs this CPU's bf16 path. */
int conv_dnnl_eligible(const ConvShape *s);
/* Floats of scratch the two calls below need. */
size_t conv_dnnl_scratch_floats(const ConvShape *s);
/* Floats of the input's bf16 copy (conv_keep_floats), 0 where not eligible. */
size_t conv_dnnl_keep_floats(const ConvShape *s);
/* conv_forward / conv_backward's contract (dweight +=, din written or added
 * with acc; the bias gradient is the caller's). -1, having touched nothing,
 * where oneDNN refuses the shape: the caller computes it another way.
 * keep (may be NULL): forward writes the input's bf16 copy there (or, with
 * in NULL, finds it there already), backward takes it from there (not NULL:
 * forward ran on this input). dout_h (may be
 * NULL): the output gradient as bf16 bits already, dout not read. */
int conv_dnnl_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                      float *out, float *scratch, float *keep);
int conv_dnnl_backward(const ConvShape *s, const float *in, const float *keep, const float *weight,
                       const float *dout, const uint16_t *dout_h, float *din, int acc,
                       float *dweight, float *scratch);
/* 1 where oneDNN made s's primitives, forward and backward (made now if not
 * yet): the calls above will not return -1. */
int conv_dnnl_ready(const ConvShape *s);

#endif
