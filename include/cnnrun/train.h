/* train.h — the training loop and what it needs: the learning-rate schedule
 * (a pure function of the step), the optimizer, evaluation, the training
 * session they share, and the learning-rate range test. Recording runs (the
 * results database, checkpoints) is the caller's: the loop reports through
 * callbacks. */
#ifndef CNNRUN_TRAIN_H
#define CNNRUN_TRAIN_H

#include <stdbool.h>

#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/epoch.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/rng.h"

/* Learning rate at fractional epoch t = step / steps_per_epoch of a run that
 * ends at epoch `end` (RunLength.end: where linear reaches 0, cosine and
 * one_cycle's cool-down end; = epochs for a whole number of epochs). */
double schedule_lr(const Experiment *e, double end, double t);
/* The first epoch in [0, end] where schedule_lr is highest (0 when it only
 * falls), sampled every 1/256 epoch. */
double schedule_peak_epoch(const Experiment *e, double end);

/* ---- what the training loop feeds (feed.c) ---- */
/* Optimizer steps per epoch over n_train images: ceil(n_train / batch_size),
 * or with [data] drop_last floor(n_train / batch_size) — every step then a
 * full batch, the last partial one left out. 0 when drop_last and n_train <
 * batch_size: train_check_data refuses that. */
int train_steps_per_epoch(const Experiment *e, int n_train);
/* ceil(epochs * steps_per_epoch), at least 1, a product within float error
 * (1e-6 relative) of a whole number counting as that number (0.1 epochs of
 * 50 steps: 5 steps, not 6). */
long train_epochs_to_steps(double epochs, int steps_per_epoch);
/* How long a run trains, in epochs of steps_per_epoch steps: T optimizer
 * steps ([experiment] steps, else train_epochs_to_steps(epochs)), in
 * ceil(T / steps_per_epoch) epochs of which the last may be partial (it
 * draws its shuffle as a full one and runs its first last_steps batches). */
typedef struct {
    long steps;      /* T >= 1 */
    int epochs;      /* epochs begun: the results database's rows, the last maybe partial */
    int last_steps;  /* steps of the last epoch, 1..steps_per_epoch */
    double end;      /* T / steps_per_epoch: the run's end as a fractional epoch */
} RunLength;
RunLength train_run_length(const Experiment *e, int steps_per_epoch);
/* Steps of epoch `epoch` (1-based) of a run: steps_per_epoch, or
 * r->last_steps for the last one. */
int train_epoch_steps(const RunLength *r, int steps_per_epoch, int epoch);
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
    float *muon_work;      /* OptimizerStep.work_floats of the largest matrix-only (muon) span */
    Workspace muon_ws;     /* gemm's work space for their products */
} Optimizer;

/* How an optimizer updates: its row of src/train/optimizer.c's `steps`, one
 * per OptimizerType (what it is: optimizer_info, config.h). An element-wise
 * optimizer gives `range` (over [begin, end) of the parameter vector, all of
 * the span's group); a matrix-only one (OptimizerInfo.matrix_only) gives
 * `tensor` (one span, a (rows, cols) weight) and the floats a tensor needs:
 * work_floats of its own work space (Optimizer.muon_work), gemm_floats of
 * gemm's over `threads` (Optimizer.muon_ws). */
typedef struct StepCall StepCall; /* one step's parameters, gradients, bias corrections */
typedef struct {
    void (*range)(const StepCall *c, const OptGroup *gr, float lr, size_t begin, size_t end);
    void (*tensor)(Optimizer *o, const OptGroup *gr, const OptSpan *sp, float lr, float *w,
                   const float *g);
    size_t (*work_floats)(int rows, int cols);
    size_t (*gemm_floats)(int rows, int cols, int threads);
} OptimizerStep;
/* The row of t (all NULL for a value outside the enum). */
const OptimizerStep *optimizer_step_of(OptimizerType t);

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
/* The rate of the last step as the epoch line prints it: lr (%.5f) when
 * every updated group has the [schedule]'s rate lr, else each updated
 * group's rate (%.3g), [optimizer]'s bare and first, a [group.*]'s after its
 * name: "0.0115, bias 0.205"; frozen groups and those past their `epochs`
 * left out. */
void optimizer_rates_text(const Optimizer *o, double lr, char *buf, size_t n);
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

