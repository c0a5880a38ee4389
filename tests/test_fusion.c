/* test_fusion.c — fused element-wise passes (plan_fusion: a batch norm
 * applies the activation that alone reads its output in its own passes)
 * compute exactly what the separate passes do.
 *
 * Engine: batchnorm_act_forward_train / _eval / batchnorm_act_backward for
 * relu, leaky, gelu, silu (and none) against batchnorm_* followed by the
 * activation's own kernels, on 1 and 2 threads, channel counts with and
 * without a vector tail, input gradients written and added.
 * maxpool_batchnorm_statistics + batchnorm_act_apply against maxpool_forward
 * + batchnorm_act_forward_train.
 * Model: networks built with fusion (the default) and with CNNRUN_FUSE=0 —
 * conv sections with batchnorm + activation, separate batchnorm and
 * activation sections, the flagship's conv -> maxpool -> batchnorm -> gelu
 * chain, a residual block (a batch norm read by an add is left alone; the
 * add applies the ReLU after it), adds whose inputs keep their gradient in
 * the add's own buffer (plan_shared_gradients: counted, and three graphs
 * where sharing every input would change a gradient before it is read) and
 * experiments/flagship.ini itself — trained for two SGD steps, then
 * evaluated; the plan must really fuse (absorbed activations and max pools
 * giving statistics counted).
 * TOLERANCE: none. Every comparison is memcmp: the fused passes do the same
 * float operations per element in the same order, so results are
 * bit-identical (forward and backward, parameters and running statistics). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/config.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

static const struct {
    const char *name;
    BnActKind kind;
} acts[] = {{"none", BN_ACT_NONE},
            {"relu", BN_ACT_RELU},
            {"leaky", BN_ACT_LEAKY},
            {"gelu", BN_ACT_GELU},
            {"silu", BN_ACT_SILU}};
enum { N_ACTS = sizeof acts / sizeof acts[0] };
#define SLOPE 0.15f

/* The separate passes the model runs without fusion. */
static void act_forward(BnActKind k, size_t n, const float *in, float *out)
{
    switch (k) {
    case BN_ACT_NONE: memcpy(out, in, sizeof(float) * n); break;
    case BN_ACT_RELU: relu_forward(n, in, out); break;
    case BN_ACT_LEAKY: leaky_forward(n, SLOPE, in, out); break;
    case BN_ACT_GELU: gelu_forward(n, in, out); break;
    case BN_ACT_SILU: silu_forward(n, in, out); break;
    }
}

/* in: the activation's input; out: its output (ReLU's mask comes from it, as
 * in the model, where the ReLU may have overwritten its input) */
static void act_backward(BnActKind k, size_t n, const float *in, const float *out,
                         const float *dout, float *din)
{
    switch (k) {
    case BN_ACT_NONE: memcpy(din, dout, sizeof(float) * n); break;
    case BN_ACT_RELU: relu_backward(n, out, dout, din, 0); break;
    case BN_ACT_LEAKY: leaky_backward(n, SLOPE, in, dout, din, 0); break;
    case BN_ACT_GELU: gelu_backward(n, in, dout, din, 0); break;
    case BN_ACT_SILU: silu_backward(n, in, dout, din, 0); break;
    }
}

static float *randn(Rng *r, size_t n, float scale, float shift)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) p[i] = shift + scale * rng_normal(r);
    return p;
}

static float *copy(const float *a, size_t n)
{
    float *p = alloc_floats(n);
    memcpy(p, a, sizeof(float) * n);
    return p;
}

#define SAME(a, b, n, what)                                                                     \
    ck_assert_msg(memcmp((a), (b), sizeof(float) * (n)) == 0,                                   \
                  "%s, %d threads, m %d c %d: %s differs from the separate passes", acts[k].name, \
                  threads, m, c, (what))

/* rows x channels: tiny; > PARALLEL_MIN elements (split over threads) with c
 * a multiple of 16; and with a vector tail (c = 100) */
static const int shapes[][2] = {{18, 3}, {576, 64}, {363, 100}, {7, 1100}}; /* 1100: a row in parts */

