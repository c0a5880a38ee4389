/* config.h — the experiment file: what an .ini declares, after parsing and
 * validation. Produced by experiment_load() (src/config/), consumed by the
 * model builder, the data loader and the trainer. All values are resolved
 * (defaults filled in); every layer remembers the line of its section so later
 * stages (shape inference) can report `file:line: ...`. */
#ifndef CNNRUN_CONFIG_H
#define CNNRUN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cnnrun/kernels.h" /* EngineSettings */

#define CN_NAME_MAX 64
#define CN_PATH_MAX 1024
#define CN_MAX_INPUTS 8

typedef enum {
    LT_CONV,
    LT_BATCHNORM,
    LT_RELU,
    LT_LEAKY,
    LT_GELU,
    LT_MAXPOOL,
    LT_AVGPOOL,
    LT_GLOBAL_AVGPOOL,
    LT_LINEAR,
    LT_DROPOUT,
    LT_FLATTEN,
    LT_ADD,
    LT_CONCAT,
    LT_RESIDUAL,
    LT_INCEPTION,
    LT_SILU,
    LT_COUNT
} LayerType;

typedef enum { ACT_NONE, ACT_RELU, ACT_LEAKY, ACT_GELU, ACT_SILU, ACT_COUNT } Activation;

/* `init` of a conv layer: what happens to its weights after PyTorch's default
 * initialisation. DIRAC makes filter o < C_in the identity on input channel
 * o; WHITEN sets them from the training images (model_init_from_data). */
typedef enum { CONV_INIT_DEFAULT, CONV_INIT_DIRAC, CONV_INIT_WHITEN, CONV_INIT_COUNT } ConvInit;
/* `init` of a linear layer: UNIT_STD rescales the default weights to sample std 1. */
typedef enum { LINEAR_INIT_DEFAULT, LINEAR_INIT_UNIT_STD, LINEAR_INIT_COUNT } LinearInit;

typedef struct {
    char name[CN_NAME_MAX]; /* section name after "layer." */
    LayerType type;
    int line;               /* line of the [layer.NAME] header */
    /* Inputs: n_inputs == 0 means "the previous section". `input = x` gives
     * one, `inputs = a, b` (add/concat) gives several. */
    int n_inputs;
    char inputs[CN_MAX_INPUTS][CN_NAME_MAX];
    int inputs_line;        /* line of the input/inputs key, or `line` */

    /* conv: filters size stride pad bias batchnorm activation
     * residual: filters stride;  pools: size stride pad */
    int filters, size, stride, pad;
    bool bias;              /* conv default: true unless batchnorm = true */
    bool batchnorm;
    Activation activation;
    float leaky_slope;      /* leaky / activation=leaky; default 0.01 (PyTorch) */
    float bn_eps;           /* batchnorm eps, conv bn_eps; default 1e-5 */
    float bn_momentum;      /* batchnorm momentum, conv bn_momentum; default 0.1 (PyTorch
                               convention) */
    ConvInit conv_init;     /* conv `init`; default CONV_INIT_DEFAULT */
    float whiten_eps;       /* conv init = whiten: added to each eigenvalue; default 5e-4 */
    int whiten_images;      /* conv init = whiten: first N training images; default 5000 */
    int outputs;            /* linear */
    LinearInit linear_init; /* linear `init`; default LINEAR_INIT_DEFAULT */
    float scale;            /* linear: multiplies the output; default 1 */
    float probability;      /* dropout, default 0.5 */
    /* inception branch widths (pytorch-cifar naming) */
    int n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj;
} LayerSpec;

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_MUON, OPT_COUNT } OptimizerType;
/* What an optimizer is, one row per OptimizerType (src/config/optimizers.c;
 * its update: the row of the same type in src/train/optimizer.c's `steps`). */
