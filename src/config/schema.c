/* schema.c — every section and key of an experiment file, as data: type,
 * range, default and meaning (schema.h). Parsing here is strict: numbers must
 * be the whole value (no atoi-style "6x4" -> 6), enums are exact lowercase
 * words, and nothing silently falls back to a default. */
#include "schema.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/decimal.h"
#include "cnnrun/escape.h"
#include "cnnrun/util.h"

_Static_assert(sizeof(LayerType) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(Activation) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(OptimizerType) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(ScheduleType) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(DecayMode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(GroupSchedule) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(TtaMode) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(ConvInit) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(LinearInit) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(NormalizeMode) == sizeof(int), "enums are stored as int");

/* Name lists of enums, indexed by the value (designated: an enum value
 * inserted in the middle cannot shift the names after it), NULL-terminated
 * for the schema's `values`; test_name_lists_complete finds a value left
 * without a name (a NULL before the end). The optimizers' names are their
 * rows' (src/config/optimizers.c). */
const char *const schema_layer_type_names[] = {
    [LT_CONV] = "conv",
    [LT_BATCHNORM] = "batchnorm",
    [LT_RELU] = "relu",
    [LT_LEAKY] = "leaky",
    [LT_GELU] = "gelu",
    [LT_MAXPOOL] = "maxpool",
    [LT_AVGPOOL] = "avgpool",
    [LT_GLOBAL_AVGPOOL] = "global_avgpool",
    [LT_LINEAR] = "linear",
    [LT_DROPOUT] = "dropout",
    [LT_FLATTEN] = "flatten",
    [LT_ADD] = "add",
    [LT_CONCAT] = "concat",
    [LT_RESIDUAL] = "residual",
    [LT_INCEPTION] = "inception",
    [LT_SILU] = "silu",
    [LT_COUNT] = NULL,
};
_Static_assert(sizeof schema_layer_type_names / sizeof *schema_layer_type_names == LT_COUNT + 1,
               "one name per layer type");

const char *const schema_activation_names[] = {
    [ACT_NONE] = "none", [ACT_RELU] = "relu", [ACT_LEAKY] = "leaky",
    [ACT_GELU] = "gelu", [ACT_SILU] = "silu", [ACT_COUNT] = NULL,
};
_Static_assert(sizeof schema_activation_names / sizeof *schema_activation_names == ACT_COUNT + 1,
               "one name per activation");
/* by bit position: kind 1 << k is schema_param_kind_names[k] */
#define BIT(kind) __builtin_ctz(kind)
const char *const schema_param_kind_names[] = {
    [BIT(PK_CONV_WEIGHT)] = "conv_weight", [BIT(PK_LINEAR_WEIGHT)] = "linear_weight",
    [BIT(PK_BIAS)] = "bias",               [BIT(PK_BN_WEIGHT)] = "bn_weight",
    [BIT(PK_BN_BIAS)] = "bn_bias",         [BIT(PK_ALL + 1)] = NULL,
};
#undef BIT
_Static_assert(sizeof schema_param_kind_names / sizeof *schema_param_kind_names - 1 ==
                   __builtin_popcount(PK_ALL),
               "one name per parameter kind");
static const char *const decay_names[] = {
    [DECAY_COUPLED] = "coupled", [DECAY_DECOUPLED] = "decoupled", [DECAY_COUNT] = NULL};
_Static_assert(sizeof decay_names / sizeof *decay_names == DECAY_COUNT + 1,
               "one name per decay mode");
static const char *const group_schedule_names[] = {
    [GROUP_SCHED_SHARED] = "shared", [GROUP_SCHED_LINEAR] = "linear",
    [GROUP_SCHED_COUNT] = NULL};
_Static_assert(sizeof group_schedule_names / sizeof *group_schedule_names ==
                   GROUP_SCHED_COUNT + 1,
               "one name per group schedule");
static const char *const schedule_names[] = {
    [SCHED_ONE_CYCLE] = "one_cycle", [SCHED_CONSTANT] = "constant", [SCHED_STEP] = "step",
    [SCHED_COSINE] = "cosine",       [SCHED_LINEAR] = "linear",     [SCHED_PIECEWISE] = "piecewise",
    [SCHED_COUNT] = NULL};
_Static_assert(sizeof schedule_names / sizeof *schedule_names == SCHED_COUNT + 1,
               "one name per schedule");
static const char *const precision_names[] = {[PRECISION_FP32] = "fp32",
                                              [PRECISION_BF16] = "bf16",
                                              [PRECISION_COUNT] = NULL};
_Static_assert(sizeof precision_names / sizeof *precision_names == PRECISION_COUNT + 1,
               "one name per precision");
static const char *const tta_names[] = {[TTA_NONE] = "none", [TTA_MIRROR] = "mirror",
                                        [TTA_MIRROR_TRANSLATE] = "mirror_translate",
                                        [TTA_COUNT] = NULL};
_Static_assert(sizeof tta_names / sizeof *tta_names == TTA_COUNT + 1, "one name per TTA mode");
static const char *const keep_names[] = {[KEEP_BEST_LAST] = "best, last", [KEEP_BEST] = "best",
                                         [KEEP_LAST] = "last", [KEEP_NONE] = "none",
                                         [KEEP_COUNT] = NULL};
_Static_assert(sizeof keep_names / sizeof *keep_names == KEEP_COUNT + 1,
               "one name per checkpoint choice");
static const char *const conv_init_names[] = {[CONV_INIT_DEFAULT] = "default",
                                              [CONV_INIT_DIRAC] = "dirac",
                                              [CONV_INIT_WHITEN] = "whiten",
                                              [CONV_INIT_COUNT] = NULL};
_Static_assert(sizeof conv_init_names / sizeof *conv_init_names == CONV_INIT_COUNT + 1,
               "one name per conv init");
static const char *const linear_init_names[] = {[LINEAR_INIT_DEFAULT] = "default",
                                                [LINEAR_INIT_UNIT_STD] = "unit_std",
                                                [LINEAR_INIT_COUNT] = NULL};
_Static_assert(sizeof linear_init_names / sizeof *linear_init_names == LINEAR_INIT_COUNT + 1,
               "one name per linear init");
static const char *const normalize_names[] = {[NORM_NONE] = "none", [NORM_CIFAR10] = "cifar10",
                                              [NORM_DATASET] = "dataset",
                                              [NORM_DATASET + 1] = NULL};
/* not enums: a string (dataset) and bools (SF_ENUM_BOOL: values[1] is true) */
static const char *const dataset_names[] = {"cifar10", "cifar100", "folder", NULL};
static const char *const reduction_names[] = {"mean", "sum", NULL};
static const char *const label_names[] = {"fine", "coarse", NULL};

#define E(f) offsetof(Experiment, f)
#define L(f) offsetof(LayerSpec, f)
#define INT_MAX_WIDTH 65536

/* ------------------------------------------------------------ sections */

static const SchemaKey experiment_keys[] = {
    {"name", SK_STRING, SF_COMPUTED | SF_UTF8, E(name), sizeof(((Experiment *)0)->name), 0, 0,
     "the file name without .ini", NULL,
     "label of the run in the results database: UTF-8 text (other bytes are refused)"},
    {"seed", SK_U64, 0, E(seed), 0, 0, 0, "1", NULL,
     "seeds weight initialisation, shuffling and augmentation"},
    {"epochs", SK_DOUBLE, SF_MIN_EXCL, E(epochs), 0, 0, 100000, "50", NULL,
     "passes over the training set, a decimal too: ceil(epochs x steps per epoch) steps, the "
     "last epoch partial (recipes tuned in steps, such as legacy airbench94's 9.9 epochs)"},
    {"steps", SK_INT, 0, E(steps), 0, 0, 1000000000, "0", NULL,
     "> 0: the run's optimizer steps instead of `epochs` (not both), the last epoch partial: "
     "a recipe's step count as it states it; 0 = epochs decide"},
    {"eval_every", SK_INT, 0, E(eval_every), 0, 0, 100000, "1", NULL,
     "evaluate on the test split every N epochs; 0 = only after the last (always evaluated): "
     "evaluation is time a short recipe's budget may not have"},
    {"tta", SK_ENUM, 0, E(tta), 0, 0, 0, "none", tta_names,
     "test-time augmentation of the final evaluation (runs.final_test_acc): `mirror` averages "
     "the logits of the image and its mirror, `mirror_translate` adds four 1-pixel diagonal "
     "shifts and their mirrors (weights 1/4, 1/4, 1/8 x 4): a free accuracy gain"},
    {"patience", SK_INT, 0, E(patience), 0, 0, 100000, "0", NULL,
     "stop after N epochs without a better validation accuracy (without [data] validation: "
     "test accuracy, which peeks at the test set); 0 = off: stops a run that stalls"},
    {"precision", SK_ENUM, 0, E(precision), 0, 0, 0, "fp32", precision_names,
     "the matrix products' inputs: `bf16` rounds them to bfloat16 (fp32 sums; weights, "
     "batch norm, loss and optimizer stay fp32, activations too except the bf16 copies "
     "oneDNN's convolutions read: the same values): twice the products per cycle where the "
     "CPU has AVX512-BF16, many times more with AMX (emulated, slower, elsewhere)"},
    {"keep_checkpoints", SK_ENUM, SF_ENUM_SET | SF_NOT_RUN, E(keep_checkpoints), 0, 0, 0,
     "best, last", keep_names,
     "which checkpoints a finished run keeps: `best` (its best epoch's: what eval, export and "
     "predict load), `last` (its last epoch's), both, or `none` (a study of many runs fills "
     "the disk otherwise); a run that did not finish keeps `last`, which --resume needs"},
    {"target_accuracy", SK_DOUBLE, 0, E(target_accuracy), 0, 0, 1, "0", NULL,
     "stop once an evaluated accuracy (validation, else test) reaches A; 0 = off. Every run "
     "with a target records when it got there (runs.seconds_to_target): the DAWNBench measure"},
};

static const SchemaKey data_keys[] = {
    {"dataset", SK_ENUM, SF_ENUM_STRING, E(dataset), sizeof(((Experiment *)0)->dataset), 0, 0,
     "cifar10", dataset_names,
     "`cifar10`: CIFAR-10 in the binary layout (data_batch_*.bin, test_batch.bin); `cifar100`: "
     "CIFAR-100's (train.bin, test.bin: a coarse and a fine label byte per image, `label`); "
     "`folder`: your own pictures, dir/train/CLASS/*.png|jpg|jpeg|ppm and dir/test/CLASS/... "
     "(or `validation` as the test split), each resized to 32x32 once; the classes are the "
     "folder names, sorted. The network's last layer must give one output per class"},
    {"dir", SK_STRING, SF_COMPUTED, E(dir), CN_PATH_MAX, 0, 0,
     "$CNNRUN_DATA, then the embedded sample", NULL,
     "directory of the data set (--data overrides it)"},
    {"batch_size", SK_INT, 0, E(batch_size), 0, 1, 65536, "128", NULL,
     "training images per step"},
    {"test_batch_size", SK_INT, 0, E(test_batch_size), 0, 1, 65536, "500", NULL,
     "images per forward pass when evaluating, at most batch_size (memory only, not accuracy)"},
    {"augment", SK_AUGMENT, 0, 0, 0, 0, 16, "none", NULL,
     "`crop:N` random 32x32 crop of the image zero-padded by N; `translate:N` random shift by "
     "-N..N pixels in each direction, the pixels brought in reflected (not black); `flip` random "
     "horizontal flip; `flip_alternating` each image mirrored in every other epoch, its phase "
     "drawn once from the seed (half the images start mirrored); comma-separated, or `none`. "
     "Not crop with translate, not flip with flip_alternating"},
    {"drop_last", SK_BOOL, 0, E(drop_last), 0, 0, 0, "false", NULL,
     "drop the last partial training batch of each epoch: floor(n / batch_size) steps, every "
     "one of batch_size images (which images are left out changes with the shuffle)"},
    {"normalize", SK_ENUM, 0, E(normalize), 0, 0, 0, "cifar10", normalize_names,
     "`cifar10`: subtract CIFAR-10's per-channel mean and divide by its std; `dataset`: the "
     "same with the training images' own mean and std, computed when they are loaded (kept "
     "in the checkpoints for eval, export and predict): no table of constants per data set; "
     "`none`: pixels in [0, 1]"},
    {"train_subset", SK_INT, 0, E(train_subset), 0, 0, 50000, "0", NULL,
     "train on the first N training images only; 0 = all (more than the data has: all, with a "
     "warning)"},
    {"test_subset", SK_INT, 0, E(test_subset), 0, 0, 10000, "0", NULL,
     "evaluate on the first N test images only; 0 = all (more than the data has: all, with a "
     "warning)"},
    {"validation", SK_INT, 0, E(validation), 0, 0, 49990, "0", NULL,
     "hold out N training images, never trained on, to choose the best epoch and stop on "
     "(not the test set): the last N/classes of each class in file order (after "
     "train_subset), the same for every seed; a multiple of the classes (10 for CIFAR-10); 0 = "
     "none. dataset = folder without a test folder: these images are the test split instead"},
    {"label", SK_ENUM, SF_ENUM_BOOL, E(label_coarse), 0, 0, 0, "fine", label_names,
     "dataset = cifar100: `fine` trains on the 100 classes, `coarse` on the 20 superclasses "
     "(the network's last layer gives 100 or 20 outputs)"},
    {"skip_bad_images", SK_BOOL, 0, E(skip_bad_images), 0, 0, 0, "false", NULL,
     "dataset = folder: a picture that cannot be decoded is left out and counted (a warning) "
     "instead of stopping the run: a few damaged files in a large folder"},
};

static const SchemaKey optimizer_keys[] = {
    {"type", SK_ENUM, 0, E(optimizer), 0, 0, 0, "sgd", schema_optimizer_names,
     "update rule (muon updates conv and linear weights only: give the other parameters a "
     "[group.NAME])"},
    {"momentum", SK_FLOAT, SF_MAX_EXCL, E(momentum), 0, 0, 1, "0.9", NULL, "sgd, muon: momentum"},
    {"nesterov", SK_BOOL, 0, E(nesterov), 0, 0, 0, "false", NULL,
     "sgd, muon: Nesterov momentum (needs momentum > 0)"},
    {"weight_decay", SK_FLOAT, SF_NO_MAX, E(weight_decay), 0, 0, 0, "5e-4", NULL,
     "L2 penalty (adamw: decoupled decay)"},
    {"beta1", SK_FLOAT, SF_MAX_EXCL, E(beta1), 0, 0, 1, "0.9", NULL,
     "adam/adamw: decay of the first moment"},
    {"beta2", SK_FLOAT, SF_MAX_EXCL | SF_COMPUTED, E(beta2), 0, 0, 1,
     "`0.999`; `0.99` for rmsprop", NULL,
     "adam/adamw: decay of the second moment; rmsprop: its smoothing constant (alpha)"},
    {"eps", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, E(eps), 0, 0, 0, "1e-8", NULL,
     "adam/adamw/rmsprop: added to the denominator"},
    {"no_decay_bn_bias", SK_BOOL, 0, E(no_decay_bn_bias), 0, 0, 0, "false", NULL,
     "no weight decay on batch-norm gamma/beta and on biases"},
    {"label_smoothing", SK_FLOAT, SF_MAX_EXCL, E(label_smoothing), 0, 0, 1, "0", NULL,
     "training loss: cross-entropy against (1 - s) one-hot + s/classes (test loss: plain)"},
    {"ns_steps", SK_INT, 0, E(ns_steps), 0, 1, 20, "3", NULL,
     "muon: Newton-Schulz iterations that orthogonalise each update (3 in airbench94)"},
    {"loss_reduction", SK_ENUM, SF_ENUM_BOOL, E(loss_sum), 0, 0, 0, "mean", reduction_names,
     "training loss over the batch: `mean`, or `sum` (the gradient is batch_size times larger: "
     "recipes tuned with a summed loss, such as airbench, keep their learning rates)"},
};

static const SchemaKey schedule_keys[] = {
    {"type", SK_ENUM, 0, E(schedule), 0, 0, 0, "one_cycle", schedule_names,
     "learning-rate curve over the epochs"},
    {"lr", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, E(lr), 0, 0, 0, "0.1", NULL,
     "constant: the rate; step, cosine: the starting (peak) rate; linear: the rate at epoch 0, "
     "falling linearly to 0 at the end of the run (after its last step); piecewise: the factor "
     "of the knot values"},
    {"lr_start", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, E(lr_start), 0, 0, 0, "0.008", NULL,
     "one_cycle: rate at epoch 0 and at the end of the cycle (<= lr_max)"},
    {"lr_max", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, E(lr_max), 0, 0, 0, "0.12", NULL,
     "one_cycle: peak rate, reached at half the cycle"},
    {"lr_end", SK_FLOAT, SF_NO_MAX, E(lr_end), 0, 0, 0, "0.0008", NULL,
     "one_cycle: rate at the end of the run (linear cool-down after the cycle)"},
    {"cycle_epochs", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, E(cycle_epochs), 0, 0, 0, "40", NULL,
     "one_cycle: length of the up-and-down cycle in epochs"},
    {"milestones", SK_MILESTONES, 0, 0, 0, 0, CN_MAX_MILESTONES, "", NULL,
     "step: increasing epochs at which the rate is multiplied by gamma (required for step)"},
    {"gamma", SK_FLOAT, SF_MIN_EXCL, E(gamma), 0, 0, 1, "0.1", NULL,
     "step: factor applied at each milestone"},
    {"warmup_epochs", SK_FLOAT, SF_NO_MAX, E(warmup_epochs), 0, 0, 0, "0", NULL,
     "cosine: linear warm-up from 0 to lr over this many epochs"},
    {"knots", SK_KNOTS, 0, 0, 0, 0, CN_MAX_KNOTS, "", NULL,
     "piecewise: `epoch:value` pairs, epochs strictly increasing from 0 (fractional; `a/b` "
     "allowed, e.g. 109/48 for step 109 of 48 per epoch); the rate is lr x the straight lines "
     "between them, the last value held after the last knot (required for piecewise)"},
};

static const SchemaSection top_sections[] = {
    {"experiment", -1, experiment_keys, sizeof experiment_keys / sizeof *experiment_keys,
     "what the run is called and how long it trains"},
    {"data", -1, data_keys, sizeof data_keys / sizeof *data_keys,
     "where the images come from and how they are fed"},
    {"optimizer", -1, optimizer_keys, sizeof optimizer_keys / sizeof *optimizer_keys,
     "how gradients update the weights"},
    {"schedule", -1, schedule_keys, sizeof schedule_keys / sizeof *schedule_keys,
     "the learning rate as a function of the epoch"},
};

/* --------------------------------------------------------------- groups */

#define G(f) offsetof(GroupSpec, f)

static const SchemaKey group_keys[] = {
    {"params", SK_PARAM_KINDS, SF_COMPUTED, G(params), 0, 0, 0,
     "every kind; `conv_weight, linear_weight` for type = muon", NULL,
     "kinds of parameter the group takes: `conv_weight`, `linear_weight`, `bias` (of conv and "
     "linear layers), `bn_weight` (gamma), `bn_bias` (beta)"},
    {"layers", SK_PATTERNS, 0, G(layers), 0, 0, CN_MAX_PATTERNS, "*", NULL,
     "layer sections it takes them from: their names or fnmatch patterns (`g1_conv1, g2_*`)"},
    {"type", SK_ENUM, SF_COMPUTED, G(type), 0, 0, 0, "[optimizer] type", schema_optimizer_names,
     "update rule of these parameters (muon: conv and linear weights only)"},
    {"lr_scale", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, G(lr_scale), 0, 0, 0, "1", NULL,
     "multiplies the [schedule]'s rate: a learning rate of its own (0.053 with [schedule] lr = 1)"},
    {"momentum", SK_FLOAT, SF_MAX_EXCL | SF_COMPUTED, G(momentum), 0, 0, 1,
     "[optimizer] momentum", NULL, "sgd, muon: momentum"},
    {"nesterov", SK_BOOL, SF_COMPUTED, G(nesterov), 0, 0, 0, "[optimizer] nesterov", NULL,
     "sgd, muon: Nesterov momentum (needs momentum > 0)"},
    {"weight_decay", SK_FLOAT, SF_NO_MAX | SF_COMPUTED, G(weight_decay), 0, 0, 0,
     "[optimizer] weight_decay", NULL, "decay of these parameters, applied as `decay` says"},
    {"decay", SK_ENUM, SF_COMPUTED, G(decay), 0, 0, 0, "`decoupled` for adamw, else `coupled`",
     decay_names,
     "`coupled`: wd * w added to the gradient before momentum (PyTorch's L2); `decoupled`: w "
     "shrunk by lr * wd on its own (AdamW)"},
    {"frozen", SK_BOOL, 0, G(frozen), 0, 0, 0, "false", NULL,
     "never updated (a fixed whitening layer, BN scales kept at 1)"},
    {"epochs", SK_FLOAT, SF_NO_MAX, G(epochs), 0, 0, 0, "0", NULL,
     "> 0: updated in the first ceil(epochs * steps per epoch) steps only, frozen afterwards; "
     "0: the whole run"},
    {"schedule", SK_ENUM, 0, G(schedule), 0, 0, 0, "shared", group_schedule_names,
     "`shared`: lr_scale * the [schedule]'s rate; `linear`: lr_scale * the [schedule]'s rate at "
     "step 0 * (1 - s/T) over the group's T steps (epochs, else the whole run)"},
    {"ns_steps", SK_INT, SF_COMPUTED, G(ns_steps), 0, 1, 20, "[optimizer] ns_steps", NULL,
     "muon: Newton-Schulz iterations"},
};

static const SchemaSection group_section = {
    "group.NAME", -1, group_keys, sizeof group_keys / sizeof *group_keys,
    "a parameter group: its own optimizer settings for the parameters it selects"};

const SchemaSection *schema_group(void)
{
    return &group_section;
}

/* --------------------------------------------------------------- layers */

#define K_TYPE                                                                            \
    {"type", SK_ENUM, SF_REQUIRED, L(type), 0, 0, 0, NULL, schema_layer_type_names,       \
     "layer type"}
#define K_INPUT                                                                           \
    {"input", SK_INPUT, SF_COMPUTED, L(inputs), 0, 0, 0, "the previous section", NULL,     \
     "name of an earlier layer to read instead of the previous section"}
#define K_WIDTH(k, f, doc) {k, SK_INT, SF_REQUIRED, L(f), 0, 1, INT_MAX_WIDTH, NULL, NULL, doc}

static const SchemaKey conv_keys[] = {
    K_TYPE,
    K_WIDTH("filters", filters, "output channels"),
    {"size", SK_INT, 0, L(size), 0, 1, 15, "3", NULL, "kernel height and width"},
    {"stride", SK_INT, 0, L(stride), 0, 1, 8, "1", NULL, "step between kernel positions"},
    {"pad", SK_INT, SF_COMPUTED, L(pad), 0, 0, 15, "size/2", NULL,
     "zero padding on each side (at most size)"},
    {"bias", SK_BOOL, SF_COMPUTED, L(bias), 0, 0, 0, "true unless batchnorm = true", NULL,
     "learn a per-channel bias (useless before batch normalisation)"},
    {"batchnorm", SK_BOOL, 0, L(batchnorm), 0, 0, 0, "false", NULL,
     "batch normalisation after the convolution (bn_eps, bn_momentum)"},
    {"activation", SK_ENUM, 0, L(activation), 0, 0, 0, "none", schema_activation_names,
     "applied last"},
    {"slope", SK_FLOAT, SF_MAX_EXCL, L(leaky_slope), 0, 0, 1, "0.01", NULL,
     "negative slope of activation = leaky"},
    {"bn_eps", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, L(bn_eps), 0, 0, 0, "1e-5", NULL,
     "batchnorm = true: added to the variance"},
    {"bn_momentum", SK_FLOAT, 0, L(bn_momentum), 0, 0, 1, "0.1", NULL,
     "batchnorm = true: weight of the new batch in the running statistics (PyTorch "
     "convention)"},
    {"init", SK_ENUM, 0, L(conv_init), 0, 0, 0, "default", conv_init_names,
     "weights after PyTorch's default: `dirac` filter o < input channels passes channel o "
     "through (odd size, filters >= input channels), `whiten` from the training images' "
     "patches (needs filters = 2 x size x size x input channels)"},
    {"whiten_eps", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, L(whiten_eps), 0, 0, 0, "5e-4", NULL,
     "init = whiten: added to each eigenvalue before the 1/sqrt"},
    {"whiten_images", SK_INT, 0, L(whiten_images), 0, 1, 50000, "5000", NULL,
     "init = whiten: how many training images (the first ones, un-augmented; all if the set "
     "is smaller)"},
    K_INPUT,
};

static const SchemaKey batchnorm_keys[] = {
    K_TYPE,
    {"eps", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, L(bn_eps), 0, 0, 0, "1e-5", NULL,
     "added to the variance"},
    {"momentum", SK_FLOAT, 0, L(bn_momentum), 0, 0, 1, "0.1", NULL,
     "weight of the new batch in the running statistics (PyTorch convention)"},
    K_INPUT,
};

static const SchemaKey plain_keys[] = {K_TYPE, K_INPUT};

static const SchemaKey leaky_keys[] = {
    K_TYPE,
    {"slope", SK_FLOAT, SF_MAX_EXCL, L(leaky_slope), 0, 0, 1, "0.01", NULL,
     "output = slope * x for x < 0"},
    K_INPUT,
};

static const SchemaKey pool_keys[] = {
    K_TYPE,
    {"size", SK_INT, 0, L(size), 0, 1, 15, "2", NULL, "window height and width"},
    {"stride", SK_INT, SF_COMPUTED, L(stride), 0, 1, 15, "size", NULL,
     "step between windows"},
    {"pad", SK_INT, 0, L(pad), 0, 0, 7, "0", NULL,
     "padding on each side, at most size/2 (as in PyTorch)"},
    K_INPUT,
};

static const SchemaKey linear_keys[] = {
    K_TYPE,
    K_WIDTH("outputs", outputs, "output features (the class scores: one per class of the data, 10 for CIFAR-10)"),
    {"bias", SK_BOOL, 0, L(bias), 0, 0, 0, "true", NULL, "learn a bias per output"},
    {"init", SK_ENUM, 0, L(linear_init), 0, 0, 0, "default", linear_init_names,
     "weights after PyTorch's default: `unit_std` rescales them to sample standard deviation 1"},
    {"scale", SK_FLOAT, SF_MIN_EXCL | SF_NO_MAX, L(scale), 0, 0, 0, "1", NULL,
     "multiplies the output (forward and backward), e.g. 0.00390625 = 1/256"},
    K_INPUT,
};

static const SchemaKey dropout_keys[] = {
    K_TYPE,
    {"probability", SK_FLOAT, SF_MAX_EXCL, L(probability), 0, 0, 1, "0.5", NULL,
     "fraction of activations zeroed during training"},
    K_INPUT,
};

static const SchemaKey join_keys[] = {
    K_TYPE,
    {"inputs", SK_INPUTS, SF_REQUIRED, L(inputs), 0, 2, CN_MAX_INPUTS, NULL, NULL,
     "comma-separated names of earlier layers"},
};

static const SchemaKey residual_keys[] = {
    K_TYPE,
    K_WIDTH("filters", filters, "output channels of both 3x3 convolutions"),
    {"stride", SK_INT, 0, L(stride), 0, 1, 8, "1", NULL,
     "stride of the first convolution (the shortcut gets a 1x1 projection when the shape "
     "changes)"},
    K_INPUT,
};

static const SchemaKey inception_keys[] = {
    K_TYPE,
    K_WIDTH("n1x1", n1x1, "channels of the 1x1 branch"),
    K_WIDTH("n3x3_reduce", n3x3_reduce, "1x1 reduction before the 3x3 branch"),
    K_WIDTH("n3x3", n3x3, "channels of the 3x3 branch"),
    K_WIDTH("n5x5_reduce", n5x5_reduce, "1x1 reduction before the 5x5 branch"),
    K_WIDTH("n5x5", n5x5, "channels of the 5x5 branch (two 3x3 convolutions)"),
    K_WIDTH("pool_proj", pool_proj, "1x1 projection after the 3x3 max-pool branch"),
    K_INPUT,
};

#define N(a) (int)(sizeof a / sizeof *a)
static const SchemaSection layer_sections[LT_COUNT] = {
    [LT_CONV] = {"layer.NAME", LT_CONV, conv_keys, N(conv_keys),
                 "convolution, optionally followed by batch normalisation and an activation"},
    [LT_BATCHNORM] = {"layer.NAME", LT_BATCHNORM, batchnorm_keys, N(batchnorm_keys),
                      "batch normalisation over the channels"},
    [LT_RELU] = {"layer.NAME", LT_RELU, plain_keys, N(plain_keys), "max(x, 0)"},
    [LT_LEAKY] = {"layer.NAME", LT_LEAKY, leaky_keys, N(leaky_keys), "leaky ReLU"},
    [LT_GELU] = {"layer.NAME", LT_GELU, plain_keys, N(plain_keys), "GELU, exact form x * Phi(x)"},
    [LT_SILU] = {"layer.NAME", LT_SILU, plain_keys, N(plain_keys), "SiLU (swish), x * sigmoid(x)"},
    [LT_MAXPOOL] = {"layer.NAME", LT_MAXPOOL, pool_keys, N(pool_keys), "max pooling"},
    [LT_AVGPOOL] = {"layer.NAME", LT_AVGPOOL, pool_keys, N(pool_keys),
                    "average pooling (padding counts as zeros, as in PyTorch)"},
    [LT_GLOBAL_AVGPOOL] = {"layer.NAME", LT_GLOBAL_AVGPOOL, plain_keys, N(plain_keys),
                           "mean of each channel over the whole image"},
    [LT_LINEAR] = {"layer.NAME", LT_LINEAR, linear_keys, N(linear_keys),
                   "fully connected layer; its input must be flat (global_avgpool or flatten first)"},
    [LT_DROPOUT] = {"layer.NAME", LT_DROPOUT, dropout_keys, N(dropout_keys),
                    "inverted dropout; identity when evaluating"},
    [LT_FLATTEN] = {"layer.NAME", LT_FLATTEN, plain_keys, N(plain_keys),
                    "reshape to one vector per image"},
    [LT_ADD] = {"layer.NAME", LT_ADD, join_keys, N(join_keys),
                "element-wise sum of same-shaped inputs"},
    [LT_CONCAT] = {"layer.NAME", LT_CONCAT, join_keys, N(join_keys),
                   "channel concatenation of inputs of the same height and width"},
    [LT_RESIDUAL] = {"layer.NAME", LT_RESIDUAL, residual_keys, N(residual_keys),
                     "ResNet basic block: two 3x3 conv+BN, shortcut, ReLU"},
    [LT_INCEPTION] = {"layer.NAME", LT_INCEPTION, inception_keys, N(inception_keys),
                      "GoogLeNet block: 1x1, 3x3, 5x5 and pool branches concatenated"},
};

const SchemaSection *schema_sections(int *n)
{
    *n = N(top_sections);
    return top_sections;
}

const SchemaSection *schema_find_section(const char *name)
{
    for (int i = 0; i < N(top_sections); i++)
        if (strcmp(top_sections[i].name, name) == 0) return &top_sections[i];
    return NULL;
}

const SchemaSection *schema_layer(LayerType t)
{
    return (int)t >= 0 && t < LT_COUNT ? &layer_sections[t] : NULL;
}

const SchemaKey *schema_find_key(const SchemaSection *s, const char *key)
{
    for (int i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].key, key) == 0) return &s->keys[i];
    return NULL;
}

