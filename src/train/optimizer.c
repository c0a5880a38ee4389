/* optimizer.c — parameter updates with PyTorch's semantics: SGD (momentum,
 * Nesterov, L2 weight decay added to the gradient), Adam, AdamW (decoupled
 * decay), RMSProp, and Muon (muon.c), per parameter group (groups.c resolves
 * which parameter belongs to which). What each optimizer is (name, defaults,
 * state, matrix-only) is its row in src/config/optimizers.c; how it updates
 * is its row here, in `steps`. State is allocated once, at init and bind; a
 * step allocates nothing.
 *
 * A step computes each group's rate, then runs every element-wise group
 * (sgd, adam, adamw, rmsprop) in one parallel pass over the parameter vector
 * (static ranges: the result does not depend on the thread count), then each
 * tensor of a matrix-only group (Muon) on its own (its products split by
 * gemm). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

void optimizer_init(Optimizer *o, const Experiment *e, size_t n)
{
    *o = (Optimizer){0};
    o->type = e->optimizer;
    o->momentum = e->momentum;
    o->nesterov = e->nesterov;
    o->weight_decay = e->weight_decay;
    o->beta1 = e->beta1;
    o->beta2 = e->beta2;
    o->eps = e->eps;
    o->n = n;
    const OptimizerInfo *info = optimizer_info(o->type);
    o->m1 = info->state & OPT_STATE_M1 ? alloc_floats(n) : NULL;
    o->m2 = info->state & OPT_STATE_M2 ? alloc_floats(n) : NULL;
    o->step = 0;
    o->n_groups = 1;
    o->groups = xcalloc(1, sizeof *o->groups);
    o->groups[0] = (OptGroup){.name = "[optimizer]", .type = e->optimizer, .lr_scale = 1.0f,
                              .momentum = e->momentum, .weight_decay = e->weight_decay,
                              .nesterov = e->nesterov, .decoupled = info->decoupled,
                              .ns_steps = e->ns_steps > 0 ? e->ns_steps : 3};
    o->group_lr = xcalloc(1, sizeof *o->group_lr);
    o->n_spans = 1;
    o->spans = xcalloc(1, sizeof *o->spans);
    o->spans[0] = (OptSpan){.off = 0, .len = n, .group = 0};
}

void optimizer_free(Optimizer *o)
{
    free(o->m1);
    free(o->m2);
    free(o->groups);
    free(o->spans);
    free(o->group_lr);
    free(o->muon_work);
    workspace_free(&o->muon_ws);
    o->m1 = o->m2 = o->group_lr = o->muon_work = NULL;
    o->groups = NULL;
    o->spans = NULL;
    o->n_groups = o->n_spans = 0;
}

/* The rate of group g at step s (0-based), or -1: not updated. */
static float group_rate(const OptGroup *g, long s, float lr)
{
    if (g->frozen || (g->steps > 0 && s >= g->steps)) return -1.0f;
    if (g->linear)
        return (float)(g->lr0 * g->lr_scale * (1.0 - (double)s / (double)g->steps));
    return lr * g->lr_scale;
}

struct StepCall {
    Optimizer *o;
    float *w;
    const float *g;
    double bc1, bc2;      /* adam bias corrections of this step */
};

