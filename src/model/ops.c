/* ops.c — the op table: for every primitive node type, its name, flags, the
 * forward and backward calls into the engine (src/engine) over the planned
 * buffers, its parameter initialisation (PyTorch's defaults, so curves are
 * comparable with the reference: conv/linear weights and biases uniform in
 * +-1/sqrt(fan_in), i.e. kaiming_uniform with a=sqrt(5); BN gamma 1, beta 0,
 * running mean 0, running var 1) and the memory it keeps and borrows. The only
 * file that knows which kernel an op is. */
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "whiten.h"

/* ---- what a call reads and writes ---- */

static const float *in_x(const OpCall *c, int j)
{
    const Node *n = c->n;
    return n->in[j] == NODE_INPUT ? c->input : c->m->nodes[n->in[j]].out;
}

static float *in_dx(const OpCall *c, int j)
{
    const Node *n = c->n;
    return n->in[j] == NODE_INPUT ? NULL : c->m->nodes[n->in[j]].dout;
}

static size_t out_count(const Node *n, size_t batch)
{
    return batch * (size_t)n->c * n->h * n->w;
}

static size_t count(const OpCall *c)
{
    return out_count(c->n, (size_t)c->batch);
}

static void in_shape(const Model *m, const Node *n, int *c, int *h, int *w)
{
    model_tensor_shape(m, n->in[0], c, h, w);
}

static const float *weight(const OpCall *c) { return c->m->params + c->n->w_off; }
static const float *bias(const OpCall *c) { return c->n->b_len ? c->m->params + c->n->b_off : NULL; }
static float *dweight(const OpCall *c) { return c->m->grads + c->n->w_off; }
static float *dbias(const OpCall *c) { return c->n->b_len ? c->m->grads + c->n->b_off : NULL; }

/* the model's shared work space (plan.c sizes it by every row's scratch_floats),
 * its products in the run's precision */
static Workspace ws(const OpCall *c)
{
    Workspace w = {.f = c->m->scratch, .floats = c->m->n_scratch, .threads = c->m->threads,
                   .precision = c->m->exp->precision, .bn_sync = c->m->bn_sync};
    return w;
}

/* floats kept per image from forward to backward: one per output element */
static size_t saved_per_element(const Model *m, const Node *n, size_t batch)
{
    (void)m;
    return out_count(n, batch);
}

static void fill_uniform(float *p, size_t n, float bound, Rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = (2.0f * rng_uniform(r) - 1.0f) * bound;
}

/* conv and linear: weights, then biases, uniform in +-1/sqrt(fan_in) */
static void init_fan_in(Model *m, Node *n, Rng *r)
{
    size_t fan_in = n->w_len / (size_t)n->c;
    float bound = 1.0f / sqrtf((float)fan_in);
    fill_uniform(m->params + n->w_off, n->w_len, bound, r);
    fill_uniform(m->params + n->b_off, n->b_len, bound, r);
}

/* ---- conv ---- */

static ConvShape conv_shape(const Model *m, const Node *n, int batch)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    ConvShape s = {.n = batch, .h = h, .w = w, .c_in = c, .c_out = n->c, .kh = n->size,
                   .kw = n->size, .stride = n->stride, .pad = n->pad, .algo = n->algo,
                   .threads = m->threads, .dwsplit = m->exp->engine.dwsplit,
                   .precision = m->exp->precision};
    conv_shape_init(&s);
    return s;
}

/* Whether conv node i's output gradient travels as bf16 bits: it is read by
 * one node only, the batch norm right after it, whose backward writes that
 * gradient first (in_acc 0), and the conv takes it so (conv_takes_bf16_dout:
 * oneDNN runs both its backward products, no bias). The batch norm then
 * writes it as bf16 into the conv's gradient slot, and the conv converts
 * nothing: the same bits as converting the fp32 gradient. Both ask this. */
