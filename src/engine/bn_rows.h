/* bn_rows.h — private to src/engine: batch-norm training statistics summed
 * over rows another kernel produces on the fly, so that they cost no pass
 * over memory of their own (pool.c: a max pool's output rows as it writes
 * them, maxpool_batchnorm_statistics). */
#ifndef CNNRUN_BN_ROWS_H
#define CNNRUN_BN_ROWS_H

#include "cnnrun/kernels.h"

/* row(ctx, r) computes row r (c floats) where it belongs and returns it. It
 * is called from the engine's threads, once per row, plus once more for row
 * 0 before them (the shift of the sums): rows must not depend on each other. */
typedef struct {
    const float *(*row)(void *ctx, int r);
    void *ctx;
} BnRowSource;

/* mean, rstd, the running statistics and scale_shift (2c) of the m rows src
 * produces, bit-identical to what batchnorm_act_forward_train computes from
 * the same rows in memory (the same split over ws->threads and the same
 * order of sums). ws: batchnorm_work_floats(c, ws->threads). */
void batchnorm_statistics_of_rows(int m, int c, const BnRowSource *src, const float *gamma,
                                  const float *beta, float *mean, float *rstd,
                                  float *scale_shift, float *running_mean, float *running_var,
                                  float momentum, float eps, const Workspace *ws);

#endif
