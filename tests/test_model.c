/* test_model.c — the model builder: the study's experiment files give
 * exactly PyTorch's parameter counts; composite blocks (residual, inception)
 * compute exactly what the same block written out with plain layers does;
 * shape errors name file, line and both shapes; flatten's forward and
 * backward against a hand-computed reference and finite differences. */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"
#include "../src/model/ops.h" /* white-box: the op table */
#include "cnnrun/data.h"
#include "cnnrun/train.h"
#include "golden/fixture.h"

/* write_temp's files, removed when the test's process exits */
static char temps[256][64];
static int n_temps;

static void remove_temps(void)
{
    for (int i = 0; i < n_temps; i++) unlink(temps[i]);
    n_temps = 0;
}

static char *write_temp(const char *text)
{
    if (n_temps == 0) atexit(remove_temps);
    ck_assert_int_lt(n_temps, 256);
    char *path = temps[n_temps++];
    snprintf(path, sizeof temps[0], "/tmp/cnnrun_model_XXXXXX.ini");
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

static int load_and_build(const char *path, Experiment *e, Model *m, int batch)
{
    if (experiment_load(path, NULL, 0, e) != 0) return -1;
    if (model_build(e, batch, m) != 0) {
        experiment_free(e);
        return -1;
    }
    return 0;
}

static const struct {
    const char *file;
    long params;
} counts[] = {
    {"vgg11", 9231114},    {"vgg13", 9416010},    {"vgg16", 14728266},   {"vgg19", 20040522},
    {"resnet18", 11173962}, {"resnet34", 21282122}, {"googlenet", 6166250},
    /* the seed's study as one directory (docs/seed-study.md): the same files */
    {"seed-study/vgg16", 14728266}, {"seed-study/resnet18", 11173962},
    {"seed-study/googlenet", 6166250},
};

/* Every op has a complete row: a forgotten row or field would be a NULL
 * call or a nameless op in tables and checkpoints, or a parameter of no kind
 * (no [group.*] could select it). Names are unique (they are stored in
 * checkpoints). test_export.c checks the ONNX table's rows. */
START_TEST(test_op_table_complete)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const OpInfo *info = op_info((OpType)op);
        ck_assert_msg(info->name != NULL, "op %d has no row in src/model/ops.c", op);
        ck_assert_msg(info->forward && info->backward, "op %s has no forward/backward", info->name);
        ck_assert_str_eq(op_name((OpType)op), info->name);
        for (int k = 0; k < op; k++) ck_assert_str_ne(op_name((OpType)k), info->name);
        /* an op with parameters initialises them */
        if (info->flags & (OPF_PARAMS | OPF_RUNNING_STATS)) ck_assert_ptr_nonnull(info->init);
        /* and names the kind of each tensor, one ParamKind each, for [group.*] and
         * Muon (src/train/groups.c); an op without parameters names none */
        for (int bias = 0; bias < 2; bias++) {
            unsigned kind = op_param_kind((OpType)op, bias);
            if (info->flags & OPF_PARAMS)
                ck_assert_msg(kind && !(kind & (kind - 1)) && (kind & PK_ALL),
                              "op %s: its row names no ParamKind for its %s", info->name,
                              bias ? "bias" : "weight");
            else
                ck_assert_msg(kind == 0, "op %s has no parameters but a ParamKind", info->name);
        }
    }
    ck_assert_str_eq(op_name(OP_COUNT), "?");
}
END_TEST

/* A layer type and conv activation added by one op row and one schema row
 * (docs/architecture.md): silu reaches its op both ways, and computes
 * x * sigmoid(x) in a built network. */
