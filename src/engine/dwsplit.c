/* dwsplit.c — how a convolution's weight gradient is split over threads:
 * the automatic choice from the mode a call comes with (ConvShape.dwsplit), and the fixed row blocks of the rows split.
 *
 * The batch split gives each thread its share of the images (im2col) or
 * tiles (Winograd) and its own zeroed copy of the whole gradient, added in
 * thread order afterwards: T copies to zero and sum, 1.2-2.5 GB a ResNet-18
 * step at 16 threads (docs/performance.md, "Many threads"). The rows split
 * has all threads build each chunk of the product's operands together, then
 * each thread adds its blocks of the gradient's rows over that chunk straight
 * into the one gradient: no copies, no sum, and each element summed over the
 * batch in the same order by one product whatever the thread count. */
#include "cnnrun/kernels.h"
#include "dwsplit.h"
#include "parallel.h"

/* Threads from which the automatic choice splits by rows. At 2 threads the
 * two copies cost little and the batch split's larger products measured as
 * fast; keeping it there keeps 2-thread runs bit-identical to the binaries
 * before the rows split. */
#define DWSPLIT_MIN_THREADS 4

/* Fewest row blocks the block size aims for (a 16-thread team's 2 each). */
#define DWSPLIT_MIN_BLOCKS 32

int dwsplit_rows(int mode, int threads, size_t blocks)
{
    switch (mode) {
    case CONV_DWSPLIT_ROWS: return 1;
    case CONV_DWSPLIT_BATCH: return 0;
    default: return threads >= DWSPLIT_MIN_THREADS && blocks >= (size_t)threads;
    }
}

size_t dwsplit_block_rows(size_t rows, size_t products)
{
    /* at least 64: each block's product packs the whole right-hand operand
     * (the chunk's dY or Z) again, so 16-row blocks spent more time packing
     * than multiplying (the flagship net on 2 threads: 184 img/s against
     * 304 split by the batch) */
    size_t r = 256;
    while (r > 64 && products * ((rows + r - 1) / r) < DWSPLIT_MIN_BLOCKS) r /= 2;
    return r;
}

int dwsplit_threads(int cap)
{
#ifndef _OPENMP
    (void)cap;
    return 1; /* the parallel regions run once, as thread 0 */
#else
    int t = engine_get_threads();
    return cap > 0 && cap < t ? cap : t;
#endif
}