static void sgd_range(const StepCall *c, const OptGroup *gr, float lr, size_t begin, size_t end)
{
    const Optimizer *o = c->o;
    float *w = c->w;
    const float *g = c->g;
    const float mu = gr->momentum, wd = gr->decoupled ? 0.0f : gr->weight_decay;
    float *buf = o->m1;
    if (gr->decoupled && gr->weight_decay != 0.0f)
        for (size_t i = begin; i < end; i++) w[i] *= 1.0f - lr * gr->weight_decay;
    for (size_t i = begin; i < end; i++) {
        float d = g[i] + wd * w[i];
        if (mu != 0.0f) {
            buf[i] = mu * buf[i] + d;
            d = gr->nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}

static void adam_range(const StepCall *c, const OptGroup *gr, float lr, size_t begin, size_t end)
{
    const Optimizer *o = c->o;
    float *w = c->w;
    const float *g = c->g;
    const double bc1 = c->bc1, bc2 = c->bc2;
    const float b1 = o->beta1, b2 = o->beta2, wd = gr->weight_decay;
    const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (size_t i = begin; i < end; i++) {
        float d = g[i];
        if (gr->decoupled)
            w[i] *= 1.0f - lr * wd;
        else
            d += wd * w[i];
        o->m1[i] = b1 * o->m1[i] + (1.0f - b1) * d;
        o->m2[i] = b2 * o->m2[i] + (1.0f - b2) * d * d;
        w[i] -= step * o->m1[i] / (sqrtf(o->m2[i]) * inv_sqrt_bc2 + o->eps);
    }
}

static void rmsprop_range(const StepCall *c, const OptGroup *gr, float lr, size_t begin,
                          size_t end)
{
    const Optimizer *o = c->o;
    float *w = c->w;
    const float *g = c->g;
    /* alpha is [optimizer] beta2, which defaults to PyTorch's alpha 0.99 for
     * rmsprop (src/config/experiment.c) */
    const float alpha = o->beta2, wd = gr->decoupled ? 0.0f : gr->weight_decay;
    if (gr->decoupled && gr->weight_decay != 0.0f)
        for (size_t i = begin; i < end; i++) w[i] *= 1.0f - lr * gr->weight_decay;
    for (size_t i = begin; i < end; i++) {
        float d = g[i] + wd * w[i];
        o->m1[i] = alpha * o->m1[i] + (1.0f - alpha) * d * d;
        w[i] -= lr * d / (sqrtf(o->m1[i]) + o->eps);
    }
}

/* One tensor of a matrix-only group (OptimizerInfo.matrix_only): the span's
 * (rows, cols) weight, its gradient and its momentum. */
static void muon_tensor(Optimizer *o, const OptGroup *gr, const OptSpan *sp, float lr, float *w,
                        const float *g)
{
    muon_update(sp->rows, sp->cols, w, g, o->m1 + sp->off, lr, gr->momentum, gr->nesterov,
                gr->weight_decay, gr->decoupled, gr->ns_steps, o->muon_work, &o->muon_ws);
}

/* How each optimizer updates, one row per OptimizerType (its other facts:
 * src/config/optimizers.c): an element-wise optimizer gives `range`, a
 * matrix-only one `tensor` and the floats its tensors need (work: its own,
 * gemm: gemm's work space over `threads`). test_optimizer_table_complete
 * checks every row against the type's OptimizerInfo. */
static const OptimizerStep steps[] = {
    [OPT_SGD] = {.range = sgd_range},
    [OPT_ADAM] = {.range = adam_range},
    [OPT_ADAMW] = {.range = adam_range},
    [OPT_RMSPROP] = {.range = rmsprop_range},
    [OPT_MUON] = {.tensor = muon_tensor, .work_floats = muon_work_floats,
                  .gemm_floats = muon_gemm_floats},
};
_Static_assert(sizeof steps / sizeof *steps == OPT_COUNT, "one step row per optimizer type");

const OptimizerStep *optimizer_step_of(OptimizerType t)
{
    static const OptimizerStep none = {0};
    return (int)t >= 0 && t < OPT_COUNT ? &steps[t] : &none;
}

/* The element-wise groups over [begin, end) of the parameter vector. */
static void elementwise_range(void *ctx, size_t begin, size_t end)
{
    StepCall *c = ctx;
    const Optimizer *o = c->o;
    for (int k = 0; k < o->n_spans; k++) {
        const OptSpan *sp = &o->spans[k];
        size_t a = sp->off > begin ? sp->off : begin;
        size_t b = sp->off + sp->len < end ? sp->off + sp->len : end;
        if (a >= b) continue;
        const OptGroup *gr = &o->groups[sp->group];
        const float lr = o->group_lr[sp->group];
        if (lr < 0) continue;
        /* matrix-only groups: per tensor, below */
        if (steps[gr->type].range) steps[gr->type].range(c, gr, lr, a, b);
    }
}

void optimizer_step(Optimizer *o, float *params, const float *grads, float lr)
{
    const long s = o->step; /* steps done before this one */
    o->step++;
    bool tensors = false;
    for (int k = 0; k < o->n_groups; k++) {
        o->group_lr[k] = group_rate(&o->groups[k], s, lr);
        tensors |= steps[o->groups[k].type].tensor && o->group_lr[k] >= 0;
    }
    StepCall c = {.o = o, .w = params, .g = grads,
                  .bc1 = 1.0 - pow(o->beta1, (double)o->step),
                  .bc2 = 1.0 - pow(o->beta2, (double)o->step)};
    parallel_for(o->n, elementwise_range, &c);
    if (!tensors) return;
    for (int k = 0; k < o->n_spans; k++) {
        const OptSpan *sp = &o->spans[k];
        const OptGroup *gr = &o->groups[sp->group];
        const float glr = o->group_lr[sp->group];
        if (!steps[gr->type].tensor || glr < 0) continue;
        if (sp->rows <= 0 || !o->muon_work) {
            fprintf(stderr, "cnnrun: internal error: %s needs the network's shapes "
                            "(optimizer_bind)\n", optimizer_type_name(gr->type));
            abort();
        }
        steps[gr->type].tensor(o, gr, sp, glr, params + sp->off, grads + sp->off);
    }
}
