/* test_valstop.c — a validation split, early stopping and time to accuracy
 * (issue 15) on the embedded sample (2,500 training images, 227 to 272 of
 * each class): cifar_hold_out moves the last N/10 images of each
 * class out of the training split, the same whatever the seed, none of them
 * left among the training images; `validation = 500` trains on 2,000 (the
 * run header says so, every epoch row ran 2,000 images) with val_acc in
 * every epoch row; target_accuracy stops a run at the epoch it is reached
 * and fills runs.seconds_to_target / epochs_to_target; patience stops a run
 * that stalls (a learning rate too small to change a weight), with
 * runs.stop_reason saying why; a validation that is not a multiple of 10, or
 * holds out every training image, exits 2 naming the file and line. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/data.h"
#include "cnnrun/util.h"

/* Lines: [data] 1-4, line 5 the validation (or another [data] line), then
 * [experiment] 6-9, its extra lines from 10. */
#define INI(line5, epochs, extra)                                                               \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n" line5                \
    "[experiment]\nname = vs\nseed = 3\nepochs = " epochs "\n" extra
#define LAYERS                                                                                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define SCHED "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"

static sqlite3 *open_db(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(p, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return s;
}

static double q_num(sqlite3 *s, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(s));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void q_str(sqlite3 *s, const char *sql, char *buf, size_t n)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(s));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, n, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(st);
}

/* White box: the held-out images are the last 50 of each class in file
 * order, in that order; the training split keeps the others in order, and
 * no held-out image is among them (by content). No seed goes in: the same
 * images for every seed. */
START_TEST(test_hold_out_split)
{
    CifarSplit all, test, test2, train, val;
    ck_assert_int_eq(cifar_load(cifar_sample_dir(), &all, &test), 0);
    ck_assert_int_eq(cifar_load(cifar_sample_dir(), &train, &test2), 0);
    const int n = all.n;
    ck_assert_int_eq(cifar_hold_out(&train, CIFAR_CLASSES, 500, &val), -1);
    ck_assert_int_eq(val.n, 500);
    ck_assert_int_eq(train.n, n - 500);
    /* expected, computed apart: mark from the end, 50 per class */
    char *held = xcalloc((size_t)n, 1);
    int taken[CIFAR_CLASSES] = {0};
    for (int i = n - 1; i >= 0; i--)
        if (taken[all.labels[i]] < 50) taken[all.labels[i]]++, held[i] = 1;
    int v = 0, t = 0;
    for (int i = 0; i < n; i++) {
        const CifarSplit *to = held[i] ? &val : &train;
        int j = held[i] ? v++ : t++;
        ck_assert_int_eq(to->labels[j], all.labels[i]);
        ck_assert(memcmp(to->pixels + (size_t)j * CIFAR_PIXELS,
                         all.pixels + (size_t)i * CIFAR_PIXELS, CIFAR_PIXELS) == 0);
    }
    int per[CIFAR_CLASSES] = {0};
    for (int j = 0; j < val.n; j++) per[val.labels[j]]++;
    for (int c = 0; c < CIFAR_CLASSES; c++) ck_assert_int_eq(per[c], 50);
    for (int j = 0; j < val.n; j++)
        for (int k = 0; k < train.n; k++)
            ck_assert_msg(memcmp(val.pixels + (size_t)j * CIFAR_PIXELS,
                                 train.pixels + (size_t)k * CIFAR_PIXELS, CIFAR_PIXELS) != 0,
                          "held-out image %d is training image %d", j, k);
    /* a class without enough images: nothing moves */
    CifarSplit val2 = {0};
    int before = train.n;
    ck_assert_int_ge(cifar_hold_out(&train, CIFAR_CLASSES, 10 * (before / 2), &val2), 0);
    ck_assert_int_eq(train.n, before);
    free(held);
    cifar_free(&all);
    cifar_free(&train);
    cifar_free(&val);
    cifar_free(&test);
    cifar_free(&test2);
}
END_TEST

/* validation = 500 for two seeds: the header says 2,000 training images,
 * every epoch ran 2,000 and has val_loss/val_acc; runs.best_test_acc is the
 * test accuracy of the best validation epoch. */
START_TEST(test_validation_run)
{
    write_file("vs.ini", INI("validation = 500\n", "3", "") SCHED LAYERS);
    for (int seed = 1; seed <= 2; seed++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "run vs.ini --db v.db --threads 1 --set experiment.seed=%d",
                 seed);
        ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
        ck_assert_msg(strstr(out, "training on 2,000 images (500 held out for validation: the "
                                  "last 50 of each class)"), "%s", out);
        ck_assert_msg(strstr(out, "2000 train / 300 test images"), "%s", out);
    }
    sqlite3 *s = open_db("v.db");
    ck_assert_int_eq((int)q_num(s, "select count(*) from epochs"), 6);
    ck_assert_int_eq((int)q_num(s, "select count(*) from epochs where val_acc between 0 and 1 "
                                   "and val_loss > 0 and images = 2000 and steps = 40"), 6);
    ck_assert_int_eq((int)q_num(s, "select count(*) from runs r where best_test_acc = "
                                   "(select test_acc from epochs e where e.run_id = r.id order "
                                   "by val_acc desc, epoch limit 1)"), 2);
    ck_assert_int_eq((int)q_num(s, "select count(*) from runs where stop_reason is null and "
                                   "seconds_to_target is null and status = 'finished'"), 2);
    sqlite3_close(s);
}
END_TEST

/* target_accuracy low enough for epoch 1: the run stops there, finished,
 * with its time to accuracy, and still gets its final (TTA) evaluation. */
