/* test_init.c — initialisation options of conv and linear layers and the
 * conv's batch-norm keys:
 *  - `init = dirac`: exactly the identity on the first C_in filters, the rest
 *    as the default init, and a conv with filters = C_in passes its input
 *    through unchanged;
 *  - linear `init = unit_std`: sample std 1, the default weights times one factor;
 *  - linear `scale`: forward and backward are the unscaled ones times scale
 *    (exactly for a power of two), and match finite differences;
 *  - `bn_eps`, `bn_momentum` on a conv section reach its batch norm;
 *  - the configuration errors, at file:line. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"

static char tmp_dir[64];
static char ini_path[256];
static char errs[16384];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cnnrun-test-init-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
}

static const char *write_ini(const char *text)
{
    static int k;
    snprintf(ini_path, sizeof ini_path, "%s/t%d.ini", tmp_dir, k++);
    FILE *f = fopen(ini_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return ini_path;
}

/* Loads and builds text at batch; stderr into errs. Returns 0, -1 (config) or -2 (build). */
static int try_build(const char *text, int batch, Experiment *e, Model *m)
{
    const char *p = write_ini(text);
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    dup2(fileno(tmp), 2);
    int rc = experiment_load(p, NULL, 0, e) != 0 ? -1 : 0;
    if (rc == 0 && model_build(e, batch, m) != 0) {
        experiment_free(e);
        rc = -2;
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t got = fread(errs, 1, sizeof errs - 1, tmp);
    errs[got] = '\0';
    fclose(tmp);
    return rc;
}

static void build(const char *text, int batch, Experiment *e, Model *m)
{
    int rc = try_build(text, batch, e, m);
    ck_assert_msg(rc == 0, "build failed (%d):\n%s\n%s", rc, text, errs);
}

static void expect_error(const char *text, int rc_want, int line, const char *msg)
{
    Experiment e;
    Model m;
    int rc = try_build(text, 2, &e, &m);
    if (rc == 0) {
        model_free(&m);
        experiment_free(&e);
    }
    ck_assert_msg(rc == rc_want, "expected %s failure for:\n%s\ngot %d:\n%s",
                  rc_want == -1 ? "config" : "build", text, rc, errs);
    char want[512];
    snprintf(want, sizeof want, "%s:%d: ", ini_path, line);
    ck_assert_msg(strstr(errs, want) && strstr(errs, msg), "wanted '%s...%s'\ngot:\n%s", want, msg,
                  errs);
}

static const Node *node_named(const Model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0) return &m->nodes[i];
    ck_abort_msg("no node %s", name);
    return NULL;
}

#define HEAD "[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

/* init = dirac: filters o < C_in are exactly the identity on channel o, the
 * others and every other parameter as the default init; with filters = C_in
 * and no bias the layer is the identity. */
START_TEST(test_dirac)
{
    static const char *body =
        "[layer.a]\ntype = conv\nfilters = 4\nsize = 1\n"
        "[layer.b]\ntype = conv\nfilters = 6\nsize = %d\n%s"
        "[layer.c]\ntype = conv\nfilters = 6\nbias = false\n%s" HEAD;
    char t1[1024], t2[1024];
    snprintf(t1, sizeof t1, body, 3, "init = dirac\n", "init = dirac\n");
    snprintf(t2, sizeof t2, body, 3, "", "");
    Experiment e1, e2;
    Model a, p;
    build(t1, 2, &e1, &a);
    build(t2, 2, &e2, &p);
    model_init_params(&a, 5);
    model_init_params(&p, 5);
    const Node *b = node_named(&a, "b");
    const float *wa = a.params + b->w_off, *wp = p.params + b->w_off;
    for (int tap = 0; tap < 9; tap++)
        for (int ci = 0; ci < 4; ci++)
            for (int o = 0; o < 6; o++) {
                float v = wa[(tap * 4 + ci) * 6 + o];
                if (o < 4)
                    ck_assert_msg(v == (tap == 4 && ci == o ? 1.0f : 0.0f), "tap %d in %d out %d",
                                  tap, ci, o);
                else
                    ck_assert(v == wp[(tap * 4 + ci) * 6 + o]);
            }
    for (size_t i = 0; i < a.n_params; i++) {
        bool dirac_w = false;
        for (int k = 1; k <= 2; k++) {
            const Node *n = &a.nodes[k];
            dirac_w |= i >= n->w_off && i < n->w_off + n->w_len;
        }
        if (!dirac_w) ck_assert_msg(a.params[i] == p.params[i], "parameter %zu changed", i);
    }
    /* c: 6 -> 6 without bias: exactly its input */
    float *x = alloc_floats(2 * CIFAR_PIXELS);
    for (int i = 0; i < 2 * CIFAR_PIXELS; i++) x[i] = (float)((i * 37) % 101) / 17.0f - 3.0f;
    model_forward(&a, x, 2, true);
    const Node *c = node_named(&a, "c");
    ck_assert_int_eq(memcmp(c->out, b->out, sizeof(float) * 2 * 32 * 32 * 6), 0);
    free(x);
    model_free(&a);
    model_free(&p);
    experiment_free(&e1);
    experiment_free(&e2);
}
END_TEST