const char *schema_key_home(const char *key)
{
    for (int i = 0; i < N(top_sections); i++)
        if (schema_find_key(&top_sections[i], key)) return top_sections[i].name;
    if (schema_find_key(&group_section, key)) return "group.NAME";
    for (int t = 0; t < LT_COUNT; t++)
        if (schema_find_key(&layer_sections[t], key)) return "layer.NAME";
    return NULL;
}

const char *schema_suggest(const char *word, const char *const *cands)
{
    int limit = strlen(word) <= 3 ? 1 : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; cands[i]; i++) {
        int d = strcasecmp(word, cands[i]) == 0 ? 0 : edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}

/* ------------------------------------------------------------- parsing */

/* An SF_ENUM_SET value's words (split at commas, spaces trimmed) in the
 * order the longest of values lists them, ", " between; a word not there,
 * or one given twice, leaves the text as written (then refused). */
static void set_words(const char *value, const char *const *values, char *out, size_t n)
{
    const char *all = values[0];
    for (int i = 1; values[i]; i++)
        if (strlen(values[i]) > strlen(all)) all = values[i];
    char words[8][32];
    int count = 0, bad = 0;
    for (const char *p = value; *p && !bad;) {
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, ",");
        size_t end = len;
        while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t')) end--;
        if (count == 8 || end == 0 || end >= sizeof words[0]) bad = 1;
        else snprintf(words[count++], sizeof words[0], "%.*s", (int)end, p);
        p += len + (p[len] == ',');
    }
    out[0] = '\0';
    size_t used = 0;
    int placed = 0;
    for (const char *w = all; *w && !bad;) { /* the words of `all`, in its order */
        size_t len = strcspn(w, ",");
        int here = 0;
        for (int i = 0; i < count; i++)
            if (strlen(words[i]) == len && !strncmp(words[i], w, len)) here++;
        if (here > 1) bad = 1;
        if (here == 1) {
            used += (size_t)snprintf(out + used, n > used ? n - used : 0, "%s%.*s",
                                     placed ? ", " : "", (int)len, w);
            placed++;
        }
        w += len;
        while (*w == ',' || *w == ' ') w++;
    }
    if (bad || placed != count) snprintf(out, n, "%s", value);
}

