/* test_tune.c — each convolution's algorithm (issue 14): the algorithm
 * table (names, eligibility, the shape rule), CNNRUN_CONV (tune, rule, one
 * algorithm, a wrong value), the autotuner (every choice eligible for its
 * shape, repeated shapes timed once, the tuned network computes what the
 * im2col one does, a forced or rule choice is not measured), setting a
 * checkpoint's algorithms, and the model table's text. No timing is
 * asserted: which algorithm wins depends on the machine. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* c1: 3 channels in (im2col only); c2 and c3: the same 16 -> 16 3x3 shape
 * (timed once); r: a residual 16 -> 32 (conv1, conv2 eligible, its 1x1
 * shortcut not); c4: stride 2 (im2col only). */
static const char *net =
    "[experiment]\nname = tune\n[data]\nbatch_size = 4\n"
    "[layer.c1]\ntype = conv\nfilters = 16\nbatchnorm = true\nactivation = relu\n"
    "[layer.c2]\ntype = conv\nfilters = 16\nbatchnorm = true\nactivation = relu\n"
    "[layer.c3]\ntype = conv\nfilters = 16\nbatchnorm = true\nactivation = relu\n"
    "[layer.r]\ntype = residual\nfilters = 32\n"
    "[layer.c4]\ntype = conv\nfilters = 16\nstride = 2\n"
    "[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n";

static char path[64];

static char wisdom[64];

static void setup(void)
{
    setenv("CNNRUN_WISDOM", "", 1); /* measure every time, keep nothing; unless a test says */
    unsetenv("CNNRUN_TUNE_PREFER");
    snprintf(wisdom, sizeof wisdom, "/tmp/cnnrun_wisdom_XXXXXX");
    int wfd = mkstemp(wisdom);
    ck_assert_int_ge(wfd, 0);
    close(wfd);
    snprintf(path, sizeof path, "/tmp/cnnrun_tune_XXXXXX.ini");
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, net, strlen(net)), (int)strlen(net));
    close(fd);
}

static void teardown(void)
{
    unlink(path);
    unlink(wisdom);
}

/* The file, with the engine settings the environment gives (as the command
 * line does), built for batch. */
static void build(Experiment *e, Model *m, int batch)
{
    ck_assert_int_eq(experiment_load(path, NULL, 0, e), 0);
    ck_assert_int_eq(engine_settings_from_env(&e->engine), 0);
    ck_assert_int_eq(model_build(e, batch, m), 0);
}

static ConvShape shape3x3(int c_in, int c_out, int hw, int stride, int size, int pad)
{
    ConvShape s = {.n = 2, .h = hw, .w = hw, .c_in = c_in, .c_out = c_out, .kh = size,
                   .kw = size, .stride = stride, .pad = pad};
    conv_shape_init(&s);
    return s;
}

/* The node's conv shape (its input is the node before it, or the images). */
static ConvShape node_shape(const Model *m, const Node *n, int batch)
{
    int c, h, w;
    model_tensor_shape(m, n->in[0], &c, &h, &w);
    ConvShape s = {.n = batch, .h = h, .w = w, .c_in = c, .c_out = n->c, .kh = n->size,
                   .kw = n->size, .stride = n->stride, .pad = n->pad, .algo = n->algo,
                   .threads = m->threads};
    conv_shape_init(&s);
    return s;
}

static const Node *node(const Model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0) return &m->nodes[i];
    ck_abort_msg("no node %s", name);
    return NULL;
}

