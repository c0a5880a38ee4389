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

/* ---- what the training loop feeds (feed.c) ---- */
/* Optimizer steps per epoch over n_train images: ceil(n_train / batch_size),
 * or with [data] drop_last floor(n_train / batch_size) — every step then a
 * full batch, the last partial one left out. 0 when drop_last and n_train <
 * batch_size: train_check_data refuses that. */
int train_steps_per_epoch(const Experiment *e, int n_train);
/* 0, or prints "path: ..." and returns CN_EXIT_USAGE when an epoch over
 * n_train images would have no step. Callers check before training. */
int train_check_data(const Experiment *e, int n_train);
/* The experiment's batch augmentation for a training split of n_train
 * images, epoch = 1. With flip_alternating it owns the per-image flip bits,
 * drawn from the seed (cifar_flip_bits: nothing to save for a resume); the
 * loop sets a->epoch to the epoch it makes batches for (1 = first). Release
 * with train_augment_free. */
void train_augment_init(Augment *a, const Experiment *e, int n_train);
void train_augment_free(Augment *a);

typedef struct {
    OptimizerType type;
    float momentum, weight_decay, beta1, beta2, eps;
    bool nesterov;
    size_t n;
    float *m1, *m2;  /* momentum / first and second moments */
    long step;
    float *decay;    /* per-parameter weight decay, NULL: weight_decay for all */
} Optimizer;

void optimizer_init(Optimizer *o, const Experiment *e, size_t n_params);
void optimizer_free(Optimizer *o);
/* [optimizer] no_decay_bn_bias: no decay on m's BN parameters and biases. */
void optimizer_exclude_decay(Optimizer *o, const Model *m);
/* One update of params from grads at learning rate lr. */
void optimizer_step(Optimizer *o, float *params, const float *grads, float lr);

typedef struct {
    double loss;  /* mean over images */
    double acc;   /* fraction correct */
} EvalResult;

/* Evaluates in eval mode over the whole split, in batches of `batch` images
 * (<= m->max_batch; buf and labels hold that many). Stack use does not grow
 * with batch. */
EvalResult evaluate(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                    int *labels);

typedef struct {
    ResultsDb *db;       /* may be NULL (no recording) */
    int threads;
    const char *data_dir;
    volatile int *stop;  /* set by SIGINT/SIGTERM: finish the step, mark interrupted */
    /* checkpoints (include/cnnrun/checkpoint.h): DIR/<experiment>-<run_id>-{last,best}.ckpt
     * written after each epoch's row is committed; NULL or "": none */
    const char *checkpoint_dir;
    int64_t resume_run_id;   /* > 0: continue this runs row instead of starting a new one */
    const char *resume_path; /* the checkpoint to continue from; NULL: from epoch 1 */
} TrainOptions;

/* Trains e on train, evaluates on test every epoch. Returns CN_EXIT_OK,
 * or CN_EXIT_FAIL (diverged, interrupted, I/O error) with the run marked so. */
int train_run(const Experiment *e, const CifarSplit *train, const CifarSplit *test,
              const TrainOptions *opt);

/* ---- learning-rate range test (Smith, Super-Convergence, 2017) ----
 * lr grows exponentially from lr_min to lr_max over `steps` mini-batches of a
 * throwaway copy of the network (fresh init, the experiment's optimizer, data
 * order and augmentation); the loss is smoothed (exponential, beta 0.98,
 * bias-corrected) and recorded per step in `lr_find` under a runs row of its
 * own (experiment "<name>/lr-find", status finished). Stops early when the
 * smoothed loss exceeds 4x the best or is not finite. No weights are kept. */
typedef struct {
    double lr_min, lr_max;
    int steps;
} LrFindOptions;

typedef struct {
    int steps_done;
    int stopped_early;       /* the loss exploded before lr_max */
    int64_t run_id;          /* its runs row, 0 without a database */
    double best_loss, lr_at_best;   /* minimum of the smoothed loss */
    double lr_steepest;      /* most negative slope d(loss)/d(log lr) before the minimum */
    double suggested_max;    /* lr_at_best / 10 */
    double suggested_start;  /* suggested_max / 15 (the seed's 0.008 / 0.12) */
} LrFindResult;

/* Returns CN_EXIT_OK (result filled) or CN_EXIT_FAIL (database error). */
int lr_find(const Experiment *e, const CifarSplit *train, const LrFindOptions *lo,
            const TrainOptions *opt, LrFindResult *out);

#endif
