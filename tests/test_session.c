/* test_session.c — the training session and the record of a run around it
 * (issue 12): a resume that is refused after the session was set up (the
 * checkpoint is of another network, or its position does not fit the run)
 * exits 2 with the reason and frees what it allocated. The leak half of that
 * shows in the sanitizer build (.ci/run: -Db_sanitize=address,undefined),
 * where LeakSanitizer turns a leak into exit status 23. The run lock says
 * "held" by name, not as an exit status folded into a file descriptor. The
 * RNG streams keep their numbers, and a session starts from the state the
 * trainer, lr-find and bench used to set up each on its own. The training
 * loop reports through its callbacks and continues from where a stop left
 * it to the same numbers. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/results.h"
#include "cnnrun/rng.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* 50 images a batch: 50 steps an epoch on the 2,500 sample images. */
#define TINY(filters)                                                                           \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 2\n"                                         \
    "[data]\nbatch_size = 50\ntest_subset = 100\n"                                              \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\n"                                                 \
    "[schedule]\ntype = constant\nlr = 0.01\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = " filters "\nstride = 2\nbatchnorm = true\n"            \
    "activation = relu\n"                                                                       \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* A `running` runs row 1 of experiment tiny in dir/db (no configuration
 * text: any resolved configuration matches it). */
static void unfinished_run(const char *db)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    ResultsDb *r = results_open(p);
    ck_assert_ptr_nonnull(r);
    RunInfo info = {.experiment = "tiny", .seed = 5, .threads = 1, .epochs_planned = 2};
    ck_assert_int_eq(results_begin_run(r, &info), 1);
    results_close(r);
}

/* Writes dir/name: a checkpoint of the network in ini_text for run 1 of
 * tiny, at `epoch` (global step epoch * 50). */
static void write_checkpoint(const char *ini_text, const char *name, int epoch)
{
    write_file("net.ini", ini_text);
    char p[256];
    snprintf(p, sizeof p, "%s/net.ini", dir);
    Experiment e;
    Model m;
    Optimizer o;
    ck_assert_int_eq(experiment_load(p, NULL, 0, &e), 0);
    ck_assert_int_eq(model_build(&e, 50, &m), 0);
    model_init_params(&m, e.seed);
    optimizer_init(&o, &e, m.n_params);
    CheckpointMeta meta = {.experiment = "tiny", .run_id = 1, .epoch = epoch,
                           .global_step = epoch * 50L};
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(checkpoint_save(p, &m, &o, &meta), 0);
    optimizer_free(&o);
    model_free(&m);
    experiment_free(&e);
}

START_TEST(test_refused_resume_frees_the_session)
{
    write_file("tiny.ini", TINY("8"));
    unfinished_run("r.db");
    /* checkpoint_load refuses: another network */
    write_checkpoint(TINY("16"), "other.ckpt", 1);
    ck_assert_msg(cnnrun("run tiny.ini --db r.db --threads 1 --resume other.ckpt") == 2, "%s",
                  out);
    ck_assert_msg(strstr(out, "different network"), "%s", out);
    /* the position does not fit: epoch 9 of a 2-epoch run */
    write_checkpoint(TINY("8"), "far.ckpt", 9);
    ck_assert_msg(cnnrun("run tiny.ini --db r.db --threads 1 --resume far.ckpt") == 2, "%s", out);
    ck_assert_msg(strstr(out, "does not fit this run"), "%s", out);
}
END_TEST

/* A run held by a live lock is reported as RUN_LOCK_HELD (the caller turns
 * that into exit status 2), never as an fd; once released it can be taken. */
START_TEST(test_run_lock_held)
{
    char ckdir[128];
    snprintf(ckdir, sizeof ckdir, "%s/ck", dir);
    int fd = run_lock(ckdir, "tiny", 3);
    ck_assert_int_ge(fd, 0);
    /* flock is per open file: a second open in this process conflicts too */
    ck_assert_int_eq(run_lock(ckdir, "tiny", 3), RUN_LOCK_HELD);
    int other = run_lock(ckdir, "tiny", 4);
    ck_assert_int_ge(other, 0);
    close(fd);
    fd = run_lock(ckdir, "tiny", 3);
    ck_assert_int_ge(fd, 0);
    close(fd);
    close(other);
    snprintf(ckdir, sizeof ckdir, "%s/tiny.ini/ck", dir); /* under a file: no directory */
    write_file("tiny.ini", TINY("8"));
    ck_assert_int_eq(run_lock(ckdir, "tiny", 3), RUN_LOCK_NONE);
}
END_TEST