START_TEST(test_algorithm_table)
{
    ck_assert_int_ge(conv_algo_count(), 2);
    ck_assert_int_eq(conv_algo_at(0), CONV_IM2COL);
    ck_assert_int_eq(conv_algo_at(conv_algo_count()), -1);
    for (int i = 0; i < conv_algo_count(); i++) {
        int a = conv_algo_at(i);
        ck_assert_ptr_nonnull(conv_algo_name(a));
        ck_assert_int_eq(conv_algo_by_name(conv_algo_name(a)), a);
    }
    ck_assert_str_eq(conv_algo_name(CONV_IM2COL), "im2col");
    ck_assert_str_eq(conv_algo_name(CONV_WINOGRAD), "winograd");
    ck_assert_str_eq(conv_algo_name(CONV_AUTO), "auto");
    ck_assert_ptr_null(conv_algo_name(99));
    ck_assert_int_eq(conv_algo_by_name("wino"), -1);
    ck_assert_int_eq(conv_algo_by_name(NULL), -1);

    ConvShape ok = shape3x3(16, 16, 8, 1, 3, 1), narrow = shape3x3(15, 16, 8, 1, 3, 1);
    ConvShape strided = shape3x3(16, 16, 8, 2, 3, 1), point = shape3x3(16, 16, 8, 1, 1, 0);
    ConvShape wide = shape3x3(128, 128, 8, 1, 3, 1), half = shape3x3(128, 64, 8, 1, 3, 1);
    ck_assert(conv_algo_eligible(CONV_IM2COL, &narrow) && conv_algo_eligible(CONV_IM2COL, &point));
    ck_assert(conv_algo_eligible(CONV_WINOGRAD, &ok));
    ck_assert(conv_algo_eligible(CONV_WINOGRAD, &narrow)); /* any channel count */
    ck_assert(conv_algo_eligible(CONV_WINOGRAD4, &narrow));
    ck_assert(!conv_algo_eligible(CONV_WINOGRAD, &strided));
    ck_assert(!conv_algo_eligible(CONV_WINOGRAD, &point));
    ck_assert(!conv_algo_eligible(99, &ok));
    int cand[8];
    ck_assert_int_eq(conv_algo_candidates(&point, cand, 8), 1);
    ck_assert_int_eq(cand[0], CONV_IM2COL);
    int k = conv_algo_candidates(&ok, cand, 8);
    ck_assert_int_ge(k, 2);
    ck_assert_int_eq(cand[0], CONV_IM2COL);
    ck_assert_int_eq(cand[1], CONV_WINOGRAD);
    ck_assert_int_eq(conv_algo_candidates(&ok, cand, 1), 1);
    /* the rule: F(4x4) wherever eligible (what measuring chose on the CPUs
     * we know), im2col elsewhere */
    ck_assert_int_eq(conv_algo_rule(&ok), CONV_WINOGRAD4);
    ck_assert_int_eq(conv_algo_rule(&narrow), CONV_WINOGRAD4);
    ck_assert_int_eq(conv_algo_rule(&half), CONV_WINOGRAD4);
    ck_assert_int_eq(conv_algo_rule(&strided), CONV_IM2COL);
    ck_assert_int_eq(conv_algo_rule(&point), CONV_IM2COL);
    /* in bf16 F(4x4) is neither the rule's nor a candidate (its products
     * double the gradients' error), though it still computes the shape when
     * forced; F(2x2) stays */
    ConvShape ok16 = ok;
    ok16.precision = PRECISION_BF16;
    ck_assert(conv_algo_eligible(CONV_WINOGRAD4, &ok16));
    ck_assert(!conv_algo_choosable(CONV_WINOGRAD4, &ok16));
    ck_assert(conv_algo_choosable(CONV_WINOGRAD4, &ok) && conv_algo_choosable(CONV_WINOGRAD, &ok16));
    ck_assert_int_eq(conv_algo_rule(&ok16), CONV_IM2COL);
    k = conv_algo_candidates(&ok16, cand, 8);
    for (int j = 0; j < k; j++) ck_assert_int_ne(cand[j], CONV_WINOGRAD4);
    ck_assert_int_eq(k, conv_algo_candidates(&ok, cand, 8) - 1 + conv_algo_eligible(CONV_ONEDNN, &ok16));
    ok16.algo = CONV_WINOGRAD4;
    ck_assert_int_eq(conv_algo_resolve(&ok16), CONV_WINOGRAD4);
    /* the rule before: F(2x2) from 128 channels in and out (checkpoints
     * that recorded no algorithms ran it) */
    ck_assert_int_eq(conv_algo_rule_v1(&ok), CONV_IM2COL);
    ck_assert_int_eq(conv_algo_rule_v1(&half), CONV_IM2COL);
    ck_assert_int_eq(conv_algo_rule_v1(&wide), CONV_WINOGRAD);
    ck_assert_int_eq(conv_algo_rule_v1(&strided), CONV_IM2COL);
    /* what the kernels run */
    wide.algo = CONV_AUTO;
    ck_assert_int_eq(conv_algo_resolve(&wide), CONV_WINOGRAD4);
    wide.algo = CONV_IM2COL;
    ck_assert_int_eq(conv_algo_resolve(&wide), CONV_IM2COL);
    strided.algo = CONV_WINOGRAD;
    ck_assert_int_eq(conv_algo_resolve(&strided), CONV_IM2COL);
}
END_TEST