START_TEST(test_silu_layer)
{
    const char *text = "[layer.c1]\ntype = conv\nfilters = 4\nsize = 1\nactivation = silu\n"
                       "[layer.s]\ntype = silu\n[layer.p]\ntype = global_avgpool\n"
                       "[layer.fc]\ntype = linear\noutputs = 10\n";
    Experiment e;
    Model m;
    ck_assert_int_eq(load_and_build(write_temp(text), &e, &m, 2), 0);
    ck_assert_int_eq(m.n_nodes, 5);
    ck_assert_str_eq(m.nodes[1].name, "c1.silu");
    ck_assert_int_eq(m.nodes[1].op, OP_SILU);
    ck_assert_str_eq(m.nodes[2].name, "s");
    ck_assert_int_eq(m.nodes[2].op, OP_SILU);
    model_init_params(&m, 1);
    float *x = alloc_floats(2 * 32 * 32 * 3);
    for (int i = 0; i < 2 * 32 * 32 * 3; i++) x[i] = (float)((i % 13) - 6) * 0.3f;
    model_forward(&m, x, 2, true);
    for (size_t i = 0; i < 2 * 32 * 32 * 4; i++) {
        double v = m.nodes[0].out[i], once = v / (1 + exp(-v)), twice = once / (1 + exp(-once));
        ck_assert_msg(fabs(m.nodes[2].out[i] - twice) <= 1e-6 * (1 + fabs(twice)),
                      "silu(silu(%g)) = %g, want %g", v, m.nodes[2].out[i], twice);
    }
    free(x);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* Test-time augmentation against PyTorch (tests/golden/make_fixtures.py,
 * make_tta): the six views of normalised images equal torch's flip and
 * F.pad(mode='reflect') slices exactly, and evaluate_tta's loss over a
 * linear network equals the cross-entropy of torch's weighted view logits
 * (1e-5 relative: float32 logits against float64). */
START_TEST(test_tta_against_pytorch)
{
    Fixture fx;
    ck_assert_msg(fixture_load(&fx, "tta.bin") == 0, "%s", fx.err);
    const int n = (int)fixture_get(&fx, "tta/cfg", 1)[0];
    const float *pix = fixture_get(&fx, "tta/pixels", (size_t)n * CIFAR_PIXELS);
    const float *lab = fixture_get(&fx, "tta/labels", (size_t)n);
    const float *w = fixture_get(&fx, "tta/w", (size_t)CIFAR_PIXELS * 10);
    ck_assert(pix && lab && w);
    uint8_t pixels[3 * CIFAR_PIXELS], labels_u8[3];
    ck_assert_int_eq(n, 3);
    for (size_t i = 0; i < (size_t)n * CIFAR_PIXELS; i++) pixels[i] = (uint8_t)pix[i];
    for (int i = 0; i < n; i++) labels_u8[i] = (uint8_t)lab[i];
    CifarSplit split = {.n = n, .pixels = pixels, .labels = labels_u8};
    Augment aug = {.normalize = true};
    float *x = alloc_floats((size_t)n * CIFAR_PIXELS), *v = alloc_floats((size_t)n * CIFAR_PIXELS);
    int idx[3] = {0, 1, 2}, labels[3];
    cifar_make_batch(&split, idx, n, &aug, NULL, x, labels);
    for (int k = 0; k < 6; k++) {
        char name[32];
        snprintf(name, sizeof name, "tta/view%d", k);
        const float *want = fixture_get(&fx, name, (size_t)n * CIFAR_PIXELS);
        ck_assert_msg(want != NULL, "%s", fx.err);
        tta_view(x, n, k, v);
        for (size_t i = 0; i < (size_t)n * CIFAR_PIXELS; i++)
            ck_assert_msg(fabsf(v[i] - want[i]) <= 1e-6f * (1 + fabsf(want[i])),
                          "view %d [%zu]: %g, want %g", k, i, v[i], want[i]);
    }
    const char *text = "[layer.f]\ntype = flatten\n[layer.fc]\ntype = linear\noutputs = 10\n"
                       "bias = false\n";
    Experiment e;
    Model m;
    ck_assert_int_eq(load_and_build(write_temp(text), &e, &m, n), 0);
    memcpy(m.params, w, sizeof(float) * CIFAR_PIXELS * 10);
    static const struct { TtaMode mode; const char *loss; } modes[] = {
        {TTA_NONE, "tta/loss_none"}, {TTA_MIRROR, "tta/loss_mirror"},
        {TTA_MIRROR_TRANSLATE, "tta/loss_mirror_translate"}};
    for (int k = 0; k < 3; k++) {
        float *buf = alloc_floats((size_t)n * CIFAR_PIXELS);
        int lbuf[3];
        EvalResult r = evaluate_tta(&m, &split, &aug, n, buf, lbuf, modes[k].mode);
        double want = fixture_get(&fx, modes[k].loss, 1)[0];
        ck_assert_msg(fabs(r.loss - want) <= 1e-5 * fabs(want), "%s: loss %.8g, want %.8g",
                      modes[k].loss, r.loss, want);
        free(buf);
    }
    double wsum = 0;
    for (int k = 0; k < tta_views(TTA_MIRROR_TRANSLATE); k++) wsum += tta_weight(TTA_MIRROR_TRANSLATE, k);
    ck_assert(wsum == 1.0);
    model_free(&m);
    experiment_free(&e);
    free(x), free(v);
    fixture_free(&fx);
}
END_TEST

START_TEST(test_parameter_counts)
{
    const char *src = getenv("CNNRUN_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/%s.ini", src, counts[_i].file);
    Experiment e;
    Model m;
    ck_assert_int_eq(load_and_build(path, &e, &m, 1), 0);
    ck_assert_msg((long)m.n_params == counts[_i].params, "%s: %zu parameters, PyTorch has %ld",
                  counts[_i].file, m.n_params, counts[_i].params);
    ck_assert_int_eq(m.classes, 10);
    for (int i = 0; i < m.n_nodes; i++) /* parameters only where the op table says so */
        ck_assert_msg((m.nodes[i].w_len + m.nodes[i].b_len > 0) ==
                          ((op_flags(m.nodes[i].op) & OPF_PARAMS) != 0),
                      "%s: node %s", counts[_i].file, m.nodes[i].name);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* The memory plan at batch 128: ReLUs overwrite the tensor they read when
 * nothing else reads it, and gradients share slots. Planned activation +
 * gradient memory must stay below what PyTorch's whole process peaks at on
 * the same step (tests/bench/compare.py: ResNet-18 1,133 MB, GoogLeNet
 * 5,712 MB); the ReLU buffers really are shared. */
START_TEST(test_memory_plan)
{
    static const struct {
        const char *file;
        double max_mib;
    } plans[] = {{"resnet18", 850}, {"googlenet", 5300}};
    const char *src = getenv("CNNRUN_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/experiments/%s.ini", src, plans[i].file);
        Experiment e;
        Model m;
        ck_assert_int_eq(load_and_build(path, &e, &m, 0), 0); /* plan only */
        double mib = (double)m.activation_bytes / (1024.0 * 1024.0);
        ck_assert_msg(mib <= plans[i].max_mib, "%s: %.0f MiB planned, more than %.0f",
                      plans[i].file, mib, plans[i].max_mib);
        int inplace = 0;
        for (int k = 0; k < m.n_nodes; k++) inplace += m.nodes[k].inplace;
        ck_assert_msg(inplace > 10, "%s: only %d in-place ReLUs", plans[i].file, inplace);
        model_free(&m);
        experiment_free(&e);
    }
    /* and built for real, an in-place ReLU's output is its input's buffer */
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/quick.ini", src);
    Experiment e;
    Model m;
    ck_assert_int_eq(load_and_build(path, &e, &m, 2), 0);
    int seen = 0;
    for (int k = 0; k < m.n_nodes; k++)
        if (m.nodes[k].inplace) {
            ck_assert_ptr_eq(m.nodes[k].out, m.nodes[m.nodes[k].in[0]].out);
            seen++;
        }
    ck_assert_int_gt(seen, 0);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* Trains model m for `steps` plain SGD steps on a fixed batch. */
static void train_steps(Model *m, const float *x, const int *labels, int n, int steps)
{
    for (int s = 0; s < steps; s++) {
        model_forward(m, x, n, true);
        softmax_xent(n, 10, model_logits(m), labels, model_dlogits(m), 1.0f / n, NULL);
        model_zero_grad(m);
        model_backward(m, x, n);
        for (size_t i = 0; i < m->n_params; i++) m->params[i] -= 0.05f * m->grads[i];
    }
}

/* Two models train in one process as each does alone: the engine keeps no
 * state between calls (its work space is each model's own). The two differ
 * in every buffer size (width, batch), so shared hidden buffers would show. */
START_TEST(test_two_models_one_process)
{
    const char *a_text = "[layer.c1]\ntype = conv\nfilters = 24\nsize = 3\nbatchnorm = true\n"
                         "activation = relu\n[layer.c2]\ntype = conv\nfilters = 8\nsize = 1\n"
                         "batchnorm = true\nactivation = gelu\n[layer.p]\ntype = global_avgpool\n"
                         "[layer.fc]\ntype = linear\noutputs = 10\n";
    const char *b_text = "[layer.c1]\ntype = conv\nfilters = 40\nsize = 3\nstride = 2\n"
                         "batchnorm = true\nactivation = relu\n[layer.m]\ntype = maxpool\n"
                         "size = 2\n[layer.bn]\ntype = batchnorm\n[layer.p]\n"
                         "type = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n";
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s", write_temp(a_text));
    snprintf(pb, sizeof pb, "%s", write_temp(b_text));
    const int na = 6, nb = 9, steps = 3;
    float *x = alloc_floats((size_t)nb * 32 * 32 * 3);
    Rng r;
    rng_seed(&r, 12, 0);
    for (size_t i = 0; i < (size_t)nb * 32 * 32 * 3; i++) x[i] = rng_normal(&r);
    int labels[9] = {1, 7, 3, 0, 9, 2, 5, 5, 8};
    Experiment ea, eb;
    Model alone_a, alone_b, a, b;
    ck_assert_int_eq(load_and_build(pa, &ea, &alone_a, na), 0);
    model_init_params(&alone_a, 3);
    train_steps(&alone_a, x, labels, na, steps);
    ck_assert_int_eq(load_and_build(pb, &eb, &alone_b, nb), 0);
    model_init_params(&alone_b, 4);
    train_steps(&alone_b, x, labels, nb, steps);
    ck_assert_int_eq(model_build(&ea, na, &a), 0);
    ck_assert_int_eq(model_build(&eb, nb, &b), 0);
    model_init_params(&a, 3);
    model_init_params(&b, 4);
    for (int s = 0; s < steps; s++) { /* interleaved, the batches of different sizes */
        train_steps(&a, x, labels, na, 1);
        train_steps(&b, x, labels, nb, 1);
    }
    ck_assert_int_eq(memcmp(a.params, alone_a.params, sizeof(float) * a.n_params), 0);
    ck_assert_int_eq(memcmp(b.params, alone_b.params, sizeof(float) * b.n_params), 0);
    ck_assert_int_eq(memcmp(a.state, alone_a.state, sizeof(float) * a.n_state), 0);
    ck_assert_int_eq(memcmp(b.state, alone_b.state, sizeof(float) * b.n_state), 0);
    model_free(&a), model_free(&b), model_free(&alone_a), model_free(&alone_b);
    experiment_free(&ea), experiment_free(&eb);
    free(x);
}
END_TEST

/* Runs forward+backward of both files on the same input; asserts identical
 * logits and identical parameter gradients. */
static void assert_same_network(const char *a_text, const char *b_text)
{
    Experiment ea, eb;
    Model ma, mb;
    char pa[64], pb[64];
    snprintf(pa, sizeof pa, "%s", write_temp(a_text));
    snprintf(pb, sizeof pb, "%s", write_temp(b_text));
    const int n = 3;
    ck_assert_int_eq(load_and_build(pa, &ea, &ma, n), 0);
    ck_assert_int_eq(load_and_build(pb, &eb, &mb, n), 0);
    ck_assert_uint_eq(ma.n_params, mb.n_params);
    model_init_params(&ma, 5);
    model_init_params(&mb, 5);
    ck_assert_int_eq(memcmp(ma.params, mb.params, sizeof(float) * ma.n_params), 0);
    float *x = alloc_floats((size_t)n * 32 * 32 * 3);
    Rng r;
    rng_seed(&r, 11, 0);
    for (size_t i = 0; i < (size_t)n * 32 * 32 * 3; i++) x[i] = rng_normal(&r);
    int labels[3] = {1, 7, 3};
    Model *ms[2] = {&ma, &mb};
    for (int k = 0; k < 2; k++) {
        model_forward(ms[k], x, n, true);
        softmax_xent(n, 10, model_logits(ms[k]), labels, model_dlogits(ms[k]), 1.0f / n, NULL);
        model_zero_grad(ms[k]);
        model_backward(ms[k], x, n);
    }
    ck_assert_int_eq(memcmp(model_logits(&ma), model_logits(&mb), sizeof(float) * n * 10), 0);
    ck_assert_int_eq(memcmp(ma.grads, mb.grads, sizeof(float) * ma.n_params), 0);
    /* and the gradient is not trivially zero */
    double norm = 0;
    for (size_t i = 0; i < ma.n_params; i++) norm += fabs(ma.grads[i]);
    ck_assert(norm > 1e-3);
    free(x);
    model_free(&ma);
    model_free(&mb);
    experiment_free(&ea);
    experiment_free(&eb);
    unlink(pa);
    unlink(pb);
}

static const char *stem = "[layer.stem]\ntype = conv\nfilters = 8\nbatchnorm = true\n"
                          "activation = relu\n";
static const char *head = "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
                          "outputs = 10\n";

START_TEST(test_residual_equals_plain_layers)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s[layer.r]\ntype = residual\nfilters = 16\nstride = 2\n%s", stem, head);
    snprintf(b, sizeof b,
             "%s"
             "[layer.c1]\ntype = conv\nfilters = 16\nstride = 2\nbias = false\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.c2]\ntype = conv\nfilters = 16\nbias = false\nbatchnorm = true\n"
             "[layer.sc]\ntype = conv\ninput = stem\nfilters = 16\nsize = 1\nstride = 2\n"
             "bias = false\nbatchnorm = true\n"
             "[layer.sum]\ntype = add\ninputs = c2, sc\n"
             "[layer.out]\ntype = relu\n%s", stem, head);
    assert_same_network(a, b);
    /* identity shortcut */
    snprintf(a, sizeof a, "%s[layer.r]\ntype = residual\nfilters = 8\n%s", stem, head);
    snprintf(b, sizeof b,
             "%s"
             "[layer.c1]\ntype = conv\nfilters = 8\nbias = false\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.c2]\ntype = conv\nfilters = 8\nbias = false\nbatchnorm = true\n"
             "[layer.sum]\ntype = add\ninputs = c2, stem\n"
             "[layer.out]\ntype = relu\n%s", stem, head);
    assert_same_network(a, b);
}
END_TEST

START_TEST(test_inception_equals_plain_layers)
{
    char a[4096], b[8192];
    snprintf(a, sizeof a,
             "%s[layer.i]\ntype = inception\nn1x1 = 4\nn3x3_reduce = 3\nn3x3 = 5\n"
             "n5x5_reduce = 2\nn5x5 = 3\npool_proj = 2\n%s", stem, head);
    snprintf(b, sizeof b,
             "%s"
             "[layer.b1]\ntype = conv\nfilters = 4\nsize = 1\nbias = true\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.b2a]\ntype = conv\ninput = stem\nfilters = 3\nsize = 1\nbias = true\n"
             "batchnorm = true\nactivation = relu\n"
             "[layer.b2b]\ntype = conv\nfilters = 5\nbias = true\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.b3a]\ntype = conv\ninput = stem\nfilters = 2\nsize = 1\nbias = true\n"
             "batchnorm = true\nactivation = relu\n"
             "[layer.b3b]\ntype = conv\nfilters = 3\nbias = true\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.b3c]\ntype = conv\nfilters = 3\nbias = true\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.b4p]\ntype = maxpool\ninput = stem\nsize = 3\nstride = 1\npad = 1\n"
             "[layer.b4]\ntype = conv\nfilters = 2\nsize = 1\nbias = true\nbatchnorm = true\n"
             "activation = relu\n"
             "[layer.cat]\ntype = concat\ninputs = b1, b2b, b3c, b4\n%s", stem, head);
    assert_same_network(a, b);
}
END_TEST

/* ---- flatten, numerically ----
 * conv 1x1/8 (3 -> 2 channels, 32x32 -> 4x4) -> flatten (N,4,4,2) -> (N,32) -> linear 10.
 * flatten keeps the engine's NHWC order: image n's vector is its 4x4x2 tensor
 * with the channel fastest, element (y, x, c) at (y*4 + x)*2 + c (PyTorch's
 * NCHW flatten would put it at c*16 + y*4 + x). Case 1 also reads the conv
 * output through a global_avgpool + linear branch added to the logits, so
 * flatten's backward adds into a gradient another consumer wrote (acc = 1).
 * Forward: logits against a hand-computed float64 reference from the input
 * and the parameters, |err| <= 1e-5 * max(1, max|ref|). Backward: every
 * parameter gradient (the conv's reach it only through flatten's backward)
 * against central differences of L = sum(R * logits), eps 1e-2: L is affine
 * in each single parameter (no nonlinearity), so only float32 rounding
 * remains; |num - ana| <= 1e-4 * max(1, max|ana|). */
static const char *flatten_nets[] = {
    "[layer.c]\ntype = conv\nfilters = 2\nsize = 1\nstride = 8\n"
    "[layer.fl]\ntype = flatten\n[layer.fc]\ntype = linear\noutputs = 10\n",
    "[layer.c]\ntype = conv\nfilters = 2\nsize = 1\nstride = 8\n"
    "[layer.fl]\ntype = flatten\n[layer.fc]\ntype = linear\noutputs = 10\n"
    "[layer.g]\ntype = global_avgpool\ninput = c\n[layer.fc2]\ntype = linear\noutputs = 10\n"
    "[layer.sum]\ntype = add\ninputs = fc, fc2\n",
};

typedef struct {
    Model *m;
    const float *x, *R;
    int n;
} FlatLoss;

static const Node *node_named(const Model *m, const char *name)
{
    for (int k = 0; k < m->n_nodes; k++)
        if (!strcmp(m->nodes[k].name, name)) return &m->nodes[k];
    ck_abort_msg("no node '%s'", name);
    return NULL;
}

static double flat_loss(const FlatLoss *f)
{
    model_forward(f->m, f->x, f->n, true);
    const float *z = model_logits(f->m);
    double l = 0;
    for (int i = 0; i < f->n * 10; i++) l += (double)z[i] * f->R[i];
    return l;
}

START_TEST(test_flatten_forward_backward)
{
    enum { N = 2, S = 32, CI = 3, F = 2, HO = 4, K = 10, FLAT = HO * HO * F };
    const char *p = write_temp(flatten_nets[_i]);
    Experiment e;
    Model m;
    ck_assert_int_eq(load_and_build(p, &e, &m, N), 0);
    unlink(p);
    model_init_params(&m, 21);
    const Node *c = node_named(&m, "c"), *fl = node_named(&m, "fl"), *fc = node_named(&m, "fc");
    ck_assert_int_eq(fl->op, OP_FLATTEN);
    ck_assert_msg(c->c == F && c->h == HO && c->w == HO, "conv out %dx%dx%d", c->c, c->h, c->w);
    ck_assert_msg(fl->c == FLAT && fl->h == 1 && fl->w == 1, "flatten out %dx%dx%d", fl->c, fl->h,
                  fl->w);
    ck_assert_int_eq(fl->in_acc[0], _i); /* net 1: flatten adds into the conv's gradient */
    const Node *fc2 = _i ? node_named(&m, "fc2") : NULL;
    float *x = alloc_floats((size_t)N * S * S * CI), *R = alloc_floats(N * K);
    Rng r;
    rng_seed(&r, 23, 0);
    for (size_t i = 0; i < (size_t)N * S * S * CI; i++) x[i] = rng_normal(&r);
    for (int i = 0; i < N * K; i++) R[i] = rng_normal(&r);

    /* the reference forward, in double */
    const float *P = m.params;
    double ref[N][K], maxref = 0;
    for (int n = 0; n < N; n++) {
        double conv[HO][HO][F], gap[F] = {0};
        for (int y = 0; y < HO; y++)
            for (int xx = 0; xx < HO; xx++)
                for (int f = 0; f < F; f++) {
                    double v = P[c->b_off + f];
                    for (int ch = 0; ch < CI; ch++)
                        v += (double)x[(((size_t)n * S + 8 * y) * S + 8 * xx) * CI + ch] *
                             P[c->w_off + ch * F + f];
                    conv[y][xx][f] = v;
                    gap[f] += v / (HO * HO);
                }
        for (int o = 0; o < K; o++) {
            double z = P[fc->b_off + o];
            for (int y = 0; y < HO; y++)
                for (int xx = 0; xx < HO; xx++)
                    for (int f = 0; f < F; f++)
                        z += conv[y][xx][f] * P[fc->w_off + (size_t)((y * HO + xx) * F + f) * K + o];
            if (fc2) {
                z += P[fc2->b_off + o];
                for (int f = 0; f < F; f++) z += gap[f] * P[fc2->w_off + (size_t)f * K + o];
            }
            ref[n][o] = z;
            if (fabs(z) > maxref) maxref = fabs(z);
        }
    }
    FlatLoss fls = {.m = &m, .x = x, .R = R, .n = N};
    flat_loss(&fls);
    const float *z = model_logits(&m);
    double scale = maxref > 1 ? maxref : 1, worst = 0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < K; o++) {
            double err = fabs(z[n * K + o] - ref[n][o]);
            ck_assert_msg(err <= 1e-5 * scale, "net %d: logit [%d][%d] %.7g, reference %.7g", _i,
                          n, o, z[n * K + o], ref[n][o]);
            if (err > worst) worst = err;
        }
    printf("flatten net %d: forward max|err| %.3g (tol 1e-5*%.3g)\n", _i, worst, scale);

    /* backward: the gradient of L = sum(R * logits) against central differences */
    memcpy(model_dlogits(&m), R, sizeof(float) * N * K);
    model_zero_grad(&m);
    model_backward(&m, x, N);
    float *ana = alloc_floats(m.n_params);
    memcpy(ana, m.grads, sizeof(float) * m.n_params);
    double maxana = 0, maxconv = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        if (fabs(ana[i]) > maxana) maxana = fabs(ana[i]);
        if (i >= c->w_off && i < c->w_off + c->w_len && fabs(ana[i]) > maxconv)
            maxconv = fabs(ana[i]);
    }
    ck_assert_msg(maxconv > 1e-2, "net %d: conv weight gradient is (near) zero", _i);
    const double gtol = 1e-4 * (maxana > 1 ? maxana : 1);
    worst = 0;
    for (size_t i = 0; i < m.n_params; i++) {
        float v = m.params[i], vp = v + 1e-2f, vm = v - 1e-2f;
        m.params[i] = vp;
        double lp = flat_loss(&fls);
        m.params[i] = vm;
        double lm = flat_loss(&fls);
        m.params[i] = v;
        double num = (lp - lm) / ((double)vp - (double)vm);
        ck_assert_msg(fabs(num - ana[i]) <= gtol,
                      "net %d: parameter %zu: backward %.7g, finite difference %.7g (tol %.3g)",
                      _i, i, ana[i], num, gtol);
        if (fabs(num - ana[i]) > worst) worst = fabs(num - ana[i]);
    }
    printf("flatten net %d: %zu parameter gradients, max|num-ana| %.3g (tol %.3g)\n", _i,
           m.n_params, worst, gtol);
    free(x), free(R), free(ana);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* In a child whose address space may grow by only 256 MiB more (a cap, so
 * that nothing is really exhausted): batch > 0 builds text's network at that
 * batch, batch 0 asks xmalloc for 1 GiB. Returns its stderr (exit status 1
 * expected). */
