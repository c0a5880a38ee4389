/* test_tools.c — `cnnrun eval` and `cnnrun lr-find` through the binary on the
 * embedded sample with a tiny network: eval of a checkpoint reproduces the
 * test numbers recorded for its epoch and prints per-class accuracy and a
 * confusion matrix (with and without --tta), its TTA predicting as the
 * trainer's final evaluation does (the same accuracy), and refuses a checkpoint of
 * another network or a truncated one; lr-find records an exponential lr
 * sweep in its own finished runs row, stops early when the loss explodes,
 * prints a [schedule] section and writes no weights; with [data] validation
 * it never trains on the held-out images (its curve is the one of a data
 * directory holding only the kept images); its suggestion stays inside the
 * tested range and what a file accepts, or it says why there is none. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/data.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"


#define TINY(filters)                                                                           \
    "[experiment]\nname = tiny\nseed = 2\nepochs = 2\n"                                         \
    "[data]\nbatch_size = 50\naugment = flip\ntrain_subset = 1000\ntest_subset = 300\n"         \
    "[schedule]\ntype = constant\nlr = 0.05\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = " filters "\nstride = 2\nbatchnorm = true\n"            \
    "activation = relu\n"                                                                       \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

static double db_double(const char *sql)
{
    char p[256];
    snprintf(p, sizeof p, "%s/r.db", dir);
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    double v = NAN;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

/* eval --tta of the last checkpoint of a run with [experiment] tta predicts
 * as the trainer's final evaluation did: the weighted logits of the views
 * (softmax means would disagree on some images), the same final_test_acc. */
START_TEST(test_eval_tta_matches_final)
{
    static const char *const modes[] = {"mirror", "mirror_translate"};
    char cmd[256], want[64];
    write_file("tiny.ini", TINY("8"));
    snprintf(cmd, sizeof cmd,
             "run tiny.ini --db r.db --threads 1 --set experiment.tta=%s "
             "--set data.test_subset=0 --set data.train_subset=0",
             modes[_i]);
    ck_assert_int_eq(cnnrun(cmd), 0);
    double final = db_double("select final_test_acc from runs where id = 1");
    ck_assert_int_eq(db_double("select final_views from runs where id = 1"), _i ? 6 : 2);
    snprintf(cmd, sizeof cmd,
             "eval tiny.ini --weights r-checkpoints/tiny-1-last.ckpt --tta %s --threads 1 "
             "--set data.test_subset=0",
             modes[_i]);
    ck_assert_int_eq(cnnrun(cmd), 0);
    snprintf(want, sizeof want, "test_acc=%.4f", final);
    ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
}
END_TEST

START_TEST(test_eval_checkpoint)
{
    write_file("tiny.ini", TINY("8"));
    ck_assert_int_eq(cnnrun("run tiny.ini --db r.db --threads 1"), 0);
    double acc = db_double("select test_acc from epochs where run_id = 1 and epoch = 2");
    double loss = db_double("select test_loss from epochs where run_id = 1 and epoch = 2");

    ck_assert_int_eq(cnnrun("eval tiny.ini --weights r-checkpoints/tiny-1-last.ckpt --threads 1"),
                     0);
    char want[64];
    snprintf(want, sizeof want, "test_acc=%.4f", acc);
    ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
    snprintf(want, sizeof want, "test loss %.4f", loss);
    ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
    ck_assert_msg(strstr(out, "/300)") && strstr(out, "epoch 2"), "%s", out);
    ck_assert_msg(strstr(out, "confusion matrix") && strstr(out, "truck"), "%s", out);
    /* the confusion matrix rows sum to the 300 images */
    const char *cm = strstr(out, "confusion matrix");
    cm = strchr(strchr(cm, '\n') + 1, '\n') + 1;
    long total = 0;
    for (int r = 0; r < 10; r++) {
        const char *p = cm + 12;
        for (int c = 0; c < 10; c++) {
            char *end;
            total += strtol(p, &end, 10);
            p = end;
        }
        cm = strchr(cm, '\n') + 1;
    }
    ck_assert_int_eq(total, 300);

    ck_assert_int_eq(cnnrun("eval tiny.ini --weights r-checkpoints/tiny-1-best.ckpt --tta flip "
                            "--threads 1"), 0);
    ck_assert_msg(strstr(out, "tta mirror (2 views") && strstr(out, "test_acc="), "%s", out);

    /* refusals */
    ck_assert_int_eq(cnnrun("eval tiny.ini"), 2);
    ck_assert_msg(strstr(out, "--weights"), "%s", out);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights r-checkpoints/tiny-1-last.ckpt --tta twice"),
                     2);
    write_file("wide.ini", TINY("16"));
    ck_assert_int_eq(cnnrun("eval wide.ini --weights r-checkpoints/tiny-1-last.ckpt"), 2);
    ck_assert_msg(strstr(out, "different network") && strstr(out, "tiny-1-last.ckpt"), "%s", out);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "head -c 500 %s/r-checkpoints/tiny-1-last.ckpt > %s/cut.ckpt", dir,
             dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights cut.ckpt"), 1);
    ck_assert_msg(strstr(out, "cut.ckpt") && strstr(out, "truncated"), "%s", out);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights tiny.ini"), 2);
    ck_assert_msg(strstr(out, "not a cnnrun checkpoint"), "%s", out);
}
END_TEST