START_TEST(test_kernels_equal_separate_passes)
{
    const int k = _i % N_ACTS, shape = _i / N_ACTS;
    const int m = shapes[shape][0], c = shapes[shape][1];
    const size_t n = (size_t)m * c;
    const BnAct act = {acts[k].kind, SLOPE};
    for (int threads = 1; threads <= 2; threads++) {
        engine_set_threads(threads);
        Workspace ws = workspace_alloc(batchnorm_work_floats(c, threads), threads);
        Rng r;
        rng_seed(&r, 13000 + (uint64_t)_i, (uint64_t)threads);
        float *x = randn(&r, n, 1.5f, 0.3f), *gamma = randn(&r, c, 0.3f, 1.0f);
        float *beta = randn(&r, c, 0.5f, 0.0f), *R = randn(&r, n, 1.0f, 0.0f);
        float *din0 = randn(&r, n, 1.0f, 0.0f);
        float *rm = randn(&r, c, 0.1f, 0.0f), *rv = randn(&r, c, 0.1f, 1.0f);
        float *rm2 = copy(rm, c), *rv2 = copy(rv, c);
        float *y = alloc_floats(n), *a = alloc_floats(n), *a2 = alloc_floats(n);
        float *mean = alloc_floats(c), *rstd = alloc_floats(c), *mean2 = alloc_floats(c);
        float *rstd2 = alloc_floats(c), *ss = alloc_floats(2 * (size_t)c);
        /* forward, training */
        batchnorm_forward_train(m, c, x, gamma, beta, y, mean, rstd, rm, rv, 0.1f, 1e-5f, &ws);
        act_forward(act.kind, n, y, a);
        batchnorm_act_forward_train(m, c, x, gamma, beta, act, a2, mean2, rstd2, ss, rm2, rv2,
                                    0.1f, 1e-5f, &ws);
        SAME(a, a2, n, "training output");
        SAME(mean, mean2, c, "mean");
        SAME(rstd, rstd2, c, "rstd");
        SAME(rm, rm2, c, "running mean");
        SAME(rv, rv2, c, "running variance");
        if (act.kind != BN_ACT_NONE) { /* the activation was applied at all */
            int changed = 0;
            for (size_t i = 0; i < n; i++) changed |= a2[i] != y[i];
            ck_assert_msg(changed, "%s: fused output is plain batch norm", acts[k].name);
        }
        /* backward, input gradient written (acc 0) and added (acc 1) */
        for (int acc = 0; acc <= 1; acc++) {
            float *dy = alloc_floats(n), *dx = copy(din0, n), *dx2 = copy(din0, n);
            float *d2 = copy(R, n);
            float *dg = alloc_floats(c), *db = alloc_floats(c), *dg2 = alloc_floats(c);
            float *db2 = alloc_floats(c);
            for (int j = 0; j < c; j++) dg[j] = dg2[j] = 0.25f, db[j] = db2[j] = -0.5f;
            act_backward(act.kind, n, y, a, R, dy);
            batchnorm_backward(m, c, x, gamma, mean, rstd, dy, dx, acc, dg, db, &ws);
            batchnorm_act_backward(m, c, x, gamma, mean2, rstd2, ss, act, d2, dx2, acc, dg2, db2,
                                   &ws);
            SAME(act.kind == BN_ACT_NONE ? R : dy, d2, n,
                 act.kind == BN_ACT_NONE ? "dout (must stay as given)" : "d bn(x) left in dout");
            SAME(dx, dx2, n, acc ? "input gradient (added)" : "input gradient");
            SAME(dg, dg2, c, "d gamma");
            SAME(db, db2, c, "d beta");
            free(dy), free(dx), free(dx2), free(d2), free(dg), free(db), free(dg2), free(db2);
        }
        /* forward, evaluation */
        batchnorm_forward_eval(m, c, x, gamma, beta, y, rm, rv, 1e-5f, &ws);
        act_forward(act.kind, n, y, a);
        batchnorm_act_forward_eval(m, c, x, gamma, beta, act, a2, rm, rv, 1e-5f, &ws);
        SAME(a, a2, n, "evaluation output");
        free(x), free(gamma), free(beta), free(R), free(din0), free(rm), free(rv), free(rm2);
        free(rv2), free(y), free(a), free(a2), free(mean), free(rstd), free(mean2), free(rstd2);
        free(ss);
        workspace_free(&ws);
    }
}
END_TEST

