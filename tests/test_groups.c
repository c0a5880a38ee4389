/* test_groups.c — parameter groups and Muon in the optimizer (src/train/
 * groups.c, optimizer.c, muon.c): which tensor gets which group (first
 * match, kinds, layer patterns, composite sections, no_decay_bn_bias), the
 * errors only the built network can show (a group with no parameter, Muon
 * over BN parameters) with their file:line and exit status 2, frozen
 * tensors untouched through real training steps, epoch-limited groups and
 * the linear group schedule, coupled vs decoupled decay by hand, and a Muon
 * group updating exactly as muon_update on the tensor's (K, out) matrix. The
 * Muon update itself is checked against PyTorch in test_golden.c. The
 * optimizer table: every type has a whole row on both sides (config's
 * OptimizerInfo, train's OptimizerStep) and the two agree. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

static char tmp_dir[64], path[256], errs[16384];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cnnrun-test-groups-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
}

static void load(const char *text, Experiment *e)
{
    snprintf(path, sizeof path, "%s/g.ini", tmp_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(experiment_load(path, NULL, 0, e), 0);
}

/* fn's return value, with what it wrote on stderr in errs. */
static int capture(int (*fn)(const Model *), const Model *m)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    int rc = fn(m);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(errs, 1, sizeof errs - 1, tmp);
    errs[n] = '\0';
    fclose(tmp);
    return rc;
}

static const Node *node(const Model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0) return &m->nodes[i];
    ck_abort_msg("no node %s", name);
    return NULL;
}

/* The span holding parameter `off`. */
static const OptSpan *span_at(const Optimizer *o, size_t off)
{
    for (int k = 0; k < o->n_spans; k++)
        if (off >= o->spans[k].off && off < o->spans[k].off + o->spans[k].len) return &o->spans[k];
    ck_abort_msg("no span holds parameter %zu", off);
    return NULL;
}

static const char *group_of(const Optimizer *o, size_t off)
{
    return o->groups[span_at(o, off)->group].name;
}

/* Spans cover [0, n) exactly, in order. */
static void assert_spans_cover(const Optimizer *o)
{
    size_t at = 0;
    for (int k = 0; k < o->n_spans; k++) {
        ck_assert_uint_eq(o->spans[k].off, at);
        ck_assert_uint_gt(o->spans[k].len, 0);
        at += o->spans[k].len;
    }
    ck_assert_uint_eq(at, o->n);
}

#define SEL_NET                                                                              \
    "[layer.whiten]\ntype = conv\nfilters = 6\nsize = 2\npad = 0\nbias = true\n"             \
    "[layer.g1_conv1]\ntype = conv\nfilters = 8\nbatchnorm = true\nactivation = relu\n"      \
    "[layer.g1_conv2]\ntype = conv\nfilters = 8\nbias = true\n"                              \
    "[layer.res]\ntype = residual\nfilters = 12\nstride = 2\n"                               \
    "[layer.gap]\ntype = global_avgpool\n"                                                   \
    "[layer.head]\ntype = linear\noutputs = 10\n"