START_TEST(test_lr_find)
{
    write_file("tiny.ini", TINY("8"));
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 40 --min 1e-4 "
                            "--max 1"), 0);
    ck_assert_msg(strstr(out, "[schedule]\ntype = one_cycle\nlr_start = ") &&
                      strstr(out, "lr_max = ") && strstr(out, "suggested range"), "%s", out);
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/r-checkpoints", dir);
    ck_assert_msg(stat(p, &st) != 0, "lr-find must not write weights");
    ck_assert_int_eq((int)db_double("select count(*) from runs where experiment = 'tiny/lr-find' "
                                    "and status = 'finished' and id = 1"), 1);
    ck_assert_int_eq((int)db_double("select count(*) from lr_find where run_id = 1"), 40);
    ck_assert_double_eq_tol(db_double("select lr from lr_find where run_id = 1 and step = 1"),
                            1e-4, 1e-12);
    ck_assert_double_eq_tol(db_double("select lr from lr_find where run_id = 1 and step = 40"),
                            1.0, 1e-9);
    /* exponential: constant ratio between steps */
    double r1 = db_double("select b.lr / a.lr from lr_find a, lr_find b where a.step = 1 and "
                          "b.step = 2"),
           r2 = db_double("select b.lr / a.lr from lr_find a, lr_find b where a.step = 30 and "
                          "b.step = 31");
    ck_assert_double_eq_tol(r1, pow(1e4, 1.0 / 39), 1e-9);
    ck_assert_double_eq_tol(r2, r1, 1e-9);
    ck_assert_int_eq((int)db_double("select count(*) from lr_find where loss is null or "
                                    "loss <= 0"), 0);

    /* an absurd maximum: stops early once the loss exceeds 4x its minimum */
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 80 --min 1e-3 "
                            "--max 1e6"), 0);
    ck_assert_msg(strstr(out, "stopped early"), "%s", out);
    int n = (int)db_double("select count(*) from lr_find where run_id = 2");
    ck_assert_msg(n > 1 && n < 80, "%d steps", n);
    /* the last recorded step is the one that exploded (NaN is stored as NULL) */
    ck_assert_int_eq((int)db_double("select count(*) from lr_find where run_id = 2 and step = "
                                    "(select max(step) from lr_find where run_id = 2) and (loss is "
                                    "null or loss > 4 * (select min(loss) from lr_find where "
                                    "run_id = 2))"), 1);

    /* a range the loss cannot fall over, below any rate a file accepts: no suggestion */
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 10 --min 1e-300 "
                            "--max 1e-290"), 0);
    ck_assert_msg(strstr(out, "no suggested range: ") && !strstr(out, "[schedule]"), "%s", out);

    /* issue 34: a loss that explodes after a few steps has no steepest descent
     * to name (it printed "steepest descent at lr 0") */
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 80 --min 1e3 "
                            "--max 1e6"), 0);
    n = (int)db_double("select count(*) from lr_find where run_id = 4");
    ck_assert_msg(n >= 2 && n <= 5, "%d steps", n);
    ck_assert_msg(strstr(out, "no steepest descent: ") && strstr(out, "too few to find one") &&
                      !strstr(out, "at lr 0\n"), "%s", out);

    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --min 1 --max 0.1"), 2);
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --min abc"), 2);
}
END_TEST

