/* model.h — a network built at run time from an Experiment: a graph of
 * primitive nodes (composite sections such as conv+BN+activation, residual and
 * inception are expanded into them), their shapes, parameters and one memory
 * plan made at build time. Forward and backward run the nodes in order over
 * the planned buffers; nothing is allocated while training.
 *
 *   Model m;
 *   if (model_build(&exp, 128, &m) != 0) exit(2);   // file:line errors printed
 *   model_init_params(&m, seed);
 *   model_forward(&m, images, n, true);            // images (n,32,32,3) NHWC
 *   ... dlogits into model_dlogits(&m) ...
 *   model_zero_grad(&m); model_backward(&m, images, n);
 */
#ifndef CNNRUN_MODEL_H
#define CNNRUN_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cnnrun/config.h"
#include "cnnrun/rng.h"
#include "cnnrun/kernels.h" /* BnSync */

typedef enum {
    OP_CONV,
    OP_BATCHNORM,
    OP_RELU,
    OP_LEAKY,
    OP_GELU,
    OP_MAXPOOL,
    OP_AVGPOOL,
    OP_GLOBAL_AVGPOOL,
    OP_LINEAR,
    OP_DROPOUT,
    OP_FLATTEN,
    OP_ADD,
    OP_CONCAT,
    OP_SILU,
    OP_COUNT /* the op table (src/model/ops.c) has a row for every op before this */
} OpType;

/* What an op is, for the planner and the optimizer (op_flags). */
enum {
    OPF_PARAMS = 1 << 0,        /* has trained parameters (initialised by its init) */
    OPF_NORM = 1 << 1,          /* its weight is a normalisation scale (BN gamma) */
    OPF_RUNNING_STATS = 1 << 2, /* keeps a running mean and variance per channel */
    OPF_INPLACE = 1 << 3,       /* may overwrite its input when nothing else reads it */
    OPF_BACKWARD_READS_OUTPUT = 1 << 4, /* backward reads its own output, not its input */
    OPF_APPLIES_ACTIVATION = 1 << 5, /* can apply the element-wise activation that alone reads
                                        its output in its own passes (plan_fusion) */
    OPF_GIVES_STATISTICS = 1 << 6, /* training forward can compute, as it writes its output, the
                                      batch statistics of a batch norm after it (plan_fusion) */
    OPF_TAKES_STATISTICS = 1 << 7, /* a batch norm whose producer may compute its statistics */
    OPF_APPLIES_RELU = 1 << 8,     /* can apply a ReLU that alone reads its output (add) */
    OPF_PASSES_GRADIENT = 1 << 9,  /* backward gives every input its own output gradient (add):
                                      inputs may keep theirs in its slot (plan_gradient_slots) */
    OPF_LEAVES_APPLY = 1 << 10,    /* a batch norm: its forward may leave x * scale + shift to
                                      the node that alone reads it (plan_fusion) */
    OPF_APPLIES_INPUT_NORM = 1 << 11 /* applies such a batch norm's scale and shift to its
                                        input as it reads it (add) */
};
unsigned op_flags(OpType op);
/* The ParamKind (config.h: PK_CONV_WEIGHT, PK_BN_BIAS, ...) of an op's
 * weight tensor (bias false) or bias tensor (bias true), from its row in the
 * op table; 0 when the op has no parameters. */
unsigned op_param_kind(OpType op, bool bias);

#define NODE_INPUT (-1) /* input index meaning "the network's input images" */

typedef struct {
    OpType op;
    char name[2 * CN_NAME_MAX]; /* section name, or section.part for expanded parts */
    int section;                /* index of the LayerSpec it came from */
    int n_in;
    int in[CN_MAX_INPUTS];      /* node indices or NODE_INPUT */
    int in_acc[CN_MAX_INPUTS];  /* backward adds into (1) or writes (0) that input's gradient */
    int c, h, w;                /* output shape per image (channels last) */
    /* hyper-parameters */
    int size, stride, pad;      /* conv kernel / pool window */
    int algo;                   /* conv algorithm (CONV_*), chosen at build */
    bool bias;
    float slope, eps, momentum, probability;
    /* initialisation on top of the default: the op's variant of the section's `init`
     * (conv: ConvInit, linear: LinearInit; 0 = default), and for a data-dependent
     * one (conv whiten) its eps and how many images it reads */
    int init;
    float init_eps;
    int init_images;
    float scale;                /* linear: multiplies the output (1: no multiply) */
    /* parameters: offsets into Model.params / Model.grads */
    size_t w_off, w_len;        /* conv/linear weight, BN gamma */
    size_t b_off, b_len;        /* bias, BN beta (b_len 0: none) */
    size_t s_off;               /* BN running mean (c) then var (c) in Model.state */
    double flops;               /* forward FLOPs per image (multiply-add = 2) */
    /* planned buffers (max_batch images) */
    float *out;
    float *dout;                /* a shared gradient slot (see plan_gradient_slots) */
    int dout_slot;
    float *saved;               /* BN mean+rstd, dropout mask, maxpool argmax (int32) */
    bool inplace;               /* out is its input's buffer: a ReLU that overwrites its
                                   input (plan_inplace), or an absorbed activation */
    /* fusion (plan_fusion): a batch norm applies the activation node fuse_act
     * in its own forward and backward passes (-1: none); that node is
     * absorbed: it runs nothing, its output and gradient are the batch norm's */
    int fuse_act;
    bool absorbed;
    /* fusion (plan_fusion): this node's training forward computes the batch
     * statistics of the batch norm node stats_for (-1: none), which then
     * only applies them (stats_given) */
    int stats_for;
    bool stats_given;
    /* fusion (plan_fusion): a batch norm whose output the node applied_by
     * (-1: none) computes as it reads it; its forward writes the statistics
     * and the scale and shift only */
    int applied_by;
    int readers;                /* nodes that read its output (plan) */
} Node;