/* ---- test-time augmentation (src/train/tta.c) ----
 * Views of a normalised NHWC batch: 0 the image, 1 its mirror, 2 and 4 the
 * content moved by one pixel down-right and up-left (reflect padding, as
 * PyTorch's F.pad(mode='reflect')), 3 and 5 their mirrors. A prediction is
 * the weighted sum of the views' logits: weight 1 (none), 1/2 each (mirror),
 * 1/4, 1/4 and 1/8 for each shifted view (mirror_translate, airbench's). */
int tta_views(TtaMode mode);
double tta_weight(TtaMode mode, int view);
void tta_view(const float *in, int n, int view, float *out);
/* logits (n, classes) = the views' weighted logits of n normalised images in
 * eval mode; view: scratch of n images (unused for TTA_NONE). The trainer's
 * final evaluation and `cnnrun eval --tta` both predict with it. */
void tta_logits(Model *m, const float *batch, int n, TtaMode mode, float *view, float *logits);
/* evaluate() over the views' combined logits; TTA_NONE: evaluate(). */
EvalResult evaluate_tta(Model *m, const CifarSplit *s, const Augment *aug, int batch, float *buf,
                        int *labels, TtaMode mode);

/* ---- a training session ----
 * What `cnnrun run`, `lr-find` and `bench` all set up before their first
 * step: e's network built for `batch` images, its convolutions' algorithms
 * measured (model_tune_convs, unless CNNRUN_CONV sets them), its initial
 * parameters (e->seed), e's optimizer (its [group.*] sections and no_decay_bn_bias bound to
 * the network: optimizer_bind), the batch buffers, the
 * order of the training images and the data RNG streams. What a caller does
 * around it (a results database, checkpoints) is its own. */
typedef struct {
    const Experiment *e;  /* outlives the session */
    int batch;            /* images per step; the memory is planned for it */
    int n_train;          /* images in the training split (0: no order, e.g. bench) */
    int steps_per_epoch;  /* train_steps_per_epoch: ceil(n_train / batch), floor with drop_last */
    RunLength run;        /* the run's steps and epochs over steps_per_epoch (bench, without
                             data: over the full training set's) */
    Model model;
    Optimizer opt;
    float *images;        /* batch x CIFAR_PIXELS */
    int *labels;          /* batch */
    int *order;           /* n_train: the current epoch's order of the training images */
    Augment aug;          /* e's augmentation and normalisation */
    Rng shuffle_rng;      /* RNG_STREAM_SHUFFLE: draws each epoch's order */
    Rng aug_rng;          /* RNG_STREAM_AUGMENT: crops and flips */
    /* [data] validation: the held-out images, evaluated whenever the test split
     * is; NULL: none (the caller's, set after session_open) */
    const CifarSplit *val;
    /* the run's best evaluated accuracy (validation, else test) and its epoch:
     * the `best` checkpoint and [experiment] patience (a checkpoint keeps them);
     * -1 and 0 before the first evaluation */
    double best_acc;
    int best_epoch;
    /* why train_loop finished before the last epoch: "patience", "target",
     * "pruned"; NULL when it ran them all */
    const char *stop_reason;
    /* data-parallel training (dist.h): this process's rank of `ranks`; its
     * slice of each batch (session_shard) is what the model is built for */
    int rank, ranks;
    BnSync *bn_sync;      /* batch norm over the ranks (NULL: one rank) */
    int quiet;            /* no progress display (a `cnnrun run --jobs` worker's run) */
} Session;

/* Returns CN_EXIT_OK, or CN_EXIT_USAGE (the network cannot be built, or its
 * groups do not fit it: message printed) with nothing to close. */
int session_open(Session *s, const Experiment *e, int batch, int n_train);
void session_close(Session *s);
/* The data-dependent initialisation (conv `init = whiten`): the first
 * training images, at most model_init_images(), un-augmented and normalised
 * as s->aug says, through model_init_from_data. Once, on a fresh session
 * before its first step; never on resume (the checkpoint holds the weights).
 * A no-op for a network without one. Returns CN_EXIT_OK, or CN_EXIT_FAIL
 * (message printed). */
int session_init_from_data(Session *s, const CifarSplit *train);

/* This rank's slice of a batch of n images: how many, from *first (all of
 * them with one rank; never empty: train_check_ranks). */
int session_shard(const Session *s, int n, int *first);
/* 0, or prints "path: ..." and returns CN_EXIT_USAGE when a step of e over
 * n_train images (n_train 0: only the batch size) would give some of
 * `ranks` ranks no image. Every rank checks. */
