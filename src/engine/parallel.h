/* parallel.h — how the engine spreads element-wise work over threads
 * (OpenMP; OpenBLAS has its own threads for the matrix products). Loops
 * split into fixed static ranges, so results do not depend on timing. */
#ifndef CNNRUN_PARALLEL_H
#define CNNRUN_PARALLEL_H

/* Below this many elements a loop runs on one thread (start-up costs more). */
#define PARALLEL_MIN 32768

#define CN_PRAGMA(x) _Pragma(#x)
#define PARALLEL_FOR(n) CN_PRAGMA(omp parallel for schedule(static) if ((size_t)(n) > PARALLEL_MIN))

#endif