/* How the convolutions' algorithms (Node.algo) were chosen (src/model/tune.c). */
typedef enum {
    CONV_FROM_RULE,       /* the shape rule: CNNRUN_CONV=rule, or not measured (yet) */
    CONV_FROM_ENV,        /* CNNRUN_CONV=<algorithm>, wherever eligible */
    CONV_FROM_TUNING,     /* measured: model_tune_convs (some shapes maybe from the wisdom file) */
    CONV_FROM_WISDOM,     /* measured on this machine before: model_tune_convs, the wisdom file */
    CONV_FROM_CHECKPOINT  /* as a checkpoint recorded them: model_set_conv_algos */
} ConvAlgoSource;

typedef struct {
    const Experiment *exp;
    int max_batch;
    int threads;         /* engine threads the scratch space was planned for */
    int in_c, in_h, in_w;       /* 3, 32, 32 */
    int classes;                /* size of the last node's output */
    int n_nodes;
    Node *nodes;
    size_t n_params;
    float *params, *grads;
    size_t n_state;
    float *state;               /* BN running statistics */
    float *scratch;             /* shared by conv im2col/col2im */
    size_t n_scratch;
    size_t activation_bytes;    /* planned activation + gradient memory */
    int n_grad_slots;
    float **grad_slots;         /* gradient buffers shared by nodes whose lifetimes don't overlap */
    Rng dropout_rng;
    /* data-parallel training: this forward's images are [shard_lo, shard_lo +
     * batch) of a global batch of shard_total (0: the whole batch). Dropout
     * then skips the other ranks' draws, so its masks are one process's. */
    int shard_lo, shard_total;
    double *node_seconds;       /* when not NULL: forward+backward time per node (bench) */
    ConvAlgoSource conv_from;   /* how the conv nodes' algorithms were chosen */
    bool conv_tune;             /* the engine settings ask for measuring (tune, retune) */
    int conv_tune_shapes;       /* distinct shapes model_tune_convs timed (not from the file) */
    double conv_tune_seconds;   /* and the time it took */
    /* data-parallel training: batch norm's statistics over all processes
     * (the session's, src/train/dist.c); NULL: this process's batch */
    const BnSync *bn_sync;
} Model;

/* Builds the graph and the memory plan for batches of up to max_batch
 * images. Shape errors are printed as `file:line: ...`; returns -1 then.
 * max_batch 0 builds shapes and counts only, allocating no buffers. */
int model_build(const Experiment *e, int max_batch, Model *m);
void model_free(Model *m);
/* What to do when the buffers for a batch do not fit (xalloc_hint while
 * they are allocated, here and in session_open). */
extern const char model_memory_hint[];

/* PyTorch's default initialisation (kaiming-uniform a=sqrt(5) weights,
 * uniform biases, BN gamma 1 beta 0, running var 1), from the seed, then what
 * each layer's `init` asks that needs no data (conv dirac, linear unit_std). */
void model_init_params(Model *m, uint64_t seed);

/* The data-dependent part of the initialisation (conv `init = whiten`), once
 * at the start of a fresh run, after model_init_params; never on resume (the
 * checkpoint holds the weights it made). images: the first n training images
 * (n,32,32,3) NHWC, un-augmented and normalised as the training batches are
 * (cifar_make_batch with only [data] normalize). Each such layer reads the
 * first min(n, its whiten_images) of them, as its own input computed by the
 * layers before it in evaluation mode, in chunks of max_batch. Needs the
 * buffers (max_batch > 0). Returns 0 (at once for a model without
 * data-dependent initialisation), or -1 with `file:line: ...` printed. */