static int dout_in_bf16(const Model *m, int i, int batch)
{
    const Node *conv = &m->nodes[i];
    if (conv->op != OP_CONV || conv->readers != 1 || i + 1 >= m->n_nodes) return 0;
    const Node *bn = &m->nodes[i + 1];
    if (bn->op != OP_BATCHNORM || bn->n_in != 1 || bn->in[0] != i || bn->in_acc[0]) return 0;
    ConvShape s = conv_shape(m, conv, batch);
    return conv_takes_bf16_dout(&s, conv->b_len > 0);
}

/* How conv node i's input reaches it in training (both ask this):
 * IN_FP32: as fp32, which the conv converts. IN_BF16: as bf16 bits only, in
 * the conv's saved copy of its input: it is the output of the batch norm
 * before it (or of the activation that batch norm applies, plan_fusion),
 * which it alone reads; the batch norm writes its output so, and nothing
 * reads the fp32 buffer. IN_BOTH: the producer before it, a batch norm or an
 * add (with the activation it applies) whose output others read too, writes
 * the bf16 copy beside the fp32 output in the same pass (not with
 * CNNRUN_FUSE=0). Either way oneDNN runs all of the conv's products
 * (conv_takes_bf16_input), and the bits are those of converting the input. */
enum { IN_FP32, IN_BF16, IN_BOTH };

static int conv_input_form(const Model *m, int i, int batch, int training)
{
    const Node *conv = &m->nodes[i];
    const int p = conv->in[0];
    if (!training || conv->op != OP_CONV || conv->n_in != 1 || p < 0 || p + 1 != i ||
        !conv->saved)
        return IN_FP32;
    const int b = m->nodes[p].absorbed ? m->nodes[p].in[0] : p;
    const Node *prod = &m->nodes[b];
    if (prod->fuse_act != (b == p ? -1 : p)) return IN_FP32;
    int form;
    if (prod->op == OP_BATCHNORM && !prod->stats_given)
        form = m->nodes[p].readers == 1 ? IN_BF16 : IN_BOTH;
    else if (prod->op == OP_ADD)
        form = IN_BOTH;
    else
        return IN_FP32;
    if (form == IN_BOTH && m->exp->engine.no_fuse) return IN_FP32;
    ConvShape s = conv_shape(m, conv, batch);
    return conv_takes_bf16_input(&s) ? form : IN_FP32;
}

/* The bf16 copy a node's forward writes besides (or instead of) its output:
 * the saved input copy of the conv right after it (or after the activation
 * it applies), or NULL; *only (where not NULL): the fp32 output is not
 * written. */
static uint16_t *bf16_copy_for_next(const OpCall *c, int *only)
{
    const Node *n = c->n;
    const int next = (n->fuse_act >= 0 ? n->fuse_act : (int)(n - c->m->nodes)) + 1;
    const int form = next < c->m->n_nodes ? conv_input_form(c->m, next, c->batch, c->training)
                                          : IN_FP32;
    if (only) *only = form == IN_BF16;
    return form == IN_FP32 ? NULL : (uint16_t *)c->m->nodes[next].saved;
}

/* saved: the input's bf16 copy, from forward to backward (conv_keep_floats:
 * bf16 on oneDNN's path only) */
static void conv_fwd(const OpCall *c)
{
    ConvShape s = conv_shape(c->m, c->n, c->batch);
    if (conv_input_form(c->m, (int)(c->n - c->m->nodes), c->batch, c->training) != IN_FP32)
        conv_forward_bf16in(&s, weight(c), bias(c), c->n->out, c->m->scratch, c->n->saved);
    else
        conv_forward_keep(&s, in_x(c, 0), weight(c), bias(c), c->n->out, c->m->scratch,
                          c->n->saved);
}