static void join_values(const char *const *values, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; values[i] && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", values[i]);
}

/* "between 1 and 65536", ">= 0 and < 1", "> 0" */
static void range_sentence(const SchemaKey *k, char *buf, size_t n)
{
    if (k->type == SK_U64) {
        snprintf(buf, n, "between 0 and %" PRId64, INT64_MAX);
    } else if (k->type == SK_INT) {
        snprintf(buf, n, "between %.0f and %.0f", k->min, k->max);
    } else if (k->flags & SF_NO_MAX) {
        snprintf(buf, n, "%s %g", k->flags & SF_MIN_EXCL ? ">" : ">=", k->min);
    } else {
        snprintf(buf, n, "%s %g and %s %g", k->flags & SF_MIN_EXCL ? ">" : ">=", k->min,
                 k->flags & SF_MAX_EXCL ? "<" : "<=", k->max);
    }
}

void schema_range_text(const SchemaKey *k, char *buf, size_t n)
{
    buf[0] = '\0';
    switch (k->type) {
    case SK_U64: snprintf(buf, n, "0..2^63-1"); break;
    case SK_INT: snprintf(buf, n, "%.0f..%.0f", k->min, k->max); break;
    case SK_FLOAT:
    case SK_DOUBLE:
        if (k->flags & SF_NO_MAX)
            snprintf(buf, n, "%s %g", k->flags & SF_MIN_EXCL ? ">" : ">=", k->min);
        else
            snprintf(buf, n, "%s%g, %g%s", k->flags & SF_MIN_EXCL ? "(" : "[", k->min, k->max,
                     k->flags & SF_MAX_EXCL ? ")" : "]");
        break;
    case SK_AUGMENT: snprintf(buf, n, "N in 0..%.0f", k->max); break;
    case SK_MILESTONES: snprintf(buf, n, "> 0, at most %.0f", k->max); break;
    case SK_KNOTS: snprintf(buf, n, "value >= 0, at most %.0f", k->max); break;
    case SK_INPUTS: snprintf(buf, n, "%.0f..%.0f names", k->min, k->max); break;
    case SK_PATTERNS: snprintf(buf, n, "at most %.0f", k->max); break;
    default: break;
    }
}

