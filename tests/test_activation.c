/* test_activation.c — the inline erf/exp behind GELU against double-precision
 * libm: forward output and gradient on a 1e-3 grid over [-12, 12] and at
 * special points, plus the accumulate flag.
 * Tolerance: |got - ref| <= 1e-6 * |ref| + 1e-37 for the output, and
 * 1e-6 * (|Phi(x)| + |x phi(x)|) + 1e-37 for the gradient (see
 * gelu_grad_scale); a relative error of a few 1e-7 is what fp32 libm
 * erff/expf give too, and the absolute term covers subnormal results. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

#define REL_TOL 1e-6
#define ABS_TOL 1e-37

static double gelu_ref(double x)
{
    return x * 0.5 * erfc(-x / sqrt(2.0));
}

static double gelu_grad_ref(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

/* |Phi(x)| + |x phi(x)|: the gradient is a sum of these two terms, which
 * cancel near x = -0.75; no fp32 evaluation is relatively accurate there, so
 * the gradient's error is measured against the size of its terms. */
static double gelu_grad_scale(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0)) + fabs(x) * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
}

static const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f,
                                3.0f, -3.0f, 5.5f, -5.5f, 9.0f, -9.0f, 13.0f, -13.0f,
                                20.0f, 100.0f, 1e6f, -1e-3f};

START_TEST(test_gelu_accuracy)
{
    const size_t grid = 24001, n = grid + sizeof special / sizeof special[0];
    float *x = alloc_floats(n), *y = alloc_floats(n), *dy = alloc_floats(n);
    float *dx = alloc_floats(n), *ones = alloc_floats(n);
    for (size_t i = 0; i < grid; i++) x[i] = -12.0f + 1e-3f * (float)i;
    for (size_t i = grid; i < n; i++) x[i] = special[i - grid];
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    gelu_forward(n, x, y);
    gelu_backward(n, x, ones, dx, 0);
    double worst_y = 0, worst_g = 0;
    for (size_t i = 0; i < n; i++) {
        double ry = gelu_ref(x[i]), rg = gelu_grad_ref(x[i]);
        double ey = fabs(y[i] - ry), eg = fabs(dx[i] - rg);
        ck_assert_msg(ey <= REL_TOL * fabs(ry) + ABS_TOL, "gelu(%.9g) = %.9g, want %.9g", x[i],
                      y[i], ry);
        ck_assert_msg(eg <= REL_TOL * gelu_grad_scale(x[i]) + ABS_TOL, "gelu'(%.9g) = %.9g, want %.9g", x[i],
                      dx[i], rg);
        if (fabs(ry) > 1e-30 && ey / fabs(ry) > worst_y) worst_y = ey / fabs(ry);
        double sg = gelu_grad_scale(x[i]);
        if (sg > 1e-30 && eg / sg > worst_g) worst_g = eg / sg;
    }
    fprintf(stderr, "gelu: worst relative error %.3g (output), %.3g (gradient)\n", worst_y,
            worst_g);
    /* acc = 1 adds; dout scales */
    for (size_t i = 0; i < n; i++) dy[i] = 2.0f;
    gelu_backward(n, x, dy, dx, 1);
    for (size_t i = 0; i < grid; i += 997) {
        double want = 3.0 * gelu_grad_ref(x[i]);
        ck_assert_msg(fabs(dx[i] - want) <= 3 * REL_TOL * gelu_grad_scale(x[i]) + ABS_TOL,
                      "acc: gelu'(%g) * 3 = %g, want %g", x[i], dx[i], want);
    }
    /* NaN goes through */
    float nan_in = NAN, nan_out = 0;
    gelu_forward(1, &nan_in, &nan_out);
    ck_assert(isnan(nan_out));
    free(x); free(y); free(dy); free(dx); free(ones);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("activation");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_gelu_accuracy);
    suite_add_tcase(s, tc);
    return check_run(s);
}