START_TEST(test_selection)
{
    Experiment e;
    load("[optimizer]\nno_decay_bn_bias = true\nweight_decay = 0.01\n"
         "[group.fixed]\nlayers = whiten\nparams = conv_weight\nfrozen = true\n"
         "[group.wb]\nlayers = whiten\nparams = bias\n"
         "[group.filters]\nlayers = g*\ntype = muon\n"      /* params: the weights */
         "[group.bn]\nlayers = res\nparams = bn_weight, bn_bias\n"
         "[group.convs]\nparams = conv_weight\nlayers = whiten, res\n" /* whiten: taken above */
         "[group.head]\nlayers = h?a*\n" SEL_NET, &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 2, &m), 0);
    ck_assert_int_eq(optimizer_check_groups(&m), 0);
    Optimizer o;
    optimizer_init(&o, &e, m.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m, 10), 0);
    assert_spans_cover(&o);
    ck_assert_str_eq(group_of(&o, node(&m, "whiten")->w_off), "fixed");
    ck_assert_str_eq(group_of(&o, node(&m, "whiten")->b_off), "wb");
    ck_assert_str_eq(group_of(&o, node(&m, "g1_conv1")->w_off), "filters");
    ck_assert_str_eq(group_of(&o, node(&m, "g1_conv2")->w_off), "filters");
    /* not a kind of the muon group: [optimizer], without decay (no_decay_bn_bias) */
    ck_assert_str_eq(group_of(&o, node(&m, "g1_conv2")->b_off), "[optimizer] no_decay_bn_bias");
    ck_assert_str_eq(group_of(&o, node(&m, "g1_conv1.bn")->w_off),
                     "[optimizer] no_decay_bn_bias");
    /* every node of a composite section belongs to its section's name */
    ck_assert_str_eq(group_of(&o, node(&m, "res.conv1")->w_off), "convs");
    ck_assert_str_eq(group_of(&o, node(&m, "res.shortcut")->w_off), "convs");
    ck_assert_str_eq(group_of(&o, node(&m, "res.conv1.bn")->w_off), "bn");
    ck_assert_str_eq(group_of(&o, node(&m, "res.shortcut.bn")->b_off), "bn");
    ck_assert_str_eq(group_of(&o, node(&m, "head")->w_off), "head");
    ck_assert_str_eq(group_of(&o, node(&m, "head")->b_off), "head");
    /* Muon sees each weight as its (K, out) matrix */
    const OptSpan *sp = span_at(&o, node(&m, "g1_conv1")->w_off);
    ck_assert_int_eq(sp->rows, 3 * 3 * 6);
    ck_assert_int_eq(sp->cols, 8);
    ck_assert_uint_eq(sp->len, 3 * 3 * 6 * 8);
    ck_assert_int_eq(span_at(&o, node(&m, "head")->w_off)->rows, 0); /* sgd: no matrix */
    ck_assert_ptr_nonnull(o.muon_work);
    /* settings as resolved: head inherits [optimizer]'s decay, the no-decay copy has none */
    const OptGroup *head = &o.groups[span_at(&o, node(&m, "head")->w_off)->group];
    ck_assert_float_eq(head->weight_decay, 0.01f);
    ck_assert_float_eq(o.groups[span_at(&o, node(&m, "g1_conv1.bn")->w_off)->group].weight_decay,
                       0.0f);
    /* the table cnnrun check prints */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    optimizer_print_groups(&m, f);
    fclose(f);
    char want[2][160];
    snprintf(want[0], sizeof want[0], "  %-24s %-14s %10d  %s\n", "whiten", "conv_weight", 72,
             "[group.fixed] frozen");
    snprintf(want[1], sizeof want[1], "  %-24s %-14s %10d  %s\n", "g1_conv1.bn", "bn_weight", 8,
             "[optimizer] sgd, no decay");
    for (int k = 0; k < 2; k++) ck_assert_msg(strstr(buf, want[k]), "%s", buf);
    free(buf);
    optimizer_free(&o);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* What only the network shows: errors with the group's line, and exit status
 * 2 from cnnrun check before anything is trained. */
