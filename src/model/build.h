/* build.h — private to src/model: the two halves of model_build. Expansion
 * (expand.c) turns sections into nodes with checked shapes; planning
 * (plan.c) decides gradient flow, in-place ReLUs, shared gradient slots and
 * lays out and allocates every buffer, for the convolution algorithms tune.c
 * chooses. */
#ifndef CNNRUN_MODEL_BUILD_H
#define CNNRUN_MODEL_BUILD_H

#include "cnnrun/model.h"

/* Appends the nodes of every section of m->exp to m->nodes and checks that
 * the last one gives the class scores. Returns 0, or -1 (error printed). */
int model_expand(Model *m);

/* Gradient flow (-1, error printed, when an output is never read), in-place
 * ReLUs, gradient slots, parameter layout; with m->max_batch > 0 allocates
 * every buffer. */
int model_plan(Model *m);

/* Floats of the kernels' shared scratch the nodes need at max_batch, for
 * their algorithms (0 without buffers; tune.c): plan.c allocates it, tune.c
 * re-sizes it when the algorithms change. */
size_t model_scratch_need(const Model *m);

/* Every conv's first algorithm (tune.c), by CNNRUN_CONV: the shape rule, or
 * the forced one where eligible; sets m->conv_tune. -1 after printing when
 * CNNRUN_CONV has no meaning. */
int model_init_conv_algos(Model *m);

/* Forward of nodes 0 .. end-1 only (run.c): the input of node `end` for
 * model_init_from_data. */
void model_forward_nodes(Model *m, const float *input, int batch, bool training, int end);

#endif
