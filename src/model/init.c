/* init.c — parameter initialisation: from the seed, each node's op-table row
 * (ops.c) initialises its parameters and state from one random stream, in
 * node order, with PyTorch's defaults and what the layer's `init` adds; then,
 * once per fresh run, the rows with a data-dependent initialisation (conv
 * whiten) set their parameters from the training images. */
#include <stdlib.h>

#include "build.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"
#include "graph.h"
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

static int wanted_images(const Node *n)
{
    const DataInit *d = op_info(n->op)->data_init;
    return d ? d->images(n) : 0;
}

int model_init_images(const Model *m)
{
    int most = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        int k = wanted_images(&m->nodes[i]);
        if (k > most) most = k;
    }
    return most;
}

/* Nodes in order, so a data-dependent layer after another sees the input the
 * first one's new weights give. The layers before a node run in evaluation
 * mode (running statistics, no dropout) and change no state. */
int model_init_from_data(Model *m, const float *images, int n)
{
    const size_t pixels = (size_t)m->in_c * m->in_h * m->in_w;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *node = &m->nodes[i];
        int want = wanted_images(node);
        if (want == 0) continue;
        if (m->max_batch <= 0 || n <= 0 || !images) {
            model_error(m->exp, node->section, "the initialisation from data needs training "
                        "images and a model built with buffers");
            return -1;
        }
        const DataInit *d = op_info(node->op)->data_init;
        const int k = want < n ? want : n;
        double *stat = xcalloc(d->stat_doubles(m, node), sizeof(double));
        for (int start = 0; start < k; start += m->max_batch) {
            const int b = k - start < m->max_batch ? k - start : m->max_batch;
            const float *chunk = images + (size_t)start * pixels;
            const float *x = chunk;
            if (node->in[0] != NODE_INPUT) {
                model_forward_nodes(m, chunk, b, false, i);
                x = m->nodes[node->in[0]].out;
            }
            d->accumulate(m, node, x, b, stat);
        }
        char err[512];
        int rc = d->finish(m, node, stat, k, err, sizeof err);
        free(stat);
        if (rc != 0) {
            model_error(m->exp, node->section, "%s", err);
            return -1;
        }
    }
    return 0;
}
