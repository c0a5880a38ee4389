/* bf16_shapes.c — the engine's products on ResNet-18's shapes, fp32 against
 * bf16 (docs/performance.md, "bf16 products"): each shape through gemm()
 * with a PRECISION_FP32 and a PRECISION_BF16 work space on the engine's
 * threads (the bf16 one includes converting the operands, as a run pays
 * it). GFLOP/s, best of 5 after a warm-up.
 *   build/tests/bf16_shapes [threads] */
#include <stdio.h>
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

static double gflops(int m, int n, int k, const float *a, const float *b, float *c, int threads,
                     int precision)
{
    Workspace ws = workspace_alloc(gemm_work_floats(m, n, k, threads), threads);
    ws.precision = precision;
    double best = 1e9;
    for (int rep = 0; rep <= 5; rep++) {
        double t0 = now_seconds();
        gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c, n, &ws);
        double t = now_seconds() - t0;
        if (rep > 0 && t < best) best = t;
    }
    workspace_free(&ws);
    return 2.0 * m * n * k / best * 1e-9;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    static const int shapes[][3] = {{8192, 576, 64}, {2048, 1152, 128}, {512, 2304, 256},
                                    {128, 4608, 512}, {4096, 64, 64}, {2048, 2048, 2048}};
    engine_set_threads(threads);
    printf("bf16 path: %s; OpenBLAS core %s; %d threads\n", bf16_path_name(bf16_path()),
           blas_core_name(), threads);
    printf("%6s %6s %6s  %12s %12s %6s\n", "M", "K", "N", "fp32 GF/s", "bf16 GF/s", "x");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = alloc_floats((size_t)m * k), *b = alloc_floats((size_t)k * n);
        float *c = alloc_floats((size_t)m * n);
        for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 13) / 13 - 0.5f;
        for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 11) / 11 - 0.5f;
        double f = gflops(m, n, k, a, b, c, threads, PRECISION_FP32);
        double h = gflops(m, n, k, a, b, c, threads, PRECISION_BF16);
        printf("%6d %6d %6d  %12.1f %12.1f %6.2f\n", m, k, n, f, h, h / f);
        free(a), free(b), free(c);
    }
    return 0;
}