/* n lrs from lo to hi, exponentially, as lr_find draws them */
static void lr_range(double *lrs, int n, double lo, double hi)
{
    for (int k = 0; k < n; k++) lrs[k] = lo * pow(hi / lo, (double)k / (n - 1));
}

/* The suggestion stays inside the tested range and inside what an experiment
 * file accepts, or there is none and the reason says why (issue 23: a curve
 * lowest at its first step gave lr_max = --min / 10; --min 1e-300 gave rates
 * the parser rejects). */
START_TEST(test_lr_find_suggest)
{
    enum { N = 30 };
    double lrs[N], sm[N];
    LrFindResult r;
    /* lowest at step 1, then only rising: the range starts too high */
    lr_range(lrs, N, 1e-5, 10);
    for (int k = 0; k < N; k++) sm[k] = 2.0 + 0.01 * k;
    lr_find_suggest(lrs, sm, N, &r);
    ck_assert_ptr_nonnull(r.no_suggestion);
    ck_assert_msg(strstr(r.no_suggestion, "did not fall"), "%s", r.no_suggestion);
    ck_assert(r.suggested_max == 0 && r.suggested_start == 0);
    /* lowest at step 1 (a first batch's loss), the real dip at lr ~ 0.9: that one */
    for (int k = 0; k < N; k++) sm[k] = 2.5 - 0.5 * exp(-pow(log(lrs[k] / 0.9), 2));
    sm[0] = 1.5;
    lr_find_suggest(lrs, sm, N, &r);
    ck_assert_ptr_null(r.no_suggestion);
    ck_assert_msg(r.lr_at_best > 0.5 && r.lr_at_best < 1.5, "minimum at %g", r.lr_at_best);
    ck_assert_double_eq_tol(r.suggested_max, r.lr_at_best / 10, 1e-15);
    ck_assert(r.suggested_max >= lrs[0] && r.suggested_max <= lrs[N - 1]);
    ck_assert_double_eq_tol(r.suggested_start, r.suggested_max / 15, 1e-15);
    ck_assert(r.lr_steepest > lrs[0] && r.lr_steepest < r.lr_at_best);
    /* flat */
    for (int k = 0; k < N; k++) sm[k] = 2.302585;
    lr_find_suggest(lrs, sm, N, &r);
    ck_assert_ptr_nonnull(r.no_suggestion);
    ck_assert(r.suggested_max == 0);
    /* the minimum within a factor 10 of --min: lr_max would be below the range */
    for (int k = 0; k < N; k++) sm[k] = 2.0 + (k - 4) * (k - 4) * 0.01;
    lr_find_suggest(lrs, sm, N, &r);
    ck_assert(lrs[4] / 10 < lrs[0]);
    ck_assert_ptr_nonnull(r.no_suggestion);
    ck_assert_msg(strstr(r.no_suggestion, "below the tested range"), "%s", r.no_suggestion);
    /* a range so low that the suggestion is below what the parser accepts */
    lr_range(lrs, N, 1e-300, 1e-280);
    for (int k = 0; k < N; k++) sm[k] = 2.0 + (k - 20) * (k - 20) * 0.01;
    lr_find_suggest(lrs, sm, N, &r);
    ck_assert_ptr_nonnull(r.no_suggestion);
    ck_assert_msg(strstr(r.no_suggestion, "accepts"), "%s", r.no_suggestion);
    ck_assert(r.suggested_max == 0 && r.suggested_start == 0);
    /* nothing done */
    lr_find_suggest(lrs, sm, 0, &r);
    ck_assert_ptr_nonnull(r.no_suggestion);
}
END_TEST