static void load_tiny(Experiment *e)
{
    write_file("tiny.ini", TINY("8"));
    char p[256];
    snprintf(p, sizeof p, "%s/tiny.ini", dir);
    ck_assert_int_eq(experiment_load(p, NULL, 0, e), 0);
}

/* A session starts where the three copies it replaced started: the
 * parameters of model_init_params(seed), the order of the seed's shuffle
 * stream, batches of the order's images. */
START_TEST(test_session_setup)
{
    Experiment e;
    load_tiny(&e);
    Session s;
    ck_assert_int_eq(session_open(&s, &e, 50, 120), CN_EXIT_OK);
    ck_assert_int_eq(s.steps_per_epoch, 3);
    Model m;
    ck_assert_int_eq(model_build(&e, 50, &m), 0);
    model_init_params(&m, e.seed);
    ck_assert_uint_eq(m.n_params, s.model.n_params);
    ck_assert_int_eq(memcmp(m.params, s.model.params, m.n_params * sizeof(float)), 0);
    ck_assert_uint_eq(s.opt.n, m.n_params);
    model_free(&m);

    Rng r;
    rng_seed(&r, e.seed, RNG_STREAM_SHUFFLE);
    int want[120];
    for (int i = 0; i < 120; i++) want[i] = i;
    rng_shuffle(&r, want, 120);
    session_shuffle(&s);
    ck_assert_int_eq(memcmp(want, s.order, sizeof want), 0);

    static uint8_t pixels[120 * CIFAR_PIXELS], labels[120];
    for (int i = 0; i < 120; i++) labels[i] = (uint8_t)(i % 10);
    CifarSplit train = {.n = 120, .pixels = pixels, .labels = labels};
    ck_assert_int_eq(session_batch(&s, &train, 2), 20); /* the short last batch */
    for (int i = 0; i < 20; i++) ck_assert_int_eq(s.labels[i], labels[want[100 + i]]);
    session_close(&s);
    ck_assert_ptr_null(s.images);

    /* bench: no training images, no order */
    ck_assert_int_eq(session_open(&s, &e, 8, 0), CN_EXIT_OK);
    ck_assert_int_eq(s.steps_per_epoch, 0);
    session_close(&s);
    experiment_free(&e);
}
END_TEST

/* What the loop reported, for the loop tests. */
typedef struct {
    int steps, checkpoints, n_epochs;
    EpochRecord epochs[4];
    long stop_at;           /* stop poll: stop after this global step (0: never) */
    const char *refuse;     /* epoch report: refuse with this */
    long last_step;
    double lrs[16];         /* each step's rate, by global step */
} Seen;

static const char *on_step(void *ctx, const TrainStep *st)
{
    Seen *v = ctx;
    v->steps++;
    v->last_step = st->global_step;
    if (st->global_step >= 1 && st->global_step <= 16) v->lrs[st->global_step - 1] = st->lr;
    return NULL;
}

static const char *on_epoch(void *ctx, const EpochRecord *rec)
{
    Seen *v = ctx;
    if (v->n_epochs < 4) v->epochs[v->n_epochs++] = *rec;
    return v->refuse;
}

static const char *on_checkpoint(void *ctx, const Session *s, const TrainPosition *pos,
                                 const EpochRecord *rec)
{
    Seen *v = ctx;
    (void)s;
    ck_assert_int_eq(pos->epoch, rec->epoch);
    ck_assert_int_eq(pos->steps_in_epoch, 0);
    v->checkpoints++;
    return NULL;
}

static int on_stop(void *ctx)
{
    Seen *v = ctx;
    return v->stop_at && v->last_step >= v->stop_at;
}

/* n random images (labels 0..9 in turn) from a fixed seed. */
static CifarSplit fake_split(int n, uint64_t seed)
{
    CifarSplit c = {.n = n, .pixels = xmalloc((size_t)n * CIFAR_PIXELS), .labels = xmalloc(n)};
    Rng r;
    rng_seed(&r, seed, 0);
    for (size_t i = 0; i < (size_t)n * CIFAR_PIXELS; i++) c.pixels[i] = (uint8_t)rng_below(&r, 256);
    for (int i = 0; i < n; i++) c.labels[i] = (uint8_t)(i % 10);
    return c;
}