START_TEST(test_network_errors)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"[group.b]\nlayers = g1_conv1\nparams = bias\n" SEL_NET,
         "g.ini:1: [group.b] selects no parameter: no layer its 'layers' match has parameters of "
         "the kinds in 'params'\n"},
        {"[group.a]\nparams = conv_weight\nfrozen = true\n\n[group.b]\nlayers = whiten\n"
         "params = conv_weight\n" SEL_NET,
         "g.ini:5: [group.b] gets no parameter: the 1 it selects belong to earlier groups "
         "([group.a], line 1; the first group that selects a parameter takes it)\n"},
        {"[optimizer]\nmomentum = 0.5\ntype = muon\n" SEL_NET,
         "g.ini:3: [optimizer] type = muon updates conv and linear weights only, but 11 parameter "
         "tensors no [group.*] takes are not (the first: bias of 'whiten'); give them a group"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Experiment e;
        load(cases[c].text, &e);
        Model m;
        ck_assert_int_eq(model_build(&e, 0, &m), 0);
        ck_assert_int_eq(capture(optimizer_check_groups, &m), CN_EXIT_USAGE);
        ck_assert_msg(strstr(errs, cases[c].want), "case %zu: wanted\n%s\ngot\n%s", c,
                      cases[c].want, errs);
        model_free(&m);
        experiment_free(&e);
    }
    /* a [optimizer] muon network is fine once a group takes the rest */
    Experiment e;
    load("[optimizer]\ntype = muon\n[group.rest]\nparams = bias, bn_weight, bn_bias\n"
         "type = sgd\n" SEL_NET, &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    ck_assert_int_eq(capture(optimizer_check_groups, &m), 0);
    model_free(&m);
    experiment_free(&e);

    const char *bin = getenv("CNNRUN_BIN");
    ck_assert_msg(bin != NULL, "CNNRUN_BIN not set (run through meson test)");
    load(cases[0].text, &e);
    experiment_free(&e);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s check %s >%s/out 2>&1", bin, path, tmp_dir);
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), CN_EXIT_USAGE);
    snprintf(cmd, sizeof cmd, "%s/out", tmp_dir);
    char *out = read_text_file(cmd, NULL);
    ck_assert_msg(strstr(out, "[group.b] selects no parameter"), "%s", out);
    free(out);
}
END_TEST

/* Real steps on a real network: frozen tensors keep their bits and their
 * momentum stays zero; the others move. */
START_TEST(test_frozen_unchanged)
{
    Experiment e;
    load("[optimizer]\nmomentum = 0.9\n[schedule]\ntype = constant\nlr = 0.1\n"
         "[group.fixed]\nlayers = c1\nparams = conv_weight\nfrozen = true\n"
         "[group.gamma]\nparams = bn_weight\nfrozen = true\n"
         "[layer.c1]\ntype = conv\nfilters = 4\nbias = true\n"
         "[layer.c2]\ntype = conv\nfilters = 4\nbatchnorm = true\nactivation = relu\n"
         "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n", &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 4, &m), 0);
    model_init_params(&m, 3);
    Optimizer o;
    optimizer_init(&o, &e, m.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m, 1), 0);
    float *before = alloc_floats(m.n_params);
    memcpy(before, m.params, m.n_params * sizeof(float));
    float *x = alloc_floats(4 * 32 * 32 * 3);
    Rng r;
    rng_seed(&r, 1, 1);
    for (int i = 0; i < 4 * 32 * 32 * 3; i++) x[i] = rng_normal(&r);
    int labels[4] = {1, 2, 3, 4};
    for (int s = 0; s < 3; s++) {
        model_forward(&m, x, 4, true);
        softmax_xent(4, m.classes, model_logits(&m), labels, model_dlogits(&m), 0.25f, NULL);
        model_zero_grad(&m);
        model_backward(&m, x, 4);
        optimizer_step(&o, m.params, m.grads, 0.1f);
    }
    const Node *c1 = node(&m, "c1"), *bn = node(&m, "c2.bn"), *fc = node(&m, "fc");
    ck_assert_int_eq(memcmp(before + c1->w_off, m.params + c1->w_off, c1->w_len * 4), 0);
    ck_assert_int_eq(memcmp(before + bn->w_off, m.params + bn->w_off, bn->w_len * 4), 0);
    for (size_t i = 0; i < c1->w_len; i++) ck_assert(o.m1[c1->w_off + i] == 0.0f);
    for (size_t i = 0; i < bn->w_len; i++) ck_assert(o.m1[bn->w_off + i] == 0.0f);
    /* they did have gradients; and the rest trained */
    int moved_grad = 0, moved_c1b = 0, moved_beta = 0, moved_fc = 0;
    for (size_t i = 0; i < c1->w_len; i++) moved_grad += m.grads[c1->w_off + i] != 0.0f;
    for (size_t i = 0; i < c1->b_len; i++)
        moved_c1b += before[c1->b_off + i] != m.params[c1->b_off + i];
    for (size_t i = 0; i < bn->b_len; i++)
        moved_beta += before[bn->b_off + i] != m.params[bn->b_off + i];
    for (size_t i = 0; i < fc->w_len; i++)
        moved_fc += before[fc->w_off + i] != m.params[fc->w_off + i];
    ck_assert_int_gt(moved_grad, 0);
    ck_assert_int_gt(moved_c1b, 0);
    ck_assert_int_gt(moved_beta, 0);
    ck_assert_int_gt(moved_fc, 0);
    free(before);
    free(x);
    optimizer_free(&o);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