/* maxpool_batchnorm_statistics against maxpool_forward followed by the batch
 * norm's statistics pass (batchnorm_act_forward_train): pool output, argmax
 * and every statistic bit for bit; odd sizes, padding, overlapping windows,
 * element counts below and above PARALLEL_MIN. */
#define SAME_POOL(a, b, n, what)                                                                \
    ck_assert_msg(memcmp((a), (b), sizeof(float) * (n)) == 0,                                   \
                  "pool case %d, %d threads: %s differs from the separate passes", _i, threads,   \
                  (what))

static const struct {
    int n, h, w, c, size, stride, pad;
} pools[] = {{2, 6, 6, 3, 2, 2, 0}, {5, 17, 17, 64, 2, 2, 0}, {3, 13, 11, 100, 3, 1, 1},
             {4, 16, 16, 256, 2, 2, 0}};

START_TEST(test_pool_statistics_equal_separate_passes)
{
    PoolShape s = {.n = pools[_i].n, .h = pools[_i].h, .w = pools[_i].w, .c = pools[_i].c,
                   .size = pools[_i].size, .stride = pools[_i].stride, .pad = pools[_i].pad};
    pool_shape_init(&s);
    const int m = s.n * s.h_out * s.w_out, c = s.c;
    const size_t nin = (size_t)s.n * s.h * s.w * c, nout = (size_t)m * c;
    for (int threads = 1; threads <= 2; threads++) {
        engine_set_threads(threads);
        Workspace ws = workspace_alloc(batchnorm_work_floats(c, threads), threads);
        Rng r;
        rng_seed(&r, 13400 + (uint64_t)_i, (uint64_t)threads);
        float *x = randn(&r, nin, 1.5f, 0.3f), *gamma = randn(&r, c, 0.3f, 1.0f);
        float *beta = randn(&r, c, 0.5f, 0.0f);
        float *rm = randn(&r, c, 0.1f, 0.0f), *rv = randn(&r, c, 0.1f, 1.0f);
        float *rm2 = copy(rm, c), *rv2 = copy(rv, c);
        float *p = alloc_floats(nout), *p2 = alloc_floats(nout), *y = alloc_floats(nout);
        float *y2 = alloc_floats(nout);
        int32_t *am = xmalloc(sizeof(int32_t) * nout), *am2 = xmalloc(sizeof(int32_t) * nout);
        float *mean = alloc_floats(c), *rstd = alloc_floats(c), *ss = alloc_floats(2 * (size_t)c);
        float *mean2 = alloc_floats(c), *rstd2 = alloc_floats(c);
        float *ss2 = alloc_floats(2 * (size_t)c);
        const BnAct gelu = {BN_ACT_GELU, 0};
        maxpool_forward(&s, x, p, am);
        batchnorm_act_forward_train(m, c, p, gamma, beta, gelu, y, mean, rstd, ss, rm, rv, 0.4f,
                                    1e-12f, &ws);
        maxpool_batchnorm_statistics(&s, x, p2, am2, gamma, beta, mean2, rstd2, ss2, rm2, rv2,
                                     0.4f, 1e-12f, &ws);
        batchnorm_act_apply(m, c, p2, ss2, gelu, y2);
        SAME_POOL(p, p2, nout, "pool output");
        ck_assert(memcmp(am, am2, sizeof(int32_t) * nout) == 0);
        SAME_POOL(mean, mean2, c, "mean");
        SAME_POOL(rstd, rstd2, c, "rstd");
        SAME_POOL(ss, ss2, 2 * (size_t)c, "scale and shift");
        SAME_POOL(rm, rm2, c, "running mean");
        SAME_POOL(rv, rv2, c, "running variance");
        SAME_POOL(y, y2, nout, "gelu(bn(pool))");
        free(x), free(gamma), free(beta), free(rm), free(rv), free(rm2), free(rv2), free(p);
        free(p2), free(y), free(y2), free(am), free(am2), free(mean), free(rstd), free(ss);
        free(mean2), free(rstd2), free(ss2);
        workspace_free(&ws);
    }
}
END_TEST

/* ---------------------------------------------------------------- models */

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/cnnrun_fusion_XXXXXX.ini");
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

