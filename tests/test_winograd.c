/* test_winograd.c — the Winograd F(2x2,3x3) path of 3x3 stride-1 pad-1
 * convolutions against the im2col path (itself checked against PyTorch in
 * test_golden): forward outputs with and without bias, input gradients
 * written and accumulated, weight and bias gradients, on odd and even sizes.
 * Tolerance: max |a - b| <= 1e-4 * max(1, max |b|) (Winograd's transforms
 * add a few float roundings; the observed error is ~1e-6 relative). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

static float *randn(size_t n, Rng *r)
{
    float *p = alloc_floats(n);
    for (size_t i = 0; i < n; i++) p[i] = rng_normal(r);
    return p;
}

static void assert_close(const char *what, const float *a, const float *b, size_t n)
{
    double worst = 0, scale = 1;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    ck_assert_msg(worst <= 1e-4 * scale, "%s: max error %g at [%zu] (winograd %g, im2col %g), "
                  "tolerance %g", what, worst, at, a[at], b[at], 1e-4 * scale);
}

static const struct {
    int n, h, w, cin, cout;
} shapes[] = {{2, 8, 8, 16, 16}, {3, 7, 5, 16, 24}, {1, 4, 9, 32, 16}, {2, 6, 6, 20, 17},
              {3, 17, 15, 16, 24} /* 216 tiles: split over threads */};

START_TEST(test_matches_im2col)
{
    ConvShape s = {.n = shapes[_i].n, .h = shapes[_i].h, .w = shapes[_i].w,
                   .c_in = shapes[_i].cin, .c_out = shapes[_i].cout, .kh = 3, .kw = 3,
                   .stride = 1, .pad = 1};
    s.algo = CONV_WINOGRAD;
    conv_shape_init(&s);
    ConvShape ref = s;
    ref.algo = CONV_IM2COL;
    Rng r;
    rng_seed(&r, 42, (uint64_t)_i);
    size_t n_in = (size_t)s.n * s.h * s.w * s.c_in, n_out = (size_t)s.n * s.h * s.w * s.c_out;
    size_t n_w = 9u * s.c_in * s.c_out;
    float *x = randn(n_in, &r), *w = randn(n_w, &r), *b = randn((size_t)s.c_out, &r);
    float *dy = randn(n_out, &r);
    size_t sc = conv_scratch_floats(&s), sc2 = conv_scratch_floats(&ref);
    float *scratch = alloc_floats(sc > sc2 ? sc : sc2);
    float *y1 = alloc_floats(n_out), *y2 = alloc_floats(n_out);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        conv_forward(&s, x, w, with_bias ? b : NULL, y1, scratch);
        conv_forward(&ref, x, w, with_bias ? b : NULL, y2, scratch);
        assert_close(with_bias ? "forward+bias" : "forward", y1, y2, n_out);
    }
    float *dx1 = alloc_floats(n_in), *dx2 = alloc_floats(n_in);
    float *dw1 = alloc_floats(n_w), *dw2 = alloc_floats(n_w);
    float *db1 = alloc_floats((size_t)s.c_out), *db2 = alloc_floats((size_t)s.c_out);
    for (size_t i = 0; i < n_in; i++) dx1[i] = dx2[i] = 12345.0f; /* garbage: acc = 0 writes */
    conv_backward(&s, x, w, dy, dx1, 0, dw1, db1, scratch);
    conv_backward(&ref, x, w, dy, dx2, 0, dw2, db2, scratch);
    assert_close("dinput (acc=0)", dx1, dx2, n_in);
    assert_close("dweight", dw1, dw2, n_w);
    assert_close("dbias", db1, db2, (size_t)s.c_out);
    for (size_t i = 0; i < n_in; i++) dx1[i] = dx2[i] = 1.0f;
    conv_backward(&s, x, w, dy, dx1, 1, dw1, db1, scratch);
    conv_backward(&ref, x, w, dy, dx2, 1, dw2, db2, scratch);
    assert_close("dinput (acc=1)", dx1, dx2, n_in);
    /* and the comparison is not vacuous: the two paths differ from zero */
    double norm = 0;
    for (size_t i = 0; i < n_out; i++) norm += fabs(y1[i]);
    ck_assert(norm > 1.0);
    free(x); free(w); free(b); free(dy); free(scratch); free(y1); free(y2);
    free(dx1); free(dx2); free(dw1); free(dw2); free(db1); free(db2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("winograd");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_matches_im2col, 0, (int)(sizeof shapes / sizeof shapes[0]));
    suite_add_tcase(s, tc);
    return check_run(s);
}
