/* test_init.c — the options of conv and linear layers beyond
 * PyTorch's defaults:
 *  - `bn_eps`, `bn_momentum` on a conv section reach its batch norm;
 *  - the configuration errors, at file:line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
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
    expect_error("[layer.w]\ntype = conv\nfilters = 4\nbn_eps = 0\n" HEAD, -1, 4,
                 "'bn_eps' must be > 0, got 0");
    expect_error("[layer.w]\ntype = conv\nfilters = 4\nbn_momentum = 1.5\n" HEAD, -1, 4,
                 "'bn_momentum' must be >= 0 and <= 1, got 1.5");
    /* the composite blocks' convolutions have no init: residual has no such key */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_conv_bn_keys);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    return check_run(s);
}
