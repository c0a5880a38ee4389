/* test_train.c — the training system: schedule values at known steps, the
 * SGD, Adam, AdamW and RMSProp updates, label smoothing and no_decay_bn_bias
 * against hand-computed values, evaluate() against a one-batch reference on
 * a small stack, and an end-to-end run of the cnnrun binary
 * on the embedded sample that must lower the loss and leave one database row
 * per epoch. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

static Experiment one_cycle_exp(void)
{
    Experiment e;
    memset(&e, 0, sizeof e);
    e.schedule = SCHED_ONE_CYCLE;
    e.lr_start = 0.008f;
    e.lr_max = 0.12f;
    e.lr_end = 0.0008f;
    e.cycle_epochs = 40;
    e.epochs = 50;
    return e;
}

START_TEST(test_one_cycle_reference_points)
{
    Experiment e = one_cycle_exp();
    const double tol = 1e-6;
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 0), 0.008, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 10), 0.064, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 20), 0.12, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 30), 0.064, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 40), 0.008, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 45), 0.0044, tol);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 50), 0.0008, tol);
    /* the reference CSV: lr at the last step (390 of 391) of epoch 1 is 0.01359 */
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 390.0 / 391.0), 0.01359, 5e-6);
    /* epoch 3's last step: 0.02479 */
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, (3 * 391 - 1) / 391.0), 0.02479, 5e-6);
}
END_TEST

START_TEST(test_other_schedules)
{
    Experiment e = one_cycle_exp();
    e.lr = 0.1f;
    e.schedule = SCHED_CONSTANT;
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 17.3), 0.1, 1e-7);
    e.schedule = SCHED_STEP;
    e.n_milestones = 2;
    e.milestones[0] = 10;
    e.milestones[1] = 20;
    e.gamma = 0.1f;
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 9.99), 0.1, 1e-7);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 10), 0.01, 1e-7);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 25), 0.001, 1e-7);
    e.schedule = SCHED_COSINE;
    e.warmup_epochs = 5;
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 2.5), 0.05, 1e-7);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 5), 0.1, 1e-7);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 27.5), 0.05, 1e-7);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 50), 0.0, 1e-7);
}
END_TEST

/* linear: lr (1 - t / epochs), airbench94_muon's lr0 (1 - s/T): 8 epochs of
 * 25 steps, step s at t = s/25 */
START_TEST(test_linear_schedule)
{
    Experiment e = one_cycle_exp();
    e.schedule = SCHED_LINEAR;
    e.lr = 0.24f;
    e.epochs = 8;
    ck_assert(schedule_lr(&e, e.epochs, 0) == (double)0.24f);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 4), 0.12, 1e-8);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 6), 0.06, 1e-8);
    ck_assert(schedule_lr(&e, e.epochs, 8) == 0.0);
    ck_assert(schedule_lr(&e, e.epochs, 9.5) == 0.0); /* never negative */
    for (int s = 0; s < 200; s++) {
        double want = (double)0.24f * (1.0 - s / 200.0);
        ck_assert_msg(fabs(schedule_lr(&e, e.epochs, s / 25.0) - want) <= 1e-15, "step %d", s);
        ck_assert_msg((float)schedule_lr(&e, e.epochs, s / 25.0) == (float)want, "step %d", s);
    }
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 199 / 25.0), 0.24 / 200, 1e-9); /* the last step */
}
END_TEST

/* where the learning rate peaks (the pruning warning of src/cli/grid.c):
 * one_cycle at cycle_epochs / 2, cosine at its warm-up's end, 0 for the
 * schedules that only fall */
START_TEST(test_schedule_peak_epoch)
{
    Experiment e = one_cycle_exp();
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 20.0);
    e.cycle_epochs = 3;
    e.epochs = 3;
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 1.5);
    e.lr = 0.1f;
    e.schedule = SCHED_COSINE;
    e.warmup_epochs = 2.5f;
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 2.5);
    e.warmup_epochs = 0;
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 0.0);
    e.schedule = SCHED_CONSTANT;
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 0.0);
    e.schedule = SCHED_LINEAR;
    ck_assert(schedule_peak_epoch(&e, e.epochs) == 0.0);
}
END_TEST

