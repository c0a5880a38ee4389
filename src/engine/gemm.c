/* gemm.c — the one place the engine calls cblas_sgemm, and who runs it on
 * which threads.
 *
 * Built with OpenMP (the default), the engine has one pool of threads: the
 * OpenMP team. OpenBLAS always runs single-threaded inside it, so its own
 * spinning threads never compete for the cores with ours. A product called
 * from outside a parallel region is split here: by rows of C, else by
 * columns, else (small C, long inner dimension: a weight gradient) by the
 * inner dimension into per-thread partial results that are then added. A
 * product called from inside a parallel region (conv.c gives each thread its
 * own chunks) runs on the calling thread.
 *
 * Without OpenMP, OpenBLAS's own threads do large products, and products with
 * a small output or inner dimension run on one (measured here: a 12 x 24
 * weight gradient over 43,690 rows ran at 1.2 GFLOP/s on 2 threads, 33 on
 * one).
 *
 * Every split depends only on the shape and the thread count, so results are
 * reproducible for a given --threads. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "parallel.h"

/* Output elements at or below which one thread does the product. */
#define GEMM_SMALL_OUTPUT 32768
/* Inner dimension at or below which one thread does the product. */
#define GEMM_SMALL_INNER 32
/* Multiply-adds below which splitting costs more than it gains. */
#define GEMM_SMALL_WORK (1L << 20)
/* Rows or columns of C each thread gets at least when splitting them. */
#define GEMM_MIN_SLICE 32
/* Threads a product is split over at most. */
#define GEMM_MAX_THREADS 256

#ifdef _OPENMP
/* Threads a product of this size is split over (1: not split). */
static int gemm_split_threads(int m, int n, int k, int threads)
{
    int T = threads < GEMM_MAX_THREADS ? threads : GEMM_MAX_THREADS;
    if (T <= 1 || (long)m * n * k < GEMM_SMALL_WORK) return 1;
    return T;
}

/* Splitting by rows or columns needs no work space; the inner dimension
 * does: a partial result of C per thread but the first. */
static int gemm_splits_inner(int m, int n, int T)
{
    return !(m >= T * GEMM_MIN_SLICE || n >= T * GEMM_MIN_SLICE);
}
#endif

size_t gemm_work_floats(int m, int n, int k, int threads)
{
#ifdef _OPENMP
    int T = gemm_split_threads(m, n, k, threads > 0 ? threads : engine_get_threads());
    if (T == 1 || !gemm_splits_inner(m, n, T)) return 0;
    return (size_t)(T - 1) * m * n;
#else
    (void)m, (void)n, (void)k, (void)threads;
    return 0;
#endif
}

/* The one product: fp32 (OpenBLAS) or bf16 (bf16.c), on the calling thread. */
static void sgemm_p(int precision, int trans_a, int trans_b, int m, int n, int k, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (precision == PRECISION_BF16) {
        bf16_gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc, 0);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

#ifdef _OPENMP
/* Start of slice t of T over n items, aligned to `align` items. */
static int slice_start(int n, int t, int T, int align)
{
    if (t >= T) return n;
    long s = (long)n * t / T;
    s -= s % align;
    return (int)s;
}

void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc, const Workspace *ws)
{
    const int precision = ws ? ws->precision : PRECISION_FP32;
    int T = ws ? gemm_split_threads(m, n, k, ws->threads) : 1;
    openblas_threads(1);
    if (T == 1 || omp_in_parallel()) {
        sgemm_p(precision, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (!gemm_splits_inner(m, n, T)) {
        /* Split the larger of C's two dimensions; slices are 16-aligned. */
        int by_rows = m >= n;
#pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num(), nt = omp_get_num_threads();
            int len = by_rows ? m : n;
            int s0 = slice_start(len, t, nt, 16), s1 = slice_start(len, t + 1, nt, 16);
            if (s1 > s0) {
                if (by_rows) {
                    const float *as = trans_a ? a + s0 : a + (size_t)s0 * lda;
                    sgemm_p(precision, trans_a, trans_b, s1 - s0, n, k, as, lda, b, ldb, beta,
                          c + (size_t)s0 * ldc, ldc);
                } else {
                    const float *bs = trans_b ? b + (size_t)s0 * ldb : b + s0;
                    sgemm_p(precision, trans_a, trans_b, m, s1 - s0, k, a, lda, bs, ldb, beta, c + s0, ldc);
                }
            }
        }
        return;
    }
    /* Small C, long inner dimension: thread 0 accumulates into C, the others
     * into their partial results in ws (gemm_work_floats), added afterwards
     * in thread order. */
    size_t mn = (size_t)m * n;
    if (ws->floats < (size_t)(T - 1) * mn) { /* a planning error: stay correct, unsplit */
        sgemm_p(precision, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int used = T;
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        used = nt;
        int k0 = slice_start(k, t, nt, 1), k1 = slice_start(k, t + 1, nt, 1);
        const float *as = trans_a ? a + (size_t)k0 * lda : a + k0;
        const float *bs = trans_b ? b + k0 : b + (size_t)k0 * ldb;
        if (t == 0)
            sgemm_p(precision, trans_a, trans_b, m, n, k1 - k0, as, lda, bs, ldb, beta, c, ldc);
        else
            sgemm_p(precision, trans_a, trans_b, m, n, k1 - k0, as, lda, bs, ldb, 0.0f,
                  ws->f + (size_t)(t - 1) * mn, n);
    }
    if (ldc == n) {
        add_partials(c, ws->f, mn, used - 1, mn);
    } else {
        for (int i = 0; i < m; i++)
            add_partials(c + (size_t)i * ldc, ws->f + (size_t)i * n, mn, used - 1, (size_t)n);
    }
}
#else
void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc, const Workspace *ws)
{
    const int precision = ws ? ws->precision : PRECISION_FP32;
    int small = !ws || (long)m * n <= GEMM_SMALL_OUTPUT || k <= GEMM_SMALL_INNER;
    openblas_threads(small ? 1 : ws->threads);
    sgemm_p(precision, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc);
}
#endif

