/* winograd.h — Winograd F(2x2,3x3) and F(4x4,3x3) convolution (private to
 * the engine; conv.c runs it for the algorithms CONV_WINOGRAD, tile 2, and
 * CONV_WINOGRAD4, tile 4). `tile` is the output tile's side, 2 or 4. */
#ifndef CNNRUN_WINOGRAD_H
#define CNNRUN_WINOGRAD_H

#include <stddef.h>

#include "cnnrun/kernels.h"

/* 3x3, stride 1, pad 1 (any size and channel count). */
int winograd_eligible(const ConvShape *s);
/* Floats of scratch the forward and input gradient need, and with
 * weight_grad the weight gradient too (one after the other: the largest). */
size_t winograd_scratch_floats(const ConvShape *s, int tile, int weight_grad);
void winograd_forward(const ConvShape *s, int tile, const float *in, const float *weight,
                      const float *bias, float *out, float *scratch);
/* din (+)= the input gradient of the convolution, from dout. */
void winograd_backward_data(const ConvShape *s, int tile, const float *weight, const float *dout,
                            float *din, int acc, float *scratch);
/* dweight += the weight gradient, from the input and dout. */
void winograd_backward_weight(const ConvShape *s, int tile, const float *in, const float *dout,
                              float *dweight, float *scratch);

#endif