enum {
    OPT_STATE_M1 = 1 << 0, /* Optimizer.m1: momentum (sgd, muon), first moment (adam), square
                              average (rmsprop) */
    OPT_STATE_M2 = 1 << 1  /* Optimizer.m2: second moment (adam) */
};
typedef struct {
    const char *name;  /* its `type` value, stored in runs: never rename */
    float beta2;       /* [optimizer] beta2 when the file gives none */
    bool decoupled;    /* a group's `decay` when it gives none: decoupled (adamw), else coupled */
    bool matrix_only;  /* updates conv and linear weights only (PK_MATRIX), a tensor at a time
                          as a (rows, cols) matrix (muon); else element-wise over any kind */
    unsigned state;    /* OPT_STATE_* vectors it keeps per parameter; the checkpoint saves
                          them (src/train/checkpoint.c) */
} OptimizerInfo;
/* test-time augmentation of the final evaluation (src/train/tta.c) */
typedef enum { TTA_NONE, TTA_MIRROR, TTA_MIRROR_TRANSLATE, TTA_COUNT } TtaMode;
/* [experiment] keep_checkpoints: which of a run's checkpoints stay once it
 * has finished (an unfinished run keeps `last`, which --resume needs) */
typedef enum { KEEP_BEST_LAST, KEEP_BEST, KEEP_LAST, KEEP_NONE, KEEP_COUNT } KeepCheckpoints;
/* [data] normalize: none, CIFAR-10's constants, or the training images'
 * own per-channel statistics (computed when the data is loaded) */
typedef enum { NORM_NONE, NORM_CIFAR10, NORM_DATASET } NormalizeMode;
typedef enum {
    SCHED_ONE_CYCLE,
    SCHED_CONSTANT,
    SCHED_STEP,
    SCHED_COSINE,
    SCHED_LINEAR,    /* lr * (1 - t / end), 0 from the run's end on */
    SCHED_PIECEWISE, /* lr * the piecewise-linear curve through the knots */
    SCHED_COUNT
} ScheduleType;

#define CN_MAX_MILESTONES 16
#define CN_MAX_KNOTS 16

/* ---- parameter groups: [group.NAME] sections (docs/experiment-format.md,
 * "Parameter groups and Muon") ---- */

/* The kinds of parameter tensor a group selects (bits of GroupSpec.params). */
typedef enum {
    PK_CONV_WEIGHT = 1 << 0,   /* weights of convolutions */
    PK_LINEAR_WEIGHT = 1 << 1, /* weights of linear layers */
    PK_BIAS = 1 << 2,          /* biases of convolutions and linear layers */
    PK_BN_WEIGHT = 1 << 3,     /* batch-norm scales (gamma) */
    PK_BN_BIAS = 1 << 4,       /* batch-norm shifts (beta) */
    PK_ALL = (1 << 5) - 1,
    PK_MATRIX = PK_CONV_WEIGHT | PK_LINEAR_WEIGHT /* what Muon can update */
} ParamKind;

typedef enum { DECAY_COUPLED, DECAY_DECOUPLED, DECAY_COUNT } DecayMode;
typedef enum { GROUP_SCHED_SHARED, GROUP_SCHED_LINEAR, GROUP_SCHED_COUNT } GroupSchedule;

#define CN_MAX_PATTERNS 16

/* One [group.NAME] section, resolved: keys not given take the [optimizer]
 * section's values (type, momentum, nesterov, weight_decay, ns_steps). */
typedef struct {
    char name[CN_NAME_MAX]; /* after "group." */
    int line;               /* line of the [group.NAME] header */
    unsigned params;        /* ParamKind bits */
    int n_layers;           /* fnmatch patterns over layer-section names */
    char layers[CN_MAX_PATTERNS][CN_NAME_MAX];
    OptimizerType type;
    int type_line;          /* line of `type`, else of the header */
    float lr_scale;         /* multiplies the rate (see GroupSchedule) */
    float momentum;
    bool nesterov;
    float weight_decay;
    DecayMode decay;
    bool frozen;            /* never updated */
    float epochs;           /* > 0: updated during the first ceil(epochs * steps/epoch)
                               steps only; 0: the whole run */
    GroupSchedule schedule; /* shared: rate = lr_scale * [schedule] rate;
                               linear: lr_scale * [schedule] rate at step 0 * (1 - s/T) */
    int ns_steps;           /* muon: Newton-Schulz iterations */
} GroupSpec;