/* The loop reports every step and epoch; a stop inside an epoch leaves
 * (session, position) where training goes on from, to the same numbers as
 * an uninterrupted loop; a refused report ends it failed with the reason. */
START_TEST(test_train_loop_reports_and_continues)
{
    Experiment e;
    load_tiny(&e); /* 2 epochs, batch 50 */
    CifarSplit train = fake_split(150, 1), test = fake_split(50, 2); /* 3 steps an epoch */
    TrainCallbacks cb = {.step = on_step, .epoch = on_epoch, .checkpoint = on_checkpoint,
                         .stop = on_stop};
    const char *why;

    Seen a = {0};
    Session s;
    ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
    TrainPosition pos = {0};
    cb.ctx = &a;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FINISHED);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(a.steps, 6);
    ck_assert_int_eq(a.n_epochs, 2);
    ck_assert_int_eq(a.checkpoints, 2);
    ck_assert_int_eq(pos.epoch, 2);
    ck_assert_int_eq(pos.step, 6);
    session_close(&s);

    Seen b = {.stop_at = 4}; /* after step 1 of epoch 2 */
    ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
    pos = (TrainPosition){0};
    cb.ctx = &b;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_INTERRUPTED);
    ck_assert_int_eq(pos.epoch, 1);
    ck_assert_int_eq(pos.step, 4);
    ck_assert_int_eq(pos.steps_in_epoch, 1);
    ck_assert_int_eq(pos.part_seen, 50);
    ck_assert_int_eq(b.n_epochs, 1);
    b.stop_at = 0;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FINISHED);
    ck_assert_int_eq(b.n_epochs, 2);
    ck_assert_int_eq(b.steps, 6);
    for (int i = 0; i < 2; i++) {
        const EpochRecord *x = &a.epochs[i], *y = &b.epochs[i];
        ck_assert_int_eq(x->epoch, y->epoch);
        ck_assert(x->lr == y->lr && x->train_loss == y->train_loss &&
                  x->train_acc == y->train_acc && x->test_loss == y->test_loss &&
                  x->test_acc == y->test_acc);
    }
    session_close(&s);

    Seen c = {.refuse = "no room"};
    ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
    pos = (TrainPosition){0};
    cb.ctx = &c;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FAILED);
    ck_assert_str_eq(why, "no room");
    ck_assert_int_eq(c.n_epochs, 1);
    ck_assert_int_eq(c.checkpoints, 0);
    ck_assert_str_eq(train_end_name(TRAIN_FAILED), "failed");
    ck_assert_str_eq(train_end_name(TRAIN_INTERRUPTED), "interrupted");
    session_close(&s);

    cifar_free(&train);
    cifar_free(&test);
    experiment_free(&e);
}
END_TEST

/* 2.5 epochs of 3 steps: ceil(7.5) = 8 steps, the third epoch partial (2
 * steps, 100 images, as its record says) and evaluated as the last one
 * although eval_every = 2 does not name it; the linear schedule is
 * lr (1 - s/8) at step s, 0 after the last one. Stopped after the last step
 * of epoch 2 (before the partial epoch) or inside the partial epoch, the
 * loop continues to the same numbers. */