static void conv_bwd(const OpCall *c)
{
    ConvShape s = conv_shape(c->m, c->n, c->batch);
    if (dout_in_bf16(c->m, (int)(c->n - c->m->nodes), c->batch))
        conv_backward_bf16(&s, in_x(c, 0), weight(c), (const uint16_t *)c->n->dout, in_dx(c, 0),
                           c->n->in_acc[0], dweight(c), c->m->scratch, c->n->saved);
    else
        conv_backward_keep(&s, in_x(c, 0), weight(c), c->n->dout, in_dx(c, 0), c->n->in_acc[0],
                           dweight(c), dbias(c), c->m->scratch, c->n->saved);
}

static size_t conv_saved(const Model *m, const Node *n, size_t batch)
{
    ConvShape s = conv_shape(m, n, (int)batch);
    return conv_keep_floats(&s);
}

static size_t conv_scratch(const Model *m, const Node *n, int batch)
{
    ConvShape s = conv_shape(m, n, batch);
    return conv_scratch_floats(&s);
}

/* Weights (KH, KW, C_in, C_out) after the default init: init = dirac makes
 * output filter o < C_in the identity on input channel o (centre tap 1, the
 * rest 0), as torch.nn.init.dirac_ does to the first C_in filters; the others
 * keep their random values. The random stream is drawn as without it. */
static void conv_init(Model *m, Node *n, Rng *r)
{
    init_fan_in(m, n, r);
    if (n->init != CONV_INIT_DIRAC) return;
    const size_t cin = n->w_len / ((size_t)n->size * n->size * n->c), cout = (size_t)n->c;
    const size_t centre = (size_t)(n->size / 2) * n->size + n->size / 2;
    float *w = m->params + n->w_off;
    for (size_t tap = 0; tap < (size_t)n->size * n->size; tap++)
        for (size_t ci = 0; ci < cin; ci++)
            for (size_t o = 0; o < cin; o++)
                w[(tap * cin + ci) * cout + o] = tap == centre && ci == o ? 1.0f : 0.0f;
}

static int conv_check(const Model *m, const Node *n, char *err, size_t errlen)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    if (n->init == CONV_INIT_WHITEN && n->c != 2 * n->size * n->size * c) {
        snprintf(err, errlen, "init = whiten makes 2 x size x size x input channels = 2 x %d x %d "
                 "x %d = %d filters (each eigenvector of the patch covariance and its negative), "
                 "got filters = %d", n->size, n->size, c, 2 * n->size * n->size * c, n->c);
        return -1;
    }
    if (n->init == CONV_INIT_DIRAC && (n->c < c || n->size % 2 == 0)) {
        if (n->size % 2 == 0)
            snprintf(err, errlen, "init = dirac needs a kernel with a centre (an odd size), got "
                     "size %d", n->size);
        else
            snprintf(err, errlen, "init = dirac needs at least as many filters as input channels "
                     "(%d), got filters = %d", c, n->c);
        return -1;
    }
    return 0;
}

/* init = whiten: the filters from the uncentred covariance of the layer's
 * input patches (whiten.c); the bias keeps its default init. */
static int whiten_images(const Node *n)
{
    return n->init == CONV_INIT_WHITEN ? n->init_images : 0;
}

static size_t whiten_stat_doubles(const Model *m, const Node *n)
{
    size_t d = n->w_len / (size_t)n->c;
    (void)m;
    return d * d;
}

static void whiten_accumulate(const Model *m, const Node *n, const float *x, int batch,
                              double *stat)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    whiten_moments_add(batch, h, w, c, n->size, n->size, x, stat);
}

static int whiten_finish(Model *m, Node *n, const double *stat, int images, char *err,
                         size_t errlen)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    double patches = (double)images * (h - n->size + 1) * (w - n->size + 1);
    int d = (int)(n->w_len / (size_t)n->c);
    int info = whiten_weights(d, stat, patches, n->init_eps, m->params + n->w_off);
    if (info != 0) {
        snprintf(err, errlen, "init = whiten: the eigendecomposition of the %dx%d patch covariance "
                 "failed (LAPACK ssyevd info %d)", d, d, info);
        return -1;
    }
    return 0;
}

