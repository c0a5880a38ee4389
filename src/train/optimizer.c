/* optimizer.c — parameter updates with PyTorch's semantics: SGD (momentum,
 * Nesterov, L2 weight decay added to the gradient), Adam, AdamW (decoupled
 * decay), RMSProp; optionally no decay on BN parameters and biases
 * (optimizer_exclude_decay). State is allocated once at init. */
#include <math.h>
#include <stdlib.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "cnnrun/kernels.h"

void optimizer_init(Optimizer *o, const Experiment *e, size_t n)
{
    o->type = e->optimizer;
    o->momentum = e->momentum;
    o->nesterov = e->nesterov;
    o->weight_decay = e->weight_decay;
    o->beta1 = e->beta1;
    o->beta2 = e->beta2;
    o->eps = e->eps;
    o->n = n;
    o->m1 = alloc_floats(n);
    o->m2 = (o->type == OPT_ADAM || o->type == OPT_ADAMW) ? alloc_floats(n) : NULL;
    o->step = 0;
    o->decay = NULL;
}

void optimizer_exclude_decay(Optimizer *o, const Model *m)
{
    free(o->decay);
    o->decay = alloc_floats(o->n);
    for (size_t i = 0; i < o->n; i++) o->decay[i] = o->weight_decay;
    for (int k = 0; k < m->n_nodes; k++) {
        const Node *n = &m->nodes[k];
        if (op_flags(n->op) & OPF_NORM)
            for (size_t i = 0; i < n->w_len; i++) o->decay[n->w_off + i] = 0.0f;
        for (size_t i = 0; i < n->b_len; i++) o->decay[n->b_off + i] = 0.0f;
    }
}

void optimizer_free(Optimizer *o)
{
    free(o->m1);
    free(o->m2);
    free(o->decay);
    o->m1 = o->m2 = o->decay = NULL;
}

typedef struct {
    Optimizer *o;
    float *w;
    const float *g;
    float lr;
} SgdCall;

static void sgd_range(void *ctx, size_t begin, size_t end)
{
    SgdCall *c = ctx;
    const Optimizer *o = c->o;
    const float mu = o->momentum, wd = o->weight_decay, lr = c->lr;
    float *buf = o->m1, *w = c->w;
    const float *g = c->g;
    for (size_t i = begin; i < end; i++) {
        float d = g[i] + (o->decay ? o->decay[i] : wd) * w[i];
        if (mu != 0.0f) {
            buf[i] = mu * buf[i] + d;
            d = o->nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}

static void sgd(Optimizer *o, float *w, const float *g, float lr)
{
    SgdCall c = {.o = o, .w = w, .g = g, .lr = lr};
    parallel_for(o->n, sgd_range, &c);
}

static void adam(Optimizer *o, float *w, const float *g, float lr, int decoupled)
{
    const float b1 = o->beta1, b2 = o->beta2, wd = o->weight_decay;
    const double bc1 = 1.0 - pow(b1, (double)o->step), bc2 = 1.0 - pow(b2, (double)o->step);
    const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (size_t i = 0; i < o->n; i++) {
        float d = g[i];
        const float wdi = o->decay ? o->decay[i] : wd;
        if (decoupled)
            w[i] *= 1.0f - lr * wdi;
        else
            d += wdi * w[i];
        o->m1[i] = b1 * o->m1[i] + (1.0f - b1) * d;
        o->m2[i] = b2 * o->m2[i] + (1.0f - b2) * d * d;
        w[i] -= step * o->m1[i] / (sqrtf(o->m2[i]) * inv_sqrt_bc2 + o->eps);
    }
}

static void rmsprop(Optimizer *o, float *w, const float *g, float lr)
{
    /* alpha is [optimizer] beta2, which defaults to PyTorch's alpha 0.99 for
     * rmsprop (src/config/experiment.c) */
    const float alpha = o->beta2, wd = o->weight_decay;
    for (size_t i = 0; i < o->n; i++) {
        float d = g[i] + (o->decay ? o->decay[i] : wd) * w[i];
        o->m1[i] = alpha * o->m1[i] + (1.0f - alpha) * d * d;
        w[i] -= lr * d / (sqrtf(o->m1[i]) + o->eps);
    }
}

void optimizer_step(Optimizer *o, float *params, const float *grads, float lr)
{
    o->step++;
    switch (o->type) {
    case OPT_SGD: sgd(o, params, grads, lr); break;
    case OPT_ADAM: adam(o, params, grads, lr, 0); break;
    case OPT_ADAMW: adam(o, params, grads, lr, 1); break;
    case OPT_RMSPROP: rmsprop(o, params, grads, lr); break;
    case OPT_MUON:
    case OPT_COUNT: break; /* muon: the next commit */
    }
}