/* The engine settings from the environment (the one place that reads it):
 * each value, a wrong one refused, and their text as runs.engine records it,
 * read back. */
START_TEST(test_settings_from_env)
{
    EngineSettings es;
    unsetenv("CNNRUN_CONV");
    unsetenv("CNNRUN_DWSPLIT");
    unsetenv("CNNRUN_FUSE");
    ck_assert_int_eq(engine_settings_from_env(&es), 0);
    ck_assert_int_eq(es.conv, CONV_CHOICE_TUNE);
    ck_assert_int_eq(es.dwsplit, CONV_DWSPLIT_AUTO);
    ck_assert_int_eq(es.no_fuse, 0);
    ck_assert_str_eq(es.wisdom, ""); /* CNNRUN_WISDOM= : nowhere */
    static const struct {
        const char *conv;
        ConvChoice choice;
        int forced;
    } convs[] = {{"", CONV_CHOICE_TUNE, CONV_AUTO},         {"tune", CONV_CHOICE_TUNE, CONV_AUTO},
                 {"retune", CONV_CHOICE_RETUNE, CONV_AUTO}, {"rule", CONV_CHOICE_RULE, CONV_AUTO},
                 {"winograd", CONV_CHOICE_FORCED, CONV_WINOGRAD},
                 {"winograd2", CONV_CHOICE_FORCED, CONV_WINOGRAD},
                 {"winograd4", CONV_CHOICE_FORCED, CONV_WINOGRAD4},
                 {"im2col", CONV_CHOICE_FORCED, CONV_IM2COL}};
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        setenv("CNNRUN_CONV", convs[i].conv, 1);
        ck_assert_int_eq(engine_settings_from_env(&es), 0);
        ck_assert_int_eq(es.conv, convs[i].choice);
        if (es.conv == CONV_CHOICE_FORCED) ck_assert_int_eq(es.conv_forced, convs[i].forced);
        /* the text a run records gives the same settings back */
        char text[128];
        engine_settings_text(&es, text, sizeof text);
        EngineSettings back = {0};
        ck_assert_int_eq(engine_settings_parse(text, &back), 0);
        ck_assert_int_eq(back.conv, es.conv);
        ck_assert_int_eq(back.conv_forced, es.conv_forced);
    }
    setenv("CNNRUN_CONV", "rows", 1);
    setenv("CNNRUN_DWSPLIT", "rows", 1);
    setenv("CNNRUN_FUSE", "0", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), -1); /* "rows" is no algorithm */
    setenv("CNNRUN_CONV", "winograd4", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), 0);
    char text[128];
    engine_settings_text(&es, text, sizeof text);
    ck_assert_str_eq(text, "conv=winograd4 dwsplit=rows fuse=off");
    EngineSettings back = {0};
    ck_assert_int_eq(engine_settings_parse(text, &back), 0);
    ck_assert_int_eq(back.dwsplit, CONV_DWSPLIT_ROWS);
    ck_assert_int_eq(back.no_fuse, 1);
    ck_assert_int_eq(engine_settings_parse("conv=fast", &back), -1);
    ck_assert_int_eq(engine_settings_parse("dwsplit", &back), -1);
    ck_assert_int_eq(back.dwsplit, CONV_DWSPLIT_ROWS); /* a refused text changes nothing */
    /* wrong values: refused (`cnnrun` exits 2 before anything is written) */
    setenv("CNNRUN_CONV", "Winograd", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), -1);
    setenv("CNNRUN_CONV", "tune", 1);
    setenv("CNNRUN_DWSPLIT", "cols", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), -1);
    unsetenv("CNNRUN_DWSPLIT");
    setenv("CNNRUN_TUNE_PREFER", "fastest", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), -1);
    unsetenv("CNNRUN_TUNE_PREFER");
    unsetenv("CNNRUN_FUSE");
    /* the default file: the user's cache */
    unsetenv("CNNRUN_WISDOM");
    setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
    ck_assert_int_eq(engine_settings_from_env(&es), 0);
    ck_assert_str_eq(es.wisdom, "/tmp/xdg/cnnrun/conv-wisdom");
    unsetenv("XDG_CACHE_HOME");
    setenv("CNNRUN_WISDOM", "", 1);
}
END_TEST