typedef struct {
    /* where it came from */
    char path[CN_PATH_MAX];
    char *text;             /* the file as read (owned) */

    /* [experiment] */
    char name[128];         /* default: file name without .ini */
    uint64_t seed;          /* default 1 */
    /* How long the run trains (train_run_length turns it into steps): epochs
     * may be fractional (9.9: ceil(9.9 x steps per epoch) steps, the last
     * epoch partial); steps > 0 gives the step count instead, and epochs is
     * then 0. */
    double epochs;          /* default 50 */
    int steps;              /* default 0: epochs decide */
    int eval_every;         /* evaluate every N epochs, 0: only the last; default 1 */
    TtaMode tta;            /* views of the final evaluation; default none */
    Precision precision;    /* of the matrix products (kernels.h); default fp32 */
    KeepCheckpoints keep_checkpoints; /* default best, last */
    int patience;           /* stop after N evaluated epochs without a better accuracy; 0 = off */
    double target_accuracy; /* stop when the evaluated accuracy reaches it; 0 = off */

    /* [data] */
    char dataset[32];       /* "cifar10", "cifar100" or "folder" */
    char dir[CN_PATH_MAX];  /* "" = not given in the file */
    int dir_line;           /* line of `dir`, 0 if not given */
    int batch_size;         /* default 128 */
    int test_batch_size;    /* default 500 */
    int augment_crop;       /* pixels of zero padding for random crop; 0 = none */
    bool augment_flip;
    int augment_translate;  /* random shift by -N..N px, reflect padding; 0 = none */
    bool augment_flip_alternating; /* per-image flip bit drawn once, inverted every other epoch */
    bool drop_last;         /* drop the last partial training batch of each epoch */
    NormalizeMode normalize; /* normalize = none | cifar10 | dataset (true: normalised) */
    int train_subset;       /* use the first N training images; 0 = all */
    int test_subset;        /* use the first N test images; 0 = all */
    int train_subset_line;  /* line of `train_subset` (a [sweep] value: its line), else 0 */
    int test_subset_line;   /* line of `test_subset`, likewise */
    int validation;         /* hold out N training images (N/10 per class); 0 = none */
    int validation_line;    /* line of `validation`, 0 if not given */
    bool label_coarse;      /* cifar100: label = coarse (20 classes), else fine (100) */
    bool skip_bad_images;   /* folder: a picture that cannot be decoded is left out */
    /* Not from the file: the data's number of classes, which the network's
     * last layer must give (cifar10: 10, cifar100: 100 or 20, set by
     * experiment_load; folder: 0 until the command line counts the class
     * folders; 0 is not checked); and with normalize = dataset the training
     * images' per-channel mean and std (data_channel_stats), set when the
     * data is loaded or from the checkpoint. */
    int classes;
    float norm_mean[3], norm_std[3];

    /* [optimizer] */
    OptimizerType optimizer;
    float momentum;         /* default 0.9 */
    bool nesterov;          /* default false */
    float weight_decay;     /* default 5e-4 */
    float beta1, beta2, eps;/* adam/adamw/rmsprop */
    bool no_decay_bn_bias;  /* no weight decay on BN gamma/beta and biases; default false */
    int ns_steps;           /* muon: Newton-Schulz iterations; default 3 */
    int optimizer_line;     /* line of [optimizer] type, else of [optimizer], else 0 */
    float label_smoothing;  /* cross-entropy label smoothing in [0, 1); default 0 */
    bool loss_sum;          /* training loss summed over the batch, not its mean; default false */

    /* [schedule] lr as a pure function of the step */
    ScheduleType schedule;
    float lr;               /* constant; also the base of step/cosine */
    float lr_start, lr_max, lr_end;
    float cycle_epochs;     /* one_cycle: default 40 */
    int n_milestones;
    float milestones[CN_MAX_MILESTONES]; /* step: epochs */
    float gamma;            /* step: default 0.1 */
    float warmup_epochs;    /* cosine: default 0 */
    /* piecewise: knot k at epoch knot_epoch[k] (strictly increasing from 0)
     * with value knot_value[k]; the rate is lr * the linear interpolation,
     * held at the last value after the last knot */
    int n_knots;
    double knot_epoch[CN_MAX_KNOTS];
    float knot_value[CN_MAX_KNOTS];
    char knots_text[256];   /* as written (spaces normalised): 109/48 stays 109/48 */

    /* [layer.*] in file order */
    int n_layers;
    LayerSpec *layers;

    /* [group.*] in file order: a parameter belongs to the first group that
     * selects it; parameters no group selects follow [optimizer] */
    int n_groups;
    GroupSpec *groups;

    /* Not from the file: the engine's settings (kernels.h), which the command
     * line reads from the environment once and gives every experiment it
     * loads (experiment_load leaves the zero value: the shape rule). */
    EngineSettings engine;
} Experiment;