START_TEST(test_target_accuracy_stops)
{
    write_file("vs.ini", INI("validation = 500\n", "4", "target_accuracy = 0.02\ntta = mirror\n")
                         SCHED LAYERS);
    ck_assert_msg(cnnrun("run vs.ini --db t.db --threads 1") == 0, "%s", out);
    ck_assert_msg(strstr(out, "stopped after epoch 1 of 4: target_accuracy reached"), "%s", out);
    ck_assert_msg(strstr(out, "with test-time augmentation"), "%s", out);
    sqlite3 *s = open_db("t.db");
    char buf[128];
    q_str(s, "select status || ' ' || stop_reason || ' ' || epochs_to_target || ' ' || "
             "final_views from runs", buf, sizeof buf);
    ck_assert_str_eq(buf, "finished target 1 2");
    ck_assert_int_eq((int)q_num(s, "select count(*) from epochs"), 1);
    double tta = q_num(s, "select seconds_to_target from runs");
    ck_assert(tta > 0 && tta <= q_num(s, "select train_seconds from runs"));
    ck_assert(q_num(s, "select abs(seconds_to_target - (select seconds from epochs)) from runs") <
              1e-9);
    q_str(s, "select epochs_done || ' ' || stop_reason from run_summary", buf, sizeof buf);
    ck_assert_str_eq(buf, "1 target");
    sqlite3_close(s);

    /* not reached: NULL, and the run goes to its end */
    ck_assert_int_eq(cnnrun("run vs.ini --db n.db --threads 1 --set experiment.epochs=2 "
                            "--set experiment.target_accuracy=1"), 0);
    s = open_db("n.db");
    ck_assert_int_eq((int)q_num(s, "select count(*) from epochs"), 2);
    ck_assert_int_eq((int)q_num(s, "select count(*) from runs where seconds_to_target is null "
                                   "and epochs_to_target is null and stop_reason is null"), 1);
    sqlite3_close(s);
}
END_TEST

/* A learning rate too small to change any weight (no batch norm, so
 * nothing else changes): epoch 1 is the best, patience = 2 stops after
 * epoch 3 of 6 with stop_reason 'patience'; without validation too (on the
 * test accuracy). */
START_TEST(test_patience_stops_a_stall)
{
    const char *ini = INI("validation = 500\n", "6", "patience = 2\n")
        "[optimizer]\nmomentum = 0\nweight_decay = 0\n"
        "[schedule]\ntype = constant\nlr = 1e-30\n"
        "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nactivation = relu\n"
        "[layer.pool]\ntype = global_avgpool\n"
        "[layer.fc]\ntype = linear\noutputs = 10\n";
    write_file("vs.ini", ini);
    ck_assert_msg(cnnrun("run vs.ini --db p.db --threads 1") == 0, "%s", out);
    ck_assert_msg(strstr(out, "stopped after epoch 3 of 6: no better accuracy"), "%s", out);
    ck_assert_int_eq(cnnrun("run vs.ini --db p.db --threads 1 --set data.validation=0"), 0);
    sqlite3 *s = open_db("p.db");
    char buf[128];
    q_str(s, "select group_concat(status || ' ' || stop_reason || ' ' || epochs_planned, ',') "
             "from runs", buf, sizeof buf);
    ck_assert_str_eq(buf, "finished patience 6,finished patience 6");
    q_str(s, "select group_concat(epochs_done || ' ' || best_epoch, ',') from run_summary", buf,
          sizeof buf);
    ck_assert_str_eq(buf, "3 1,3 1");
    ck_assert_int_eq((int)q_num(s, "select count(distinct val_acc) from epochs where run_id = 1"),
                     1);
    ck_assert_int_eq((int)q_num(s, "select count(*) from epochs where run_id = 2 and val_acc "
                                   "is null"), 3);
    sqlite3_close(s);
}
END_TEST

/* Errors: exit 2 with file:line, no run. */
START_TEST(test_validation_errors)
{
    write_file("vs.ini", INI("validation = 55\n", "1", "") SCHED LAYERS);
    ck_assert_int_eq(cnnrun("run vs.ini --db e.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "vs.ini:5: 'validation' (55) must be a multiple of 10"), "%s", out);
    ck_assert_int_eq(cnnrun("check vs.ini"), 2);
    write_file("vs.ini", INI("validation = 500\ntrain_subset = 500\n", "1", "") SCHED LAYERS);
    ck_assert_int_eq(cnnrun("run vs.ini --db e.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "vs.ini:5: 'validation' (500) holds out all of train_subset"),
                  "%s", out);
    /* more than the sample has: found when the data is loaded */
    write_file("vs.ini", INI("validation = 3000\n", "1", "") SCHED LAYERS);
    ck_assert_int_eq(cnnrun("run vs.ini --db e.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "vs.ini:5: 'validation' (3000) holds out all 2500 training images"),
                  "%s", out);
    write_file("vs.ini", INI("validation = 2400\n", "1", "") SCHED LAYERS);
    ck_assert_int_eq(cnnrun("run vs.ini --db e.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "vs.ini:5: 'validation' (2400) needs 240 images of each class"),
                  "%s", out);
    write_file("vs.ini", INI("validation = 0\n", "1", "target_accuracy = 1.5\n") SCHED LAYERS);
    ck_assert_int_eq(cnnrun("run vs.ini --db e.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "vs.ini:10:"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("valstop");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_hold_out_split);
    tcase_add_test(tc, test_validation_errors);
    tcase_add_test(tc, test_validation_run);
    tcase_add_test(tc, test_target_accuracy_stops);
    tcase_add_test(tc, test_patience_stops_a_stall);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
