/* test_resume.c — checkpoints and exact resume (issue 4): a checkpoint
 * round-trips the whole training state and refuses a truncated or damaged
 * file, a wrong magic number and a different network without touching the
 * model; the same file, seed and thread count give bit-identical epochs; a
 * run killed with SIGKILL in the middle of an epoch, or stopped with SIGINT or SIGTERM,
 * and then `cnnrun run --resume`d ends with the same epoch numbers as an
 * uninterrupted run, in the same runs row, with every finished epoch kept
 * (also with a data-dependent initialisation, which a resume must not redo);
 * a run another live process holds is not resumed; the same with
 * translate, flip_alternating and drop_last on, with parameter groups and
 * Muon, with a fractional number of epochs (stopped before or inside the
 * partial last epoch), and with measured convolution algorithms (the
 * checkpoint keeps them; issue 14), and with a validation split and patience
 * (the best epoch survives a resume; issue 15). */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/checkpoint.h"
#include "cli_fixture.h"
#include "cnnrun/util.h"


/* 50 steps per epoch on the sample (a few tenths of a second): long enough to
 * be killed in the middle of one. Dropout and augmentation make every RNG
 * matter. */
#define TINY(filters, epochs)                                                                   \
    "[experiment]\nname = tiny\nseed = 5\nepochs = " epochs "\n"                                \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n"                      \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\nnesterov = true\n"                                \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"           \
    "lr_end = 0.001\n"                                                                          \
    "[layer.c1]\ntype = conv\nfilters = " filters "\nstride = 2\nbatchnorm = true\n"            \
    "activation = relu\n"                                                                       \
    "[layer.drop]\ntype = dropout\nprobability = 0.2\n"                                         \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define EPOCHS 4
/* TINY behind a whitening stem (init = whiten, from the training images) and
 * with a dirac-initialised conv and a scaled unit-std head: the
 * data-dependent initialisation runs once, at the start of the fresh run. */
#define TINY_WHITEN                                                                             \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 4\n"                                        \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n"                      \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\nnesterov = true\n"                                \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"           \
    "lr_end = 0.001\n"                                                                          \
    "[layer.w]\ntype = conv\nfilters = 24\nsize = 2\npad = 0\ninit = whiten\n"                 \
    "whiten_images = 1000\nactivation = gelu\n"                                                 \
    "[layer.c1]\ntype = conv\nfilters = 24\nstride = 2\nbatchnorm = true\ninit = dirac\n"       \
    "bn_eps = 1e-12\nbn_momentum = 0.4\nactivation = relu\n"                                     \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\nbias = false\ninit = unit_std\nscale = 0.125\n"

/* The airbench data options: reflect translate, the alternating flip (its
 * bits drawn from the seed, the phase from the epoch) and drop_last (2500
 * images in batches of 48: 52 steps, 4 images left out per epoch). */
#define TINY_AIRBENCH                                                                           \
    "[experiment]\nname = tiny\nseed = 6\nepochs = 4\n"                                         \
    "[data]\nbatch_size = 48\naugment = translate:2, flip_alternating\ndrop_last = true\n"      \
    "test_subset = 300\n"                                                                       \
    "[optimizer]\ntype = sgd\nmomentum = 0.85\nnesterov = true\n"                               \
    "[schedule]\ntype = piecewise\nlr = 0.1\nknots = 0:0.2, 109/52:1, 4:0.07\n"                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                      \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* TINY with parameter groups and Muon: Muon filters, a bias trained for the
 * first 1.5 epochs on its own linear schedule (its end falls in the epoch a
 * stop lands in), frozen BN scales, decoupled decay on the head. */
#define TINY_GROUPS                                                                             \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 4\n"                                         \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n"                      \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\nnesterov = true\n"                                \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"           \
    "lr_end = 0.001\n"                                                                          \
    "[group.filters]\nparams = conv_weight\ntype = muon\nlr_scale = 2\nmomentum = 0.6\n"         \
    "weight_decay = 0\n"                                                                        \
    "[group.c2_bias]\nlayers = c2\nparams = bias\nepochs = 1.5\nschedule = linear\n"             \
    "lr_scale = 0.5\nmomentum = 0.85\n"                                                         \
    "[group.gamma]\nparams = bn_weight\nfrozen = true\n"                                        \
    "[group.head]\nlayers = fc\nlr_scale = 0.5\ndecay = decoupled\nweight_decay = 0.01\n"       \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"   \
    "[layer.c2]\ntype = conv\nfilters = 8\nbias = true\nactivation = relu\n"                    \
    "[layer.drop]\ntype = dropout\nprobability = 0.2\n"                                         \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* TINY with a conv that has more than one algorithm (c2: 16 -> 16, 3x3,
 * stride 1: im2col or Winograd); the shape rule takes im2col for it. */
#define TINY_WINO                                                                               \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 4\n"                                         \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n"                      \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\nnesterov = true\n"                                \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"           \
    "lr_end = 0.001\n"                                                                          \
    "[layer.c1]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\n"                   \
    "activation = relu\n"                                                                       \
    "[layer.c2]\ntype = conv\nfilters = 16\nbatchnorm = true\nactivation = relu\n"            \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* TINY with a validation split and patience (issue 15): the best epoch, the
 * stop and the val_* columns come from the held-out images. */
#define TINY_VAL                                                                                \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 4\npatience = 2\n"                           \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\nvalidation = 500\n"    \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\nnesterov = true\n"                                \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"           \
    "lr_end = 0.001\n"                                                                          \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.drop]\ntype = dropout\nprobability = 0.2\n"                                         \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
/* A run that stalls (a rate too small to move a float weight, no batch
 * norm): epoch 1 stays the best, so patience = 3 stops it after epoch 4. */
#define TINY_STALL                                                                              \
    "[experiment]\nname = tiny\nseed = 5\nepochs = 8\npatience = 3\n"                           \
    "[data]\nbatch_size = 50\ntest_subset = 300\nvalidation = 500\n"                             \
    "[optimizer]\ntype = sgd\nmomentum = 0\nweight_decay = 0\n"                                 \
    "[schedule]\ntype = constant\nlr = 1e-30\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nactivation = relu\n"                     \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* Starts `cnnrun run tiny.ini --db DB --threads 1` in dir without waiting. */
static pid_t spawn_run(const char *db)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        FILE *log = freopen("log", "a", stderr);
        (void)log;
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "tiny.ini", "--db", db, "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Epoch rows of run 1: (epoch, lr, train_loss, train_acc, test_loss, test_acc). */
typedef struct {
    int n;
    double v[16][6];
} Curve;

static Curve read_curve(const char *db)
{
    Curve c = {0};
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select epoch, lr, train_loss, train_acc, test_loss, "
                                           "test_acc from epochs where run_id = 1 order by epoch",
                                        -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && c.n < 16) {
        for (int k = 0; k < 6; k++) c.v[c.n][k] = sqlite3_column_double(st, k);
        c.n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    return c;
}

static void query_text(const char *db, const char *sql, char *out, size_t size)
{
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    out[0] = '\0';
    ck_assert_int_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* Bit-identical: the doubles as stored, compared with ==. */
static void assert_same_curve(const Curve *a, const Curve *b)
{
    ck_assert_int_eq(a->n, EPOCHS);
    ck_assert_int_eq(b->n, EPOCHS);
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < 6; k++)
            ck_assert_msg(a->v[i][k] == b->v[i][k], "epoch %d column %d: %.17g != %.17g", i + 1,
                          k, a->v[i][k], b->v[i][k]);
}

