/* graph.h — private to src/model: the helpers every step of the model uses
 * and that use nothing of it (graph.c), so that the files of src/model call
 * one another in one direction only (docs/architecture.md): an error at a
 * section's line. The shape of a node's output, model_tensor_shape, is
 * public (model.h) and defined in graph.c too. */
#ifndef CNNRUN_MODEL_GRAPH_H
#define CNNRUN_MODEL_GRAPH_H

#include "cnnrun/model.h"

/* `file:line: [layer.NAME]: message` for section s of e, on stderr. */
void model_error(const Experiment *e, int section, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