#define FC_NET "[layer.c1]\ntype = conv\nfilters = 2\nsize = 1\nbias = true\n" \
               "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

/* Values of tensor t after each call, with gradient 1 everywhere from 0. */
START_TEST(test_epochs_and_linear_schedule)
{
    Experiment e;
    load("[optimizer]\nmomentum = 0\nweight_decay = 0\n[schedule]\ntype = constant\nlr = 2\n"
         "[group.lin]\nlayers = c1\nparams = bias\nlr_scale = 0.5\nepochs = 1.5\n"
         "schedule = linear\n"
         "[group.short]\nlayers = fc\nlr_scale = 0.25\nepochs = 1\n"
         "[group.whole]\nlayers = c1\nparams = conv_weight\nschedule = linear\n"
         "[experiment]\nepochs = 2\n" FC_NET, &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    Optimizer o;
    optimizer_init(&o, &e, m.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m, 2), 0); /* 2 steps per epoch */
    const Node *c1 = node(&m, "c1"), *fc = node(&m, "fc");
    const OptGroup *lin = &o.groups[span_at(&o, c1->b_off)->group];
    ck_assert_int_eq(lin->steps, 3);     /* ceil(1.5 * 2) */
    ck_assert(lin->lr0 == 2.0);          /* the schedule's rate at step 0 */
    ck_assert_int_eq(o.groups[span_at(&o, fc->w_off)->group].steps, 2);
    ck_assert_int_eq(o.groups[span_at(&o, c1->w_off)->group].steps, 4); /* the whole run */
    float *w = alloc_floats(m.n_params), *g = alloc_floats(m.n_params);
    for (size_t i = 0; i < m.n_params; i++) g[i] = 1.0f;
    /* lin: 0.5 * 2 * (1 - s/3) = 1, 2/3, 1/3, then frozen; short: 0.25 * 2 for 2 steps;
     * whole: 2 * (1 - s/4) = 2, 1.5, 1, 0.5 */
    const double lin_want[5] = {-1, -5.0 / 3, -2, -2, -2};
    const double short_want[5] = {-0.5, -1, -1, -1, -1};
    const double whole_want[4] = {-2, -3.5, -4.5, -5};
    for (int s = 0; s < 5; s++) {
        optimizer_step(&o, w, g, 2.0f);
        ck_assert_double_eq_tol(w[c1->b_off], lin_want[s], 1e-6);
        ck_assert_double_eq_tol(w[fc->w_off], short_want[s], 1e-6);
        ck_assert_double_eq_tol(w[fc->b_off + 9], short_want[s], 1e-6);
        if (s < 4) ck_assert_double_eq_tol(w[c1->w_off + 1], whole_want[s], 1e-6);
    }
    optimizer_free(&o);

    /* fractional epochs are counted without float error: 0.1 x 50 = 5 steps, not 6 */
    experiment_free(&e);
    load("[group.a]\nepochs = 0.1\n" FC_NET, &e);
    Model m2;
    ck_assert_int_eq(model_build(&e, 0, &m2), 0);
    optimizer_init(&o, &e, m2.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m2, 50), 0);
    ck_assert_int_eq(o.groups[span_at(&o, 0)->group].steps, 5);
    optimizer_bind(&o, &m2, 7); /* 0.7 steps: 1 */
    ck_assert_int_eq(o.groups[span_at(&o, 0)->group].steps, 1);
    optimizer_free(&o);
    model_free(&m2);
    free(w);
    free(g);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* Two steps from w = 1 with gradient 0.5, lr 0.1, wd 0.1, momentum 0.9:
 *  coupled:   d = 0.5 + 0.1 = 0.6, buf 0.6, w = 0.94; d = 0.5 + 0.094 = 0.594,
 *             buf = 0.54 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266
 *  decoupled: w = 0.99, buf 0.5, w = 0.94; w = 0.94 * 0.99 = 0.9306,
 *             buf = 0.45 + 0.5 = 0.95, w = 0.9306 - 0.095 = 0.8356
 *  adam with decay = decoupled is adamw: 0.99 - 0.1, 0.89 * 0.99 - 0.1 = 0.7811 */