/* The wisdom file: a measured choice is kept and taken by the next model
 * whatever its own timing would say (two processes of one experiment
 * compute the same), retune measures again, and another thread count or a
 * shape not in the file is measured. CNNRUN_TUNE_PREFER makes each tuner see
 * a different fastest algorithm (fails without the file: each build takes
 * its own). */
START_TEST(test_wisdom_kept)
{
    setenv("CNNRUN_WISDOM", wisdom, 1);
    setenv("CNNRUN_CONV", "tune", 1);
    setenv("CNNRUN_TUNE_PREFER", "im2col", 1);
    Experiment e;
    Model m;
    build(&e, &m, 4);
    model_tune_convs(&m, NULL);
    ck_assert_int_eq(m.conv_from, CONV_FROM_TUNING);
    ck_assert_int_eq(m.conv_tune_shapes, 4);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_IM2COL);
    ck_assert_int_eq(node(&m, "r.conv2")->algo, CONV_IM2COL);
    int first[16], n = model_conv_algos(&m, first, 16);
    model_free(&m);
    experiment_free(&e);
    /* a second tuner that would pick F(4x4) takes the file's choice */
    setenv("CNNRUN_TUNE_PREFER", "winograd4", 1);
    build(&e, &m, 4);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    model_tune_convs(&m, f);
    fclose(f);
    ck_assert_int_eq(m.conv_from, CONV_FROM_WISDOM);
    ck_assert_int_eq(m.conv_tune_shapes, 0);
    int second[16];
    ck_assert_int_eq(model_conv_algos(&m, second, 16), n);
    for (int i = 0; i < n; i++) ck_assert_int_eq(second[i], first[i]);
    ck_assert_msg(strstr(buf, "c2") && strstr(buf, "kept") && strstr(buf, "im2col:") &&
                      !strstr(buf, "measured"), "%s", buf);
    free(buf);
    model_free(&m);
    experiment_free(&e);
    /* retune: measured again, and the new choice is the one kept */
    setenv("CNNRUN_CONV", "retune", 1);
    build(&e, &m, 4);
    model_tune_convs(&m, NULL);
    ck_assert_int_eq(m.conv_from, CONV_FROM_TUNING);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_WINOGRAD4);
    model_free(&m);
    experiment_free(&e);
    setenv("CNNRUN_CONV", "tune", 1);
    setenv("CNNRUN_TUNE_PREFER", "im2col", 1);
    build(&e, &m, 4);
    model_tune_convs(&m, NULL);
    ck_assert_int_eq(m.conv_from, CONV_FROM_WISDOM);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_WINOGRAD4);
    model_free(&m);
    experiment_free(&e);
    /* another batch is another shape: measured */
    build(&e, &m, 6);
    model_tune_convs(&m, NULL);
    ck_assert_int_eq(m.conv_from, CONV_FROM_TUNING);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_IM2COL);
    model_free(&m);
    experiment_free(&e);
    /* the file: one line per measured shape, this machine's key first */
    FILE *w = fopen(wisdom, "r");
    char line[1024];
    int lines = 0;
    while (fgets(line, sizeof line, w)) {
        ck_assert_msg(strncmp(line, "cpu=", 4) == 0 && strstr(line, " threads=") &&
                          strstr(line, " engine=") && strstr(line, " blas=") &&
                          strstr(line, " precision=fp32 shape=n") && strstr(line, " algo=") &&
                          strstr(line, " ms=im2col:"), "%s", line);
        lines++;
    }
    fclose(w);
    ck_assert_int_eq(lines, 4 + 4 + 4); /* tune, retune, batch 6 */
    unsetenv("CNNRUN_TUNE_PREFER");
    setenv("CNNRUN_WISDOM", "", 1);
}
END_TEST