static bool layer_name_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= CN_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

/* Strict integer: the whole text, decimal (decimal.h). 0 ok, -1 not a
 * number, -2 out of long. */
static int parse_long(const char *s, long *out)
{
    return decimal_long(s, out);
}

/* Strict finite decimal number (decimal.h). 0 ok, -1 not a number, -2 not
 * finite. */
static int parse_double(const char *s, double *out)
{
    return decimal_double(s, out);
}

/* "; only decimal numbers..." after "expected a number" when strtod would
 * have taken the text (0x10, a hex float), else "". */
static const char *decimal_hint(const char *s)
{
    return decimal_is_other_base(s) ? " (only decimal numbers are accepted)" : "";
}

static bool in_range(const SchemaKey *k, double v)
{
    if (k->flags & SF_MIN_EXCL ? !(v > k->min) : !(v >= k->min)) return false;
    if (k->flags & SF_NO_MAX) return true;
    return k->flags & SF_MAX_EXCL ? v < k->max : v <= k->max;
}

#define FAIL(...)                                                                         \
    do {                                                                                  \
        snprintf(err, errlen, __VA_ARGS__);                                               \
        return -1;                                                                        \
    } while (0)

/* "crop:N" / "translate:N": the padding N in 0..max into *out. */
static int parse_shift(const SchemaKey *k, const char *item, const char *what, int *out,
                       char *err, size_t errlen)
{
    char *num = trim((char *)item + strlen(what) + 1);
    long v;
    int rc = parse_long(num, &v);
    if (rc == -1) FAIL("expected an integer after '%s:' in 'augment', got '%s'", what, num);
    if (rc == -2 || v < 0 || v > (long)k->max)
        FAIL("%s %s in 'augment' must be between 0 and %.0f, got %s", what,
             strcmp(what, "crop") == 0 ? "padding" : "distance", k->max, num);
    *out = (int)v;
    return 0;
}