static void assert_db_sound(const char *db)
{
    char s[64];
    query_text(db, "pragma integrity_check", s, sizeof s);
    ck_assert_str_eq(s, "ok");
    ck_assert_int_eq(fixture_poll_int(db, "select count(*) from runs"), 1);
    query_text(db, "select status from runs where id = 1", s, sizeof s);
    ck_assert_str_eq(s, "finished");
}

/* Waits (at most 60 s) until run 1 of db has at least `epochs` epoch rows. */
static void wait_for_epoch(const char *db, int epochs, pid_t pid)
{
    char p[256], sql[128];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    snprintf(sql, sizeof sql, "select count(*) from epochs where run_id = 1");
    for (int i = 0; i < 60000; i++) {
        struct stat st;
        if (stat(p, &st) == 0 && fixture_poll_int(db, sql) >= epochs) return;
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the run ended before epoch %d",
                      epochs);
        usleep(1000);
    }
    ck_abort_msg("epoch %d never appeared in %s", epochs, db);
}

static Curve reference_curve_in(const char *db)
{
    char args[256];
    snprintf(args, sizeof args, "run tiny.ini --db %s --threads 1", db);
    ck_assert_int_eq(cnnrun(args), 0);
    return read_curve(db);
}

/* The uninterrupted run of file into db. */
static Curve reference_curve_in_file(const char *file, const char *db)
{
    char args[256];
    snprintf(args, sizeof args, "run %s --db %s --threads 1", file, db);
    ck_assert_int_eq(cnnrun(args), 0);
    return read_curve(db);
}

static Curve reference_curve(void)
{
    return reference_curve_in("ref/r.db");
}

/* ---- the file itself ---------------------------------------------------- */

static void build(const char *ini_text, const char *name, Experiment *e, Model *m)
{
    write_file(name, ini_text);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(experiment_load(p, NULL, 0, e), 0);
    ck_assert_int_eq(engine_settings_from_env(&e->engine), 0); /* as the command line does */
    ck_assert_int_eq(model_build(e, 8, m), 0);
    model_init_params(m, e->seed);
}

/* Each database has its own checkpoint directory: two databases in one
 * directory never overwrite each other's checkpoints. */
