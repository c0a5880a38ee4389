/* parallel.h — how the engine may spread element-wise work over threads.
 *
 * With `meson setup -Dopenmp=enabled`, element-wise loops run under OpenMP
 * with static ranges (results do not depend on timing). It is OFF by default:
 * measured on the 2-core machine, libgomp's spinning workers and OpenBLAS's
 * own threads fight over the two cores and training got 2.6x slower
 * (quick.ini: 246 -> 94 img/s), although the element-wise passes themselves
 * halved. See docs/performance.md. Without OpenMP these macros are empty. */
#ifndef CNNRUN_PARALLEL_H
#define CNNRUN_PARALLEL_H

/* Below this many elements a loop runs on one thread (start-up costs more). */
#define PARALLEL_MIN 32768

#ifdef _OPENMP
#include <omp.h>
#define CN_PRAGMA(x) _Pragma(#x)
#define PARALLEL_FOR(n) CN_PRAGMA(omp parallel for schedule(static) if ((size_t)(n) > PARALLEL_MIN))
static inline int parallel_max_threads(void) { return omp_get_max_threads(); }
static inline void parallel_set_threads(int n) { omp_set_num_threads(n); }
#else
#define PARALLEL_FOR(n)
static inline int parallel_max_threads(void) { return 1; }
static inline void parallel_set_threads(int n) { (void)n; }
#endif

#endif