static int parse_augment(const SchemaKey *k, const char *value, Experiment *e, char *err,
                         size_t errlen)
{
    if (!*value)
        FAIL("missing value for 'augment' (expected crop:N, translate:N, flip, flip_alternating "
             "or none)");
    if (strcmp(value, "none") == 0) {
        e->augment_crop = 0;
        e->augment_flip = false;
        e->augment_translate = 0;
        e->augment_flip_alternating = false;
        return 0;
    }
    char buf[256];
    if (!str_copy(buf, sizeof buf, value)) FAIL("'augment' is too long");
    int crop = 0, translate = 0;
    bool flip = false, alternating = false, seen_crop = false, seen_translate = false;
    char *save = NULL;
    int n_items = 0;
    for (char *p = buf;; p = NULL) {
        char *item = strtok_r(p, ",", &save);
        if (!item) break;
        n_items++;
        item = trim(item);
        if (strcmp(item, "flip") == 0) {
            if (flip) FAIL("'flip' appears twice in 'augment'");
            flip = true;
        } else if (strcmp(item, "flip_alternating") == 0) {
            if (alternating) FAIL("'flip_alternating' appears twice in 'augment'");
            alternating = true;
        } else if (strncmp(item, "crop:", 5) == 0) {
            if (seen_crop) FAIL("'crop' appears twice in 'augment'");
            if (parse_shift(k, item, "crop", &crop, err, errlen) != 0) return -1;
            seen_crop = true;
        } else if (strncmp(item, "translate:", 10) == 0) {
            if (seen_translate) FAIL("'translate' appears twice in 'augment'");
            if (parse_shift(k, item, "translate", &translate, err, errlen) != 0) return -1;
            seen_translate = true;
        } else if (strcmp(item, "crop") == 0) {
            FAIL("'crop' in 'augment' needs the padding in pixels, e.g. crop:4");
        } else if (strcmp(item, "translate") == 0) {
            FAIL("'translate' in 'augment' needs the largest shift in pixels, e.g. translate:2");
        } else if (strcmp(item, "none") == 0) {
            FAIL("'none' in 'augment' cannot be combined with other augmentations");
        } else {
            static const char *const known[] = {"flip", "crop:4", "translate:2",
                                                "flip_alternating", "none", NULL};
            const char *s = *item ? schema_suggest(item, known) : NULL;
            char hint[64] = "";
            if (s) snprintf(hint, sizeof hint, "; did you mean '%s'?", s);
            if (!*item) FAIL("empty item in 'augment' (stray comma?)");
            FAIL("unknown augmentation '%s' in 'augment' (expected crop:N, translate:N, flip, "
                 "flip_alternating or none)%s", item, hint);
        }
    }
    /* strtok_r skips empty items: catch "flip,,crop:4" and a trailing comma */
    int commas = 0;
    for (const char *c = value; *c; c++) commas += *c == ',';
    if (commas + 1 != n_items) FAIL("empty item in 'augment' (stray comma?)");
    if (flip && alternating)
        FAIL("'flip' and 'flip_alternating' in 'augment' cannot be combined (one decides when an "
             "image is mirrored: at random, or in every other epoch)");
    if (seen_crop && seen_translate)
        FAIL("'crop' and 'translate' in 'augment' cannot be combined (both shift the image: crop "
             "fills with black, translate with the reflected image)");
    e->augment_crop = crop;
    e->augment_flip = flip;
    e->augment_translate = translate;
    e->augment_flip_alternating = alternating;
    return 0;
}

