/* threads.c — the engine's threads and work space: the thread count (the
 * OpenMP team's, with OpenBLAS single-threaded inside it; OpenBLAS's own
 * without OpenMP), read back from OpenMP or OpenBLAS rather than kept here,
 * work space for callers outside a model, and parallel_for for element-wise
 * loops outside src/engine. */
#include <cblas.h>
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "parallel.h"

/* OpenBLAS's thread count (its own state; nothing is cached here). */
void openblas_threads(int n)
{
    if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
}

void engine_set_threads(int n)
{
    parallel_set_threads(n);
#ifdef _OPENMP
    openblas_threads(1);
#else
    openblas_threads(n);
#endif
}

int engine_get_threads(void)
{
#ifdef _OPENMP
    return parallel_max_threads();
#else
    return openblas_get_num_threads();
#endif
}

void add_partials(float *dst, const float *first, size_t stride, int count, size_t n)
{
    if (count <= 0) return;
    /* blocks of 256 floats: each block's partials are read as streams, and
     * the additions for one element keep their order */
    enum { B = 256 };
    const size_t blocks = (n + B - 1) / B;
    PARALLEL_FOR(n)
    for (size_t b = 0; b < blocks; b++) {
        size_t i0 = b * B, i1 = i0 + B < n ? i0 + B : n;
        float acc[B];
        for (size_t i = i0; i < i1; i++) acc[i - i0] = dst[i];
        for (int t = 0; t < count; t++) {
            const float *p = first + (size_t)t * stride;
            SIMD_LOOP
            for (size_t i = i0; i < i1; i++) acc[i - i0] += p[i];
        }
        for (size_t i = i0; i < i1; i++) dst[i] = acc[i - i0];
    }
}

Workspace workspace_alloc(size_t floats, int threads)
{
    Workspace ws = {.f = alloc_floats(floats), .floats = floats,
                    .threads = threads > 0 ? threads : engine_get_threads()};
    return ws;
}

void workspace_free(Workspace *ws)
{
    free(ws->f);
    ws->f = NULL;
    ws->floats = 0;
}

void parallel_for(size_t n, void (*body)(void *ctx, size_t begin, size_t end), void *ctx)
{
#ifdef _OPENMP
    if (n > PARALLEL_MIN && !omp_in_parallel()) {
#pragma omp parallel
        {
            size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
            size_t b = n * t / T, e = n * (t + 1) / T;
            if (e > b) body(ctx, b, e);
        }
        return;
    }
#endif
    body(ctx, 0, n);
}