#define HEAD "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"
static const struct {
    const char *what;
    const char *text; /* NULL: experiments/flagship.ini */
    int absorbed;     /* activations the plan fuses into their batch norm */
    int pools;        /* max pools that compute the next batch norm's statistics */
    int shared;       /* add inputs whose gradient is the add's own buffer */
    int applied;      /* batch norms whose reader (an add) applies them */
} nets[] = {
    {"conv+bn+relu", "[layer.c1]\ntype = conv\nfilters = 8\nbatchnorm = true\nactivation = relu\n"
     "[layer.c2]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\nactivation = relu\n"
     HEAD, 2, 0, 0, 0},
    {"conv+bn+leaky", "[layer.c1]\ntype = conv\nfilters = 8\nbatchnorm = true\n"
     "activation = leaky\nslope = 0.2\n[layer.c2]\ntype = conv\nfilters = 16\nstride = 2\n"
     "batchnorm = true\nactivation = leaky\n" HEAD, 2, 0, 0, 0},
    {"conv+bn+gelu", "[layer.c1]\ntype = conv\nfilters = 8\nbatchnorm = true\nactivation = gelu\n"
     "[layer.c2]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\nactivation = gelu\n"
     HEAD, 2, 0, 0, 0},
    {"conv+bn+silu", "[layer.c1]\ntype = conv\nfilters = 8\nbatchnorm = true\nactivation = silu\n"
     "[layer.c2]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\nactivation = silu\n"
     HEAD, 2, 0, 0, 0},
    {"separate sections", "[layer.c1]\ntype = conv\nfilters = 8\n[layer.bn1]\ntype = batchnorm\n"
     "[layer.a1]\ntype = silu\n[layer.c2]\ntype = conv\nfilters = 16\nstride = 2\n"
     "[layer.bn2]\ntype = batchnorm\n[layer.a2]\ntype = leaky\n[layer.c3]\ntype = conv\n"
     "filters = 16\n[layer.bn3]\ntype = batchnorm\n[layer.a3]\ntype = relu\n" HEAD, 3, 0, 0, 0},
    {"flagship chain", "[layer.c1]\ntype = conv\nfilters = 16\nbias = false\n[layer.pool]\n"
     "type = maxpool\nsize = 2\n[layer.bn1]\ntype = batchnorm\neps = 1e-12\nmomentum = 0.4\n"
     "[layer.act1]\ntype = gelu\n[layer.c2]\ntype = conv\nfilters = 16\nbias = false\n"
     "batchnorm = true\nbn_eps = 1e-12\nbn_momentum = 0.4\nactivation = gelu\n" HEAD, 2, 1, 0, 0},
    /* a max pool computes a batch norm's statistics without an activation after it */
    {"maxpool -> batchnorm", "[layer.c1]\ntype = conv\nfilters = 24\nstride = 2\n"
     "[layer.m]\ntype = maxpool\nsize = 3\nstride = 1\npad = 1\n[layer.bn]\ntype = batchnorm\n"
     HEAD, 0, 1, 0, 0},
    /* the stem's and the block's first ReLU fuse; its second batch norm feeds the add, and
     * both batch norms before the add keep their gradient in the add's */
    {"residual", "[layer.stem]\ntype = conv\nfilters = 8\nbatchnorm = true\nactivation = relu\n"
     "[layer.r]\ntype = residual\nfilters = 16\nstride = 2\n" HEAD, 3, 0, 2, 2},
    /* the block's input shares the add's gradient too: the block's first conv adds into it
     * after the second batch norm has read it */
    {"identity residual", "[layer.stem]\ntype = conv\nfilters = 8\nbatchnorm = true\n"
     "activation = relu\n[layer.r]\ntype = residual\nfilters = 8\n" HEAD, 3, 0, 2, 1},
    /* a's gradient changes (r adds into it) before b's batch norm reads its own: a gets a
     * copy; sum's does as well (its inputs might share) */
    {"a change before a read", "[layer.a]\ntype = conv\nfilters = 8\n[layer.b]\ntype = conv\n"
     "filters = 8\nbatchnorm = true\n[layer.r]\ntype = conv\nfilters = 8\ninput = a\n"
     "[layer.sum]\ntype = add\ninputs = b, a\n[layer.sum2]\ntype = add\ninputs = sum, r\n"
     HEAD, 0, 0, 2, 1},
    /* sum passes the add's gradient on to a, whose batch norm masks it in place before q's
     * conv reads it: sum2 gives sum a copy */
    {"a nested change", "[layer.s]\ntype = conv\nfilters = 8\n[layer.q]\ntype = conv\n"
     "filters = 8\n[layer.a]\ntype = conv\nfilters = 8\ninput = s\nbatchnorm = true\n"
     "activation = relu\n[layer.c]\ntype = conv\nfilters = 8\ninput = s\n[layer.sum]\n"
     "type = add\ninputs = a, c\n[layer.sum2]\ntype = add\ninputs = sum, q\n" HEAD, 1, 0, 3, 0},
    /* both inputs' gradients change (b's ReLU mask in place, b's conv adds into a's): one
     * shares */
    {"two changed inputs", "[layer.a]\ntype = conv\nfilters = 8\nbatchnorm = true\n"
     "activation = relu\n[layer.b]\ntype = conv\nfilters = 8\nbatchnorm = true\n"
     "activation = relu\n[layer.sum]\ntype = add\ninputs = a, b\n" HEAD, 2, 0, 1, 0},
    /* a batch norm read by two layers is left alone */
    {"batch norm read twice", "[layer.c1]\ntype = conv\nfilters = 8\n[layer.bn]\n"
     "type = batchnorm\n[layer.a]\ntype = gelu\n[layer.b]\ntype = relu\ninput = bn\n"
     "[layer.sum]\ntype = add\ninputs = a, b\n" HEAD, 0, 0, 2, 0},
    /* in bf16 on oneDNN's convolutions (where oneDNN runs them: test_bf16_hardware), the
     * stem's batch norm and the first block's add write the next conv's bf16 input beside
     * their fp32 output, and the block's batch norms write theirs alone */
    {"identity residual, bf16", "[experiment]\nprecision = bf16\n[layer.stem]\ntype = conv\n"
     "filters = 16\nbatchnorm = true\nactivation = relu\n[layer.r1]\ntype = residual\n"
     "filters = 16\n[layer.r2]\ntype = residual\nfilters = 16\n" HEAD, 5, 0, 4, 2},
    {"flagship.ini", NULL, 6, 3, 0, 0},
};
enum { N_NETS = sizeof nets / sizeof nets[0] };

