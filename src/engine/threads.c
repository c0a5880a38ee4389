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