/* Measured: every conv gets one of its eligible algorithms, a shape with
 * one candidate is not timed, a repeated one once; the network computes
 * what it does with im2col everywhere (to rounding), with scratch enough
 * for the algorithms chosen. */
START_TEST(test_tuned_choice_is_eligible)
{
    const int B = 4;
    setenv("CNNRUN_CONV", "tune", 1);
    Experiment e;
    Model m;
    build(&e, &m, B);
    ck_assert(m.conv_tune);
    ck_assert_int_eq(m.conv_from, CONV_FROM_RULE); /* not measured yet */
    model_tune_convs(&m, NULL);
    ck_assert_int_eq(m.conv_from, CONV_FROM_TUNING);
    /* c1 (3 -> 16), c2 = c3 (16 -> 16), r.conv1 (16 -> 32), r.conv2 (32 -> 32) */
    ck_assert_int_eq(m.conv_tune_shapes, 4);
    ck_assert(m.conv_tune_seconds > 0);
    int algos[16], n = model_conv_algos(&m, algos, 16);
    ck_assert_int_eq(n, 7); /* c1 c2 c3 r.conv1 r.conv2 r.shortcut c4 */
    int k = 0;
    for (int i = 0; i < m.n_nodes; i++) {
        const Node *nd = &m.nodes[i];
        if (nd->op != OP_CONV) continue;
        ConvShape s = node_shape(&m, nd, B);
        ck_assert_msg(conv_algo_eligible(nd->algo, &s), "%s: %s is not eligible", nd->name,
                      conv_algo_name(nd->algo));
        ck_assert_int_eq(algos[k++], nd->algo);
        ck_assert_msg(conv_scratch_floats(&s) <= m.n_scratch, "%s: scratch too small", nd->name);
    }
    ck_assert_int_eq(node(&m, "r.shortcut")->algo, CONV_IM2COL);
    ck_assert_int_eq(node(&m, "c4")->algo, CONV_IM2COL);
    ck_assert_int_eq(node(&m, "c2")->algo, node(&m, "c3")->algo); /* one timing for both */

    setenv("CNNRUN_CONV", "im2col", 1);
    Experiment e2;
    Model ref;
    build(&e2, &ref, B);
    ck_assert_int_eq(ref.conv_from, CONV_FROM_ENV);
    model_init_params(&m, 3);
    model_init_params(&ref, 3);
    float *x = alloc_floats((size_t)B * CIFAR_PIXELS);
    for (size_t i = 0; i < (size_t)B * CIFAR_PIXELS; i++) x[i] = sinf((float)i * 0.37f);
    Model *both[2] = {&m, &ref};
    for (int j = 0; j < 2; j++) {
        model_forward(both[j], x, B, true);
        float *dl = model_dlogits(both[j]);
        for (int i = 0; i < B * 10; i++) dl[i] = (float)((i % 7) - 3) * 0.1f;
        model_zero_grad(both[j]);
        model_backward(both[j], x, B);
    }
    for (int i = 0; i < B * 10; i++)
        ck_assert_float_eq_tol(model_logits(&m)[i], model_logits(&ref)[i],
                               1e-4f * (1 + fabsf(model_logits(&ref)[i])));
    for (size_t i = 0; i < m.n_params; i++)
        ck_assert_float_eq_tol(m.grads[i], ref.grads[i], 1e-3f * (1 + fabsf(ref.grads[i])));
    free(x);
    model_free(&m);
    model_free(&ref);
    experiment_free(&e);
    experiment_free(&e2);
}
END_TEST

