/* init.c — parameter initialisation, PyTorch's defaults so that curves are
 * comparable with the reference: conv/linear weights and biases uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform with a=sqrt(5)), BN gamma 1, beta 0,
 * running mean 0, running var 1. */
#include <math.h>

#include "cnnrun/model.h"

static void fill_uniform(float *p, size_t n, float bound, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

void model_init_params(Model *m, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed, 1);
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        float *w = m->params + n->w_off, *b = m->params + n->b_off;
        switch (n->op) {
        case OP_CONV:
        case OP_LINEAR: {
            size_t fan_in = n->w_len / (size_t)n->c;
            float bound = 1.0f / sqrtf((float)fan_in);
            fill_uniform(w, n->w_len, bound, &r);
            fill_uniform(b, n->b_len, bound, &r);
            break;
        }
        case OP_BATCHNORM: {
            float *rm = m->state + n->s_off, *rv = rm + n->c;
            for (int j = 0; j < n->c; j++) {
                w[j] = 1.0f;
                b[j] = 0.0f;
                rm[j] = 0.0f;
                rv[j] = 1.0f;
            }
            break;
        }
        default: break;
        }
    }
    rng_seed(&m->dropout_rng, seed, 7);
}
