/* train.h — the training loop and what it needs: the learning-rate schedule
 * (a pure function of the step), the optimizer, evaluation, and a run that
 * records every epoch in the results database. */
#ifndef CNNRUN_TRAIN_H
#define CNNRUN_TRAIN_H

#include <stdbool.h>

#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/results.h"

/* Learning rate at fractional epoch t = step / steps_per_epoch. */
double schedule_lr(const Experiment *e, double t);

typedef struct {
    OptimizerType type;
    float momentum, weight_decay, beta1, beta2, eps;
    bool nesterov;
    size_t n;
    float *m1, *m2;  /* momentum / first and second moments */
    long step;
} Optimizer;

void optimizer_init(Optimizer *o, const Experiment *e, size_t n_params);
void optimizer_free(Optimizer *o);
/* One update of params from grads at learning rate lr. */
void optimizer_step(Optimizer *o, float *params, const float *grads, float lr);

typedef struct {
    double loss;  /* mean over images */
    double acc;   /* fraction correct */
} EvalResult;

/* Evaluates in eval mode over the whole split, in batches of m->max_batch or less. */
EvalResult evaluate(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                    int *labels);

typedef struct {
    ResultsDb *db;       /* may be NULL (no recording) */
    int threads;
    const char *data_dir;
    volatile int *stop;  /* set by SIGINT/SIGTERM: finish the step, mark interrupted */
} TrainOptions;

/* Trains e on train, evaluates on test every epoch. Returns CN_EXIT_OK,
 * or CN_EXIT_FAIL (diverged, interrupted, I/O error) with the run marked so. */
int train_run(const Experiment *e, const CifarSplit *train, const CifarSplit *test,
              const TrainOptions *opt);

#endif
