/* gemm_peak.c — the sgemm peak the convolutions are measured against: a
 * 2048^3 product through the engine's gemm() (OpenMP threads, OpenBLAS
 * single-threaded in each: how the engine runs; gemm_peak_gflops, which
 * `cnnrun bench` also prints) and through cblas_sgemm with OpenBLAS's own
 * threads. Prints GFLOP/s, best of 5.
 *   build/tests/gemm_peak [threads]      (docs/performance.md) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

int main(int argc, char **argv)
{
    const int n = 2048, threads = argc > 1 ? atoi(argv[1]) : 2;
    engine_set_threads(threads);
    printf("%-44s %6.1f GFLOP/s\n", "engine gemm() (OpenMP x single-thread OpenBLAS)",
           gemm_peak_gflops(n, 5));
    float *a = alloc_floats((size_t)n * n), *b = alloc_floats((size_t)n * n);
    float *c = alloc_floats((size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    openblas_set_num_threads(threads); /* OpenBLAS's own threads */
    double best = 1e9;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        double t = now_seconds() - t0;
        if (rep > 0 && t < best) best = t; /* the first is warm-up */
    }
    printf("%-44s %6.1f GFLOP/s\n", "cblas_sgemm (OpenBLAS threads)", 2.0 * n * n * n / best * 1e-9);
    free(a), free(b), free(c);
    return 0;
}