static int parse_milestones(const SchemaKey *k, const char *value, Experiment *e, char *err,
                            size_t errlen)
{
    e->n_milestones = 0;
    if (!*value) return 0;
    char buf[512];
    if (!str_copy(buf, sizeof buf, value)) FAIL("'milestones' is too long");
    float ms[CN_MAX_MILESTONES];
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *item = trim(p);
        if (!*item) FAIL("empty item in 'milestones' (stray comma?)");
        double v;
        int rc = parse_double(item, &v);
        if (rc == -1) FAIL("expected a number in 'milestones', got '%s'", item);
        if (rc == -2 || !(v > 0) || v > 1e6)
            FAIL("each milestone must be an epoch > 0, got '%s'", item);
        if (n == (int)k->max) FAIL("too many 'milestones' (at most %.0f)", k->max);
        if (n > 0 && !((float)v > ms[n - 1]))
            FAIL("'milestones' must be increasing, got %s after %g", item, (double)ms[n - 1]);
        ms[n++] = (float)v;
        if (!comma) break;
        p = comma + 1;
    }
    e->n_milestones = n;
    memcpy(e->milestones, ms, (size_t)n * sizeof *ms);
    return 0;
}

/* A knot's epoch: a number, or a fraction a/b (b > 0) computed in double.
 * norm receives the text as it is printed back ("a/b" without spaces).
 * 0 ok, -1 not a number, -2 not finite or b <= 0. */
static int parse_knot_epoch(const char *text, double *out, char *norm, size_t size)
{
    char buf[128];
    if (!str_copy(buf, sizeof buf, text)) return -1;
    char *slash = strchr(buf, '/');
    if (!slash) {
        snprintf(norm, size, "%s", buf);
        return parse_double(buf, out);
    }
    *slash = '\0';
    char *num = trim(buf), *den = trim(slash + 1);
    double a, b;
    int rc = parse_double(num, &a);
    if (rc == 0) rc = parse_double(den, &b);
    if (rc != 0) return rc;
    if (!(b > 0)) return -2;
    snprintf(norm, size, "%s/%s", num, den);
    *out = a / b;
    return 0;
}

static int parse_knots(const SchemaKey *k, const char *value, Experiment *e, char *err,
                       size_t errlen)
{
    e->n_knots = 0;
    e->knots_text[0] = '\0';
    if (!*value) return 0;
    char buf[512];
    if (!str_copy(buf, sizeof buf, value)) FAIL("'knots' is too long");
    double ep[CN_MAX_KNOTS];
    float val[CN_MAX_KNOTS];
    char text[sizeof e->knots_text] = "";
    const char *prev = "";
    size_t used = 0;
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *item = trim(p);
        if (!*item) FAIL("empty item in 'knots' (stray comma?)");
        char *colon = strchr(item, ':');
        if (!colon) FAIL("expected epoch:value in 'knots', got '%s'", item);
        *colon = '\0';
        char *et = trim(item), *vt = trim(colon + 1);
        double t, v;
        char norm[128];
        int rc = parse_knot_epoch(et, &t, norm, sizeof norm);
        if (rc == -1)
            FAIL("expected a number or a fraction a/b as the epoch in 'knots', got '%s'", et);
        if (rc == -2 || !(t >= 0) || t > 1e6)
            FAIL("each knot's epoch must be between 0 and 1e6 (a fraction a/b with b > 0), got "
                 "'%s'", et);
        rc = parse_double(vt, &v);
        if (rc == -1)
            FAIL("expected a number as the value of knot '%s' in 'knots', got '%s'", et, vt);
        if (rc == -2 || !(v >= 0) || v > FLT_MAX)
            FAIL("each knot's value must be a finite number >= 0, got '%s' (at epoch %s)", vt, et);
        if (n == (int)k->max) FAIL("too many 'knots' (at most %.0f)", k->max);
        if (n == 0 && t != 0)
            FAIL("the first knot must be at epoch 0 (the rate at the start), got %s", et);
        if (n > 0 && !(t > ep[n - 1]))
            FAIL("knot epochs must be strictly increasing, got %s after %s", et, prev);
        prev = et;
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s:%s", n ? ", " : "", norm,
                                 vt);
        if (used >= sizeof text) FAIL("'knots' is too long");
        ep[n] = t;
        val[n++] = (float)v;
        if (!comma) break;
        p = comma + 1;
    }
    e->n_knots = n;
    memcpy(e->knots_text, text, sizeof text);
    memcpy(e->knot_epoch, ep, (size_t)n * sizeof *ep);
    memcpy(e->knot_value, val, (size_t)n * sizeof *val);
    return 0;
}

static int parse_inputs(const SchemaKey *k, const char *value, LayerSpec *ls, char *err,
                        size_t errlen)
{
    if (k->type == SK_INPUT) {
        if (!*value) FAIL("missing value for 'input' (expected the name of an earlier layer)");
        if (strchr(value, ','))
            FAIL("'input' takes one layer name; only add and concat layers take several "
                 "('inputs')");
        if (!layer_name_ok(value))
            FAIL("'%s' is not a valid layer name for 'input' (letters, digits, '_' and '-', at "
                 "most %d characters)", value, CN_NAME_MAX - 1);
        ls->n_inputs = 1;
        str_copy(ls->inputs[0], CN_NAME_MAX, value);
        return 0;
    }
    if (!*value) FAIL("missing value for 'inputs' (expected %.0f to %.0f layer names)", k->min,
                      k->max);
    char buf[1024];
    if (!str_copy(buf, sizeof buf, value)) FAIL("'inputs' is too long");
    char names[CN_MAX_INPUTS][CN_NAME_MAX];
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *item = trim(p);
        if (!*item) FAIL("empty name in 'inputs' (stray comma?)");
        if (!layer_name_ok(item))
            FAIL("'%s' is not a valid layer name in 'inputs' (letters, digits, '_' and '-')",
                 item);
        if (n == (int)k->max) FAIL("'inputs' takes at most %.0f names", k->max);
        str_copy(names[n++], CN_NAME_MAX, item);
        if (!comma) break;
        p = comma + 1;
    }
    if (n < (int)k->min) FAIL("'inputs' needs at least %.0f names, got %d", k->min, n);
    ls->n_inputs = n;
    memcpy(ls->inputs, names, sizeof names);
    return 0;
}

/* Splits a comma-separated value into trimmed items (at most max); an empty
 * item is an error. Returns the count, or -1 with err set. */
static int split_list(const SchemaKey *k, const char *value, char *buf, size_t size,
                      char **items, int max, char *err, size_t errlen)
{
    if (!*value) FAIL("missing value for '%s'", k->key);
    if (!str_copy(buf, size, value)) FAIL("'%s' is too long", k->key);
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        char *item = trim(p);
        if (!*item) FAIL("empty item in '%s' (stray comma?)", k->key);
        if (n == max) FAIL("'%s' takes at most %d items", k->key, max);
        items[n++] = item;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static int parse_param_kinds(const SchemaKey *k, const char *value, GroupSpec *g, char *err,
                             size_t errlen)
{
    char buf[512], *items[32];
    int n = split_list(k, value, buf, sizeof buf, items, 32, err, errlen);
    if (n < 0) return -1;
    unsigned kinds = 0;
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int j = 0; schema_param_kind_names[j]; j++)
            if (strcmp(items[i], schema_param_kind_names[j]) == 0) found = j;
        if (found < 0) {
            char list[256], hint[96] = "";
            join_values(schema_param_kind_names, list, sizeof list);
            const char *sug = schema_suggest(items[i], schema_param_kind_names);
            if (!sug && strcmp(items[i], "weight") == 0) sug = "conv_weight";
            if (sug) snprintf(hint, sizeof hint, "; did you mean '%s'?", sug);
            FAIL("unknown parameter kind '%s' in 'params'%s (expected: %s)", items[i], hint, list);
        }
        if (kinds & (1u << found)) FAIL("'%s' appears twice in 'params'", items[i]);
        kinds |= 1u << found;
    }
    g->params = kinds;
    return 0;
}