int train_check_ranks(const Experiment *e, int n_train, int ranks);

/* The parts of a training step, in the order a loop calls them. */
/* A new epoch: order is 0..n_train-1 shuffled with shuffle_rng. */
void session_shuffle(Session *s);
/* Batch `step` of the epoch's order into images/labels, augmented with
 * aug_rng. Returns its size (the last batch may be short). */
int session_batch(Session *s, const CifarSplit *train, int step);
/* Forward in training mode, then the loss (with e's label smoothing) and its
 * gradient for n images: returns the loss summed over them and adds the
 * correct predictions to *correct (may be NULL). */
double session_forward(Session *s, int n, int *correct);
/* Backward over the last forward of this rank's k images x, the gradients
 * summed over the ranks (in buckets overlapping the backward: dist.h). */
void session_backward(Session *s, const float *x, int k);
/* Backward over the last forward and one optimizer update at lr. */
void session_update(Session *s, int n, float lr);

/* ---- the training loop ----
 * Per epoch: shuffle, then forward / backward / update over the batches at
 * the scheduled learning rate, then evaluate on the test split. The loop draws
 * the progress display and nothing else: what becomes of the numbers (a
 * results database, checkpoints) is the caller's, through TrainCallbacks. */

/* How far a run has got, besides what the session holds (model, optimizer,
 * RNG streams): with it, enough to continue bit for bit (a checkpoint stores
 * both, include/cnnrun/checkpoint.h). {0}: the start. */
typedef struct {
    int epoch;             /* finished epochs; training goes on at epoch + 1 */
    long step;             /* optimizer steps done */
    double train_seconds;  /* wall time of the finished epochs (training + evaluation) */
    /* a run stopped inside epoch + 1: its steps done (0: at the boundary) and their sums */
    int steps_in_epoch;
    double part_loss_sum;  /* sum of their batch losses */
    int part_correct, part_seen;
    double part_seconds;   /* their training time */
} TrainPosition;

/* One finished optimizer step. */
typedef struct {
    int epoch;         /* 1-based; 0 in lr-find */
    int step;          /* 1-based, in the epoch (lr-find: in the test) */
    long global_step;  /* steps done, this one included */
    double lr;         /* this step's learning rate */
    double loss;       /* the epoch's mean so far (lr-find: the smoothed loss) */
} TrainStep;

/* What the loop reports, to ctx. Any pointer may be NULL. A report returns
 * NULL to go on, or why the run cannot (it ends TRAIN_FAILED with that). */
typedef struct {
    void *ctx;
    /* after every step */
    const char *(*step)(void *ctx, const TrainStep *st);
    /* every evaluated epoch, healthy or not */
    const char *(*epoch)(void *ctx, const EpochRecord *rec);
    /* an epoch that ended healthy: (s, pos) is a point to continue from */
    const char *(*checkpoint)(void *ctx, const Session *s, const TrainPosition *pos,
                              const EpochRecord *rec);
    /* polled after every step: nonzero ends the run TRAIN_INTERRUPTED */
    int (*stop)(void *ctx);
    /* after the last epoch, the final evaluation with [experiment] tta (only
     * when tta is not none): its accuracy over `views` views */
    const char *(*final)(void *ctx, const EvalResult *ev, int views);
    /* [sweep] prune: after an evaluated epoch's report and checkpoint, with
     * its judged accuracy (validation, else test), and once at the start of
     * a run resumed at an epoch's end with NaN (the caller reads the epoch's
     * own recorded accuracy: a decision that a kill cut off is made again).
     * Nonzero stops the run there, finished, stop_reason "pruned". */
    int (*prune)(void *ctx, int epoch, double metric);
    /* > 0: the run pauses (TRAIN_PAUSED) at the end of this epoch, or at
     * once when it is there already, when it has epochs left (run
     * --until-epoch: a time-boxed share of a long run, continued later) */
    int until_epoch;
} TrainCallbacks;

typedef enum {
    TRAIN_FINISHED,    /* every epoch (lr-find: every step, or the loss exploded) */
    TRAIN_DIVERGED,    /* a loss became NaN or infinite */
    TRAIN_INTERRUPTED, /* TrainCallbacks.stop, after a finished step */
    TRAIN_FAILED,      /* a report returned why it could not go on */
    TRAIN_PAUSED,      /* TrainCallbacks.until_epoch reached, at an epoch's end */
} TrainEnd;