/* One `--set section.key=value` from the command line. Applied as if it were
 * in the file; errors name it as `--set section.key`. */
typedef struct {
    const char *section; /* e.g. "optimizer" or "layer.c1" */
    const char *key;
    const char *value;
    /* where it came from, for messages: NULL a --set; "--sweep" a --sweep
     * value; "[sweep]" a value of the file's [sweep] section, at `line` */
    const char *origin;
    int line;
} ConfigOverride;

/* Splits "section.key=value" (the key is after the last dot before '=').
 * Returns 0 on success, -1 (message on stderr) if malformed. Points into buf,
 * which it modifies. */
int config_override_parse(char *buf, ConfigOverride *out);

/* ---- sweeps (src/config/sweep.c; docs/experiment-format.md, "Sweeps") ----
 * A [sweep] section, `section.key = v1, v2, ...` per line (list-valued keys:
 * values separated by '|'), and --sweep options of the same form expand to
 * the grid of their values, the first key outermost. Each grid point is the
 * experiment with the point's values as overrides. With `samples = N`, the
 * keys written `uniform(a, b)`, `loguniform(a, b)` or `choice(v1, ...)` are
 * drawn N times (src/config/sample.c): those N points are one axis of the
 * grid, at the place of the first random key, crossed with the plain lists. */
#define CN_SWEEP_MAX_KEYS 16
#define CN_SWEEP_MAX_POINTS 10000
#define CN_SWEEP_MAX_SAMPLES 10000

typedef struct {
    char section[CN_NAME_MAX + 16]; /* "schedule", "layer.c1", "group.head" */
    char key[CN_NAME_MAX];
    int line;        /* its line in the file; 0: from --sweep */
    int n_values;
    char **values;   /* as written, trimmed; a random key: sample j's value */
    char *spec;      /* a random key: "loguniform(1e-4, 0.1)" as written; NULL: a list */
    int n_choices;   /* a choice(...) key: every value it may draw, as written */
    char **choices;
} SweepKey;

/* Stopping hopeless runs of a sweep early: [sweep] prune = median | asha and
 * its keys (src/config/prune_keys.c reads them; the decision is
 * prune_decide, src/train/prune.c; docs/experiment-format.md, "Sweeps"). */
typedef enum { PRUNE_NONE, PRUNE_MEDIAN, PRUNE_ASHA } PruneKind;
#define CN_PRUNE_MAX_RUNGS 16

typedef struct {
    PruneKind kind;
    int line;        /* of `prune` (0: none) */
    int min_runs;    /* prune_min_runs: earlier runs with a metric there, else go on (3) */
    int warmup;      /* prune_warmup (median): epochs never pruned after (0) */
    int n_rungs;     /* asha: the epochs it decides at (1, 3, 9) */
    int rungs[CN_PRUNE_MAX_RUNGS];
    int eta;         /* asha: keep the top 1/eta at a rung (3) */
} PruneRule;

