/* winograd.h — Winograd F(2x2,3x3) convolution (private to the engine; the
 * conv kernels in conv.c choose it for eligible shapes). */
#ifndef CNNRUN_WINOGRAD_H
#define CNNRUN_WINOGRAD_H

#include <stddef.h>

#include "cnnrun/kernels.h"

/* 3x3, stride 1, pad 1, at least 16 channels in and out, at least 4x4. */
int winograd_eligible(const ConvShape *s);
size_t winograd_scratch_floats(const ConvShape *s);
void winograd_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                      float *out, float *scratch);
/* din (+)= the input gradient of the convolution, from dout. */
void winograd_backward_data(const ConvShape *s, const float *weight, const float *dout, float *din,
                            int acc, float *scratch);

#endif
