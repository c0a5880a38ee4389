/* linear.c — fully connected layer: out (N,out) = in (N,in) x W (in,out) + b. */
#include <cblas.h>
#include <string.h>

#include "cnnrun/kernels.h"

size_t linear_work_floats(int n, int in_f, int out_f, int threads)
{
    size_t a = gemm_work_floats(n, out_f, in_f, threads);     /* forward */
    size_t b = gemm_work_floats(in_f, out_f, n, threads);     /* weight gradient */
    size_t c = gemm_work_floats(n, in_f, out_f, threads);     /* input gradient */
    size_t most = a > b ? a : b;
    return most > c ? most : c;
}

void linear_forward(int n, int in_f, int out_f, const float *in, const float *weight,
                    const float *bias, float *out, const Workspace *ws) {
    if (bias)
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * out_f, bias, sizeof(float) * out_f);
    gemm(0, 0, n, out_f, in_f, in, in_f, weight, out_f, bias ? 1.0f : 0.0f, out, out_f, ws);
}

void linear_backward(int n, int in_f, int out_f, const float *in, const float *weight,
                     const float *dout, float *din, int acc, float *dweight, float *dbias,
                     const Workspace *ws) {
    gemm(1, 0, in_f, out_f, n, in, in_f, dout, out_f, 1.0f, dweight, out_f, ws);
    if (dbias)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < out_f; j++) dbias[j] += dout[(size_t)i * out_f + j];
    if (din)
        gemm(0, 1, n, in_f, out_f, dout, out_f, weight, out_f, acc ? 1.0f : 0.0f, din, in_f, ws);
}