/* CNNRUN_CONV=winograd or =rule: set at build, never measured. */
START_TEST(test_forced_and_rule_are_not_measured)
{
    Experiment e;
    Model m;
    setenv("CNNRUN_CONV", "winograd", 1);
    build(&e, &m, 2);
    model_tune_convs(&m, NULL);
    ck_assert(!m.conv_tune);
    ck_assert_int_eq(m.conv_from, CONV_FROM_ENV);
    ck_assert_int_eq(m.conv_tune_shapes, 0);
    static const char *const wino[] = {"c1", "c2", "c3", "r.conv1", "r.conv2"};
    static const char *const im2col[] = {"r.shortcut", "c4"};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(node(&m, wino[i])->algo, CONV_WINOGRAD);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(node(&m, im2col[i])->algo, CONV_IM2COL);
    model_free(&m);
    experiment_free(&e);

    setenv("CNNRUN_CONV", "rule", 1);
    build(&e, &m, 2);
    model_tune_convs(&m, NULL);
    ck_assert(!m.conv_tune);
    ck_assert_int_eq(m.conv_from, CONV_FROM_RULE);
    for (int i = 0; i < 5; i++) ck_assert_int_eq(node(&m, wino[i])->algo, CONV_WINOGRAD4);
    for (int i = 0; i < 2; i++) ck_assert_int_eq(node(&m, im2col[i])->algo, CONV_IM2COL);
    model_free(&m);
    experiment_free(&e);
    /* a library caller that says nothing gets the rule (the zero settings) */
    ck_assert_int_eq(experiment_load(path, NULL, 0, &e), 0);
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    ck_assert(!m.conv_tune);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_WINOGRAD4);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* A session measures unless CNNRUN_CONV says otherwise. */
START_TEST(test_session_measures)
{
    Experiment e;
    ck_assert_int_eq(experiment_load(path, NULL, 0, &e), 0);
    Session s;
    e.engine.conv = CONV_CHOICE_TUNE;
    ck_assert_int_eq(session_open(&s, &e, 2, 0), CN_EXIT_OK);
    ck_assert_int_eq(s.model.conv_from, CONV_FROM_TUNING);
    ck_assert_int_eq(s.model.conv_tune_shapes, 4);
    session_close(&s);
    e.engine.conv = CONV_CHOICE_RULE;
    ck_assert_int_eq(session_open(&s, &e, 2, 0), CN_EXIT_OK);
    ck_assert_int_eq(s.model.conv_from, CONV_FROM_RULE);
    session_close(&s);
    experiment_free(&e);
}
END_TEST

/* A checkpoint's algorithms go back as they were; one the shape cannot run
 * (a file from another cnnrun) gets the rule's, with a note. */
