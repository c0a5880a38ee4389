/* peak.c — the sgemm peak the convolutions are measured against: the best of
 * a few large square products through gemm() on the engine's threads (OpenMP
 * team, single-threaded OpenBLAS in each: how the engine runs its products).
 * `cnnrun bench` measures it before its steps; tests/bench/gemm_peak prints
 * it next to OpenBLAS's own threads. The bf16 product's peak the same way
 * (gemm_peak_gflops_in), next to it in `bench` for a bf16 run. */
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

double gemm_peak_gflops_in(int n, int reps, int precision)
{
    const int threads = engine_get_threads();
    float *a = alloc_floats((size_t)n * n), *b = alloc_floats((size_t)n * n);
    float *c = alloc_floats((size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    Workspace ws = workspace_alloc(gemm_work_floats(n, n, n, threads), threads);
    ws.precision = precision;
    double best = 0;
    for (int rep = 0; rep <= reps; rep++) { /* rep 0 is the warm-up */
        double t0 = now_seconds();
        gemm(0, 0, n, n, n, a, n, b, n, 0.0f, c, n, &ws);
        double t = now_seconds() - t0;
        if (rep > 0 && (best == 0 || t < best)) best = t;
    }
    free(a), free(b), free(c);
    workspace_free(&ws);
    return best > 0 ? 2.0 * n * n * n / best * 1e-9 : 0;
}

double gemm_peak_gflops(int n, int reps)
{
    return gemm_peak_gflops_in(n, reps, PRECISION_FP32);
}