/* Data-parallel training: what the ranks' reports and stop polls said, for
 * all of them (one collective; only rank 0 records, so only its reports can
 * fail): returns why (its own, or that another rank could not go on) or
 * NULL, and sets *stop (may be NULL) when any rank's poll said stop. With
 * one rank it returns why and leaves *stop. */
const char *train_agree(const Session *s, const char *why, int *stop);

/* ---- stopping hopeless runs of a sweep early (prune.c) ----
 * [sweep] prune = median | asha (config.h PruneRule). Pure functions of the
 * numbers given: the caller reads them from the results database. */
typedef enum { PRUNE_GO_ON, PRUNE_STOP } PruneVerdict;

/* Whether rule decides after epoch (median: every epoch after prune_warmup;
 * asha: its rungs). */
int prune_decides_at(const PruneRule *rule, int epoch);
/* The decision after epoch for a run whose judged accuracy there is metric,
 * given the accuracies at that epoch of the n earlier runs that reached it.
 * Fewer than rule->min_runs of them: go on. median: stop when metric is
 * below their median. asha: the run and the n others reached the rung; it
 * goes on when it is among the top max(1, (n + 1) / eta) of them (ties go
 * on). A metric that is not a number stops (a run not evaluated there is
 * never asked). */
PruneVerdict prune_decide(const PruneRule *rule, int epoch, double metric, const double *others,
                          int n);

/* As runs.status spells it: finished, diverged, interrupted, failed. */
const char *train_end_name(TrainEnd end);

/* Trains s->e from *pos up to its last epoch on train, evaluating on test.
 * *pos follows the run; on a stop inside an epoch it says how far that
 * epoch got (and s->shuffle_rng is back before the epoch's shuffle, which a
 * continued run draws again), so after TRAIN_INTERRUPTED (s, *pos) is the
 * point to continue from. *why: NULL when finished, else the reason (for
 * TRAIN_INTERRUPTED the caller knows its own). */
TrainEnd train_loop(Session *s, const CifarSplit *train, const CifarSplit *test,
                    TrainPosition *pos, const TrainCallbacks *cb, const char **why);

/* ---- learning-rate range test (Smith, Super-Convergence, 2017) ----
 * lr grows exponentially from lr_min to lr_max over `steps` mini-batches of a
 * throwaway session (fresh init, the experiment's optimizer, data order and
 * augmentation); the loss is smoothed (exponential, beta 0.98,
 * bias-corrected) and reported per step. Stops early when the smoothed loss
 * exceeds 4x the best or is not finite. No weights are kept. (`cnnrun
 * lr-find` records the curve in `lr_find` under a runs row of its own.) */
typedef struct {
    double lr_min, lr_max;
    int steps;
} LrFindOptions;

typedef struct {
    int steps_done;
    int stopped_early;       /* the loss exploded before lr_max */
    double best_loss, lr_at_best;   /* minimum of the smoothed loss */
    double lr_steepest;      /* most negative slope d(loss)/d(log lr) before the minimum */
    double suggested_max;    /* lr_at_best / 10 */
    double suggested_start;  /* suggested_max / 15 (the seed's 0.008 / 0.12) */
    const char *no_suggestion; /* why there is none (suggested_* 0), or NULL */
} LrFindResult;

/* The range suggested by a curve of n steps (lrs[k] rising, sm[k] the
 * smoothed loss): the minimum after the first tenth of the steps, the
 * steepest descent before it, lr_max = its lr / 10 and lr_start = lr_max /
 * 15; or, with suggested_* 0, out->no_suggestion says why none is given (the
 * loss did not fall: the minimum is where the range starts; lr_max would be
 * below lrs[0], the tested range; or below what an experiment file accepts).
 * Sets every field but steps_done and stopped_early. */
void lr_find_suggest(const double *lrs, const double *sm, int n, LrFindResult *out);

/* Runs the test on s (as session_open left it), reporting each step to
 * cb->step (TrainStep.global_step = .step: 1, 2, ...; .loss: the smoothed
 * loss; .epoch 0) and polling cb->stop. cb->epoch and cb->checkpoint are not
 * called. Fills *out and returns TRAIN_FINISHED (the loss may have exploded:
 * out->stopped_early), TRAIN_FAILED (*why: the step report's reason) or
 * TRAIN_INTERRUPTED. */
TrainEnd lr_find(Session *s, const CifarSplit *train, const LrFindOptions *lo,
                 const TrainCallbacks *cb, LrFindResult *out, const char **why);

#endif