typedef struct {
    int n_keys;
    SweepKey keys[CN_SWEEP_MAX_KEYS];
    long n_points;   /* the product of the axes' sizes; 1 without keys */
    int samples;     /* [sweep] samples: the random keys' points; 0: none */
    int samples_line;
    uint64_t seed;   /* the draws' seed: [sweep] seed, else the file's [experiment] seed */
    int seed_line;   /* the line of [sweep] seed; 0: the experiment's seed */
    PruneRule prune; /* [sweep] prune and its keys; kind PRUNE_NONE: none */
} Sweep;

/* Reads path's [sweep] section and the --sweep arguments (`section.key=v1,v2`;
 * one replaces the file's line of its key, in place; a new key goes last) into
 * *out. Checks the form only (a key, a non-empty list, no key twice, not a
 * key the --set options give, the grid size); the values themselves are
 * checked by loading each point. Errors are printed as `path:line: ...` or
 * `--sweep KEY: ...`; returns -1 then (out is empty), else 0. A file that
 * cannot be read gives 0 and no keys: experiment_load reports it. */
int sweep_load(const char *path, const ConfigOverride *sets, int n_sets, char *const *args,
               int n_args, Sweep *out);
void sweep_free(Sweep *s);
/* The keys of path's [sweep] that no --set gives, into *out (free it), for
 * the commands that run one configuration (lr-find, bench, eval, export,
 * predict) to say they are not applied; their count. Prints nothing. */
int sweep_unapplied(const char *path, const ConfigOverride *sets, int n_sets, Sweep *out);
/* Whether key k is an axis of the grid of its own: a list, or the first
 * random key (the samples' axis: the other random keys move with it). */
bool sweep_key_is_axis(const Sweep *s, int k);
/* The overrides of grid point i (0 <= i < n_points), one per key in key
 * order; point 0 takes every key's first value and the last axis changes
 * fastest. They point into s. */
void sweep_point(const Sweep *s, long i, ConfigOverride *out);
/* "schedule.lr_max=0.1, experiment.seed=2" for point i ("" without keys); a
 * value with a comma or a space is written in double quotes. */
void sweep_point_text(const Sweep *s, long i, char *buf, size_t n);
/* "median (prune_min_runs = 3, prune_warmup = 0)", "asha (rungs = 1, 3, 9,
 * eta = 3, prune_min_runs = 3)" or "none", for `cnnrun check` and messages. */
void prune_rule_text(const PruneRule *r, char *buf, size_t n);

/* Parses and validates an experiment file. On any error prints every problem
 * it finds as `path:line: message` on stderr and returns -1 (nothing else has
 * happened). Returns 0 and fills *out on success; free with experiment_free. */
int experiment_load(const char *path, const ConfigOverride *overrides, int n_overrides,
                    Experiment *out);
void experiment_free(Experiment *e);

/* Prints the resolved configuration in INI form (every key, defaults included). */
void experiment_print(const Experiment *e, FILE *f);
/* The same as a string (caller frees): what a run records and --resume compares. */
char *experiment_text(const Experiment *e);
/* Whether two such texts are the same run's (--resume): every section and
 * key line but comments agree, except a key one lacks that the other has at
 * its default (a key newer than the run: its default keeps the old
 * behaviour). If not, why (may be NULL) names the first difference,
 * "[optimizer] weight_decay: now '0.001', then '0.0005'". */
int experiment_text_same_run(const char *now, const char *then, char *why, size_t n);
/* How many key lines (and sections) of the two texts differ, as
 * experiment_text_same_run judges them (0: the same run's); the first
 * difference into why (may be NULL). */
int experiment_text_differences(const char *now, const char *then, char *why, size_t n);

const char *layer_type_name(LayerType t);
/* The row of t (a row of NULLs for a value outside the enum). */
const OptimizerInfo *optimizer_info(OptimizerType t);
const char *optimizer_type_name(OptimizerType t);
/* "conv_weight", ... for one ParamKind bit. */
const char *param_kind_name(unsigned kind);
const char *activation_name(Activation a);

#endif
