/* build.c — model_build: an Experiment becomes a planned Model in two steps,
 * expansion of the sections into nodes (expand.c) and the plan of gradients
 * and memory (plan.c); and what is asked of a built model as a whole (its
 * FLOPs, freeing it). The top of src/model: nothing there calls it. */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

int model_build(const Experiment *e, int max_batch, Model *m)
{
    memset(m, 0, sizeof *m);
    m->exp = e;
    m->max_batch = max_batch;
    m->threads = engine_get_threads();
    m->in_c = 3;
    m->in_h = m->in_w = 32;
    if (model_expand(m) != 0 || model_plan(m) != 0) {
        free(m->nodes);
        memset(m, 0, sizeof *m);
        return -1;
    }
    rng_seed(&m->dropout_rng, 0, RNG_STREAM_DROPOUT);
    return 0;
}

void model_free(Model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        if (!m->nodes[i].inplace) free(m->nodes[i].out);
        free(m->nodes[i].saved);
    }
    for (int s = 0; s < m->n_grad_slots; s++) free(m->grad_slots[s]);
    free(m->grad_slots);
    free(m->nodes);
    free(m->params);
    free(m->grads);
    free(m->state);
    free(m->scratch);
    memset(m, 0, sizeof *m);
}

double model_flops_per_image(const Model *m)
{
    double f = 0;
    for (int i = 0; i < m->n_nodes; i++) f += m->nodes[i].flops;
    return f;
}