/* linear init = unit_std: the default weights times one factor, sample std 1. */
START_TEST(test_unit_std)
{
    static const char *body = "[layer.g]\ntype = global_avgpool\n"
                              "[layer.h]\ntype = linear\noutputs = 16\n%s"
                              "[layer.fc]\ntype = linear\noutputs = 10\nbias = false\n%s";
    char t1[512], t2[512];
    snprintf(t1, sizeof t1, body, "init = unit_std\n", "init = unit_std\n");
    snprintf(t2, sizeof t2, body, "", "");
    Experiment e1, e2;
    Model a, p;
    build(t1, 2, &e1, &a);
    build(t2, 2, &e2, &p);
    model_init_params(&a, 9);
    model_init_params(&p, 9);
    for (int k = 1; k <= 2; k++) {
        const Node *n = &a.nodes[k];
        const float *w = a.params + n->w_off, *w0 = p.params + n->w_off;
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n->w_len; i++) sum += w[i];
        for (size_t i = 0; i < n->w_len; i++) sq += (w[i] - sum / n->w_len) * (w[i] - sum / n->w_len);
        double sd = sqrt(sq / (double)(n->w_len - 1));
        ck_assert_msg(fabs(sd - 1) < 1e-6, "%s: std %.9f", n->name, sd);
        const float f = w[0] / w0[0];
        for (size_t i = 0; i < n->w_len; i++)
            ck_assert_msg(fabsf(w[i] - f * w0[i]) <= 1e-6f * fabsf(w[i]) + 1e-30f, "%s[%zu]",
                          n->name, i);
        for (size_t i = 0; i < n->b_len; i++) /* the bias keeps its default */
            ck_assert(a.params[n->b_off + i] == p.params[n->b_off + i]);
    }
    model_free(&a);
    model_free(&p);
    experiment_free(&e1);
    experiment_free(&e2);
}
END_TEST

/* Forward + backward with the loss sum(R * logits) for a fixed R. */
static void step(Model *m, const float *x, int n, const float *r)
{
    model_forward(m, x, n, true);
    memcpy(model_dlogits(m), r, sizeof(float) * (size_t)n * 10);
    model_zero_grad(m);
    model_backward(m, x, n);
}

static double loss_of(Model *m, const float *x, int n, const float *r)
{
    model_forward(m, x, n, true);
    const float *lg = model_logits(m);
    double l = 0;
    for (int i = 0; i < n * 10; i++) l += (double)r[i] * lg[i];
    return l;
}

/* linear scale: logits and every gradient (parameters and the input of the
 * head) are the unscaled ones times scale — exactly for 0.25, to float
 * rounding for 1/9 — and the scaled backward is the forward's derivative. */