/* dir/name/data_batch_1..5.bin holding train's images (an equal share each),
 * test_batch.bin test's, and the manifest of their counts */
static void write_data_dir(const char *name, const CifarSplit *train, const CifarSplit *test)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(p, 0777), 0);
    ck_assert_int_eq(train->n % 5, 0);
    FILE *man;
    snprintf(p, sizeof p, "%s/%s/cnnrun-sample.txt", dir, name);
    ck_assert_ptr_nonnull(man = fopen(p, "w"));
    for (int b = 0; b <= 5; b++) {
        const CifarSplit *s = b < 5 ? train : test;
        int from = b < 5 ? b * (train->n / 5) : 0, n = b < 5 ? train->n / 5 : test->n;
        char file[32];
        if (b < 5) snprintf(file, sizeof file, "data_batch_%d.bin", b + 1);
        else snprintf(file, sizeof file, "test_batch.bin");
        fprintf(man, "%s %d\n", file, n);
        snprintf(p, sizeof p, "%s/%s/%s", dir, name, file);
        FILE *f = fopen(p, "wb");
        ck_assert_ptr_nonnull(f);
        for (int i = from; i < from + n; i++) {
            ck_assert_int_eq(fputc(s->labels[i], f), s->labels[i]);
            ck_assert_int_eq(fwrite(s->pixels + (size_t)i * CIFAR_PIXELS, 1, CIFAR_PIXELS, f),
                             CIFAR_PIXELS);
        }
        ck_assert_int_eq(fclose(f), 0);
    }
    ck_assert_int_eq(fclose(man), 0);
}

/* lr-find with validation = 500 (of train_subset = 1000): step for step the
 * losses of an lr-find on a directory holding only the 500 kept images, and
 * not those of one on all 1000 (so the comparison tells them apart). */
START_TEST(test_lr_find_validation)
{
    CifarSplit train, test, val;
    ck_assert_int_eq(cifar_load(cifar_sample_dir(), &train, &test), 0);
    cifar_truncate(&train, 1000);
    ck_assert_int_eq(cifar_hold_out(&train, CIFAR_CLASSES, 500, &val), -1);
    ck_assert_int_eq(train.n, 500);
    write_data_dir("kept", &train, &test);
    cifar_free(&train);
    cifar_free(&test);
    cifar_free(&val);

    write_file("tiny.ini", TINY("8"));
    ck_assert_msg(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 12 "
                         "--set data.validation=500") == 0, "%s", out);
    ck_assert_msg(strstr(out, "training on 500 images (500 held out for validation, never "
                              "trained on)"), "%s", out);
    ck_assert_msg(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 12 --data kept "
                         "--set data.train_subset=0") == 0, "%s", out);
    ck_assert_msg(cnnrun("lr-find tiny.ini --db r.db --threads 1 --steps 12") == 0, "%s", out);
    const char *same = "select count(*) from lr_find a join lr_find b on a.step = b.step "
                       "where a.run_id = 1 and b.run_id = %d and a.loss = b.loss";
    char q[256];
    snprintf(q, sizeof q, same, 2);
    ck_assert_int_eq((int)db_double(q), 12);
    snprintf(q, sizeof q, same, 3);
    ck_assert_int_lt((int)db_double(q), 12);
    /* every training image held out: exit 2, saying so */
    ck_assert_int_eq(cnnrun("lr-find tiny.ini --db r.db --set data.validation=1000"), 2);
    ck_assert_msg(strstr(out, "holds out all"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tools");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_eval_checkpoint);
    tcase_add_loop_test(tc, test_eval_tta_matches_final, 0, 2);
    tcase_add_test(tc, test_lr_find);
    tcase_add_test(tc, test_lr_find_suggest);
    tcase_add_test(tc, test_lr_find_validation);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
