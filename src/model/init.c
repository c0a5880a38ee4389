/* init.c — parameter initialisation from the seed: each node's op-table row
 * (ops.c) initialises its parameters and state from one random stream, in
 * node order, with PyTorch's defaults. */
#include "cnnrun/model.h"
#include "ops.h"

void model_init_params(Model *m, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_INIT);
    for (int i = 0; i < m->n_nodes; i++) {
        const OpInfo *op = op_info(m->nodes[i].op);
        if (op->init) op->init(m, &m->nodes[i], &r);
    }
    rng_seed(&m->dropout_rng, seed, RNG_STREAM_DROPOUT);
}
