/* export.h — a trained network leaving cnnrun: the inference graph as an
 * ONNX model (src/export/onnx.c, built only when meson found protobuf-c and
 * onnx.proto: CNNRUN_ONNX is then defined). docs/export.md has the graph. */
#ifndef CNNRUN_EXPORT_H
#define CNNRUN_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cnnrun/model.h"

/* The opset the exported graph uses (every op it emits exists there; Debian's
 * python3-onnx 1.12 checks up to 17) and its IR version. */
#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7

typedef struct {
    const char *experiment;         /* Experiment.name: the graph's name */
    const char *source;             /* what the weights are (the checkpoint), for doc_string */
    bool normalize;                 /* [data] normalize: Sub/Div as the first nodes */
    const float *mean, *std;        /* their statistics; NULL: CIFAR-10's */
    const char *const *class_names; /* m->classes names, metadata "class_names" */
} OnnxExportInfo;

#ifdef CNNRUN_ONNX
/* Writes m (weights, BN running statistics) in evaluation mode as an ONNX
 * model to path, atomically (util.h write_file_atomic). The model's input
 * "input" is RGB in [0, 1], NCHW (N, 3, 32, 32), any N; its output "logits"
 * (N, classes). Returns 0, or -1 (a node whose op has no ONNX form:
 * onnx_unexportable; or write_file_atomic's -1, the path is wrong) or -2
 * (writing failed), after printing the problem; nothing is written on an
 * error. */
int onnx_export(const Model *m, const OnnxExportInfo *info, const char *path);
/* Whether op has an ONNX form (a row with an emitter in onnx.c's table):
 * 1, or 0 with *why saying why not (the row's reason, or that the row is
 * missing). */
int onnx_op_form(OpType op, const char **why);
/* The first node of m whose op has no ONNX form (*why: onnx_op_form's
 * reason); NULL when every node can be exported. */
const Node *onnx_unexportable(const Model *m, const char **why);
/* The first node name of m that the graph uses for a tensor of its own
 * (input, normalized, logits, output, normalize...), which would make two
 * tensors of one name: NULL when there is none. */
const char *onnx_reserved_name(const Model *m);
/* The serialised model in a buffer (caller frees), as onnx_export writes it;
 * NULL (*len 0) when onnx_unexportable finds a node. */
void *onnx_export_buffer(const Model *m, const OnnxExportInfo *info, size_t *len);
/* The protobuf-c library's version ("1.4.1"). */
const char *onnx_protobuf_c_version(void);
#endif

#endif
