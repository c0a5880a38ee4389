/* parallel.h — how the engine spreads work over threads.
 *
 * Built with OpenMP (meson's `openmp` option, on when the compiler has it),
 * the OpenMP team is the engine's one pool of threads: element-wise loops use
 * PARALLEL_FOR with static ranges (results do not depend on timing), conv.c
 * gives each thread whole images, and gemm.c splits products over the team
 * with OpenBLAS single-threaded inside. (Before, OpenMP loops next to
 * OpenBLAS's own spinning threads made training 2.6x slower; with one pool,
 * quick.ini went from 232 to 307 img/s: docs/performance.md.) Without OpenMP
 * these macros are empty and OpenBLAS's threads do the large products. */
#ifndef CNNRUN_PARALLEL_H
#define CNNRUN_PARALLEL_H

/* Below this many elements a loop runs on one thread (start-up costs more). */
#define PARALLEL_MIN 32768

#ifdef _OPENMP
#include <omp.h>
#define CN_PRAGMA(x) _Pragma(#x)
#define PARALLEL_FOR(n) CN_PRAGMA(omp parallel for schedule(static) if ((size_t)(n) > PARALLEL_MIN))
/* The same, and the loop body is vectorised although it has branches (safe:
 * each iteration is independent). */
#define PARALLEL_FOR_SIMD(n)                                                                   \
    CN_PRAGMA(omp parallel for simd schedule(static) if ((size_t)(n) > PARALLEL_MIN))
/* An inner loop vectorised although it has branches (iterations independent). */
#define SIMD_LOOP _Pragma("omp simd")
/* The block after it runs on T threads (parallel_thread_num tells them
 * apart); once, as thread 0, when T is 1 or without OpenMP. */
#define PARALLEL_THREADS(T) CN_PRAGMA(omp parallel num_threads(T) if ((T) > 1))
static inline int parallel_max_threads(void) { return omp_get_max_threads(); }
static inline void parallel_set_threads(int n) { omp_set_num_threads(n); }
static inline int parallel_thread_num(void) { return omp_get_thread_num(); }
/* Inside PARALLEL_THREADS: the team's size, and a barrier for all of it. */
static inline int parallel_num_threads(void) { return omp_get_num_threads(); }
#define PARALLEL_BARRIER _Pragma("omp barrier")
#else
#define PARALLEL_FOR(n)
#define PARALLEL_FOR_SIMD(n) _Pragma("GCC ivdep")
#define SIMD_LOOP _Pragma("GCC ivdep")
#define PARALLEL_THREADS(T)
static inline int parallel_max_threads(void) { return 1; }
static inline void parallel_set_threads(int n) { (void)n; }
static inline int parallel_thread_num(void) { return 0; }
static inline int parallel_num_threads(void) { return 1; }
#define PARALLEL_BARRIER
#endif

/* Sets OpenBLAS's thread count if it differs (threads.c). */
void openblas_threads(int n);

/* dst[i] += p_1[i] + p_2[i] + ... + p_count[i], added one after the other in
 * that order (p_t = first + (t - 1) * stride), so the result is the same bit
 * for bit as `count` passes of dst += p_t. One pass over dst instead of
 * `count`: with T threads' partial weight gradients it reads each byte once
 * (T + 1 streams) where the passes read dst and wrote it back T - 1 times
 * (3 (T - 1) streams: 45 against 17 at 16 threads). threads.c. */
void add_partials(float *dst, const float *first, size_t stride, int count, size_t n);

#endif