static void set_knots(Experiment *e, int n, const double *epoch, const float *value)
{
    e->schedule = SCHED_PIECEWISE;
    e->n_knots = n;
    for (int k = 0; k < n; k++) {
        e->knot_epoch[k] = epoch[k];
        e->knot_value[k] = value[k];
    }
}

/* piecewise: lr x the lines through the knots, the last value held after. */
START_TEST(test_piecewise_schedule_points)
{
    Experiment e = one_cycle_exp();
    e.lr = 0.5f;
    set_knots(&e, 3, (const double[]){0, 2, 10}, (const float[]){0.2f, 1.0f, 0.07f});
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 0), 0.1, 1e-8);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 1), 0.3, 1e-8);
    ck_assert(schedule_lr(&e, e.epochs, 2) == 0.5); /* exactly the knot's value at a knot */
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 6), 0.5 * (1 - 0.93 / 2), 1e-8);
    ck_assert(schedule_lr(&e, e.epochs, 10) == 0.5 * (double)0.07f);
    ck_assert(schedule_lr(&e, e.epochs, 10.5) == 0.5 * (double)0.07f);
    ck_assert(schedule_lr(&e, e.epochs, 1e6) == 0.5 * (double)0.07f);
    /* one knot: a constant */
    set_knots(&e, 1, (const double[]){0}, (const float[]){3.0f});
    ck_assert(schedule_lr(&e, e.epochs, 0) == 1.5 && schedule_lr(&e, e.epochs, 7.25) == 1.5);
    /* a rise to a value 0 and back */
    set_knots(&e, 3, (const double[]){0, 0.5, 1.5}, (const float[]){1.0f, 0.0f, 2.0f});
    ck_assert(schedule_lr(&e, e.epochs, 0.5) == 0.0);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 0.25), 0.25, 1e-12);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 1.0), 0.5, 1e-12);
}
END_TEST

/* The seed's one-cycle written as knots (lr = 1: the values are the rates):
 * the same number at every step of 50 (and a few more) epochs of 391 steps,
 * and on a fine grid of fractional epochs. */
START_TEST(test_piecewise_equals_one_cycle)
{
    Experiment oc = one_cycle_exp(), pw = one_cycle_exp();
    pw.lr = 1.0f;
    set_knots(&pw, 4, (const double[]){0, 20, 40, 50},
              (const float[]){0.008f, 0.12f, 0.008f, 0.0008f});
    for (int s = 0; s <= 52 * 391; s++) {
        double t = (double)s / 391;
        ck_assert_msg(schedule_lr(&pw, pw.epochs, t) == schedule_lr(&oc, oc.epochs, t),
                      "step %d (t %.17g): %.17g != %.17g", s, t, schedule_lr(&pw, pw.epochs, t),
                      schedule_lr(&oc, oc.epochs, t));
    }
    for (int k = 0; k <= 60000; k++) {
        double t = k * 0.001;
        ck_assert_msg(schedule_lr(&pw, pw.epochs, t) == schedule_lr(&oc, oc.epochs, t), "t %.17g: %.17g != %.17g", t,
                      schedule_lr(&pw, pw.epochs, t), schedule_lr(&oc, oc.epochs, t));
    }
}
END_TEST

/* The legacy airbench94 schedule (spec section 5 L): T = 476 steps of 48 per
 * epoch, warm-up W = 109 steps 0.2 -> 1, then 1 -> 0.07 over D = 367 steps:
 * knots = 0:0.2, 109/48:1, 476/48:0.07. Equal to the factor f(s) to the
 * float rounding of 0.2 and 0.07 (the knot values are 32-bit like every rate). */