static const DataInit whiten_init = {whiten_images, whiten_stat_doubles, whiten_accumulate,
                                     whiten_finish};

/* ---- batch norm ---- */

/* The activation plan_fusion gave this batch norm to apply in its own passes
 * (BN_ACT_NONE: none); its output buffer is then also that node's. */
static BnAct fused_act(const OpCall *c)
{
    BnAct a = {BN_ACT_NONE, 0.0f};
    if (c->n->fuse_act >= 0) {
        const Node *act = &c->m->nodes[c->n->fuse_act];
        a.kind = (BnActKind)op_info(act->op)->bn_act;
        a.slope = act->slope;
    }
    return a;
}

/* saved: mean (c), rstd (c), then the scale and shift (2c) forward applied */
static void bn_fwd(const OpCall *c)
{
    Node *n = c->n;
    int rows = c->batch * n->h * n->w;
    float *rm = c->m->state + n->s_off, *rv = rm + n->c;
    Workspace w = ws(c);
    /* the conv after it (or after its activation) that takes its output as bf16 */
    int only;
    uint16_t *copy = bf16_copy_for_next(c, &only);
    if (n->applied_by >= 0 && c->training) /* its reader applies scale and shift */
        batchnorm_statistics(rows, n->c, in_x(c, 0), weight(c), bias(c), n->saved,
                             n->saved + n->c, n->saved + 2 * n->c, rm, rv, n->momentum, n->eps,
                             &w);
    else if (n->applied_by >= 0)
        batchnorm_eval_coefficients(n->c, weight(c), bias(c), rm, rv, n->eps, n->saved + 2 * n->c);
    else if (c->training && n->stats_given) /* its producer computed mean..shift and rm, rv */
        batchnorm_act_apply(rows, n->c, in_x(c, 0), n->saved + 2 * n->c, fused_act(c), n->out);
    else if (copy)
        batchnorm_act_forward_train_bf16(rows, n->c, in_x(c, 0), weight(c), bias(c), fused_act(c),
                                         copy, only ? NULL : n->out, n->saved, n->saved + n->c,
                                         n->saved + 2 * n->c, rm, rv, n->momentum, n->eps, &w);
    else if (c->training)
        batchnorm_act_forward_train(rows, n->c, in_x(c, 0), weight(c), bias(c), fused_act(c),
                                    n->out, n->saved, n->saved + n->c, n->saved + 2 * n->c, rm,
                                    rv, n->momentum, n->eps, &w);
    else
        batchnorm_act_forward_eval(rows, n->c, in_x(c, 0), weight(c), bias(c), fused_act(c),
                                   n->out, rm, rv, n->eps, &w);
}

/* n->dout: with a fused activation, its output's gradient (the two share the
 * slot), turned into the batch norm's in place */
static void bn_bwd(const OpCall *c)
{
    Node *n = c->n;
    Workspace w = ws(c);
    if (n->in[0] >= 0 && dout_in_bf16(c->m, n->in[0], c->batch))
        batchnorm_act_backward_bf16(c->batch * n->h * n->w, n->c, in_x(c, 0), weight(c), n->saved,
                                    n->saved + n->c, n->saved + 2 * n->c, fused_act(c), n->dout,
                                    (uint16_t *)in_dx(c, 0), dweight(c), dbias(c), &w);
    else
        batchnorm_act_backward(c->batch * n->h * n->w, n->c, in_x(c, 0), weight(c), n->saved,
                               n->saved + n->c, n->saved + 2 * n->c, fused_act(c), n->dout,
                               in_dx(c, 0), n->in_acc[0], dweight(c), dbias(c), &w);
}

static size_t bn_scratch(const Model *m, const Node *n, int batch)
{
    (void)batch;
    return batchnorm_work_floats(n->c, m->threads);
}