/* A layer name, or an fnmatch pattern of one: name characters, * ? and
 * [...] classes (closed, with ! or ^ for "not"). */
static bool pattern_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len >= CN_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '[') {
            size_t j = i + 1;
            if (s[j] == '!' || s[j] == '^') j++;
            if (s[j] == ']') j++;
            while (j < len && s[j] != ']') j++;
            if (j >= len) return false;
            i = j;
        } else if (!isalnum((unsigned char)c) && c != '_' && c != '-' && c != '*' && c != '?') {
            return false;
        }
    }
    return true;
}

static int parse_patterns(const SchemaKey *k, const char *value, GroupSpec *g, char *err,
                          size_t errlen)
{
    char buf[1536], *items[CN_MAX_PATTERNS];
    int n = split_list(k, value, buf, sizeof buf, items, (int)k->max, err, errlen);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++)
        if (!pattern_ok(items[i]))
            FAIL("'%s' in 'layers' is not a layer name or pattern (letters, digits, '_', '-', "
                 "'*', '?' and [...] classes, at most %d characters)", items[i], CN_NAME_MAX - 1);
    g->n_layers = n;
    for (int i = 0; i < n; i++) str_copy(g->layers[i], CN_NAME_MAX, items[i]);
    return 0;
}

int schema_parse(const SchemaKey *k, const char *value, void *base, char *err, size_t errlen)
{
    char *dst = (char *)base + k->offset;
    char range[96];
    range_sentence(k, range, sizeof range);
    switch (k->type) {
    case SK_INT: {
        if (!*value) FAIL("missing value for '%s' (expected an integer)", k->key);
        long v;
        int rc = parse_long(value, &v);
        if (rc == -1)
            FAIL("expected an integer for '%s', got '%s'%s", k->key, value, decimal_hint(value));
        if (rc == -2 || v < (long)k->min || v > (long)k->max)
            FAIL("'%s' must be %s, got %s", k->key, range, value);
        int iv = (int)v;
        memcpy(dst, &iv, sizeof iv);
        return 0;
    }
    case SK_U64: {
        if (!*value) FAIL("missing value for '%s' (expected an integer)", k->key);
        uint64_t v;
        int rc = decimal_u64(value, &v);
        if (rc == DECIMAL_BAD)
            FAIL("expected an integer for '%s', got '%s'%s", k->key, value, decimal_hint(value));
        if (rc == DECIMAL_RANGE) FAIL("'%s' must be %s, got %s", k->key, range, value);
        uint64_t u = v;
        memcpy(dst, &u, sizeof u);
        return 0;
    }
    case SK_FLOAT: {
        if (!*value) FAIL("missing value for '%s' (expected a number)", k->key);
        double v;
        int rc = parse_double(value, &v);
        if (rc == -1)
            FAIL("expected a number for '%s', got '%s'%s", k->key, value, decimal_hint(value));
        if (rc == -2) FAIL("'%s' must be a finite number, got %s", k->key, value);
        if (fabs(v) > FLT_MAX) FAIL("'%s' is too large for a 32-bit float, got %s", k->key, value);
        float f = (float)v;
        if (f == 0 && v != 0) /* 1e-48: not 0 as written, but 0 as the float it is kept in */
            FAIL("'%s' is too small for a 32-bit float: %s would be 0 (the smallest above 0 is "
                 "%.2g)", k->key, value, (double)FLT_TRUE_MIN);
        if (!in_range(k, f)) FAIL("'%s' must be %s, got %s", k->key, range, value);
        memcpy(dst, &f, sizeof f);
        return 0;
    }
    case SK_DOUBLE: {
        if (!*value) FAIL("missing value for '%s' (expected a number)", k->key);
        double v;
        int rc = parse_double(value, &v);
        if (rc == -1)
            FAIL("expected a number for '%s', got '%s'%s", k->key, value, decimal_hint(value));
        if (rc == -2) FAIL("'%s' must be a finite number, got %s", k->key, value);
        if (!in_range(k, v)) FAIL("'%s' must be %s, got %s", k->key, range, value);
        memcpy(dst, &v, sizeof v);
        return 0;
    }
    case SK_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(value, yes[i]) == 0 || strcmp(value, no[i]) == 0) {
                bool b = strcmp(value, yes[i]) == 0;
                memcpy(dst, &b, sizeof b);
                return 0;
            }
        }
        FAIL("expected a boolean for '%s' (true/false, yes/no, on/off, 1/0), got '%s'", k->key,
             value);
    }
    case SK_ENUM: {
        char set[128];
        if (k->flags & SF_ENUM_SET) { /* "last,best" is "best, last": the words in order */
            set_words(value, k->values, set, sizeof set);
            value = set;
        }
        for (int i = 0; k->values[i]; i++) {
            if (strcmp(value, k->values[i]) != 0) continue;
            if (k->flags & SF_ENUM_STRING) {
                str_copy(dst, k->size, value);
            } else if (k->flags & SF_ENUM_BOOL) {
                bool b = i == 1;
                memcpy(dst, &b, sizeof b);
            } else {
                memcpy(dst, &i, sizeof i);
            }
            return 0;
        }
        char list[512], hint[96] = "";
        join_values(k->values, list, sizeof list);
        if (k->flags & SF_ENUM_SET) { /* its values have commas: | between them */
            size_t used = 0;
            for (int i = 0; k->values[i]; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? " | " : "",
                                         k->values[i]);
        }
        const char *s = *value ? schema_suggest(value, k->values) : NULL;
        if (s) snprintf(hint, sizeof hint, "; did you mean '%s'?", s);
        if (k->values == schema_layer_type_names) {
            if (!*value) FAIL("missing layer type (valid types: %s)", list);
            FAIL("unknown layer type '%s'%s (valid types: %s)", value, hint, list);
        }
        if (!*value) FAIL("missing value for '%s' (expected one of: %s)", k->key, list);
        FAIL("unknown value '%s' for '%s'%s (expected one of: %s)", value, k->key, hint, list);
    }
    case SK_STRING: {
        if (!*value) FAIL("'%s' must not be empty (remove the line to use the default)", k->key);
        if (strlen(value) >= k->size)
            FAIL("'%s' is too long (at most %zu characters)", k->key, k->size - 1);
        for (const char *c = value; *c; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                FAIL("'%s' contains a control character", k->key);
            if (*c == ';' && c > value && isspace((unsigned char)c[-1]))
                FAIL("'%s' contains ' ;', which starts a comment in an .ini file", k->key);
        }
        if (isspace((unsigned char)value[0]) || isspace((unsigned char)value[strlen(value) - 1]))
            FAIL("'%s' must not start or end with whitespace", k->key);
        long bad = (k->flags & SF_UTF8) ? utf8_invalid_at(value) : -1;
        if (bad >= 0) /* the runs table, --csv and the report show it: one encoding */
            FAIL("'%s' is not valid UTF-8 text: byte 0x%02x at byte %ld of its value; write it in "
                 "UTF-8", k->key, (unsigned char)value[bad], bad + 1);
        str_copy(dst, k->size, value);
        return 0;
    }
    case SK_AUGMENT: return parse_augment(k, value, base, err, errlen);
    case SK_MILESTONES: return parse_milestones(k, value, base, err, errlen);
    case SK_KNOTS: return parse_knots(k, value, base, err, errlen);
    case SK_INPUT:
    case SK_INPUTS: return parse_inputs(k, value, base, err, errlen);
    case SK_PARAM_KINDS: return parse_param_kinds(k, value, base, err, errlen);
    case SK_PATTERNS: return parse_patterns(k, value, base, err, errlen);
    }
    FAIL("internal error: key '%s' has no parser", k->key);
}