START_TEST(test_piecewise_legacy_airbench)
{
    Experiment e = one_cycle_exp();
    e.lr = 1.0f;
    set_knots(&e, 3, (const double[]){0, 109.0 / 48, 476.0 / 48},
              (const float[]){0.2f, 1.0f, 0.07f});
    int same_float = 0;
    for (int s = 0; s < 476; s++) {
        double f = s < 109 ? 0.2 + 0.8 * s / 109 : 1.0 - 0.93 * (s - 109) / 367;
        double got = schedule_lr(&e, e.epochs, (double)s / 48);
        ck_assert_msg(fabs(got - f) < 1e-8, "step %d: %.17g, want %.17g", s, got, f);
        same_float += (float)got == (float)f;
    }
    ck_assert(schedule_lr(&e, e.epochs, 109.0 / 48) == 1.0);
    ck_assert_double_eq_tol(schedule_lr(&e, e.epochs, 475.0 / 48), 0.0725, 1e-4);
    ck_assert_int_ge(same_float, 440); /* as 32-bit rates nearly all identical */
}
END_TEST

/* steps per epoch: ceil(n / B), floor with drop_last (spec: 50000 / 1024 ->
 * 48 steps, 848 images left out; 50000 / 2000 -> 25, none) */
START_TEST(test_steps_per_epoch)
{
    Experiment e = one_cycle_exp();
    e.path[0] = '\0';
    static const int cases[][4] = {
        /* n, B, steps, with drop_last */
        {50000, 1024, 49, 48}, {50000, 2000, 25, 25}, {2500, 48, 53, 52}, {2496, 48, 52, 52},
        {2500, 50, 50, 50},    {47, 48, 1, 0},        {48, 48, 1, 1},     {1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        e.batch_size = cases[i][1];
        e.drop_last = false;
        ck_assert_int_eq(train_steps_per_epoch(&e, cases[i][0]), cases[i][2]);
        ck_assert_int_eq(train_check_data(&e, cases[i][0]), 0);
        e.drop_last = true;
        ck_assert_int_eq(train_steps_per_epoch(&e, cases[i][0]), cases[i][3]);
        ck_assert_int_eq(train_check_data(&e, cases[i][0]), cases[i][3] ? 0 : CN_EXIT_USAGE);
    }
}
END_TEST

/* How long a run trains: T = ceil(epochs x steps per epoch) steps (or
 * [experiment] steps), ceil(T / steps per epoch) epochs, the last partial;
 * the run ends at epoch T / steps per epoch. Legacy airbench94: 9.9 epochs
 * of 48 steps are 476 steps, epoch 10 of 44. */
START_TEST(test_run_length)
{
    Experiment e = one_cycle_exp();
    static const struct {
        double epochs;
        int steps, spe;
        long want_steps;
        int want_epochs, want_last;
    } cases[] = {
        {9.9, 0, 48, 476, 10, 44},  {2.5, 0, 50, 125, 3, 25}, {8, 0, 25, 200, 8, 25},
        {50, 0, 391, 19550, 50, 391}, {0.1, 0, 50, 5, 1, 5}, /* not 6: 0.1 x 50 is 5 */
        {0.01, 0, 48, 1, 1, 1},     {1e-9, 0, 1, 1, 1, 1},    {3.0000001, 0, 10, 30, 3, 10},
        {0, 476, 48, 476, 10, 44},  {0, 10, 48, 10, 1, 10},   {0, 96, 48, 96, 2, 48},
        {0, 1, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        e.epochs = cases[i].epochs;
        e.steps = cases[i].steps;
        RunLength r = train_run_length(&e, cases[i].spe);
        ck_assert_msg(r.steps == cases[i].want_steps, "case %zu: %ld steps", i, r.steps);
        ck_assert_int_eq(r.epochs, cases[i].want_epochs);
        ck_assert_int_eq(r.last_steps, cases[i].want_last);
        ck_assert(r.end == (double)r.steps / cases[i].spe);
        for (int ep = 1; ep <= r.epochs; ep++)
            ck_assert_int_eq(train_epoch_steps(&r, cases[i].spe, ep),
                             ep < r.epochs ? cases[i].spe : cases[i].want_last);
    }
    /* a whole number of epochs ends exactly there: the schedules are unchanged */
    e.steps = 0;
    for (int ep = 1; ep <= 200; ep++) {
        e.epochs = ep;
        ck_assert(train_run_length(&e, 97).end == (double)ep);
    }
}
END_TEST

/* The schedules end where the run does, after its last step: linear over
 * 9.9 epochs of 48 steps is lr (1 - s/476), exactly 0 at s = 476, not at
 * the 9.9 epochs (s = 475.2) of the file; cosine reaches 0 and one_cycle
 * lr_end there too. */
START_TEST(test_schedules_at_a_fractional_end)
{
    Experiment e = one_cycle_exp();
    e.schedule = SCHED_LINEAR;
    e.lr = 0.24f;
    e.epochs = 9.9;
    RunLength r = train_run_length(&e, 48);
    ck_assert_int_eq(r.steps, 476);
    for (int s = 0; s <= 476; s++) {
        double want = (double)0.24f * (1.0 - s / 476.0);
        double got = schedule_lr(&e, r.end, (double)s / 48);
        ck_assert_msg(fabs(got - want) <= 1e-16, "step %d: %.17g, want %.17g", s, got, want);
    }
    ck_assert(schedule_lr(&e, r.end, 476.0 / 48) == 0.0);
    ck_assert_double_eq_tol(schedule_lr(&e, r.end, 475.0 / 48), 0.24 / 476, 1e-9); /* the last step */
    ck_assert(schedule_lr(&e, r.end, 477.0 / 48) == 0.0);
    e.schedule = SCHED_COSINE;
    e.warmup_epochs = 0;
    ck_assert(schedule_lr(&e, r.end, 0) == (double)0.24f);
    ck_assert(schedule_lr(&e, r.end, 476.0 / 48) == 0.0);
    ck_assert_double_eq_tol(schedule_lr(&e, r.end, 238.0 / 48), 0.12, 1e-8); /* half way */
    e = one_cycle_exp();
    e.cycle_epochs = 8;
    e.epochs = 9.9;
    ck_assert(schedule_lr(&e, r.end, 476.0 / 48) == (double)0.0008f);
    double mid = 8 + (476.0 / 48 - 8) / 2; /* half of the cool-down */
    ck_assert_double_eq_tol(schedule_lr(&e, r.end, mid), (0.008 + 0.0008) / 2, 1e-9);
}
END_TEST

/* train_augment_init: the file's augmentation; flip_alternating's bits are
 * cifar_flip_bits of the seed, one per training image. */
START_TEST(test_train_augment)
{
    Experiment e = one_cycle_exp();
    e.seed = 77;
    e.augment_translate = 2;
    e.augment_flip_alternating = true;
    e.normalize = true;
    Augment a;
    train_augment_init(&a, &e, 300);
    ck_assert_int_eq(a.translate, 2);
    ck_assert_int_eq(a.crop_pad, 0);
    ck_assert(!a.flip && a.normalize);
    ck_assert_int_eq(a.epoch, 1);
    ck_assert_ptr_nonnull(a.flip_bits);
    uint8_t want[300];
    cifar_flip_bits(77, 300, want);
    ck_assert_int_eq(memcmp(a.flip_bits, want, 300), 0);
    train_augment_free(&a);
    ck_assert_ptr_null(a.flip_bits);
    e.augment_flip_alternating = false;
    e.augment_crop = 4;
    e.augment_flip = true;
    train_augment_init(&a, &e, 300);
    ck_assert_ptr_null(a.flip_bits);
    ck_assert(a.crop_pad == 4 && a.flip);
    train_augment_free(&a);
}
END_TEST

START_TEST(test_sgd_momentum_by_hand)
{
    Experiment e = one_cycle_exp();
    e.optimizer = OPT_SGD;
    e.momentum = 0.9f;
    e.weight_decay = 0.1f;
    Optimizer o;
    optimizer_init(&o, &e, 1);
    float w = 1.0f, g = 0.5f;
    /* step 1: d = 0.5 + 0.1*1 = 0.6; buf = 0.6; w = 1 - 0.1*0.6 = 0.94 */
    optimizer_step(&o, &w, &g, 0.1f);
    ck_assert_float_eq_tol(w, 0.94f, 1e-6f);
    /* step 2: d = 0.5 + 0.094 = 0.594; buf = 0.54 + 0.594 = 1.134; w = 0.94 - 0.1134 */
    optimizer_step(&o, &w, &g, 0.1f);
    ck_assert_float_eq_tol(w, 0.8266f, 1e-6f);
    optimizer_free(&o);
    /* Nesterov: step 1 d = 0.6 + 0.9*0.6 = 1.14 → w = 1 - 0.114 */
    e.nesterov = true;
    optimizer_init(&o, &e, 1);
    w = 1.0f;
    optimizer_step(&o, &w, &g, 0.1f);
    ck_assert_float_eq_tol(w, 0.886f, 1e-6f);
    optimizer_free(&o);
}
END_TEST

/* Adam/AdamW/RMSProp, two steps of a constant gradient 0.5 from w = 1 (values
 * worked out by hand / in Python from PyTorch's update formulas). */
static float two_steps(OptimizerType t, float wd, float lr)
{
    Experiment e = one_cycle_exp();
    e.optimizer = t;
    e.weight_decay = wd;
    e.beta1 = 0.9f;
    e.beta2 = t == OPT_RMSPROP ? 0.99f : 0.999f;
    e.eps = 1e-8f;
    Optimizer o;
    optimizer_init(&o, &e, 1);
    float w = 1.0f, g = 0.5f;
    optimizer_step(&o, &w, &g, lr);
    optimizer_step(&o, &w, &g, lr);
    ck_assert_int_eq(o.step, 2);
    optimizer_free(&o);
    return w;
}

START_TEST(test_adaptive_optimizers_by_hand)
{
    /* Adam, no decay: m_hat = 0.5, v_hat = 0.25 every step, so each step moves lr */
    ck_assert_float_eq_tol(two_steps(OPT_ADAM, 0.0f, 0.1f), 0.8f, 1e-6f);
    /* Adam, L2 0.1: d = 0.6 then 0.59; m = 0.113, v = 0.00070774; bias-corrected by
     * 0.19 and 0.001999 -> w = 0.9 - 0.1 * 0.594737 / 0.595018 */
    ck_assert_float_eq_tol(two_steps(OPT_ADAM, 0.1f, 0.1f), 0.8000473f, 1e-6f);
    /* AdamW 0.1: w *= 1 - 0.01 before each step of -0.1: 0.99 - 0.1, 0.89 * 0.99 - 0.1 */
    ck_assert_float_eq_tol(two_steps(OPT_ADAMW, 0.1f, 0.1f), 0.7811f, 1e-6f);
    /* RMSProp alpha 0.99, L2 0.1, lr 0.01: v = 0.0036 -> w = 1 - 0.01*0.6/0.06 = 0.9;
     * v = 0.007045 -> w = 0.9 - 0.01 * 0.59 / 0.0839345 */
    ck_assert_float_eq_tol(two_steps(OPT_RMSPROP, 0.1f, 0.01f), 0.8297071f, 1e-6f);
}
END_TEST

/* An rmsprop experiment file without beta2 steps with PyTorch's alpha 0.99:
 * from v = 0, one step of gradient d gives v = 0.01 d^2, so w moves by
 * lr * d / (0.1 |d|) = 10 lr (with Adam's 0.999 it would be 31.6 lr). */
START_TEST(test_rmsprop_file_default_alpha)
{
    char path[] = "/tmp/cnnrun_rms_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    const char *ini = "[optimizer]\ntype = rmsprop\nweight_decay = 0\n"
                      "[layer.fl]\ntype = flatten\n[layer.fc]\ntype = linear\noutputs = 10\n";
    ck_assert_int_eq((int)write(fd, ini, strlen(ini)), (int)strlen(ini));
    close(fd);
    Experiment e;
    ck_assert_int_eq(experiment_load(path, NULL, 0, &e), 0);
    unlink(path);
    Optimizer o;
    optimizer_init(&o, &e, 1);
    ck_assert_float_eq(o.beta2, 0.99f);
    float w = 1.0f, g = 0.5f;
    optimizer_step(&o, &w, &g, 0.01f);
    ck_assert_float_eq_tol(w, 0.9f, 1e-6f);
    optimizer_free(&o);
    experiment_free(&e);
}
END_TEST

START_TEST(test_label_smoothing_by_hand)
{
    /* logits (1, 2, 3), label 0, s = 0.3: target (0.8, 0.1, 0.1);
     * loss = 0.7 * CE + 0.1 * sum_j -log p_j; grad = p - target */
    const float z[3] = {1, 2, 3};
    const int y = 0;
    float d[3];
    int correct = 0;
    double loss = softmax_xent_smooth(1, 3, z, &y, d, 1.0f, &correct, 0.3f);
    ck_assert_double_eq_tol(loss, 2.1076059644, 1e-6);
    ck_assert_float_eq_tol(d[0], -0.7099694f, 1e-6f);
    ck_assert_float_eq_tol(d[1], 0.1447285f, 1e-6f);
    ck_assert_float_eq_tol(d[2], 0.5652410f, 1e-6f);
    ck_assert_int_eq(correct, 0);
    /* s = 0 is exactly the plain cross-entropy */
    float d0[3];
    ck_assert(softmax_xent_smooth(1, 3, z, &y, d0, 0.5f, NULL, 0.0f) ==
              softmax_xent(1, 3, z, &y, d, 0.5f, NULL));
    ck_assert_int_eq(memcmp(d, d0, sizeof d), 0);
}
END_TEST

/* [optimizer] no_decay_bn_bias, bound as a run binds it (optimizer_bind):
 * no decay on the BN parameters and the biases; without it, on none. */
START_TEST(test_no_decay_bn_bias)
{
    /* params: BN gamma[2] beta[2], then conv weight[3] bias[1] */
    Node nodes[2];
    memset(nodes, 0, sizeof nodes);
    nodes[0].op = OP_BATCHNORM;
    nodes[0].w_off = 0, nodes[0].w_len = 2, nodes[0].b_off = 2, nodes[0].b_len = 2;
    nodes[1].op = OP_CONV;
    nodes[1].w_off = 4, nodes[1].w_len = 3, nodes[1].b_off = 7, nodes[1].b_len = 1;
    Model m;
    memset(&m, 0, sizeof m);
    m.n_nodes = 2;
    m.nodes = nodes;
    m.n_params = 8;
    Experiment e = one_cycle_exp();
    e.optimizer = OPT_SGD;
    e.momentum = 0;
    e.weight_decay = 0.1f;
    m.exp = &e;
    m.threads = 1;
    for (int excluded = 0; excluded < 2; excluded++) { /* as optimizer_bind reads the file */
        e.no_decay_bn_bias = excluded;
        Optimizer o;
        optimizer_init(&o, &e, 8);
        ck_assert_int_eq(optimizer_bind(&o, &m, 1), 0);
        float w[8], g[8] = {0};
        for (int i = 0; i < 8; i++) w[i] = 1.0f;
        optimizer_step(&o, w, g, 1.0f);
        for (int i = 0; i < 8; i++)
            ck_assert_float_eq_tol(w[i], !excluded || (i >= 4 && i < 7) ? 0.9f : 1.0f, 1e-7f);
        optimizer_free(&o);
    }
}
END_TEST

/* ---- evaluate: results, and a stack that does not grow with the batch ---- */

typedef struct {
    Model *m;
    const CifarSplit *s;
    const Augment *aug;
    int batch;
    float *buf;
    int *labels;
    EvalResult r;
} EvalJob;

static void *eval_job(void *p)
{
    EvalJob *j = p;
    j->r = evaluate(j->m, j->s, j->aug, j->batch, j->buf, j->labels);
    return NULL;
}

/* 300 synthetic images through flatten + linear: evaluate() gives exactly
 * the loss and accuracy of one cifar_make_batch + forward + softmax_xent over
 * all of them (300 > its index chunk, so the chunking is exercised). Then the
 * same call with batch 2^23 on a thread whose 1 MiB stack sits on 64 MiB of
 * PROT_NONE: a batch-sized index array on the stack (32 MiB) faults there. */
START_TEST(test_evaluate_bounded_stack)
{
    enum { N = 300 };
    char path[] = "/tmp/cnnrun_eval_XXXXXX.ini";
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    const char *ini = "[experiment]\nname = ev\nseed = 5\n[data]\nbatch_size = 300\n"
                      "[layer.fl]\ntype = flatten\n[layer.fc]\ntype = linear\noutputs = 10\n";
    ck_assert_int_eq((int)write(fd, ini, strlen(ini)), (int)strlen(ini));
    close(fd);
    Experiment e;
    Model m;
    ck_assert_int_eq(experiment_load(path, NULL, 0, &e), 0);
    unlink(path);
    ck_assert_int_eq(model_build(&e, N, &m), 0);
    model_init_params(&m, 5);

    CifarSplit s = {.n = N, .pixels = xmalloc((size_t)N * CIFAR_PIXELS), .labels = xmalloc(N)};
    for (size_t i = 0; i < (size_t)N * CIFAR_PIXELS; i++)
        s.pixels[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (int i = 0; i < N; i++) s.labels[i] = (uint8_t)(i * 7 % 10);
    Augment aug = {.crop_pad = 4, .flip = true, .normalize = true}; /* evaluate drops crop/flip */
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = true};
    float *buf = alloc_floats((size_t)N * CIFAR_PIXELS);
    int *labels = xmalloc(sizeof(int) * N), idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    cifar_make_batch(&s, idx, N, &plain, NULL, buf, labels);
    model_forward(&m, buf, N, false);
    int correct = 0;
    double loss = softmax_xent(N, m.classes, model_logits(&m), labels, NULL, 0.0f, &correct);
    const double ref_loss = loss / N, ref_acc = (double)correct / N;

    EvalResult r = evaluate(&m, &s, &aug, N, buf, labels);
    ck_assert_msg(r.loss == ref_loss && r.acc == ref_acc,
                  "evaluate: loss %.17g acc %.17g, one-batch reference %.17g %.17g", r.loss,
                  r.acc, ref_loss, ref_acc);

    const size_t guard = (size_t)64 << 20, stack = (size_t)1 << 20;
    char *region = mmap(NULL, guard + stack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    ck_assert_ptr_ne(region, MAP_FAILED);
    ck_assert_int_eq(mprotect(region + guard, stack, PROT_READ | PROT_WRITE), 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    ck_assert_int_eq(pthread_attr_setstack(&attr, region + guard, stack), 0);
    EvalJob job = {.m = &m, .s = &s, .aug = &aug, .batch = 1 << 23, .buf = buf, .labels = labels};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, &attr, eval_job, &job), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    munmap(region, guard + stack);
    ck_assert_msg(job.r.loss == ref_loss && job.r.acc == ref_acc,
                  "evaluate (batch 2^23, 1 MiB stack): loss %.17g acc %.17g, reference %.17g %.17g",
                  job.r.loss, job.r.acc, ref_loss, ref_acc);

    free(buf), free(labels), free(s.pixels), free(s.labels);
    model_free(&m);
    experiment_free(&e);
}
END_TEST

/* ---- end to end through the binary ---- */

static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *tiny_ini =
    "[experiment]\nname = tiny\nseed = 3\nepochs = 3\n"
    "[data]\nbatch_size = 64\naugment = flip\n"
    "[schedule]\ntype = constant\nlr = 0.05\n"
    "[layer.c1]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\nactivation = relu\n"
    "[layer.c2]\ntype = conv\nfilters = 32\nstride = 2\nbatchnorm = true\nactivation = relu\n"
    "[layer.pool]\ntype = global_avgpool\n"
    "[layer.fc]\ntype = linear\noutputs = 10\n";

START_TEST(test_end_to_end_sample)
{
    char dir[] = "/tmp/cnnrun_e2e_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char ini[256], db[256], cmd[2048];
    snprintf(ini, sizeof ini, "%s/tiny.ini", dir);
    snprintf(db, sizeof db, "%s/results/r.db", dir);
    FILE *f = fopen(ini, "w");
    fputs(tiny_ini, f);
    fclose(f);
    const char *bin = getenv("CNNRUN_BIN");
    ck_assert_ptr_nonnull(bin);
    /* the embedded sample: no --data, no CNNRUN_DATA */
    snprintf(cmd, sizeof cmd, "env -u CNNRUN_DATA %s run %s --db %s --threads 2 2>%s/log", bin,
             ini, db, dir);
    ck_assert_int_eq(run_cmd(cmd), 0);

    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(db, &s), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select status, experiment, final_test_acc, params "
                                           "from runs where id = 1", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "finished");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "tiny");
    double final_acc = sqlite3_column_double(st, 2);
    ck_assert_int_eq(sqlite3_column_int(st, 3), 3 * 9 * 16 + 32 + 16 * 9 * 32 + 64 + 32 * 10 + 10);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select epoch, lr, train_loss, train_acc, test_acc "
                                           "from epochs where run_id = 1 order by epoch",
                                        -1, &st, NULL), SQLITE_OK);
    double first_loss = 0, last_loss = 0, last_acc = 0;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        rows++;
        ck_assert_int_eq(sqlite3_column_int(st, 0), rows);
        ck_assert_double_eq_tol(sqlite3_column_double(st, 1), 0.05, 1e-7);
        double loss = sqlite3_column_double(st, 2);
        if (rows == 1) first_loss = loss;
        last_loss = loss;
        last_acc = sqlite3_column_double(st, 4);
        ck_assert(sqlite3_column_double(st, 3) >= 0 && sqlite3_column_double(st, 3) <= 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    ck_assert_int_eq(rows, 3);
    ck_assert_msg(last_loss < first_loss - 0.05, "loss did not fall: %f -> %f", first_loss,
                  last_loss);
    ck_assert_double_eq_tol(final_acc, last_acc, 1e-12);
    ck_assert_msg(last_acc > 0.2, "test accuracy %f is no better than chance", last_acc);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run_cmd(cmd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_one_cycle_reference_points);
    tcase_add_test(tc, test_other_schedules);
    tcase_add_test(tc, test_linear_schedule);
    tcase_add_test(tc, test_schedule_peak_epoch);
    tcase_add_test(tc, test_steps_per_epoch);
    tcase_add_test(tc, test_run_length);
    tcase_add_test(tc, test_schedules_at_a_fractional_end);
    tcase_add_test(tc, test_train_augment);
    tcase_add_test(tc, test_piecewise_schedule_points);
    tcase_add_test(tc, test_piecewise_equals_one_cycle);
    tcase_add_test(tc, test_piecewise_legacy_airbench);
    tcase_add_test(tc, test_sgd_momentum_by_hand);
    tcase_add_test(tc, test_adaptive_optimizers_by_hand);
    tcase_add_test(tc, test_rmsprop_file_default_alpha);
    tcase_add_test(tc, test_label_smoothing_by_hand);
    tcase_add_test(tc, test_no_decay_bn_bias);
    tcase_add_test(tc, test_evaluate_bounded_stack);
    tcase_add_test(tc, test_end_to_end_sample);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