START_TEST(test_decay_by_hand)
{
    Experiment e;
    load("[schedule]\ntype = constant\nlr = 0.1\n"
         "[optimizer]\nweight_decay = 0.1\nmomentum = 0.9\n"
         "[group.coupled]\nlayers = fc\nparams = linear_weight\ndecay = coupled\n"
         "[group.decoupled]\nlayers = fc\nparams = bias\ndecay = decoupled\n"
         "[group.adamw]\nlayers = c1\nparams = conv_weight\ntype = adam\ndecay = decoupled\n"
         FC_NET, &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    Optimizer o;
    optimizer_init(&o, &e, m.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m, 1), 0);
    ck_assert_ptr_nonnull(o.m2); /* allocated for the adam group */
    float *w = alloc_floats(m.n_params), *g = alloc_floats(m.n_params);
    for (size_t i = 0; i < m.n_params; i++) w[i] = 1.0f, g[i] = 0.5f;
    optimizer_step(&o, w, g, 0.1f);
    optimizer_step(&o, w, g, 0.1f);
    const Node *c1 = node(&m, "c1"), *fc = node(&m, "fc");
    ck_assert_float_eq_tol(w[fc->w_off], 0.8266f, 1e-6f);
    ck_assert_float_eq_tol(w[fc->b_off], 0.8356f, 1e-6f);
    ck_assert_float_eq_tol(w[c1->w_off], 0.7811f, 1e-6f);
    ck_assert_float_eq_tol(w[c1->b_off], 0.8266f, 1e-6f); /* [optimizer]: sgd, coupled */
    free(w);
    free(g);
    optimizer_free(&o);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* [optimizer] type = muon on a network of weights only: each tensor moves
 * exactly as muon_update moves its (K, out) matrix (conv: K > out; linear
 * 4 -> 10: out > K), with the group's momentum, Nesterov and ns_steps. */
START_TEST(test_muon_through_optimizer)
{
    Experiment e;
    load("[optimizer]\ntype = muon\nmomentum = 0.6\nnesterov = true\nns_steps = 4\n"
         "weight_decay = 0\n"
         "[layer.c1]\ntype = conv\nfilters = 4\nbias = false\n"
         "[layer.gap]\ntype = global_avgpool\n"
         "[layer.fc]\ntype = linear\noutputs = 10\nbias = false\n", &e);
    Model m;
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    Optimizer o;
    optimizer_init(&o, &e, m.n_params);
    ck_assert_int_eq(optimizer_bind(&o, &m, 1), 0);
    size_t n = m.n_params;
    float *w = alloc_floats(n), *g = alloc_floats(n), *ref = alloc_floats(n);
    float *buf = alloc_floats(n);
    Rng r;
    rng_seed(&r, 4, 1);
    for (size_t i = 0; i < n; i++) ref[i] = w[i] = 0.2f * rng_normal(&r);
    const Node *nodes[2] = {node(&m, "c1"), node(&m, "fc")};
    const int rows[2] = {27, 4}, cols[2] = {4, 10};
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < n; i++) g[i] = rng_normal(&r);
        optimizer_step(&o, w, g, 0.05f);
        for (int k = 0; k < 2; k++) {
            ck_assert_uint_eq(nodes[k]->w_len, (size_t)rows[k] * cols[k]);
            size_t off = nodes[k]->w_off;
            float *work = alloc_floats(muon_work_floats(rows[k], cols[k]));
            Workspace ws = workspace_alloc(muon_gemm_floats(rows[k], cols[k], m.threads),
                                           m.threads);
            muon_update(rows[k], cols[k], ref + off, g + off, buf + off, 0.05f, 0.6f, true, 0.0f,
                        false, 4, work, &ws);
            free(work);
            workspace_free(&ws);
        }
        ck_assert_int_eq(memcmp(w, ref, n * sizeof *w), 0);
        ck_assert_int_eq(memcmp(o.m1, buf, n * sizeof *w), 0);
    }
    /* renormalised before each update: the norm stays near sqrt(out) */
    double norm = 0;
    for (size_t i = 0; i < nodes[1]->w_len; i++)
        norm += (double)w[nodes[1]->w_off + i] * w[nodes[1]->w_off + i];
    ck_assert_double_eq_tol(sqrt(norm), sqrt(10.0), 0.1);
    free(w), free(g), free(ref), free(buf);
    optimizer_free(&o);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* Every OptimizerType has a whole row in src/config/optimizers.c and in
 * src/train/optimizer.c's steps, and the two agree: a type left out (or a
 * row half filled) would otherwise parse and never be updated, silently. */