/* ----------------------------------------------------------- formatting */

/* The shortest %g text that reads back as v: as a float (max_prec 9) or a
 * double (max_prec 17). */
static void format_number(double v, int max_prec, char *buf, size_t n)
{
    int prec = 1;
    for (; prec < max_prec; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (max_prec <= 9 ? (float)back == (float)v : back == v) break;
    }
    /* no exponent for whole numbers that %g would shorten (40, not 4e+01) */
    double mag = fabs(v);
    if (mag >= 1.0 && mag < 1e9) {
        int digits = (int)floor(log10(mag)) + 1;
        if (digits > prec) prec = digits;
    }
    snprintf(buf, n, "%.*g", prec, v);
    /* 1e-08 -> 1e-8 */
    char *e = strchr(buf, 'e');
    if (e) {
        char *d = e + 1;
        if (*d == '+') memmove(d, d + 1, strlen(d));
        if (*d == '-') d++;
        while (d[0] == '0' && d[1]) memmove(d, d + 1, strlen(d));
    }
}

void schema_format_float(float v, char *buf, size_t n)
{
    format_number((double)v, 9, buf, n);
}

void schema_format_double(double v, char *buf, size_t n)
{
    format_number(v, 17, buf, n);
}

void schema_format(const SchemaKey *k, const void *base, char *buf, size_t n)
{
    const char *src = (const char *)base + k->offset;
    buf[0] = '\0';
    switch (k->type) {
    case SK_INT: {
        int v;
        memcpy(&v, src, sizeof v);
        snprintf(buf, n, "%d", v);
        break;
    }
    case SK_U64: {
        uint64_t v;
        memcpy(&v, src, sizeof v);
        snprintf(buf, n, "%" PRIu64, v);
        break;
    }
    case SK_FLOAT: {
        float v;
        memcpy(&v, src, sizeof v);
        schema_format_float(v, buf, n);
        break;
    }
    case SK_DOUBLE: {
        double v;
        memcpy(&v, src, sizeof v);
        schema_format_double(v, buf, n);
        break;
    }
    case SK_BOOL: {
        bool v;
        memcpy(&v, src, sizeof v);
        snprintf(buf, n, "%s", v ? "true" : "false");
        break;
    }
    case SK_ENUM: {
        if (k->flags & SF_ENUM_STRING) {
            snprintf(buf, n, "%s", src);
        } else if (k->flags & SF_ENUM_BOOL) {
            bool v;
            memcpy(&v, src, sizeof v);
            snprintf(buf, n, "%s", k->values[v ? 1 : 0]);
        } else {
            int v;
            memcpy(&v, src, sizeof v);
            int count = 0;
            while (k->values[count]) count++;
            snprintf(buf, n, "%s", v >= 0 && v < count ? k->values[v] : "?");
        }
        break;
    }
    case SK_STRING: snprintf(buf, n, "%s", src); break;
    case SK_AUGMENT: {
        const Experiment *e = base;
        char shift[32] = "";
        if (e->augment_crop > 0)
            snprintf(shift, sizeof shift, "crop:%d", e->augment_crop);
        else if (e->augment_translate > 0)
            snprintf(shift, sizeof shift, "translate:%d", e->augment_translate);
        const char *flip = e->augment_flip ? "flip"
                           : e->augment_flip_alternating ? "flip_alternating" : "";
        if (*shift && *flip)
            snprintf(buf, n, "%s, %s", shift, flip);
        else if (*shift || *flip)
            snprintf(buf, n, "%s%s", shift, flip);
        else
            snprintf(buf, n, "none");
        break;
    }
    case SK_MILESTONES: {
        const Experiment *e = base;
        size_t used = 0;
        for (int i = 0; i < e->n_milestones && used < n; i++) {
            char f[32];
            schema_format_float(e->milestones[i], f, sizeof f);
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", f);
        }
        break;
    }
    case SK_KNOTS: /* as written: a fraction such as 109/48 keeps every bit, and the line
                    * stays as short as the file's */
        snprintf(buf, n, "%s", ((const Experiment *)base)->knots_text);
        break;
    case SK_INPUT:
    case SK_INPUTS: {
        const LayerSpec *ls = base;
        size_t used = 0;
        for (int i = 0; i < ls->n_inputs && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", ls->inputs[i]);
        break;
    }
    case SK_PARAM_KINDS: {
        const GroupSpec *g = base;
        size_t used = 0;
        for (int i = 0; schema_param_kind_names[i] && used < n; i++)
            if (g->params & (1u << i))
                used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "",
                                         schema_param_kind_names[i]);
        break;
    }
    case SK_PATTERNS: {
        const GroupSpec *g = base;
        size_t used = 0;
        for (int i = 0; i < g->n_layers && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", g->layers[i]);
        break;
    }
    }
}

/* ------------------------------------------------------------- markdown */

static void md_type(const SchemaKey *k, char *buf, size_t n)
{
    switch (k->type) {
    case SK_INT:
    case SK_U64: snprintf(buf, n, "int"); break;
    case SK_FLOAT:
    case SK_DOUBLE: snprintf(buf, n, "float"); break;
    case SK_BOOL: snprintf(buf, n, "bool"); break;
    case SK_STRING: snprintf(buf, n, "string"); break;
    case SK_AUGMENT: snprintf(buf, n, "list"); break;
    case SK_MILESTONES: snprintf(buf, n, "list of numbers"); break;
    case SK_KNOTS: snprintf(buf, n, "list of epoch:value"); break;
    case SK_INPUT: snprintf(buf, n, "layer name"); break;
    case SK_INPUTS: snprintf(buf, n, "list of layer names"); break;
    case SK_PARAM_KINDS: snprintf(buf, n, "list of parameter kinds"); break;
    case SK_PATTERNS: snprintf(buf, n, "list of layer names or patterns"); break;
    case SK_ENUM: {
        if (k->values == schema_layer_type_names) {
            snprintf(buf, n, "layer type");
            break;
        }
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; k->values[i] && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s`%s`", i ? " \\| " : "",
                                     k->values[i]);
        break;
    }
    }
}

static void md_table(FILE *f, const SchemaSection *s)
{
    fprintf(f, "| key | type | default | range | meaning |\n");
    fprintf(f, "|-----|------|---------|-------|---------|\n");
    for (int i = 0; i < s->n_keys; i++) {
        const SchemaKey *k = &s->keys[i];
        char type[256], range[64], def[128];
        md_type(k, type, sizeof type);
        schema_range_text(k, range, sizeof range);
        if (k->flags & SF_REQUIRED)
            snprintf(def, sizeof def, "**required**");
        else if (k->flags & SF_COMPUTED)
            snprintf(def, sizeof def, "%s", k->def);
        else if (k->def && !*k->def)
            snprintf(def, sizeof def, "(empty)");
        else
            snprintf(def, sizeof def, "`%s`", k->def);
        if (k->values == schema_layer_type_names)
            snprintf(def, sizeof def, "**required**");
        fprintf(f, "| `%s` | %s | %s | %s | %s |\n", k->key, type, def, range, k->doc);
    }
    fprintf(f, "\n");
}

void schema_print_markdown(FILE *f)
{
    for (int i = 0; i < N(top_sections); i++) {
        fprintf(f, "### [%s]\n\n%c%s.\n\n", top_sections[i].name,
                toupper((unsigned char)top_sections[i].doc[0]), top_sections[i].doc + 1);
        md_table(f, &top_sections[i]);
    }
    fprintf(f, "### [group.NAME]\n\n%c%s.\n\n", toupper((unsigned char)group_section.doc[0]),
            group_section.doc + 1);
    md_table(f, &group_section);
    for (int t = 0; t < LT_COUNT; t++) {
        fprintf(f, "### [layer.NAME] type = %s\n\n%c%s.\n\n", schema_layer_type_names[t],
                toupper((unsigned char)layer_sections[t].doc[0]), layer_sections[t].doc + 1);
        md_table(f, &layer_sections[t]);
    }
}
