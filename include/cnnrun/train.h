/* train.h — the training loop and what it needs: the learning-rate schedule
 * (a pure function of the step), the optimizer, evaluation, and a run that
 * records every epoch in the results database. */
#ifndef CNNRUN_TRAIN_H
#define CNNRUN_TRAIN_H

#include <stdbool.h>

#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/results.h"

/* Learning rate at fractional epoch t = step / steps_per_epoch. */
double schedule_lr(const Experiment *e, double t);

/* How one parameter group is updated (resolved from [optimizer] and the
 * [group.*] sections by optimizer_bind). */
typedef struct {
    const char *name;      /* "[optimizer]", "[optimizer] no_decay_bn_bias" or the section's */
    OptimizerType type;
    float lr_scale, momentum, weight_decay;
    bool nesterov;
    bool decoupled;        /* weight decay as w *= 1 - lr*wd instead of an L2 gradient term */
    bool frozen;
    bool linear;           /* its own rate: lr0 * lr_scale * (1 - s/steps) */
    int ns_steps;          /* muon */
    long steps;            /* > 0: updated in steps 0 .. steps-1 only */
    double lr0;            /* linear: the [schedule]'s rate at step 0 */
} OptGroup;

/* A contiguous range of the parameter vector and the group that updates it. */
typedef struct {
    size_t off, len;
    int group;             /* index into Optimizer.groups */
    int rows, cols;        /* the weight as a (rows, cols) matrix (muon); 0 otherwise */
} OptSpan;

typedef struct {
    OptimizerType type;    /* [optimizer]'s (the checkpoint records it) */
    float momentum, weight_decay, beta1, beta2, eps;
    bool nesterov;
    size_t n;
    float *m1, *m2;  /* momentum (sgd, muon) / first and second moments (adam), per parameter */
    long step;       /* steps done */
    /* groups[0] is [optimizer]'s; spans cover [0, n) in order (NULL: one span
     * of group 0). Set by optimizer_init, refined by optimizer_bind. */
    int n_groups, n_spans;
    OptGroup *groups;
    OptSpan *spans;
    float *group_lr;       /* this step's rate per group, < 0: not updated */
    float *muon_work;      /* muon_work_floats of the largest muon span */
    Workspace muon_ws;     /* gemm's work space for the muon products */
} Optimizer;

void optimizer_init(Optimizer *o, const Experiment *e, size_t n_params);
void optimizer_free(Optimizer *o);
/* Resolves m->exp's [group.*] sections (and no_decay_bn_bias) over m's
 * parameter tensors: a tensor belongs to the first group that selects it,
 * the rest to [optimizer]. steps_per_epoch (>= 1) turns a group's `epochs`
 * into steps. Allocates all the state the groups need (nothing is allocated
 * per step). Prints `file:line: message` for a group that gets no parameter
 * or Muon over a parameter that is not a conv/linear weight, and returns
 * CN_EXIT_USAGE then; 0 on success. */
int optimizer_bind(Optimizer *o, const Model *m, int steps_per_epoch);
/* The same checks without an optimizer (cnnrun check: m may be built with
 * max_batch 0). Returns 0 or CN_EXIT_USAGE after printing the problems. */
int optimizer_check_groups(const Model *m);
/* The parameter tensors and the group each belongs to, as a table. */
void optimizer_print_groups(const Model *m, FILE *f);
/* [optimizer] no_decay_bn_bias: no decay on m's BN parameters and biases
 * (what optimizer_bind does when the experiment says so). */
void optimizer_exclude_decay(Optimizer *o, const Model *m);
/* One update of params from grads: the [schedule]'s rate lr scaled per group. */
void optimizer_step(Optimizer *o, float *params, const float *grads, float lr);

/* ---- Muon (src/train/muon.c): momentum, weight renormalisation, an
 * orthogonalised update. The weight is a (rows, cols) row-major matrix with
 * cols = output channels: cnnrun's conv (KH*KW*C_in, C_out) and linear
 * (in, out) layouts, the transposes of PyTorch's (out, in*kh*kw).
 *   d = g (+ wd*w when coupled);  buf = momentum*buf + d
 *   u = nesterov ? d + momentum*buf : buf
 *   w *= sqrt(cols) / ||w||_F                     (before the update)
 *   (decoupled: w *= 1 - lr*wd)
 *   X = u / (||u||_F + 1e-7); ns_steps times, on the side with the fewer rows in
 *   PyTorch's layout: A = X X^T, X = a X + (b A + c A A) X, (a,b,c) = (3.4445, -4.7750, 2.0315)
 *   w -= lr * X
 * work: muon_work_floats(rows, cols) floats; ws: gemm's work space
 * (muon_gemm_floats), its threads split the products. */
size_t muon_work_floats(int rows, int cols);
size_t muon_gemm_floats(int rows, int cols, int threads);
void muon_update(int rows, int cols, float *w, const float *g, float *buf, float lr,
                 float momentum, bool nesterov, float weight_decay, bool decoupled, int ns_steps,
                 float *work, const Workspace *ws);

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
