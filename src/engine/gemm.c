/* gemm.c — the one place the engine calls cblas_sgemm. It picks OpenBLAS's
 * thread count per product: OpenBLAS splits work over the output matrix, so
 * a product with a small output (a weight gradient such as 12 x 24 summed
 * over 43,690 rows) or a tiny inner dimension runs far faster on one thread
 * (measured here: 1.2 GFLOP/s on 2 threads, 33 on one). The choice depends
 * only on the shape, so results stay reproducible for a thread setting. */
#include <cblas.h>

#include "cnnrun/kernels.h"

/* Output elements at or below which one thread does the product. */
#define GEMM_SMALL_OUTPUT 32768
/* Inner dimension at or below which one thread does the product. */
#define GEMM_SMALL_INNER 32

static int engine_threads;  /* 0: whatever OpenBLAS was set to */
static int current_threads; /* what OpenBLAS is set to now */

void engine_set_threads(int n) {
    engine_threads = n;
    current_threads = n;
    openblas_set_num_threads(n);
}

static void use_threads(int n) {
    if (current_threads == 0) current_threads = openblas_get_num_threads();
    if (engine_threads == 0) engine_threads = current_threads;
    if (n == 0) n = engine_threads;
    if (n != current_threads) {
        openblas_set_num_threads(n);
        current_threads = n;
    }
}

void gemm(int trans_a, int trans_b, int m, int n, int k, const float *a, int lda, const float *b,
          int ldb, float beta, float *c, int ldc) {
    int small = (long)m * n <= GEMM_SMALL_OUTPUT || k <= GEMM_SMALL_INNER;
    use_threads(small ? 1 : 0);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