static void bn_init(Model *m, Node *n, Rng *r)
{
    (void)r;
    float *w = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->state + n->s_off, *rv = rm + n->c;
    for (int j = 0; j < n->c; j++) {
        w[j] = 1.0f;
        b[j] = 0.0f;
        rm[j] = 0.0f;
        rv[j] = 1.0f;
    }
}

/* mean, rstd, scale and shift per channel */
static size_t bn_saved(const Model *m, const Node *n, size_t batch)
{
    (void)m, (void)batch;
    return 4 * (size_t)n->c;
}

/* ---- element-wise activations ---- */

static void relu_fwd(const OpCall *c) { relu_forward(count(c), in_x(c, 0), c->n->out); }
static void relu_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0); /* the mask comes from the output: the input may be overwritten */
    if (dx) relu_backward(count(c), c->n->out, c->n->dout, dx, c->n->in_acc[0]);
}

static void leaky_fwd(const OpCall *c)
{
    leaky_forward(count(c), c->n->slope, in_x(c, 0), c->n->out);
}
static void leaky_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (dx) leaky_backward(count(c), c->n->slope, in_x(c, 0), c->n->dout, dx, c->n->in_acc[0]);
}

static void gelu_fwd(const OpCall *c) { gelu_forward(count(c), in_x(c, 0), c->n->out); }
static void gelu_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (dx) gelu_backward(count(c), in_x(c, 0), c->n->dout, dx, c->n->in_acc[0]);
}

static void silu_fwd(const OpCall *c) { silu_forward(count(c), in_x(c, 0), c->n->out); }
static void silu_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (dx) silu_backward(count(c), in_x(c, 0), c->n->dout, dx, c->n->in_acc[0]);
}

/* ---- pooling ---- */

static PoolShape pool_shape(const Model *m, const Node *n, int batch)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    PoolShape s = {.n = batch, .h = h, .w = w, .c = c, .size = n->size, .stride = n->stride,
                   .pad = n->pad};
    pool_shape_init(&s);
    return s;
}

/* With stats_for (plan_fusion), training also computes that batch norm's
 * statistics into its saved tensor and running statistics, as bn_fwd would. */
static void maxpool_fwd(const OpCall *c)
{
    PoolShape s = pool_shape(c->m, c->n, c->batch);
    if (c->training && c->n->stats_for >= 0) {
        const OpCall bc = {.m = c->m, .n = &c->m->nodes[c->n->stats_for]};
        const Node *bn = bc.n;
        float *rm = c->m->state + bn->s_off, *rv = rm + bn->c;
        Workspace w = ws(c);
        maxpool_batchnorm_statistics(&s, in_x(c, 0), c->n->out, (int32_t *)c->n->saved,
                                     weight(&bc), bias(&bc), bn->saved, bn->saved + bn->c,
                                     bn->saved + 2 * bn->c, rm, rv, bn->momentum, bn->eps, &w);
    } else {
        maxpool_forward(&s, in_x(c, 0), c->n->out, (int32_t *)c->n->saved);
    }
}
static void maxpool_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (!dx) return;
    PoolShape s = pool_shape(c->m, c->n, c->batch);
    maxpool_backward(&s, (const int32_t *)c->n->saved, c->n->dout, dx, c->n->in_acc[0]);
}

static size_t maxpool_scratch(const Model *m, const Node *n, int batch)
{
    (void)batch;
    return n->stats_for >= 0 ? batchnorm_work_floats(n->c, m->threads) : 0;
}

static void avgpool_fwd(const OpCall *c)
{
    PoolShape s = pool_shape(c->m, c->n, c->batch);
    avgpool_forward(&s, in_x(c, 0), c->n->out);
}
static void avgpool_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (!dx) return;
    PoolShape s = pool_shape(c->m, c->n, c->batch);
    avgpool_backward(&s, c->n->dout, dx, c->n->in_acc[0]);
}