static void build(const char *path, bool fused, Experiment *e, Model *m, int batch)
{
    ck_assert_int_eq(experiment_load(path, NULL, 0, e), 0);
    e->engine.no_fuse = !fused; /* CNNRUN_FUSE=0 */
    if (e->precision == PRECISION_BF16) { /* CNNRUN_CONV=onednn */
        e->engine.conv = CONV_CHOICE_FORCED;
        e->engine.conv_forced = CONV_ONEDNN;
    }
    ck_assert_int_eq(model_build(e, batch, m), 0);
}

static int count_stats_given(const Model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        if (n->stats_for < 0) continue;
        k++;
        ck_assert_int_eq(n->stats_for, i + 1);
        ck_assert(m->nodes[i + 1].stats_given);
    }
    return k;
}

static int count_absorbed(const Model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        if (!n->absorbed) continue;
        k++;
        const Node *bn = &m->nodes[n->in[0]];
        ck_assert_int_eq(bn->fuse_act, i);
        ck_assert_ptr_eq(n->out, bn->out);   /* one buffer for bn's and act's output */
        ck_assert_ptr_eq(n->dout, bn->dout); /* and one for their gradients */
    }
    return k;
}

static int count_applied(const Model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].applied_by >= 0) {
            k++;
            ck_assert_int_eq(m->nodes[m->nodes[i].applied_by].op, OP_ADD);
        }
    return k;
}

static int count_shared(const Model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->op == OP_ADD && n->in[j] >= 0 && m->nodes[n->in[j]].dout == n->dout) k++;
    }
    return k;
}

