/* gemm_peak.c — the sgemm peak the convolutions are measured against: a
 * 2048^3 product through the engine's gemm() (OpenMP threads, OpenBLAS
 * single-threaded in each: how the engine runs) and through cblas_sgemm with
 * OpenBLAS's own threads. Prints GFLOP/s, best of 5.
 *   build/tests/gemm_peak [threads]      (docs/performance.md) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

int main(int argc, char **argv)
{
    const int n = 2048, threads = argc > 1 ? atoi(argv[1]) : 2;
    float *a = alloc_floats((size_t)n * n), *b = alloc_floats((size_t)n * n);
    float *c = alloc_floats((size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    const double flop = 2.0 * n * n * n;
    Workspace ws = workspace_alloc(gemm_work_floats(n, n, n, threads), threads);
    for (int way = 0; way < 2; way++) {
        double best = 1e9;
        for (int rep = 0; rep < 6; rep++) {
            engine_set_threads(threads);
            if (way == 1) openblas_set_num_threads(threads); /* OpenBLAS's own threads */
            double t0 = now_seconds();
            if (way == 0)
                gemm(0, 0, n, n, n, a, n, b, n, 0.0f, c, n, &ws);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                            0.0f, c, n);
            double t = now_seconds() - t0;
            if (rep > 0 && t < best) best = t; /* the first is warm-up */
        }
        printf("%-44s %6.1f GFLOP/s\n",
               way == 0 ? "engine gemm() (OpenMP x single-thread OpenBLAS)"
                        : "cblas_sgemm (OpenBLAS threads)",
               flop / best * 1e-9);
    }
    free(a), free(b), free(c);
    workspace_free(&ws);
    return 0;
}
