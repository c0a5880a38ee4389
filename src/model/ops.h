/* ops.h — private to src/model: the op table, one row per primitive node type
 * (OpType). A row says everything the builder, the planner, the executor, the
 * initialiser and the optimizer's groups need to know about an op, so adding
 * a layer type is one kernel in src/engine and one row in ops.c
 * (docs/architecture.md, "A new layer"); its ONNX form is one row of
 * the export's own table (src/export/onnx.c). Nothing outside ops.c switches
 * on OpType. */
#ifndef CNNRUN_MODEL_OPS_H
#define CNNRUN_MODEL_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "cnnrun/kernels.h"
#include "cnnrun/model.h"

/* One forward or backward call of one node. */
typedef struct {
    Model *m;
    Node *n;
    const float *input; /* the network's input images (n, 32, 32, 3) */
    int batch;
    bool training;      /* forward only: batch statistics, dropout on */
} OpCall;

/* A data-dependent initialisation (model_init_from_data): the model feeds the
 * node's input for the first images, chunk by chunk, to accumulate, then
 * finish sets the node's parameters from what was accumulated. */
typedef struct {
    /* images it reads (0: none, as this node is configured) */
    int (*images)(const Node *n);
    /* doubles of the statistics accumulate adds into (zeroed before the first chunk) */
    size_t (*stat_doubles)(const Model *m, const Node *n);
    /* adds the statistics of `batch` images of the node's input x */
    void (*accumulate)(const Model *m, const Node *n, const float *x, int batch, double *stat);
    /* sets the parameters from the statistics of `images` images; 0, or -1 with a
     * message in err */
    int (*finish)(Model *m, Node *n, const double *stat, int images, char *err, size_t errlen);
} DataInit;

typedef struct {
    const char *name; /* printed in tables, stored in checkpoints: never rename */
    unsigned flags;   /* OPF_* (model.h) */
    /* Configuration layer type and conv activation this op implements, for
     * the plain one-input element-wise types that expand to the op alone
     * (-1: none; the builder expands the others itself). */
    int layer_type;
    int activation;
    void (*forward)(const OpCall *c);
    void (*backward)(const OpCall *c);
    /* Parameters from the initialisation stream (NULL: no parameters or state). */
    void (*init)(Model *m, Node *n, Rng *r);
    /* Floats the node keeps from forward to backward for a batch of `batch`
     * (NULL: none). */
    size_t (*saved_floats)(const Model *m, const Node *n, size_t batch);
    /* Floats of the model's shared work space one call needs at `batch`
     * (NULL: none). */
    size_t (*scratch_floats)(const Model *m, const Node *n, int batch);
    /* Rules the node's settings must meet once its input shape is known (NULL:
     * none): 0, or -1 with a message in err (printed at the section's line). */
    int (*check)(const Model *m, const Node *n, char *err, size_t errlen);
    /* Initialisation from the training images, after init (NULL: none). */
    const DataInit *data_init;
    /* A convolution whose algorithm is chosen (Node.algo, src/model/tune.c):
     * its kernel's shape at `batch`, with the node's algorithm (NULL: none). */
    ConvShape (*conv_shape)(const Model *m, const Node *n, int batch);
    /* The engine's BnActKind when a batch norm (OPF_APPLIES_ACTIVATION) can
     * apply this element-wise op in its own passes (0, BN_ACT_NONE: it cannot). */
    int bn_act;
    /* The ParamKind (config.h) of its weight tensor and of its bias tensor
     * (op_param_kind): what [group.*] `params` selects and whether Muon may
     * update it (PK_MATRIX); 0 for an op without parameters. An op with
     * OPF_PARAMS names both (test_op_table_complete). */
    unsigned weight_kind, bias_kind;
} OpInfo;

const OpInfo *op_info(OpType op);

#endif