static void gap_fwd(const OpCall *c)
{
    int ch, h, w;
    in_shape(c->m, c->n, &ch, &h, &w);
    global_avgpool_forward(c->batch, h * w, ch, in_x(c, 0), c->n->out);
}
static void gap_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (!dx) return;
    int ch, h, w;
    in_shape(c->m, c->n, &ch, &h, &w);
    global_avgpool_backward(c->batch, h * w, ch, c->n->dout, dx, c->n->in_acc[0]);
}

/* ---- linear ---- */

/* `scale` multiplies the output: out = scale * (x W + b), so backward runs
 * on scale * dout, which it keeps at the start of the work space (rounded to
 * 16 floats, the work space's 64-byte alignment). scale 1 multiplies nothing. */
static size_t scaled_dout_floats(const Node *n, int batch)
{
    return n->scale == 1.0f ? 0 : ((size_t)batch * n->c + 15) / 16 * 16;
}

static void linear_fwd(const OpCall *c)
{
    int ch, h, w;
    in_shape(c->m, c->n, &ch, &h, &w);
    Workspace work = ws(c);
    linear_forward(c->batch, ch, c->n->c, in_x(c, 0), weight(c), bias(c), c->n->out, &work);
    if (c->n->scale != 1.0f) {
        const float s = c->n->scale;
        float *out = c->n->out;
        for (size_t i = 0, k = count(c); i < k; i++) out[i] *= s;
    }
}
static void linear_bwd(const OpCall *c)
{
    int ch, h, w;
    in_shape(c->m, c->n, &ch, &h, &w);
    Workspace work = ws(c);
    const float *dout = c->n->dout;
    size_t keep = scaled_dout_floats(c->n, c->batch);
    if (keep) {
        const float s = c->n->scale;
        float *scaled = work.f;
        for (size_t i = 0, k = count(c); i < k; i++) scaled[i] = s * dout[i];
        dout = scaled;
        work.f += keep;
        work.floats -= keep;
    }
    linear_backward(c->batch, ch, c->n->c, in_x(c, 0), weight(c), dout, in_dx(c, 0),
                    c->n->in_acc[0], dweight(c), dbias(c), &work);
}

static size_t linear_scratch(const Model *m, const Node *n, int batch)
{
    int ch, h, w;
    in_shape(m, n, &ch, &h, &w);
    return linear_work_floats(batch, ch, n->c, m->threads) + scaled_dout_floats(n, batch);
}

/* init = unit_std: the default weights divided by their sample standard
 * deviation (n - 1), as `w.mul_(1 / w.std())`; a weight of one entry, or of
 * equal entries, is left alone. */
static void linear_init(Model *m, Node *n, Rng *r)
{
    init_fan_in(m, n, r);
    if (n->init != LINEAR_INIT_UNIT_STD || n->w_len < 2) return;
    float *w = m->params + n->w_off;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n->w_len; i++) sum += w[i];
    const double mean = sum / (double)n->w_len;
    for (size_t i = 0; i < n->w_len; i++) sq += (w[i] - mean) * (w[i] - mean);
    const double sd = sqrt(sq / (double)(n->w_len - 1));
    if (!(sd > 0)) return;
    const float f = (float)(1.0 / sd);
    for (size_t i = 0; i < n->w_len; i++) w[i] *= f;
}

/* ---- dropout, flatten ---- */

static void dropout_fwd(const OpCall *c)
{
    Node *n = c->n;
    size_t k = count(c);
    if (!c->training) {
        memcpy(n->out, in_x(c, 0), sizeof(float) * k);
        return;
    }
    float keep = 1.0f - n->probability, scale = 1.0f / keep;
    Model *m = c->m;
    /* one draw per element, image after image of the global batch: a rank
     * skips the draws of the images before and after its own */
    const size_t per_image = k / (size_t)c->batch;
    const int shard = m->shard_total > c->batch;
    if (shard) rng_advance(&m->dropout_rng, per_image * (size_t)m->shard_lo);
    for (size_t i = 0; i < k; i++)
        n->saved[i] = rng_uniform(&m->dropout_rng) < keep ? scale : 0.0f;
    if (shard)
        rng_advance(&m->dropout_rng,
                    per_image * (size_t)(m->shard_total - m->shard_lo - c->batch));
    dropout_forward(k, in_x(c, 0), n->saved, n->out);
}
static void dropout_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (dx) dropout_backward(count(c), c->n->saved, c->n->dout, dx, c->n->in_acc[0]);
}