int model_init_from_data(Model *m, const float *images, int n);
/* How many images model_init_from_data reads at most: the largest
 * whiten_images; 0 when no layer needs data. */
int model_init_images(const Model *m);

/* Forward of n <= max_batch images (n,32,32,3). training: batch statistics,
 * dropout on; otherwise running statistics. */
void model_forward(Model *m, const float *input, int n, bool training);
float *model_logits(Model *m);   /* (n, classes) after forward */
float *model_dlogits(Model *m);  /* where the loss writes its gradient */
void model_zero_grad(Model *m);
/* Backward of the last training forward; adds into m->grads. */
void model_backward(Model *m, const float *input, int n);
/* The same, calling ready(from) each time m->grads[from .. n_params) is
 * final (parameters lie in node order and backward visits the nodes in
 * reverse, so from only decreases): the gradient sum over MPI ranks starts
 * on those while the rest of the backward runs. */
void model_backward_notify(Model *m, const float *input, int n, void (*ready)(size_t from));

/* Shape per image (C, H, W) of node idx's output, or of the network's input
 * for NODE_INPUT. */
void model_tensor_shape(const Model *m, int idx, int *c, int *h, int *w);

/* ---- each convolution's algorithm (src/model/tune.c) ----
 * model_build gives every conv node the algorithm the experiment's engine
 * settings ask for (Experiment.engine.conv): the shape rule (also when they
 * ask for measuring, until model_tune_convs) or the forced one where the
 * shape is eligible. */

/* With m->conv_tune (and buffers: max_batch > 0): each distinct conv shape's
 * algorithm from the machine's wisdom file (EngineSettings.wisdom, held
 * locked meanwhile) where it was measured before (not with
 * CONV_CHOICE_RETUNE), else measured — every eligible algorithm timed for
 * forward and backward over a sample of the batch (whole images for every
 * thread, ~4 GFLOP per thread per pass, at least 4096 output pixels per
 * thread, at most the batch: see tune.c for why so large) on m->threads, in
 * turns, the best of 5 passes after a warm-up; the fastest kept unless it
 * beats the rule's choice by less than 5 % — and added to the file. One line
 * on stderr when anything is measured; with report, a line per conv node
 * (its times, its choice, measured or kept). Re-sizes the scratch. Shapes
 * with one eligible algorithm are not timed. Sets conv_from,
 * conv_tune_shapes and conv_tune_seconds. A no-op otherwise. */
void model_tune_convs(Model *m, FILE *report);
/* The conv nodes' algorithms in node order (at most max); returns how many
 * conv nodes there are. */
int model_conv_algos(const Model *m, int *algos, int max);
/* Sets the conv nodes' algorithms (n of them, node order, as
 * model_conv_algos gives them; an algorithm of -1 or one the node's shape is
 * not eligible for gets the shape rule's, with a note on stderr prefixed by
 * `who`) and re-sizes the scratch; conv_from becomes CONV_FROM_CHECKPOINT.
 * algos NULL: the ones model_build gives before measuring (the settings'
 * forced algorithm, else the rule; checkpoints older than the measuring).
 * Returns how many were replaced, or -1 (nothing changed) when n is not the
 * number of conv nodes. */
int model_set_conv_algos(Model *m, const int *algos, int n, const char *who);

/* Totals over all nodes. */
double model_flops_per_image(const Model *m);
/* The darknet-style table: one row per section. */
void model_print_table(const Model *m, FILE *f);
/* Its last line: how the convolutions' algorithms were chosen (measured:
 * how many shapes in how long). */
void model_print_conv_choice(const Model *m, FILE *f);

const char *op_name(OpType op);

/* One section of the model table (src/model/table.c), as printed by
 * model_print_table and stored in the results' `layers` table. */
typedef struct {
    const char *name;          /* the section name */
    char type[32];             /* "conv 3x3/1+bn", "maxpool", "residual", ... */
    int in_c, in_h, in_w;      /* the section's input shape per image */
    int out_c, out_h, out_w;   /* its output shape */
    long long params;          /* trainable parameters */
    double flops;              /* forward FLOPs per image (multiply-add = 2) */
    /* its convolutions' algorithms ("" when it has none): one name when all
     * its convs use it ("winograd"), else part=name in node order
     * ("conv1=winograd,conv2=winograd,shortcut=im2col"); while the model is
     * still to be measured, a conv with several eligible algorithms shows
     * them all ("im2col|winograd") */
    char conv_algo[256];
} ModelSection;
int model_section_count(const Model *m);
/* Aggregates the nodes of section s (0 <= s < model_section_count). */
void model_section(const Model *m, int s, ModelSection *out);

#endif