START_TEST(test_train_loop_fractional_epochs)
{
    Experiment e;
    load_tiny(&e);
    e.epochs = 2.5;
    e.eval_every = 2;
    e.schedule = SCHED_LINEAR;
    e.lr = 0.3f;
    CifarSplit train = fake_split(150, 1), test = fake_split(50, 2); /* 3 steps an epoch */
    TrainCallbacks cb = {.step = on_step, .epoch = on_epoch, .checkpoint = on_checkpoint,
                         .stop = on_stop};
    const char *why;

    Seen a = {0};
    Session s;
    ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
    ck_assert_int_eq(s.run.steps, 8);
    ck_assert_int_eq(s.run.epochs, 3);
    ck_assert_int_eq(s.run.last_steps, 2);
    TrainPosition pos = {0};
    cb.ctx = &a;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FINISHED);
    ck_assert_int_eq(a.steps, 8);
    ck_assert_int_eq(a.n_epochs, 3);
    ck_assert_int_eq(a.checkpoints, 3);
    ck_assert_int_eq(pos.epoch, 3);
    ck_assert_int_eq(pos.step, 8);
    static const int steps[] = {3, 3, 2}, evaluated[] = {0, 1, 1};
    for (int i = 0; i < 3; i++) {
        const EpochRecord *r = &a.epochs[i];
        ck_assert_int_eq(r->epoch, i + 1);
        ck_assert_int_eq(r->steps, steps[i]);
        ck_assert_int_eq(r->images, 50 * steps[i]);
        ck_assert_int_eq(r->evaluated, evaluated[i]);
        ck_assert(evaluated[i] ? isfinite(r->test_loss) : isnan(r->test_loss));
    }
    for (int k = 0; k < 8; k++) {
        double want = (double)0.3f * (1.0 - k / 8.0);
        ck_assert_msg(fabs(a.lrs[k] - want) <= 1e-16, "step %d: lr %.17g, want %.17g", k,
                      a.lrs[k], want);
    }
    ck_assert(a.epochs[2].lr == a.lrs[7]);
    session_close(&s);

    for (int stop = 6; stop <= 7; stop++) {
        Seen b = {.stop_at = stop};
        ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
        pos = (TrainPosition){0};
        cb.ctx = &b;
        ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_INTERRUPTED);
        ck_assert_int_eq(pos.step, stop);
        ck_assert_int_eq(pos.epoch, stop == 6 ? 1 : 2);
        ck_assert_int_eq(pos.steps_in_epoch, stop == 6 ? 3 : 1);
        b.stop_at = 0;
        ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FINISHED);
        ck_assert_int_eq(b.steps, 8);
        ck_assert_int_eq(b.n_epochs, 3);
        ck_assert_int_eq(pos.step, 8);
        for (int i = 0; i < 3; i++) {
            const EpochRecord *x = &a.epochs[i], *y = &b.epochs[i];
            ck_assert_int_eq(x->epoch, y->epoch);
            ck_assert_int_eq(x->steps, y->steps);
            ck_assert_int_eq(x->images, y->images);
            ck_assert(x->lr == y->lr && x->train_loss == y->train_loss &&
                      x->train_acc == y->train_acc);
            ck_assert(x->evaluated == y->evaluated);
            if (x->evaluated) ck_assert(x->test_loss == y->test_loss && x->test_acc == y->test_acc);
        }
        session_close(&s);
    }

    /* [experiment] steps: 7 steps are 3 epochs of 3, 3 and 1 */
    e.epochs = 0;
    e.steps = 7;
    Seen c = {0};
    ck_assert_int_eq(session_open(&s, &e, 50, train.n), CN_EXIT_OK);
    pos = (TrainPosition){0};
    cb.ctx = &c;
    ck_assert_int_eq(train_loop(&s, &train, &test, &pos, &cb, &why), TRAIN_FINISHED);
    ck_assert_int_eq(c.steps, 7);
    ck_assert_int_eq(c.n_epochs, 3);
    ck_assert_int_eq(c.epochs[2].steps, 1);
    ck_assert(c.lrs[6] == (double)0.3f * (1.0 - 6 / 7.0));
    session_close(&s);

    cifar_free(&train);
    cifar_free(&test);
    experiment_free(&e);
}
END_TEST

/* bench sets up through the session too (no training images): it runs and
 * ends with its images_per_sec line. */
START_TEST(test_bench_on_a_session)
{
    write_file("tiny.ini", TINY("8"));
    ck_assert_msg(cnnrun("bench tiny.ini --steps 1 --batch 8 --threads 1 "
                         "--set optimizer.no_decay_bn_bias=true") == 0, "%s", out);
    ck_assert_msg(strstr(out, "images_per_sec="), "%s", out);
}
END_TEST

/* Every recorded curve and checkpoint depends on these numbers. */
START_TEST(test_rng_streams_keep_their_numbers)
{
    ck_assert_int_eq(RNG_STREAM_INIT, 1);
    ck_assert_int_eq(RNG_STREAM_SHUFFLE, 2);
    ck_assert_int_eq(RNG_STREAM_AUGMENT, 3);
    ck_assert_int_eq(RNG_STREAM_DROPOUT, 7);
    ck_assert_int_eq(RNG_STREAM_BENCH, 9);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_refused_resume_frees_the_session);
    tcase_add_test(tc, test_run_lock_held);
    tcase_add_test(tc, test_rng_streams_keep_their_numbers);
    tcase_add_test(tc, test_session_setup);
    tcase_add_test(tc, test_bench_on_a_session);
    tcase_add_test(tc, test_train_loop_reports_and_continues);
    tcase_add_test(tc, test_train_loop_fractional_epochs);
    suite_add_tcase(s, tc);
    return check_run(s);
}