START_TEST(test_optimizer_table_complete)
{
    for (int t = 0; t < OPT_COUNT; t++) {
        const OptimizerInfo *info = optimizer_info((OptimizerType)t);
        const OptimizerStep *st = optimizer_step_of((OptimizerType)t);
        ck_assert_msg(info->name != NULL, "optimizer %d has no row in src/config/optimizers.c", t);
        ck_assert_str_eq(optimizer_type_name((OptimizerType)t), info->name);
        for (int k = 0; k < t; k++) ck_assert_str_ne(optimizer_info((OptimizerType)k)->name, info->name);
        ck_assert_msg(info->beta2 > 0 && info->beta2 < 1, "%s: no default beta2", info->name);
        ck_assert_msg(info->state != 0 && !(info->state & ~(unsigned)(OPT_STATE_M1 | OPT_STATE_M2)),
                      "%s: its state vectors are not OPT_STATE_* bits", info->name);
        /* the checkpoint's layout: m2 only beside m1 */
        if (info->state & OPT_STATE_M2) ck_assert(info->state & OPT_STATE_M1);
        /* one way to update: element-wise, or a tensor at a time for matrix-only */
        ck_assert_msg((st->range != NULL) != (st->tensor != NULL),
                      "%s: its steps row in src/train/optimizer.c needs a range or a tensor "
                      "function, not both", info->name);
        ck_assert_msg((st->tensor != NULL) == info->matrix_only,
                      "%s: matrix_only and a tensor function go together", info->name);
        if (st->tensor) ck_assert(st->work_floats && st->gemm_floats);
    }
    ck_assert_ptr_null(optimizer_info(OPT_COUNT)->name);
    ck_assert_str_eq(optimizer_type_name(OPT_COUNT), "?");
    ck_assert_ptr_null(optimizer_step_of(OPT_COUNT)->range);
    ck_assert_ptr_null(optimizer_step_of(OPT_COUNT)->tensor);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("groups");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_optimizer_table_complete);
    tcase_add_test(tc, test_selection);
    tcase_add_test(tc, test_network_errors);
    tcase_add_test(tc, test_frozen_unchanged);
    tcase_add_test(tc, test_epochs_and_linear_schedule);
    tcase_add_test(tc, test_decay_by_hand);
    tcase_add_test(tc, test_muon_through_optimizer);
    suite_add_tcase(s, tc);
    return check_run(s);
}