static char *oom_child(const char *text, int batch)
{
    const char *path = write_temp(text);
    char errpath[] = "/tmp/cnnrun_err_XXXXXX";
    int fd = mkstemp(errpath);
    ck_assert_int_ge(fd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, 2);
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
        fclose(f);
        rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)256 << 20);
        struct rlimit lim = {.rlim_cur = cap, .rlim_max = cap};
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        if (batch == 0) {
            free(xmalloc((size_t)1 << 30));
            _exit(0);
        }
        Experiment e;
        Model m;
        _exit(load_and_build(path, &e, &m, batch) == 0 ? 0 : 4);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CN_EXIT_FAIL, "status %d", status);
    lseek(fd, 0, SEEK_SET);
    char *buf = xcalloc(4096, 1);
    ck_assert_int_ge((int)read(fd, buf, 4095), 0);
    close(fd);
    unlink(errpath);
    return buf;
}

/* An allocation that fails says "out of memory", and a hint that fits the
 * cause: the network's buffers, a smaller batch; anything else, no such hint
 * (issue 23: a huge --weights file was answered "use a smaller batch_size").
 * The optional case "rlimit" (meson test test_model_rlimit): skipped under
 * AddressSanitizer, whose allocator ignores the cap (rlimit_missing). */
START_TEST(test_out_of_memory_hint)
{
    /* 1 MiB per image: 2 GiB of buffers at batch 2000 */
    char *err = oom_child("[layer.c1]\ntype = conv\nfilters = 64\nbatchnorm = true\n"
                          "activation = relu\n[layer.pool]\ntype = global_avgpool\n"
                          "[layer.fc]\ntype = linear\noutputs = 10\n", 2000);
    ck_assert_msg(strstr(err, "cnnrun: out of memory allocating ") &&
                      strstr(err, "HINT: the network's buffers do not fit in memory: use a "
                                  "smaller batch_size"), "%s", err);
    free(err);
    err = oom_child("", 0);
    ck_assert_msg(strstr(err, "cnnrun: out of memory allocating 1073741824 bytes") &&
                      !strstr(err, "batch_size"), "%s", err);
    free(err);
}
END_TEST