START_TEST(test_linear_scale)
{
    static const char *body = "[layer.c]\ntype = conv\nfilters = 4\nsize = 3\nstride = 4\n"
                              "activation = gelu\n[layer.g]\ntype = global_avgpool\n"
                              "[layer.fc]\ntype = linear\noutputs = 10\n%s";
    const int n = 3;
    float *x = alloc_floats((size_t)n * CIFAR_PIXELS), r[30];
    for (int i = 0; i < n * CIFAR_PIXELS; i++) x[i] = sinf(0.37f * (float)i) * 1.5f;
    for (int i = 0; i < 30; i++) r[i] = cosf(1.3f * (float)i);
    Experiment e1, e0;
    Model s, p;
    build("[layer.c]\ntype = conv\nfilters = 4\nsize = 3\nstride = 4\nactivation = gelu\n"
          "[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n", n, &e0,
          &p);
    model_init_params(&p, 2);
    step(&p, x, n, r);
    float *lg0 = alloc_floats(30), *g0 = alloc_floats(p.n_params);
    memcpy(lg0, model_logits(&p), sizeof(float) * 30);
    memcpy(g0, p.grads, sizeof(float) * p.n_params);
    const float scales[] = {0.25f, 1.0f / 9.0f};
    for (int k = 0; k < 2; k++) {
        char t[512], line[64];
        snprintf(line, sizeof line, "scale = %.9g\n", (double)scales[k]);
        snprintf(t, sizeof t, body, line);
        build(t, n, &e1, &s);
        ck_assert(node_named(&s, "fc")->scale == scales[k]);
        model_init_params(&s, 2);
        step(&s, x, n, r);
        /* 0.25: exact; 1/9: the rounding of scale * dout, carried through the sums */
        const float sc = scales[k];
        const float tol = k == 0 ? 0.0f : 1e-5f;
        float gmax = 0;
        for (size_t i = 0; i < s.n_params; i++) gmax = fmaxf(gmax, fabsf(sc * g0[i]));
        for (int i = 0; i < 30; i++)
            ck_assert_msg(fabsf(model_logits(&s)[i] - sc * lg0[i]) <= tol * fabsf(sc * lg0[i]),
                          "scale %g logit %d: %.9g vs %.9g", sc, i, model_logits(&s)[i],
                          sc * lg0[i]);
        for (size_t i = 0; i < s.n_params; i++)
            ck_assert_msg(fabsf(s.grads[i] - sc * g0[i]) <=
                              tol * fmaxf(fabsf(sc * g0[i]), 1e-2f * gmax),
                          "scale %g grad %zu: %.9g vs %.9g", sc, i, s.grads[i], sc * g0[i]);
        /* central differences of the scaled forward, a few of each layer's parameters */
        float *gs = alloc_floats(s.n_params);
        memcpy(gs, s.grads, sizeof(float) * s.n_params);
        for (size_t i = 0; i < s.n_params; i += 7) {
            float keep = s.params[i], h = 1e-2f * fmaxf(fabsf(keep), 0.1f);
            s.params[i] = keep + h;
            double lp = loss_of(&s, x, n, r);
            s.params[i] = keep - h;
            double lm = loss_of(&s, x, n, r);
            s.params[i] = keep;
            double fd = (lp - lm) / (2.0 * h);
            ck_assert_msg(fabs(fd - gs[i]) <= 2e-3 * fmax(fabs(fd), 1e-2) + 1e-5,
                          "scale %g param %zu: backward %.6g, finite difference %.6g", sc, i,
                          gs[i], fd);
        }
        free(gs);
        model_free(&s);
        experiment_free(&e1);
    }
    free(lg0);
    free(g0);
    free(x);
    model_free(&p);
    experiment_free(&e0);
}
END_TEST

/* bn_eps and bn_momentum on a conv section reach its batch norm; the
 * defaults stay PyTorch's. */
START_TEST(test_conv_bn_keys)
{
    Experiment e;
    Model m;
    build("[layer.a]\ntype = conv\nfilters = 4\nbatchnorm = true\nbn_eps = 1e-12\n"
          "bn_momentum = 0.4\n[layer.b]\ntype = conv\nfilters = 4\nbatchnorm = true\n" HEAD, 2,
          &e, &m);
    const Node *a = node_named(&m, "a.bn"), *b = node_named(&m, "b.bn");
    ck_assert(a->eps == 1e-12f && a->momentum == 0.4f);
    ck_assert(b->eps == 1e-5f && b->momentum == 0.1f);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

START_TEST(test_config_errors)
{
    /* dirac: at least C_in filters, an odd size */
    expect_error("[layer.a]\ntype = conv\nfilters = 8\n"
                 "[layer.d]\ntype = conv\nfilters = 4\ninit = dirac\n" HEAD,
                 -2, 4, "init = dirac needs at least as many filters as input channels (8), got "
                 "filters = 4");
    expect_error("[layer.d]\ntype = conv\nfilters = 4\nsize = 2\ninit = dirac\n" HEAD, -1, 5,
                 "init = dirac needs a kernel with a centre (an odd size), got size 2");
    /* values and ranges */
    expect_error("[layer.d]\ntype = conv\nfilters = 4\ninit = unit_std\n" HEAD, -1, 4,
                 "unknown value 'unit_std' for 'init'");
    expect_error("[layer.d]\ntype = conv\nfilters = 4\n[layer.g]\ntype = global_avgpool\n"
                 "[layer.fc]\ntype = linear\noutputs = 10\ninit = whiten\n", -1, 9,
                 "unknown value 'whiten' for 'init'");
    expect_error("[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"
                 "scale = 0\n", -1, 6, "'scale' must be > 0, got 0");
    expect_error("[layer.g]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"
                 "scale = 1/256\n", -1, 6, "expected a number for 'scale', got '1/256'");
    expect_error("[layer.w]\ntype = conv\nfilters = 4\nbn_eps = 0\n" HEAD, -1, 4,
                 "'bn_eps' must be > 0, got 0");
    expect_error("[layer.w]\ntype = conv\nfilters = 4\nbn_momentum = 1.5\n" HEAD, -1, 4,
                 "'bn_momentum' must be >= 0 and <= 1, got 1.5");
    /* the composite blocks' convolutions have no init: residual has no such key */
    expect_error("[layer.r]\ntype = residual\nfilters = 4\ninit = dirac\n" HEAD, -1, 4,
                 "unknown key 'init' in [layer.r] (residual)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_dirac);
    tcase_add_test(tc, test_unit_std);
    tcase_add_test(tc, test_linear_scale);
    tcase_add_test(tc, test_conv_bn_keys);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return check_run(s);
}