static void flatten_fwd(const OpCall *c)
{
    memcpy(c->n->out, in_x(c, 0), sizeof(float) * count(c));
}
static void flatten_bwd(const OpCall *c)
{
    float *dx = in_dx(c, 0);
    if (!dx) return;
    size_t k = count(c);
    if (c->n->in_acc[0])
        for (size_t i = 0; i < k; i++) dx[i] += c->n->dout[i];
    else
        memcpy(dx, c->n->dout, sizeof(float) * k);
}

/* ---- joins ---- */

static int join_inputs(const OpCall *c, const float **ins, float **dins, int *cs)
{
    const Node *n = c->n;
    for (int j = 0; j < n->n_in; j++) {
        if (ins) ins[j] = in_x(c, j);
        if (dins) dins[j] = in_dx(c, j);
        cs[j] = n->in[j] == NODE_INPUT ? c->m->in_c : c->m->nodes[n->in[j]].c;
    }
    return n->n_in;
}

/* Input j's batch norm scale and shift, where this node applies them
 * (plan_fusion: the batch norm wrote only them), with *x its input; NULL
 * where input j is as it is. */
static const float *applied_norm(const OpCall *c, int j, const float **x)
{
    const int p = c->n->in[j];
    if (p < 0 || c->m->nodes[p].applied_by != (int)(c->n - c->m->nodes)) return NULL;
    const Node *bn = &c->m->nodes[p];
    *x = bn->in[0] == NODE_INPUT ? c->input : c->m->nodes[bn->in[0]].out;
    return bn->saved + 2 * bn->c;
}

static void add_fwd(const OpCall *c)
{
    const float *ins[CN_MAX_INPUTS], *coef[CN_MAX_INPUTS];
    int cs[CN_MAX_INPUTS];
    int k = join_inputs(c, ins, NULL, cs);
    for (int j = 0; j < k; j++) coef[j] = applied_norm(c, j, &ins[j]);
    uint16_t *copy = bf16_copy_for_next(c, NULL); /* an add's output is read by others too */
    /* the batch norms' outputs (plan_fusion) as it reads them, the ReLU after it, and the
     * next conv's bf16 input (conv_input_form) in the same pass */
    add_norm_forward((size_t)c->batch * c->n->h * c->n->w, c->n->c, k, ins, coef,
                     c->n->fuse_act >= 0, c->n->out, copy);
}

static void add_bwd(const OpCall *c)
{
    float *dins[CN_MAX_INPUTS];
    int cs[CN_MAX_INPUTS];
    int k = join_inputs(c, NULL, dins, cs);
    if (c->n->fuse_act >= 0) /* n->dout: the ReLU's output gradient, the slot they share */
        add_relu_backward(count(c), k, c->n->out, c->n->dout, dins, c->n->in_acc);
    else
        add_backward(count(c), k, c->n->dout, dins, c->n->in_acc);
}

static void concat_fwd(const OpCall *c)
{
    const float *ins[CN_MAX_INPUTS];
    int cs[CN_MAX_INPUTS];
    int k = join_inputs(c, ins, NULL, cs);
    concat_forward((size_t)c->batch * c->n->h * c->n->w, k, cs, ins, c->n->out);
}
static void concat_bwd(const OpCall *c)
{
    float *dins[CN_MAX_INPUTS];
    int cs[CN_MAX_INPUTS];
    int k = join_inputs(c, NULL, dins, cs);
    concat_backward((size_t)c->batch * c->n->h * c->n->w, k, cs, c->n->dout, dins, c->n->in_acc);
}

