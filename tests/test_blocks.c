/* test_blocks.c — one `residual` and one `inception` section, each built as a
 * whole network from ini text (block -> global_avgpool -> linear 10), against
 * the same pytorch-cifar block in PyTorch (tests/fixtures/blocks.bin, written
 * by tests/golden/make_fixtures.py): one training step's logits, loss, every
 * parameter gradient and the BN running statistics after the step.
 * Tolerance as test_golden: max|got - ref| <= 1e-4 * max(1, max|ref|). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"
#include "golden/fixture.h"

#define TOL 1e-4

static const struct {
    const char *name; /* fixture case */
    const char *layer;
} cases[] = {
    {"residual", "[layer.r]\ntype = residual\nfilters = 8\nstride = 2\n"},
    {"inception", "[layer.i]\ntype = inception\nn1x1 = 4\nn3x3_reduce = 3\nn3x3 = 5\n"
                  "n5x5_reduce = 2\nn5x5 = 3\npool_proj = 2\n"},
};

static const char *head = "[layer.gap]\ntype = global_avgpool\n"
                          "[layer.fc]\ntype = linear\noutputs = 10\n";

/* Failures of one case, so that every tensor is compared and all are named. */
typedef struct {
    char msg[4096];
    size_t len;
    int failed;
} CaseReport;

/* Compares n floats; records `what` and its worst element if out of tolerance. */
static void compare(CaseReport *r, const char *cs, const char *what, const float *got,
                    const float *ref, size_t n)
{
    double scale = 1.0, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        if (!(e <= worst)) { /* NaN counts as worst */
            worst = e;
            at = i;
        }
    }
    bool ok = worst <= TOL * scale;
    printf("blocks %-9s %-28s n=%-5zu max_err %.3e (tol %.1e) %s\n", cs, what, n, worst,
           TOL * scale, ok ? "ok" : "FAIL");
    if (ok) return;
    r->failed++;
    if (r->len < sizeof r->msg) {
        int k = snprintf(r->msg + r->len, sizeof r->msg - r->len,
                         "\n  %s: max abs error %.3e > %.1e at [%zu]: got %.8g, PyTorch %.8g",
                         what, worst, TOL * scale, at, (double)got[at], (double)ref[at]);
        if (k > 0) r->len += (size_t)k;
    }
}

START_TEST(test_block_vs_pytorch)
{
    const char *cs = cases[_i].name;
    Fixture f;
    ck_assert_msg(fixture_load(&f, "blocks.bin") == 0, "%s", f.err);

    /* the network from ini text */
    char text[1024], path[64];
    snprintf(text, sizeof text, "%s%s", cases[_i].layer, head);
    snprintf(path, sizeof path, "/tmp/cnnrun_blocks_XXXXXX.ini");
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    Experiment e;
    Model m;
    ck_assert_int_eq(experiment_load(path, NULL, 0, &e), 0);
    unlink(path);

    const float *cfg = fixture_getp(&f, cs, "cfg", 4);
    ck_assert_msg(cfg, "%s", f.err);
    const int n = (int)cfg[0], classes = (int)cfg[1];
    const size_t n_params = (size_t)cfg[2], n_state = (size_t)cfg[3];
    ck_assert_int_eq(model_build(&e, n, &m), 0);
    ck_assert_int_eq(m.classes, classes);
    ck_assert_msg(m.n_params == n_params, "%s: cnnrun has %zu parameters, PyTorch %zu", cs,
                  m.n_params, n_params);
    ck_assert_msg(m.n_state == n_state, "%s: cnnrun has %zu BN state floats, PyTorch %zu", cs,
                  m.n_state, n_state);

    const float *x = fixture_get(&f, "data/x", (size_t)n * 32 * 32 * 3);
    const float *lab = fixture_get(&f, "data/labels", (size_t)n);
    const float *params = fixture_getp(&f, cs, "params", n_params);
    const float *logits = fixture_getp(&f, cs, "logits", (size_t)n * classes);
    const float *loss = fixture_getp(&f, cs, "loss", 1);
    const float *grads = fixture_getp(&f, cs, "grads", n_params);
    const float *state = fixture_getp(&f, cs, "state", n_state);
    ck_assert_msg(x && lab && params && logits && loss && grads && state, "%s", f.err);

    /* PyTorch's parameters; BN running stats as a fresh nn.BatchNorm2d: mean 0, var 1 */
    memcpy(m.params, params, sizeof(float) * n_params);
    for (int i = 0; i < m.n_nodes; i++) {
        const Node *nd = &m.nodes[i];
        if (nd->op != OP_BATCHNORM) continue;
        for (int c = 0; c < nd->c; c++) {
            m.state[nd->s_off + c] = 0.0f;
            m.state[nd->s_off + nd->c + c] = 1.0f;
        }
    }
    int labels[16];
    ck_assert_int_le(n, 16);
    for (int i = 0; i < n; i++) labels[i] = (int)lab[i];

    model_forward(&m, x, n, true);
    double loss_sum = softmax_xent(n, classes, model_logits(&m), labels, model_dlogits(&m),
                                   1.0f / (float)n, NULL);
    model_zero_grad(&m);
    model_backward(&m, x, n);

    CaseReport rep = {.len = 0, .failed = 0};
    rep.msg[0] = '\0';
    compare(&rep, cs, "logits", model_logits(&m), logits, (size_t)n * classes);
    float got_loss = (float)(loss_sum / n);
    compare(&rep, cs, "loss (mean)", &got_loss, loss, 1);

    char what[sizeof m.nodes[0].name + 32];
    size_t covered = 0, covered_state = 0;
    for (int i = 0; i < m.n_nodes; i++) {
        const Node *nd = &m.nodes[i];
        const bool bn = nd->op == OP_BATCHNORM;
        if (nd->w_len) {
            snprintf(what, sizeof what, "d %s.%s", nd->name, bn ? "gamma" : "weight");
            compare(&rep, cs, what, m.grads + nd->w_off, grads + nd->w_off, nd->w_len);
        }
        if (nd->b_len) {
            snprintf(what, sizeof what, "d %s.%s", nd->name, bn ? "beta" : "bias");
            compare(&rep, cs, what, m.grads + nd->b_off, grads + nd->b_off, nd->b_len);
        }
        covered += nd->w_len + nd->b_len;
        if (bn) {
            snprintf(what, sizeof what, "%s.running_mean", nd->name);
            compare(&rep, cs, what, m.state + nd->s_off, state + nd->s_off, (size_t)nd->c);
            snprintf(what, sizeof what, "%s.running_var", nd->name);
            compare(&rep, cs, what, m.state + nd->s_off + nd->c, state + nd->s_off + nd->c,
                    (size_t)nd->c);
            covered_state += 2 * (size_t)nd->c;
        }
    }
    ck_assert_msg(rep.failed == 0, "%s: %d tensor(s) differ from PyTorch:%s", cs, rep.failed,
                  rep.msg);
    ck_assert_uint_eq(covered, n_params);
    ck_assert_uint_eq(covered_state, n_state);

    /* not vacuous: the reference gradient is far from zero */
    double gmax = 0;
    for (size_t i = 0; i < n_params; i++)
        if (fabs(grads[i]) > gmax) gmax = fabs(grads[i]);
    ck_assert_msg(gmax > 1e-2, "%s: reference gradients are all tiny (%.3g)", cs, gmax);

    model_free(&m);
    experiment_free(&e);
    fixture_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_block_vs_pytorch, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    return check_run(s);
}