START_TEST(test_models_equal_unfused)
{
    char path[1024];
    if (nets[_i].text) {
        snprintf(path, sizeof path, "%s", write_temp(nets[_i].text));
    } else {
        const char *src = getenv("CNNRUN_SOURCE_DIR");
        ck_assert_ptr_nonnull(src);
        snprintf(path, sizeof path, "%s/experiments/flagship.ini", src);
    }
    const int batch = 3, steps = 2;
    for (int threads = 1; threads <= 2; threads++) {
        engine_set_threads(threads);
        Experiment ef, eu;
        Model f, u;
        build(path, true, &ef, &f, batch);
        build(path, false, &eu, &u, batch);
        ck_assert_int_eq(count_absorbed(&u), 0);
        ck_assert_msg(count_absorbed(&f) == nets[_i].absorbed, "%s: %d activations fused, want %d",
                      nets[_i].what, count_absorbed(&f), nets[_i].absorbed);
        ck_assert_int_eq(count_stats_given(&u), 0);
        ck_assert_msg(count_stats_given(&f) == nets[_i].pools, "%s: %d pools give statistics, "
                      "want %d", nets[_i].what, count_stats_given(&f), nets[_i].pools);
        ck_assert_int_eq(count_shared(&u), 0);
        ck_assert_int_eq(count_applied(&u), 0);
        ck_assert_msg(count_applied(&f) == nets[_i].applied, "%s: %d batch norms applied by "
                      "their reader, want %d", nets[_i].what, count_applied(&f), nets[_i].applied);
        ck_assert_msg(count_shared(&f) == nets[_i].shared, "%s: %d add inputs share its gradient, "
                      "want %d", nets[_i].what, count_shared(&f), nets[_i].shared);
        ck_assert(f.activation_bytes <= u.activation_bytes);
        model_init_params(&f, 13100 + (uint64_t)_i);
        model_init_params(&u, 13100 + (uint64_t)_i);
        Rng r;
        rng_seed(&r, 13200 + (uint64_t)_i, 0);
        float *x = alloc_floats((size_t)batch * 32 * 32 * 3);
        for (size_t i = 0; i < (size_t)batch * 32 * 32 * 3; i++) x[i] = rng_normal(&r);
        int labels[3] = {4, 0, 9};
        Model *ms[2] = {&f, &u};
        float *logits[2];
        for (int s = 0; s < steps; s++) {
            for (int k = 0; k < 2; k++) {
                Model *m = ms[k];
                model_forward(m, x, batch, true);
                softmax_xent(batch, 10, model_logits(m), labels, model_dlogits(m), 1.0f / batch,
                             NULL);
                model_zero_grad(m);
                model_backward(m, x, batch);
            }
            ck_assert_msg(memcmp(model_logits(&f), model_logits(&u), sizeof(float) * batch * 10) ==
                              0, "%s, %d threads, step %d: logits differ", nets[_i].what, threads, s);
            ck_assert_msg(memcmp(f.grads, u.grads, sizeof(float) * f.n_params) == 0,
                          "%s, %d threads, step %d: gradients differ", nets[_i].what, threads, s);
            double norm = 0;
            for (size_t i = 0; i < f.n_params; i++) norm += f.grads[i] * (double)f.grads[i];
            ck_assert_msg(norm > 0, "%s: zero gradient", nets[_i].what);
            for (int k = 0; k < 2; k++)
                for (size_t i = 0; i < ms[k]->n_params; i++)
                    ms[k]->params[i] -= 0.05f * ms[k]->grads[i];
        }
        ck_assert(memcmp(f.state, u.state, sizeof(float) * f.n_state) == 0);
        for (int k = 0; k < 2; k++) {
            model_forward(ms[k], x, batch, false);
            logits[k] = copy(model_logits(ms[k]), (size_t)batch * 10);
        }
        ck_assert_msg(memcmp(logits[0], logits[1], sizeof(float) * batch * 10) == 0,
                      "%s, %d threads: evaluation logits differ", nets[_i].what, threads);
        free(logits[0]), free(logits[1]), free(x);
        model_free(&f), model_free(&u);
        experiment_free(&ef), experiment_free(&eu);
    }
    if (nets[_i].text) unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fusion");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_kernels_equal_separate_passes, 0,
                        N_ACTS * (int)(sizeof shapes / sizeof shapes[0]));
    tcase_add_loop_test(tc, test_pool_statistics_equal_separate_passes, 0,
                        (int)(sizeof pools / sizeof pools[0]));
    tcase_add_loop_test(tc, test_models_equal_unfused, 0, N_NETS);
    suite_add_tcase(s, tc);
    return check_run(s);
}