/* Runs model_build on text and returns what it printed on stderr. */
static char *build_errors(const char *text, char *path_out, size_t n)
{
    const char *p = write_temp(text);
    snprintf(path_out, n, "%s", p);
    char errpath[] = "/tmp/cnnrun_err_XXXXXX";
    int fd = mkstemp(errpath);
    int saved = dup(2);
    dup2(fd, 2);
    Experiment e;
    Model m;
    int rc = load_and_build(path_out, &e, &m, 2);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(rc, -1);
    lseek(fd, 0, SEEK_SET);
    char *buf = xcalloc(4096, 1);
    ck_assert_int_ge((int)read(fd, buf, 4095), 0);
    close(fd);
    unlink(errpath);
    unlink(path_out);
    return buf;
}

START_TEST(test_shape_errors)
{
    char path[64], want[128];
    /* add of 8x32x32 and 16x16x16 */
    char *err = build_errors("[layer.a]\ntype = conv\nfilters = 8\n"
                             "[layer.b]\ntype = conv\nfilters = 16\nstride = 2\n"
                             "[layer.s]\ntype = add\ninputs = a, b\n"
                             "[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
                             "outputs = 10\n", path, sizeof path);
    snprintf(want, sizeof want, "%s:8:", path);
    ck_assert_msg(strstr(err, want), "got: %s", err);
    ck_assert_msg(strstr(err, "8x32x32") && strstr(err, "16x16x16"), "got: %s", err);
    free(err);
    /* linear on a spatial input */
    err = build_errors("[layer.a]\ntype = conv\nfilters = 8\n"
                       "[layer.fc]\ntype = linear\noutputs = 10\n", path, sizeof path);
    snprintf(want, sizeof want, "%s:4:", path);
    ck_assert_msg(strstr(err, want) && strstr(err, "8x32x32"), "got: %s", err);
    free(err);
    /* a kernel larger than the input */
    err = build_errors("[layer.p]\ntype = maxpool\nsize = 8\nstride = 8\n"
                       "[layer.c]\ntype = conv\nfilters = 4\nsize = 7\npad = 0\n"
                       "[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
                       "outputs = 10\n", path, sizeof path);
    snprintf(want, sizeof want, "%s:5:", path);
    ck_assert_msg(strstr(err, want) && strstr(err, "3x4x4"), "got: %s", err);
    free(err);
    /* a head that does not give CIFAR-10's 10 class scores */
    err = build_errors("[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
                       "outputs = 5\n", path, sizeof path);
    snprintf(want, sizeof want, "%s:3:", path);
    ck_assert_msg(strstr(err, want) && strstr(err, "10 classes"), "got: %s", err);
    free(err);
    /* a branch whose output is never used */
    err = build_errors("[layer.a]\ntype = conv\nfilters = 8\n"
                       "[layer.b]\ntype = conv\nfilters = 8\n"
                       "[layer.c]\ntype = conv\ninput = a\nfilters = 8\n"
                       "[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
                       "outputs = 10\n", path, sizeof path);
    snprintf(want, sizeof want, "%s:4:", path);
    ck_assert_msg(strstr(err, want) && strstr(err, "never used"), "got: %s", err);
    free(err);
}
END_TEST

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const char *rlimit_missing(void)
{
#ifdef UNDER_ASAN
    return "built with AddressSanitizer, whose allocator does not keep to RLIMIT_AS";
#else
    return NULL;
#endif
}

static void rlimit_tests(TCase *tc)
{
    tcase_add_test(tc, test_out_of_memory_hint);
}

int main(int argc, char **argv)
{
    static const CheckOptional rlimit = {"rlimit", rlimit_missing, rlimit_tests};
    int optional = check_run_optional(argc, argv, &rlimit);
    if (optional >= 0) return optional;
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_memory_plan);
    tcase_add_test(tc, test_op_table_complete);
    tcase_add_test(tc, test_silu_layer);
    tcase_add_test(tc, test_tta_against_pytorch);
    tcase_add_test(tc, test_two_models_one_process);
    tcase_add_loop_test(tc, test_parameter_counts, 0, (int)(sizeof counts / sizeof counts[0]));
    tcase_add_test(tc, test_residual_equals_plain_layers);
    tcase_add_test(tc, test_inception_equals_plain_layers);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_loop_test(tc, test_flatten_forward_backward, 0, 2);
    suite_add_tcase(s, tc);
    return check_run(s);
}