START_TEST(test_set_conv_algos)
{
    setenv("CNNRUN_CONV", "rule", 1);
    Experiment e;
    Model m;
    build(&e, &m, 2);
    size_t rule_scratch = m.n_scratch;
    int algos[16], n = model_conv_algos(&m, algos, 16);
    ck_assert_int_eq(model_set_conv_algos(&m, algos, n - 1, "t"), -1);
    for (int i = 0; i < n; i++) algos[i] = CONV_WINOGRAD;
    algos[0] = -1; /* a name this cnnrun does not know */
    /* c1 (-1), r.shortcut and c4 (not eligible) fall back to the rule, said
     * in one note naming each */
    char errpath[] = "/tmp/cnnrun_tune_err_XXXXXX";
    int fd = mkstemp(errpath), saved = dup(2);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    ck_assert_int_eq(model_set_conv_algos(&m, algos, n, "t"), 3);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char err[2048] = "";
    ck_assert_int_gt((int)pread(fd, err, sizeof err - 1, 0), 0);
    close(fd);
    unlink(errpath);
    ck_assert_msg(strstr(err, "t: note: 3 convolutions recorded an algorithm that does not compute "
                              "their shapes in fp32") &&
                      strstr(err, ": c1 unknown -> winograd4, r.shortcut winograd -> im2col, c4 "
                                  "winograd -> im2col\n") &&
                      !strstr(strchr(err, '\n') + 1, "note"),
                  "%s", err);
    ck_assert_int_eq(m.conv_from, CONV_FROM_CHECKPOINT);
    ck_assert_int_eq(node(&m, "c1")->algo, CONV_WINOGRAD4);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_WINOGRAD);
    ck_assert_int_eq(node(&m, "r.conv2")->algo, CONV_WINOGRAD);
    ck_assert_int_eq(node(&m, "c4")->algo, CONV_IM2COL);
    for (int i = 0; i < m.n_nodes; i++)
        if (m.nodes[i].op == OP_CONV) {
            ConvShape s = node_shape(&m, &m.nodes[i], 2);
            ck_assert_uint_le(conv_scratch_floats(&s), m.n_scratch);
        }
    /* NULL (a checkpoint from before the algorithms were recorded): as the
     * rule of then gave them, F(2x2) from 128 channels, im2col here */
    ck_assert_int_eq(model_set_conv_algos(&m, NULL, n, "t"), 0);
    ck_assert_int_eq(node(&m, "c2")->algo, CONV_IM2COL);
    ck_assert_int_eq(node(&m, "c1")->algo, CONV_IM2COL);
    ck_assert_uint_le(m.n_scratch, rule_scratch); /* im2col needs less than F(4x4) */
    for (int i = 0; i < m.n_nodes; i++)
        if (m.nodes[i].op == OP_CONV) {
            ConvShape s = node_shape(&m, &m.nodes[i], 2);
            ck_assert_uint_le(conv_scratch_floats(&s), m.n_scratch);
        }
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* The model table's column: one name for a section whose convs agree,
 * part=name otherwise, the candidates while still to be measured. */
START_TEST(test_section_text)
{
    Experiment e;
    Model m;
    ModelSection sec;
    setenv("CNNRUN_CONV", "winograd", 1);
    build(&e, &m, 0);
    model_section(&m, 0, &sec);
    ck_assert_str_eq(sec.conv_algo, "winograd"); /* 3x3 stride 1 pad 1: any channel count */
    model_section(&m, 1, &sec);
    ck_assert_str_eq(sec.conv_algo, "winograd");
    model_section(&m, 3, &sec);
    ck_assert_str_eq(sec.conv_algo, "conv1=winograd,conv2=winograd,shortcut=im2col");
    model_section(&m, 5, &sec);
    ck_assert_str_eq(sec.conv_algo, "");
    model_free(&m);
    experiment_free(&e);
    setenv("CNNRUN_CONV", "tune", 1);
    build(&e, &m, 0);
    model_section(&m, 1, &sec);
    ck_assert_str_eq(sec.conv_algo, "im2col|winograd|winograd4");
    model_section(&m, 3, &sec);
    ck_assert_str_eq(sec.conv_algo, "conv1=im2col|winograd|winograd4,conv2=im2col|winograd|winograd4,shortcut=im2col");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    model_print_table(&m, f);
    fclose(f);
    ck_assert_msg(strstr(buf, "conv algorithm") && strstr(buf, "measured when a run starts"),
                  "%s", buf);
    free(buf);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_algorithm_table);
    tcase_add_test(tc, test_settings_from_env);
    tcase_add_test(tc, test_wisdom_kept);
    tcase_add_test(tc, test_tuned_choice_is_eligible);
    tcase_add_test(tc, test_forced_and_rule_are_not_measured);
    tcase_add_test(tc, test_session_measures);
    tcase_add_test(tc, test_set_conv_algos);
    tcase_add_test(tc, test_section_text);
    suite_add_tcase(s, tc);
    return check_run(s);
}