START_TEST(test_checkpoint_dirs)
{
    static const char *const cases[][2] = {
        {"results/results.db", "results/checkpoints"}, {"results.db", "checkpoints"},
        {"results/ablation.db", "results/ablation-checkpoints"}, {"i/r.db", "i/r-checkpoints"},
        {"a.b/c", "a.b/c-checkpoints"}, {"db", "db-checkpoints"},
        {"/x/.hidden", "/x/.hidden-checkpoints"}, {"/x/v1.2.db", "/x/v1.2-checkpoints"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[256];
        checkpoint_default_dir(got, sizeof got, cases[i][0]);
        ck_assert_msg(strcmp(got, cases[i][1]) == 0, "%s -> %s, want %s", cases[i][0], got,
                      cases[i][1]);
    }
}
END_TEST

START_TEST(test_checkpoint_file)
{
    Experiment e, e2, e3;
    Model m, m2, m3;
    build(TINY("8", "4"), "a.ini", &e, &m);
    build(TINY("8", "4"), "b.ini", &e2, &m2);
    build(TINY("16", "4"), "c.ini", &e3, &m3);
    e.optimizer = e2.optimizer = OPT_ADAM;
    Optimizer o, o2;
    optimizer_init(&o, &e, m.n_params);
    optimizer_init(&o2, &e2, m2.n_params);
    for (size_t i = 0; i < m.n_params; i++) m.grads[i] = (float)i * 1e-3f;
    optimizer_step(&o, m.params, m.grads, 0.01f);
    optimizer_step(&o, m.params, m.grads, 0.01f);
    for (size_t i = 0; i < m.n_state; i++) m.state[i] = 0.5f + (float)i;
    rng_u32(&m.dropout_rng);
    CheckpointMeta meta = {.experiment = "tiny", .run_id = 7, .epoch = 3, .global_step = 150,
                           .best_acc = 0.25, .train_seconds = 1.5};
    rng_seed(&meta.shuffle_rng, 1, 2);
    rng_seed(&meta.aug_rng, 1, 3);
    char path[256];
    snprintf(path, sizeof path, "%s/ck/x-last.ckpt", dir);
    /* the file's mode follows the umask, like any file the user creates */
    struct stat fst;
    mode_t old_mask = umask(077);
    ck_assert_int_eq(checkpoint_save(path, &m, &o, &meta), 0);
    ck_assert_int_eq(stat(path, &fst), 0);
    ck_assert_int_eq(fst.st_mode & 0777, 0600);
    umask(022);
    ck_assert_int_eq(checkpoint_save(path, &m, &o, &meta), 0);
    ck_assert_int_eq(stat(path, &fst), 0);
    ck_assert_int_eq(fst.st_mode & 0777, 0644);
    umask(old_mask);

    CheckpointMeta got;
    ck_assert_int_eq(checkpoint_load(path, &m2, &o2, &got), 0);
    ck_assert_int_eq(memcmp(m.params, m2.params, m.n_params * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(m.state, m2.state, m.n_state * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(o.m1, o2.m1, o.n * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(o.m2, o2.m2, o.n * sizeof(float)), 0);
    ck_assert_int_eq(o2.step, 2);
    ck_assert(m2.dropout_rng.state == m.dropout_rng.state);
    ck_assert_str_eq(got.experiment, "tiny");
    ck_assert_int_eq(got.run_id, 7);
    ck_assert_int_eq(got.epoch, 3);
    ck_assert_int_eq(got.global_step, 150);
    ck_assert(got.best_acc == 0.25 && got.train_seconds == 1.5);
    ck_assert(got.shuffle_rng.state == meta.shuffle_rng.state &&
              got.aug_rng.inc == meta.aug_rng.inc);

    /* a different network, a different optimizer: refused, model untouched */
    float before = m3.params[0];
    ck_assert_int_eq(checkpoint_load(path, &m3, NULL, NULL), CN_EXIT_USAGE);
    ck_assert(m3.params[0] == before);
    Optimizer sgd;
    e2.optimizer = OPT_SGD;
    optimizer_init(&sgd, &e2, m2.n_params);
    ck_assert_int_eq(checkpoint_load(path, &m2, &sgd, NULL), CN_EXIT_USAGE);
    optimizer_free(&sgd);

    /* damaged copies: truncated at every length class, a flipped byte, wrong magic */
    char *data;
    size_t len;
    data = read_text_file(path, &len);
    ck_assert_ptr_nonnull(data);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    size_t cuts[] = {0, 4, 8, 13, 30, len / 2, len - 9, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        FILE *f = fopen(bad, "wb");
        fwrite(data, 1, cuts[i], f);
        fclose(f);
        memset(m2.params, 0, m2.n_params * sizeof(float));
        int rc = checkpoint_load(bad, &m2, &o2, NULL);
        ck_assert_msg(rc == CN_EXIT_FAIL || (cuts[i] < 8 && rc == CN_EXIT_USAGE),
                      "cut at %zu: %d", cuts[i], rc);
        ck_assert_msg(m2.params[0] == 0.0f, "a bad file changed the model");
    }
    data[len / 2] ^= 0x10;
    FILE *f = fopen(bad, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    ck_assert_int_eq(checkpoint_load(bad, &m2, &o2, NULL), CN_EXIT_FAIL);
    data[len / 2] ^= 0x10;
    data[0] = 'X';
    f = fopen(bad, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    ck_assert_int_eq(checkpoint_load(bad, &m2, &o2, NULL), CN_EXIT_USAGE);
    free(data);
    snprintf(bad, sizeof bad, "%s/missing.ckpt", dir);
    ck_assert_int_eq(checkpoint_load(bad, &m2, &o2, NULL), CN_EXIT_FAIL);

    optimizer_free(&o);
    optimizer_free(&o2);
    model_free(&m);
    model_free(&m2);
    model_free(&m3);
    experiment_free(&e);
    experiment_free(&e2);
    experiment_free(&e3);
}
END_TEST

/* The node named `name` of m. */
static const Node *node_named(const Model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0) return &m->nodes[i];
    ck_abort_msg("no node %s", name);
    return NULL;
}

/* Byte offset, in a checkpoint of m, of the version-3 block of the
 * convolutions' algorithms (right after the dropout RNG, which follows
 * version 4's best_epoch). */
static size_t conv_algos_offset(const char *data)
{
    size_t at = 8 + 4 + 4 + 8; /* magic, version, order mark, signature hash */
    uint32_t len;
    memcpy(&len, data + at, 4);
    at += 4 + len;              /* the signature */
    memcpy(&len, data + at, 4);
    at += 4 + len;              /* the experiment name */
    at += 8 + 4 + 8 + 8 + 8 + 4 * 8; /* run_id .. train_seconds, shuffle + augment RNGs */
    at += 4 + 8 + 8 + 8 + 8;    /* the partial epoch (version 2) */
    at += 4;                    /* best_epoch (version 4) */
    memcpy(&len, data + at, 4);
    at += 4 + len;              /* the run's data (version 5) */
    at += 2 * 8;                /* the dropout RNG */
    return at;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* A checkpoint keeps the convolutions' algorithms: a model built to run
 * others (here CNNRUN_CONV=im2col) gets them back on load, with scratch for
 * them, whatever CNNRUN_CONV says. A version-2 file (from before the
 * algorithms were recorded) gives the algorithms of a build without
 * measuring then (the rule of then: im2col below 128 channels): what its run
 * computed with. */
START_TEST(test_checkpoint_keeps_conv_algos)
{
    Experiment e, e2;
    Model m, m2;
    setenv("CNNRUN_CONV", "winograd", 1);
    build(TINY_WINO, "a.ini", &e, &m);
    ck_assert_int_eq(node_named(&m, "c2")->algo, CONV_WINOGRAD);
    ck_assert_int_eq(node_named(&m, "c1")->algo, CONV_IM2COL);
    setenv("CNNRUN_CONV", "im2col", 1);
    build(TINY_WINO, "b.ini", &e2, &m2);
    ck_assert_int_eq(node_named(&m2, "c2")->algo, CONV_IM2COL);
    const size_t rule_scratch = m2.n_scratch;
    ck_assert_uint_lt(rule_scratch, m.n_scratch); /* Winograd's transforms need more */
    CheckpointMeta meta = {.experiment = "tiny", .run_id = 1};
    char path[256], old[300];
    snprintf(path, sizeof path, "%s/w.ckpt", dir);
    ck_assert_int_eq(checkpoint_save(path, &m, NULL, &meta), 0);
    ck_assert_int_eq(checkpoint_load(path, &m2, NULL, NULL), 0);
    ck_assert_int_eq(node_named(&m2, "c2")->algo, CONV_WINOGRAD);
    ck_assert_int_eq(node_named(&m2, "c1")->algo, CONV_IM2COL);
    ck_assert_int_eq(m2.conv_from, CONV_FROM_CHECKPOINT);
    ck_assert_uint_eq(m2.n_scratch, m.n_scratch);

    /* the same file as version 2 wrote it: no algorithms block */
    size_t len;
    char *data = read_text_file(path, &len);
    ck_assert_ptr_nonnull(data);
    size_t at = conv_algos_offset(data);
    uint32_t n_convs;
    memcpy(&n_convs, data + at, 4);
    ck_assert_int_eq(n_convs, 2);
    size_t block = 4;
    for (uint32_t i = 0; i < n_convs; i++) {
        uint32_t l;
        memcpy(&l, data + at + block, 4);
        block += 4 + l;
    }
    ck_assert(memcmp(data + at + 4 + 4, "im2col", 6) == 0); /* c1's name: the offset is right */
    memmove(data + at, data + at + block, len - at - block);
    len -= block;
    /* nor version 4's best_epoch and version 5's data (none here: its length 0) */
    size_t best_epoch_at = at - 2 * 8 - 4 - 4;
    memmove(data + best_epoch_at, data + best_epoch_at + 8, len - best_epoch_at - 8);
    len -= 8;
    uint32_t v2 = 2;
    memcpy(data + 8, &v2, 4);
    uint64_t sum = fnv1a(data, len - 8);
    memcpy(data + len - 8, &sum, 8);
    snprintf(old, sizeof old, "%s/v2.ckpt", dir);
    FILE *f = fopen(old, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
    /* the rule of then: im2col, as the file's run computed */
    ck_assert_int_eq(checkpoint_load(old, &m, NULL, NULL), 0);
    ck_assert_int_eq(node_named(&m, "c2")->algo, CONV_IM2COL);
    ck_assert_uint_eq(m.n_scratch, rule_scratch);
    ck_assert_int_eq(memcmp(m.params, m2.params, m.n_params * sizeof(float)), 0);
    model_free(&m);
    model_free(&m2);
    experiment_free(&e);
    experiment_free(&e2);
}
END_TEST

/* ---- through the binary --------------------------------------------------- */

START_TEST(test_same_seed_same_numbers)
{
    write_file("tiny.ini", TINY("8", "4"));
    Curve a = reference_curve();
    ck_assert_int_eq(cnnrun("run tiny.ini --db again/r.db --threads 1"), 0);
    Curve b = read_curve("again/r.db");
    assert_same_curve(&a, &b);
    /* and a checkpoint pair per run */
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/again/r-checkpoints/tiny-1-last.ckpt", dir);
    ck_assert_int_eq(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/again/r-checkpoints/tiny-1-best.ckpt", dir);
    ck_assert_int_eq(stat(p, &st), 0);
}
END_TEST

START_TEST(test_sigkill_then_resume)
{
    write_file("tiny.ini", TINY("8", "4"));
    Curve ref = reference_curve();
    char sub[128];
    snprintf(sub, sizeof sub, "%s/k", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    pid_t pid = spawn_run("k/r.db");
    wait_for_epoch("k/r.db", 2, pid);
    /* into the middle of epoch 3: half the time epoch 2 took */
    sqlite3 *s = fixture_open_db("k/r.db");
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select seconds from epochs where run_id = 1 and "
                                           "epoch = 2", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double secs = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    usleep((useconds_t)(secs * 0.5e6));
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* the killed run keeps its finished epochs, still `running` */
    int kept = fixture_poll_int("k/r.db", "select count(*) from epochs where run_id = 1");
    ck_assert_msg(kept >= 2 && kept < EPOCHS, "kept %d epochs", kept);
    char text[64];
    query_text("k/r.db", "select status from runs where id = 1", text, sizeof text);
    ck_assert_str_eq(text, "running");
    Curve part = read_curve("k/r.db");
    for (int i = 0; i < part.n; i++)
        for (int k = 0; k < 6; k++) ck_assert(part.v[i][k] == ref.v[i][k]);

    ck_assert_int_eq(cnnrun("run tiny.ini --db k/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("k/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("k/r.db");
    /* nothing left to resume */
    ck_assert_int_eq(cnnrun("run tiny.ini --db k/r.db --threads 1 --resume"), 2);
}
END_TEST

/* SIGINT (Ctrl-C) and SIGTERM (kill, a scheduler) are handled alike. */
static const int stop_signals[] = {SIGINT, SIGTERM};

START_TEST(test_sigint_then_resume)
{
    write_file("tiny.ini", TINY("8", "4"));
    Curve ref = reference_curve();
    char sub[128];
    snprintf(sub, sizeof sub, "%s/i", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    pid_t pid = spawn_run("i/r.db");
    wait_for_epoch("i/r.db", 1, pid);
    usleep(50000);
    ck_assert_int_eq(kill(pid, stop_signals[_i]), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char text[64];
    query_text("i/r.db", "select status from runs where id = 1", text, sizeof text);
    ck_assert_str_eq(text, "interrupted");
    /* the steps done in the epoch it stopped in were saved (the stop is
     * checked after every step, so it always lands inside an epoch) */
    char ck[192], want[64];
    snprintf(ck, sizeof ck, "%s/i/r-checkpoints/tiny-1-last.ckpt", dir);
    CheckpointMeta meta;
    ck_assert_int_eq(checkpoint_read_meta(ck, &meta), 0);
    ck_assert_int_ge(meta.epoch, 1);
    ck_assert_int_ge(meta.steps_in_epoch, 1);
    ck_assert_int_eq(meta.global_step, meta.epoch * 50L + meta.steps_in_epoch);
    ck_assert_int_eq(meta.part_seen, meta.steps_in_epoch * 50L);
    snprintf(want, sizeof want, "stopped after step %d of 50 in epoch %d", meta.steps_in_epoch,
             meta.epoch + 1);
    char logpath[192];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    char *log = read_text_file(logpath, NULL);
    ck_assert_msg(log && strstr(log, want), "expected \"%s\" in the log:\n%s", want, log);
    free(log);

    /* while another live process holds the run (its lock), --resume is
     * refused and changes nothing; once that process is gone, it goes on */
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    char ckdir[192];
    snprintf(ckdir, sizeof ckdir, "%s/i/r-checkpoints", dir);
    pid_t holder = fork();
    if (holder == 0) {
        int fd = run_lock(ckdir, "tiny", 1);
        if (write(ready[1], fd >= 0 ? "y" : "n", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char locked = 0;
    ck_assert_int_eq(read(ready[0], &locked, 1), 1);
    ck_assert_int_eq(locked, 'y');
    ck_assert_int_eq(cnnrun("run tiny.ini --db i/r.db --threads 1 --resume"), 2);
    snprintf(want, sizeof want, "run 1 of 'tiny' is still running (process %d)", (int)holder);
    ck_assert_msg(strstr(out, want) != NULL, "expected \"%s\" in:\n%s", want, out);
    query_text("i/r.db", "select status from runs where id = 1", text, sizeof text);
    ck_assert_str_eq(text, "interrupted");
    kill(holder, SIGKILL); /* the kernel drops its lock */
    ck_assert_int_eq(waitpid(holder, NULL, 0), holder);
    close(ready[0]);
    close(ready[1]);

    /* a changed file is refused, with the line that changed */
    write_file("tiny.ini", TINY("8", "5"));
    ck_assert_int_eq(cnnrun("run tiny.ini --db i/r.db --threads 1 --resume"), 2);
    write_file("tiny.ini", TINY("8", "4"));
    /* resuming from an explicit checkpoint path, naming the file another way
     * (./tiny.ini): the path is not part of the configuration */
    ck_assert_int_eq(cnnrun("run ./tiny.ini --db i/r.db --threads 1 "
                            "--resume i/r-checkpoints/tiny-1-last.ckpt"), 0);
    Curve got = read_curve("i/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("i/r.db");
}
END_TEST

/* translate + flip_alternating + drop_last: stopped inside an epoch (SIGINT:
 * the partial epoch is saved) or killed (SIGKILL: from the last epoch's
 * checkpoint), then resumed: the same epochs, bit for bit, as a run left
 * alone. The stop lands in epoch 2 or later, where every image is mirrored
 * the other way round from epoch 1, so a wrong phase would show. */
START_TEST(test_airbench_data_resume)
{
    write_file("tiny.ini", TINY_AIRBENCH);
    Curve ref = reference_curve();
    char log0[sizeof out];
    snprintf(log0, sizeof log0, "%s", out);
    ck_assert_msg(strstr(log0, "batch 48  52 steps/epoch"), "%s", log0);
    /* the options matter: without them the curve is another one */
    ck_assert_int_eq(cnnrun("run tiny.ini --db plain/r.db --threads 1 "
                            "--set data.augment=translate:2,flip"), 0);
    Curve other = read_curve("plain/r.db");
    ck_assert(other.n == EPOCHS && other.v[0][2] != ref.v[0][2]);

    const int sig = _i == 0 ? SIGINT : SIGKILL;
    char sub[128], db[64], cmd[128];
    snprintf(db, sizeof db, "%s/r.db", sig == SIGINT ? "ai" : "ak");
    snprintf(sub, sizeof sub, "%s/%s", dir, sig == SIGINT ? "ai" : "ak");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    pid_t pid = spawn_run(db);
    wait_for_epoch(db, sig == SIGINT ? 1 : 2, pid);
    usleep(sig == SIGINT ? 50000 : 100000);
    ck_assert_int_eq(kill(pid, sig), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    if (sig == SIGINT) {
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
        char ck[192];
        snprintf(ck, sizeof ck, "%s/ai/r-checkpoints/tiny-1-last.ckpt", dir);
        CheckpointMeta meta;
        ck_assert_int_eq(checkpoint_read_meta(ck, &meta), 0);
        ck_assert_int_ge(meta.epoch, 1);
        ck_assert_int_ge(meta.steps_in_epoch, 1);
        ck_assert_int_eq(meta.global_step, meta.epoch * 52L + meta.steps_in_epoch);
        ck_assert_int_eq(meta.part_seen, meta.steps_in_epoch * 48L);
    } else {
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    }
    int kept = fixture_poll_int(db, "select count(*) from epochs where run_id = 1");
    ck_assert_msg(kept >= 1 && kept < EPOCHS, "kept %d epochs", kept);
    snprintf(cmd, sizeof cmd, "run tiny.ini --db %s --threads 1 --resume", db);
    ck_assert_int_eq(cnnrun(cmd), 0);
    Curve got = read_curve(db);
    assert_same_curve(&ref, &got);
    assert_db_sound(db);
}
END_TEST

/* Epoch rows of run 1: (val_loss, val_acc) and the number of rows. */
static Curve read_val_curve(const char *db)
{
    Curve c = {0};
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select val_loss, val_acc from epochs where run_id = 1 "
                                           "order by epoch", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && c.n < 16) {
        for (int k = 0; k < 2; k++) c.v[c.n][k] = sqlite3_column_double(st, k);
        ck_assert(sqlite3_column_type(st, 1) != SQLITE_NULL);
        c.n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(s);
    return c;
}

/* Runs tiny.ini into dir/sub/r.db and stops it with SIGINT just after its
 * first epoch's row (inside epoch 2): it exits 1, its partial epoch saved. */
static void interrupt_after_first_epoch(const char *sub)
{
    char path[128], db[64];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(db, sizeof db, "%s/r.db", sub);
    pid_t pid = spawn_run(db);
    wait_for_epoch(db, 1, pid);
    usleep(50000);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
}

/* A run with a data-dependent initialisation, stopped and resumed, ends on
 * the uninterrupted curve: the resumed run takes its weights from the
 * checkpoint and nothing initialises them again (the whitening weights are
 * trained here, so a second initialisation would change the curve). */
START_TEST(test_whiten_resume)
{
    write_file("tiny.ini", TINY_WHITEN);
    Curve ref = reference_curve();
    interrupt_after_first_epoch("w");
    ck_assert_int_eq(cnnrun("run tiny.ini --db w/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("w/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("w/r.db");
}
END_TEST

/* Validation and patience (issue 15): stopped inside epoch 2 and resumed,
 * the same epochs, val_* columns and stop, bit for bit, as a run left alone.
 * Then a run that stalls, stopped inside epoch 3 (after two epochs without
 * a better accuracy): its checkpoint keeps the best epoch (1), so the
 * resumed run stops after epoch 4 as the uninterrupted one does, not three
 * epochs after the resume point. */
START_TEST(test_validation_patience_resume)
{
    write_file("tiny.ini", TINY_VAL);
    Curve ref = reference_curve();
    Curve ref_val = read_val_curve("ref/r.db");
    char ref_stop[32], got_stop[32];
    query_text("ref/r.db", "select coalesce(stop_reason, 'none') from runs", ref_stop,
               sizeof ref_stop);
    interrupt_after_first_epoch("v");
    ck_assert_int_eq(cnnrun("run tiny.ini --db v/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("v/r.db"), got_val = read_val_curve("v/r.db");
    ck_assert_int_eq(got.n, ref.n);
    ck_assert_int_eq(got_val.n, ref.n);
    for (int i = 0; i < ref.n; i++) {
        for (int k = 0; k < 6; k++) ck_assert(got.v[i][k] == ref.v[i][k]);
        for (int k = 0; k < 2; k++)
            ck_assert_msg(got_val.v[i][k] == ref_val.v[i][k], "epoch %d val column %d", i + 1, k);
    }
    query_text("v/r.db", "select coalesce(stop_reason, 'none') from runs", got_stop,
               sizeof got_stop);
    ck_assert_str_eq(got_stop, ref_stop);
    assert_db_sound("v/r.db");

    write_file("tiny.ini", TINY_STALL);
    ck_assert_int_eq(cnnrun("run tiny.ini --db sref/r.db --threads 1"), 0);
    ck_assert_int_eq(fixture_poll_int("sref/r.db", "select count(*) from epochs"), 4);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/s", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    pid_t pid = spawn_run("s/r.db");
    wait_for_epoch("s/r.db", 2, pid);
    usleep(20000);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char ck[192];
    snprintf(ck, sizeof ck, "%s/s/r-checkpoints/tiny-1-last.ckpt", dir);
    CheckpointMeta meta;
    ck_assert_int_eq(checkpoint_read_meta(ck, &meta), 0);
    ck_assert_int_ge(meta.epoch, 2);
    ck_assert_int_lt(meta.epoch, 4);
    ck_assert_int_eq(meta.best_epoch, 1);
    ck_assert_int_eq(cnnrun("run tiny.ini --db s/r.db --threads 1 --resume"), 0);
    ck_assert_int_eq(fixture_poll_int("s/r.db", "select count(*) from epochs"), 4);
    query_text("s/r.db", "select stop_reason from runs", got_stop, sizeof got_stop);
    ck_assert_str_eq(got_stop, "patience");
}
END_TEST

/* Groups and Muon: a run stopped inside an epoch and resumed ends on the
 * uninterrupted run's numbers, bit for bit (momentum buffers, the group
 * schedules and the epoch-limited group all continue from the checkpoint). */
START_TEST(test_groups_muon_resume)
{
    write_file("tiny.ini", TINY_GROUPS);
    Curve ref = reference_curve();
    interrupt_after_first_epoch("g");
    char ck[192];
    snprintf(ck, sizeof ck, "%s/g/r-checkpoints/tiny-1-last.ckpt", dir);
    CheckpointMeta meta;
    ck_assert_int_eq(checkpoint_read_meta(ck, &meta), 0);
    ck_assert_int_ge(meta.steps_in_epoch, 1);
    ck_assert_int_lt(meta.epoch, EPOCHS);
    ck_assert_int_eq(cnnrun("run tiny.ini --db g/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("g/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("g/r.db");
    /* the groups made a difference: not the curve of the same file without them */
    write_file("tiny.ini", TINY("8", "4"));
    Curve plain = reference_curve_in("plain/r.db");
    ck_assert(plain.v[EPOCHS - 1][2] != ref.v[EPOCHS - 1][2]);
}
END_TEST

/* 3.9 epochs of 50 steps: 195 steps, epoch 4 of 45. Stopped inside epoch 2
 * (before the partial epoch) or inside the partial epoch itself, and
 * resumed: the same four rows, bit for bit, as a run left alone, the last
 * one of 45 steps. */
START_TEST(test_fractional_epochs_resume)
{
    write_file("tiny.ini", TINY("8", "3.9"));
    Curve ref = reference_curve();
    ck_assert_int_eq(fixture_poll_int("ref/r.db", "select steps from epochs where epoch = 4"), 45);
    const char *sub = _i == 0 ? "fb" : "fp";
    char db[64], cmd[128], ck[192];
    snprintf(db, sizeof db, "%s/r.db", sub);
    if (_i == 0) {
        interrupt_after_first_epoch(sub);
    } else {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, sub);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        pid_t pid = spawn_run(db);
        wait_for_epoch(db, 3, pid); /* then at once: inside epoch 4's 45 steps */
        ck_assert_int_eq(kill(pid, SIGINT), 0);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    }
    snprintf(ck, sizeof ck, "%s/%s/r-checkpoints/tiny-1-last.ckpt", dir, sub);
    CheckpointMeta meta;
    ck_assert_int_eq(checkpoint_read_meta(ck, &meta), 0);
    ck_assert_int_eq(meta.epoch, _i == 0 ? 1 : 3);
    ck_assert_int_ge(meta.steps_in_epoch, 1);
    ck_assert_int_lt(meta.steps_in_epoch, _i == 0 ? 50 : 45);
    if (_i == 1) {
        char want[64], logpath[192];
        snprintf(want, sizeof want, "stopped after step %d of 45 in epoch 4",
                 meta.steps_in_epoch);
        snprintf(logpath, sizeof logpath, "%s/log", dir);
        char *log = read_text_file(logpath, NULL);
        ck_assert_msg(log && strstr(log, want), "expected \"%s\" in the log:\n%s", want, log);
        free(log);
    }
    snprintf(cmd, sizeof cmd, "run tiny.ini --db %s --threads 1 --resume", db);
    ck_assert_int_eq(cnnrun(cmd), 0);
    Curve got = read_curve(db);
    assert_same_curve(&ref, &got);
    assert_db_sound(db);
    ck_assert_int_eq(fixture_poll_int(db, "select steps from epochs where epoch = 4"), 45);
    ck_assert_int_eq(fixture_poll_int(db, "select images from epochs where epoch = 4"), 45 * 50);
    ck_assert_int_eq(fixture_poll_int(db, "select epochs_planned from runs"), 4);
}
END_TEST

/* A run whose algorithms were measured, stopped and resumed with CNNRUN_CONV
 * forcing the other algorithm: the resume takes the checkpoint's (and says
 * so), and its epochs are, bit for bit, those of a run left alone with the
 * measured algorithm forced. The two algorithms give other numbers, so a
 * resume on the wrong one would show. */
START_TEST(test_tuned_resume)
{
    write_file("tiny.ini", TINY_WINO);
    setenv("CNNRUN_CONV", "tune", 1);
    interrupt_after_first_epoch("t");
    char chosen[64], other[64];
    query_text("t/r.db", "select conv_algo from layers where run_id = 1 and name = 'c2'", chosen,
               sizeof chosen);
    ck_assert_msg(!strcmp(chosen, "im2col") || !strcmp(chosen, "winograd") ||
                      !strcmp(chosen, "winograd4"), "'%s'", chosen);
    snprintf(other, sizeof other, "%s", strcmp(chosen, "im2col") ? "im2col" : "winograd");
    char logpath[192];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    char *log = read_text_file(logpath, NULL);
    ck_assert_msg(log && strstr(log, "conv algorithms: measured"), "%s", log);
    free(log);

    setenv("CNNRUN_CONV", other, 1);
    ck_assert_int_eq(cnnrun("run tiny.ini --db t/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "continues with the engine settings it was recorded with (conv=tune "),
                  "%s", out);
    ck_assert_msg(strstr(out, "conv algorithms: as the checkpoint recorded them"), "%s", out);
    Curve got = read_curve("t/r.db");
    assert_db_sound("t/r.db");

    setenv("CNNRUN_CONV", chosen, 1);
    Curve ref = reference_curve_in("ref/r.db");
    assert_same_curve(&ref, &got);
    setenv("CNNRUN_CONV", other, 1);
    Curve changed = reference_curve_in("other/r.db");
    int differ = 0;
    for (int i = 0; i < EPOCHS; i++) differ |= changed.v[i][2] != ref.v[i][2];
    ck_assert_msg(differ, "im2col and winograd gave the same bits: the test would not notice "
                          "a resume on the wrong algorithm");
}
END_TEST

/* Issue 34: two processes of one file and seed give the same curve and
 * algorithms, whatever each one's timing would choose. CNNRUN_TUNE_PREFER
 * makes the second process's tuner see F(4x4) fastest where the first saw
 * im2col: the second takes the first's choice from the machine's wisdom file
 * (the test directory's) without timing, and computes the same bits. Before
 * the file, each process chose from its own timing (fails: c2 winograd4 and
 * another curve). With CNNRUN_CONV=retune it measures again and differs:
 * the test would see a wrong choice. */
START_TEST(test_same_seed_any_timing)
{
    write_file("tiny.ini", TINY_WINO);
    setenv("CNNRUN_CONV", "tune", 1);
    setenv("CNNRUN_TUNE_PREFER", "im2col", 1);
    Curve a = reference_curve_in("a.db");
    ck_assert_msg(strstr(out, "measuring the convolution algorithms of"), "%s", out);
    setenv("CNNRUN_TUNE_PREFER", "winograd4", 1);
    Curve b = reference_curve_in("b.db");
    ck_assert_msg(!strstr(out, "measuring the convolution") &&
                      strstr(out, "conv algorithms: measured on this machine before"), "%s", out);
    assert_same_curve(&a, &b);
    char algo_a[64], algo_b[64];
    const char *q = "select group_concat(conv_algo, ';') from layers where run_id = 1";
    query_text("a.db", q, algo_a, sizeof algo_a);
    query_text("b.db", q, algo_b, sizeof algo_b);
    ck_assert_str_eq(algo_a, algo_b);
    ck_assert_msg(strstr(algo_a, "im2col") && !strstr(algo_a, "winograd4"), "%s", algo_a);
    /* each run records the settings it ran with */
    query_text("a.db", "select engine from runs where id = 1", algo_a, sizeof algo_a);
    ck_assert_str_eq(algo_a, "conv=tune dwsplit=auto fuse=on");
    /* retune: measured again, F(4x4) now, other numbers */
    setenv("CNNRUN_CONV", "retune", 1);
    Curve c = reference_curve_in("c.db");
    query_text("c.db", q, algo_b, sizeof algo_b);
    ck_assert_msg(strstr(algo_b, "winograd4"), "%s", algo_b);
    int differ = 0;
    for (int i = 0; i < EPOCHS; i++) differ |= c.v[i][2] != a.v[i][2];
    ck_assert_msg(differ, "im2col and winograd4 gave the same bits");
    unsetenv("CNNRUN_TUNE_PREFER");
}
END_TEST

/* precision = bf16 (issue 35): stopped after an epoch and resumed, the run
 * ends on the uninterrupted bf16 curve, bit for bit, and its row says bf16;
 * the bf16 curve is not the fp32 one (the products' inputs were rounded).
 * Twice: with the shape rule's algorithms, and with oneDNN's convolution
 * primitives wherever they run (CNNRUN_CONV=onednn: on a CPU with bf16
 * instructions; elsewhere the layers say im2col and the run is the first
 * pass's again). */
START_TEST(test_bf16_resume)
{
    if (_i == 1) setenv("CNNRUN_CONV", "onednn", 1);
    char text[2048];
    snprintf(text, sizeof text, "%s", TINY_WINO);
    const char *at = "name = tiny\n";
    char *p = strstr(text, at);
    ck_assert_ptr_nonnull(p);
    memmove(p + strlen(at) + strlen("precision = bf16\n"), p + strlen(at), strlen(p + strlen(at)) + 1);
    memcpy(p + strlen(at), "precision = bf16\n", strlen("precision = bf16\n"));
    write_file("tiny.ini", text);
    Curve ref = reference_curve_in("ref/r.db");
    ck_assert_msg(strstr(out, "precision bf16: the matrix products' inputs rounded"), "%s", out);
    interrupt_after_first_epoch("b");
    ck_assert_int_eq(cnnrun("run tiny.ini --db b/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("b/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("b/r.db");
    char prec[32];
    query_text("b/r.db", "select precision from runs where id = 1", prec, sizeof prec);
    ck_assert_str_eq(prec, "bf16");
    char algos[256];
    query_text("b/r.db", "select group_concat(conv_algo, ';') from layers where run_id = 1", algos,
               sizeof algos);
    int dnnl = bf16_path() != BF16_EMULATED;
    printf("bf16 resume, CNNRUN_CONV=%s: %s\n", _i ? "onednn" : "rule", algos);
    ck_assert_msg(!strstr(algos, "onednn") == !(_i == 1 && dnnl), "%s", algos);
    write_file("tiny.ini", TINY_WINO);
    Curve fp32 = reference_curve_in("fp32/r.db");
    int differ = 0;
    for (int i = 0; i < EPOCHS; i++) differ |= fp32.v[i][2] != ref.v[i][2];
    ck_assert_msg(differ, "bf16 and fp32 gave the same bits");
    unsetenv("CNNRUN_CONV");
}
END_TEST

/* The engine's settings are the run's: a run recorded with the weight
 * gradient split by rows, stopped and resumed with CNNRUN_DWSPLIT=batch,
 * continues split by rows (and says so) on the uninterrupted curve; runs
 * --diff shows the setting that differs between two runs. */
START_TEST(test_resume_keeps_engine_settings)
{
    write_file("tiny.ini", TINY_WINO);
    setenv("CNNRUN_DWSPLIT", "rows", 1);
    Curve ref = reference_curve_in("ref/r.db");
    interrupt_after_first_epoch("t");
    setenv("CNNRUN_DWSPLIT", "batch", 1);
    ck_assert_int_eq(cnnrun("run tiny.ini --db t/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "continues with the engine settings it was recorded with "
                              "(conv=rule dwsplit=rows fuse=on), not the environment's "
                              "(conv=rule dwsplit=batch fuse=on)"), "%s", out);
    Curve got = read_curve("t/r.db");
    assert_same_curve(&ref, &got);
    /* a run split by the batch: --diff names the key */
    Curve other = reference_curve_in("t/r.db");
    (void)other;
    unsetenv("CNNRUN_DWSPLIT");
    ck_assert_int_eq(cnnrun("runs --db t/r.db --diff 1 2"), 0);
    ck_assert_msg(strstr(out, "engine.dwsplit") && strstr(out, "rows") && strstr(out, "batch") &&
                      !strstr(out, "engine.conv"), "%s", out);
}
END_TEST

/* Mounts a tmpfs of `size` at dir/sub (path into mnt). The tests that do
 * are the optional case "tmpfs" (meson test test_resume_tmpfs), skipped
 * where mounting is refused (tmpfs_missing). */
static void mount_tmpfs(const char *sub, const char *size, char *mnt, size_t mnt_size)
{
    char cmd[512];
    snprintf(mnt, mnt_size, "%s/%s", dir, sub);
    ck_assert_int_eq(mkdir(mnt, 0755), 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%s tmpfs %s", size, mnt);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* CheckOptional.missing of the case "tmpfs": whether a tmpfs mounts here. */
static const char *tmpfs_missing(void)
{
    char at[] = "/tmp/cnnrun_mnt_XXXXXX", cmd[128];
    if (!mkdtemp(at)) return "cannot make a directory in /tmp to mount a tmpfs on";
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=64k tmpfs %s 2>/dev/null", at);
    int mounted = system(cmd) == 0;
    snprintf(cmd, sizeof cmd, "umount %s", at);
    if (mounted && system(cmd) != 0) mounted = 0;
    rmdir(at);
    return mounted ? NULL : "cannot mount a tmpfs (it takes root, or CAP_SYS_ADMIN)";
}

/* A network whose checkpoint (1.2 MB: the weights and the momentum) is far
 * larger than its results database: 2 steps per epoch. */
#define BIG                                                                                     \
    "[experiment]\nepochs = 4\n"                                                                \
    "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 50\n"                           \
    "[schedule]\ntype = constant\nlr = 0.01\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = 64\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.c2]\ntype = conv\nfilters = 256\nstride = 2\nbatchnorm = true\n"                    \
    "activation = relu\n"                                                                       \
    "[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

/* A disk that fills up while a checkpoint is written: a clear message, exit 1,
 * status failed, every finished epoch kept and the previous checkpoint intact;
 * with space again, --resume continues from it (epoch 1), trains epoch 2 again
 * and ends with the uninterrupted run's numbers (issue 23).
 * Needs a small tmpfs: the optional case "tmpfs". */
START_TEST(test_full_disk_keeps_previous_checkpoint)
{
    write_file("big.ini", BIG);
    Curve ref = reference_curve_in_file("big.ini", "ref/r.db");
    char mnt[128], cmd[512];
    /* room for the database and two 1.2 MB checkpoints (best, last), not a third */
    mount_tmpfs("full", "3000k", mnt, sizeof mnt);
    int rc = cnnrun("run big.ini --db full/r.db --threads 1");
    char log[sizeof out];
    memcpy(log, out, sizeof out);
    int epochs = fixture_poll_int("full/r.db", "select count(*) from epochs where run_id = 1");
    char status[64];
    query_text("full/r.db", "select status from runs where id = 1", status, sizeof status);
    int eval_rc = cnnrun("eval big.ini --weights full/r-checkpoints/big-1-last.ckpt");
    char eval_out[256];
    snprintf(eval_out, sizeof eval_out, "%.200s", out);
    snprintf(cmd, sizeof cmd, "mount -o remount,size=16m %s", mnt); /* space freed */
    int grown = system(cmd);
    int resume_rc = cnnrun("run big.ini --db full/r.db --threads 1 --resume");
    static char resume_log[sizeof out]; /* all of it: a warning may come first */
    snprintf(resume_log, sizeof resume_log, "%s", out);
    Curve got = read_curve("full/r.db");
    char runs[64];
    query_text("full/r.db", "select count(*) || ' ' || status from runs", runs, sizeof runs);
    snprintf(cmd, sizeof cmd, "umount %s", mnt);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, log);
    ck_assert_msg(strstr(log, "could not write the checkpoint"), "%s", log);
    /* epoch 2's row is committed before its checkpoint fails to be written */
    ck_assert_int_eq(epochs, 2);
    ck_assert_str_eq(status, "failed");
    ck_assert_msg(eval_rc == 0, "the previous checkpoint does not load: %s", eval_out);
    ck_assert_int_eq(grown, 0);
    ck_assert_msg(resume_rc == 0, "exit %d: %s", resume_rc, resume_log);
    ck_assert_msg(strstr(resume_log, "resuming run 1 at epoch 2"), "%s", resume_log);
    assert_same_curve(&ref, &got);
    ck_assert_str_eq(runs, "1 finished");
}
END_TEST

/* Runs `cnnrun ARGS...` in dir with files limited to fsize bytes (ulimit -f),
 * stderr into dir/xfsz.log; returns the wait status. */
static int run_with_file_limit(rlim_t fsize, const char *db)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        if (!freopen("xfsz.log", "w", stderr)) _exit(127);
        struct rlimit lim = {.rlim_cur = fsize, .rlim_max = fsize};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(127);
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "big.ini", "--db", db, "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* Files in dir/sub whose name contains `part`. */
static int count_files(const char *sub, const char *part)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) n += strstr(ent->d_name, part) != NULL;
    closedir(d);
    return n;
}

/* The first checkpoint cannot be written (a file size limit, ulimit -f, below
 * its size; SIGXFSZ must not kill the run): exit 1, the row `failed` with the
 * reason, no temporary file left; and --resume, which has only epoch 1's row
 * and no checkpoint, starts the run again at epoch 1 in its row and ends with
 * the uninterrupted run's numbers (issue 23). */
START_TEST(test_first_checkpoint_fails_then_resume)
{
    write_file("big.ini", BIG);
    Curve ref = reference_curve_in_file("big.ini", "ref/r.db");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/f", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    int status = run_with_file_limit(600 * 1024, "f/r.db"); /* the database stays below */
    char p[256];
    snprintf(p, sizeof p, "%s/xfsz.log", dir);
    char *log = read_text_file(p, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, log);
    ck_assert_msg(strstr(log, "could not write the checkpoint"), "%s", log);
    ck_assert_msg(strstr(log, "File too large"), "%s", log);
    free(log);
    char *why = fixture_poll_text("f/r.db", "select status || ': ' || error from runs");
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "failed: could not write the checkpoint"), "%s", why);
    free(why);
    ck_assert_int_eq(fixture_poll_int("f/r.db", "select count(*) from epochs"), 1);
    ck_assert_int_eq(count_files("f/r-checkpoints", ".tmp."), 0);
    ck_assert_int_eq(count_files("f/r-checkpoints", ".ckpt"), 0);

    ck_assert_int_eq(cnnrun("run big.ini --db f/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "starting it again at epoch 1"), "%s", out);
    ck_assert_msg(strstr(out, "resuming run 1 at epoch 1"), "%s", out);
    Curve got = read_curve("f/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("f/r.db");
}
END_TEST

/* Killed after epoch 2, its `last` checkpoint gone (removed, or never
 * renamed into place): --resume continues from the `best` one, trains the
 * epochs after it again and ends with the uninterrupted run's numbers; a
 * temporary file a killed write left is removed. */
START_TEST(test_resume_from_best_without_last)
{
    write_file("tiny.ini", TINY("8", "4"));
    Curve ref = reference_curve();
    char sub[128];
    snprintf(sub, sizeof sub, "%s/k", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    pid_t pid = spawn_run("k/r.db");
    wait_for_epoch("k/r.db", 2, pid);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char p[256];
    snprintf(p, sizeof p, "%s/k/r-checkpoints/tiny-1-last.ckpt", dir);
    ck_assert_int_eq(unlink(p), 0);
    write_file("k/r-checkpoints/tiny-1-last.ckpt.tmp.AbC123", "half a checkpoint");
    write_file("k/r-checkpoints/tiny-1-2-last.ckpt.tmp.AbC123", "another experiment's");
    ck_assert_int_eq(cnnrun("run tiny.ini --db k/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "continuing from its best one"), "%s", out);
    Curve got = read_curve("k/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("k/r.db");
    ck_assert(!exists("k/r-checkpoints/tiny-1-last.ckpt.tmp.AbC123"));
    ck_assert(exists("k/r-checkpoints/tiny-1-2-last.ckpt.tmp.AbC123"));
}
END_TEST

/* The checkpoint directory is checked before anything trains (issue 23):
 * a file in its place (here), or a directory on a read-only file system
 * (test_read_only_checkpoint_dir_before_training), is exit 2 with a message
 * that says which, and no database is created. */
START_TEST(test_bad_checkpoint_dir_before_training)
{
    write_file("tiny.ini", TINY("8", "1"));
    write_file("r-checkpoints", "not a directory\n");
    ck_assert_int_eq(cnnrun("run tiny.ini --db r.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "r-checkpoints: the checkpoint directory is a file, not a "
                              "directory"), "%s", out);
    ck_assert_msg(!strstr(out, "epoch 1"), "it trained first: %s", out);
    ck_assert(!exists("r.db"));
}
END_TEST

/* A checkpoint directory on a read-only file system: found before training
 * too. Needs a tmpfs: the optional case "tmpfs". */
START_TEST(test_read_only_checkpoint_dir_before_training)
{
    write_file("tiny.ini", TINY("8", "1"));
    char mnt[128], cmd[512];
    mount_tmpfs("ro", "1m", mnt, sizeof mnt);
    snprintf(cmd, sizeof cmd, "mount -o remount,ro %s", mnt);
    int remounted = system(cmd);
    char link[256];
    snprintf(link, sizeof link, "%s/s-checkpoints", dir);
    int linked = symlink(mnt, link);
    int rc = cnnrun("run tiny.ini --db s.db --threads 1");
    snprintf(cmd, sizeof cmd, "umount %s", mnt);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(remounted, 0);
    ck_assert_int_eq(linked, 0);
    ck_assert_msg(rc == 2, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "cannot create files in the checkpoint directory: Read-only"), "%s",
                  out);
    ck_assert(!exists("s.db"));
}
END_TEST

/* A results database on a read-only file system: a clear message naming the
 * file, exit 1, nothing changed. Needs a tmpfs: the optional case "tmpfs". */
START_TEST(test_read_only_database)
{
    write_file("tiny.ini", TINY("8", "1"));
    char mnt[128], cmd[512];
    mount_tmpfs("ro", "4m", mnt, sizeof mnt);
    int first = cnnrun("run tiny.ini --db ro/r.db --threads 1");
    snprintf(cmd, sizeof cmd, "mount -o remount,ro %s", mnt);
    int remounted = system(cmd);
    int rc = cnnrun("run tiny.ini --db ro/r.db --threads 1");
    static char log[sizeof out]; /* all of it: a warning may come first */
    snprintf(log, sizeof log, "%s", out);
    snprintf(cmd, sizeof cmd, "mount -o remount,rw %s", mnt); /* to read it back (WAL) */
    int back = system(cmd);
    int runs = fixture_poll_int("ro/r.db", "select count(*) from runs");
    snprintf(cmd, sizeof cmd, "umount %s", mnt);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(remounted, 0);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, log);
    ck_assert_msg(strstr(log, "ro/r.db"), "the message does not name the database: %s", log);
    ck_assert_int_eq(back, 0);
    ck_assert_int_eq(runs, 1);
}
END_TEST

/* A run made by an older cnnrun, before some keys existed (its recorded
 * configuration lacks their lines; here taken out of the row), resumes on
 * its uninterrupted curve when the new keys are at their defaults; a
 * recorded value that differs is refused, naming the key. */
static void edit_config(const char *db, const char *sql)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open_v2(p, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_changes(s), 1);
    sqlite3_close(s);
}

START_TEST(test_resume_run_older_than_a_key)
{
    write_file("tiny.ini", TINY("8", "4"));
    Curve ref = reference_curve();
    ck_assert_int_eq(cnnrun("run tiny.ini --db o/r.db --threads 1 --until-epoch 2"), 0);
    edit_config("o/r.db", "update runs set config = replace(replace(config, "
                          "char(10) || 'patience = 0' || char(10), char(10)), "
                          "char(10) || 'slope = 0.01' || char(10), char(10)) where id = 1 and "
                          "config like '%patience = 0%' and config like '%slope = 0.01%'");
    ck_assert_int_eq(cnnrun("run tiny.ini --db o/r.db --threads 1 --resume"), 0);
    Curve got = read_curve("o/r.db");
    assert_same_curve(&ref, &got);
    assert_db_sound("o/r.db");

    ck_assert_int_eq(cnnrun("run tiny.ini --db d/r.db --threads 1 --until-epoch 1"), 0);
    edit_config("d/r.db", "update runs set config = replace(config, 'nesterov = true', "
                          "'nesterov = false') where id = 1");
    ck_assert_int_eq(cnnrun("run tiny.ini --db d/r.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "differs from the one run 1 started with ([optimizer] nesterov: "
                              "now 'true', then 'false')"), "%s", out);
}
END_TEST

START_TEST(test_resume_refusals)
{
    write_file("tiny.ini", TINY("8", "4"));
    /* no run at all */
    ck_assert_int_eq(cnnrun("run tiny.ini --db n/r.db --resume"), 2);
    /* a checkpoint of another network */
    ck_assert_int_eq(cnnrun("run tiny.ini --db n/r.db --threads 1 --set experiment.epochs=1"), 0);
    write_file("other.ini", TINY("16", "4"));
    ck_assert_int_eq(cnnrun("run other.ini --db n/r.db --resume n/r-checkpoints/tiny-1-last.ckpt"), 2);
    char p[256];
    snprintf(p, sizeof p, "%s/log", dir);
    char *log = read_text_file(p, NULL);
    ck_assert_ptr_nonnull(log);
    ck_assert_msg(strstr(log, "no unfinished run of experiment 'tiny'"), "%s", log);
    ck_assert_msg(strstr(log, "already finished") || strstr(log, "different network"), "%s", log);
    free(log);
}
END_TEST

static void tmpfs_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_full_disk_keeps_previous_checkpoint);
    tcase_add_test(tc, test_read_only_database);
    tcase_add_test(tc, test_read_only_checkpoint_dir_before_training);
    tcase_set_timeout(tc, 300);
}

int main(int argc, char **argv)
{
    static const CheckOptional tmpfs = {"tmpfs", tmpfs_missing, tmpfs_tests};
    int optional = check_run_optional(argc, argv, &tmpfs);
    if (optional >= 0) return optional;
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_checkpoint_dirs);
    tcase_add_test(tc, test_checkpoint_file);
    tcase_add_test(tc, test_checkpoint_keeps_conv_algos);
    tcase_add_test(tc, test_tuned_resume);
    tcase_add_test(tc, test_same_seed_any_timing);
    tcase_add_test(tc, test_resume_keeps_engine_settings);
    tcase_add_loop_test(tc, test_bf16_resume, 0, 2);
    tcase_add_test(tc, test_same_seed_same_numbers);
    tcase_add_test(tc, test_sigkill_then_resume);
    tcase_add_loop_test(tc, test_sigint_then_resume, 0, 2);
    tcase_add_test(tc, test_whiten_resume);
    tcase_add_test(tc, test_resume_refusals);
    tcase_add_test(tc, test_resume_run_older_than_a_key);
    tcase_add_test(tc, test_groups_muon_resume);
    tcase_add_test(tc, test_validation_patience_resume);
    tcase_add_loop_test(tc, test_airbench_data_resume, 0, 2);
    tcase_add_loop_test(tc, test_fractional_epochs_resume, 0, 2);
    tcase_add_test(tc, test_first_checkpoint_fails_then_resume);
    tcase_add_test(tc, test_resume_from_best_without_last);
    tcase_add_test(tc, test_bad_checkpoint_dir_before_training);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