/* ---- the table ---- */

#define PLAIN .layer_type = -1, .activation = -1
static const OpInfo table[] = {
    [OP_CONV] = {"conv", OPF_PARAMS, PLAIN, conv_fwd, conv_bwd, conv_init, conv_saved, conv_scratch,
                 conv_check, &whiten_init, .conv_shape = conv_shape,
                 .weight_kind = PK_CONV_WEIGHT, .bias_kind = PK_BIAS},
    [OP_BATCHNORM] = {"bn", OPF_PARAMS | OPF_NORM | OPF_RUNNING_STATS | OPF_APPLIES_ACTIVATION |
                      OPF_TAKES_STATISTICS | OPF_LEAVES_APPLY, PLAIN, bn_fwd, bn_bwd, bn_init, bn_saved, bn_scratch,
                      .weight_kind = PK_BN_WEIGHT, .bias_kind = PK_BN_BIAS},
    [OP_RELU] = {"relu", OPF_INPLACE | OPF_BACKWARD_READS_OUTPUT, LT_RELU, ACT_RELU, relu_fwd,
                 relu_bwd, NULL, NULL, NULL, .bn_act = BN_ACT_RELU},
    [OP_LEAKY] = {"leaky", 0, LT_LEAKY, ACT_LEAKY, leaky_fwd, leaky_bwd, NULL, NULL, NULL,
                  .bn_act = BN_ACT_LEAKY},
    [OP_GELU] = {"gelu", 0, LT_GELU, ACT_GELU, gelu_fwd, gelu_bwd, NULL, NULL, NULL,
                 .bn_act = BN_ACT_GELU},
    [OP_MAXPOOL] = {"maxpool", OPF_GIVES_STATISTICS, PLAIN, maxpool_fwd, maxpool_bwd, NULL,
                    saved_per_element, maxpool_scratch},
    [OP_AVGPOOL] = {"avgpool", 0, PLAIN, avgpool_fwd, avgpool_bwd, NULL, NULL, NULL},
    [OP_GLOBAL_AVGPOOL] = {"global_avgpool", 0, PLAIN, gap_fwd, gap_bwd, NULL, NULL, NULL},
    [OP_LINEAR] = {"linear", OPF_PARAMS, PLAIN, linear_fwd, linear_bwd, linear_init, NULL,
                   linear_scratch, .weight_kind = PK_LINEAR_WEIGHT, .bias_kind = PK_BIAS},
    [OP_DROPOUT] = {"dropout", 0, PLAIN, dropout_fwd, dropout_bwd, NULL, saved_per_element, NULL},
    [OP_FLATTEN] = {"flatten", 0, PLAIN, flatten_fwd, flatten_bwd, NULL, NULL, NULL},
    [OP_ADD] = {"add", OPF_APPLIES_RELU | OPF_PASSES_GRADIENT | OPF_APPLIES_INPUT_NORM, PLAIN, add_fwd, add_bwd, NULL, NULL, NULL},
    [OP_CONCAT] = {"concat", 0, PLAIN, concat_fwd, concat_bwd, NULL, NULL, NULL},
    [OP_SILU] = {"silu", 0, LT_SILU, ACT_SILU, silu_fwd, silu_bwd, NULL, NULL, NULL,
                 .bn_act = BN_ACT_SILU},
};
_Static_assert(sizeof table / sizeof *table == OP_COUNT, "a row in the op table for every op");

const OpInfo *op_info(OpType op)
{
    return &table[op];
}

const char *op_name(OpType op)
{
    return (unsigned)op < OP_COUNT && table[op].name ? table[op].name : "?";
}

unsigned op_flags(OpType op)
{
    return table[op].flags;
}

unsigned op_param_kind(OpType op, bool bias)
{
    return bias ? table[op].bias_kind : table[op].weight_kind;
}
