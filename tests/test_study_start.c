/* test_study_start.c — a study as `cnnrun run DIR` starts it (src/study/study.c,
 * estimate.c): every file checked first, the misfits named; refused as a
 * whole without --skip-invalid (nothing trained, no database), left out
 * with it (the rest trained, exit status 3); and the study's estimated cost
 * printed before it starts, from a rate measured in the database when it
 * has one. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cli_fixture.h"

#define TINY_LAYERS                                                                              \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"   \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

#define GOOD_INI(EPOCHS)                                                                         \
    "[experiment]\nepochs = " EPOCHS "\n"                                                        \
    "[data]\nbatch_size = 50\ntrain_subset = 200\ntest_subset = 100\n"                           \
    "[schedule]\ntype = constant\nlr = 0.01\n" TINY_LAYERS

/* exps/: a.ini and c.ini train; b.ini and d.ini do not check (a key
 * misspelt; a layer that --set names and it lacks). */
static void three_files_two_misfits(void)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/exps", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_file("exps/a.ini", GOOD_INI("1"));
    write_file("exps/b.ini", "[experiment]\nepochs = 1\nepohcs = 2\n[data]\nbatch_size = 50\n"
                             "train_subset = 200\ntest_subset = 100\n" TINY_LAYERS);
    write_file("exps/c.ini", GOOD_INI("2"));
    write_file("exps/d.ini", "[experiment]\nepochs = 1\n[data]\nbatch_size = 50\n"
                             "train_subset = 200\ntest_subset = 100\n"
                             "[layer.pool]\ntype = global_avgpool\n"
                             "[layer.fc]\ntype = linear\noutputs = 10\n");
}

static int count_runs(const char *db, const char *status)
{
    char sql[128];
    snprintf(sql, sizeof sql, "select count(*) from runs where status = '%s'", status);
    return fixture_poll_int(db, sql);
}

START_TEST(test_misfits_refuse_the_study)
{
    three_files_two_misfits();
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1 --set layer.c1.filters=4"), 2);
    ck_assert_msg(strstr(out, "exps/b.ini:3: unknown key 'epohcs'"), "%s", out);
    ck_assert_msg(strstr(out, "exps/d.ini"), "%s", out);
    /* one line names every misfit, and what would train the others */
    ck_assert_msg(strstr(out, "2 of 4 experiment files do not check: exps/b.ini exps/d.ini; "
                              "nothing trained (`"), "%s", out);
    ck_assert_msg(strstr(out, "/cnnrun run exps --db r.db --threads 1 --set layer.c1.filters=4 "
                              "--skip-invalid` trains the others)"), "%s", out);
    ck_assert_msg(!strstr(out, "epoch   1/"), "nothing may train: %s", out);
    ck_assert_msg(!exists("r.db"), "a refused study must not create the database");
}
END_TEST

START_TEST(test_skip_invalid_runs_the_rest)
{
    three_files_two_misfits();
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1 --skip-invalid "
                            "--set layer.c1.filters=4"), 3);
    ck_assert_msg(strstr(out, "left out (--skip-invalid)"), "%s", out);
    ck_assert_msg(strstr(out, "cnnrun run: exps/b.ini: skipped (it does not check)"), "%s", out);
    ck_assert_msg(strstr(out, "cnnrun run: exps/d.ini: skipped (it does not check)"), "%s", out);
    ck_assert_msg(strstr(out, "2 of 2 experiments succeeded"), "%s", out);
    ck_assert_msg(strstr(out, "2 experiment files skipped (--skip-invalid); exit status 3"), "%s",
                  out);
    ck_assert_int_eq(count_runs("r.db", "finished"), 2);
    ck_assert_int_eq(fixture_poll_int("r.db", "select count(*) from runs where experiment in "
                                              "('b', 'd')"), 0);
    /* every file a misfit: nothing to train is a refusal */
    ck_assert_int_eq(cnnrun("run exps/b.ini exps/d.ini --db r.db --threads 1 --skip-invalid "
                            "--set layer.c1.filters=4"), 2);
    ck_assert_msg(strstr(out, "nothing left to train"), "%s", out);
    /* the flag is run's */
    ck_assert_int_eq(cnnrun("check exps/a.ini --skip-invalid"), 2);
}
END_TEST

/* The estimate: projected on a new database (no run measured there), then
 * measured from the runs the first study recorded. */
START_TEST(test_study_estimate)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/exps", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    write_file("exps/a.ini", GOOD_INI("1"));
    write_file("exps/c.ini", GOOD_INI("2"));
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "study: 2 runs, 3 epochs, about "), "%s", out);
    ck_assert_msg(strstr(out, "(projected from this machine's sgemm: "), "%s", out);
    ck_assert_msg(!strstr(out, "measured on"), "%s", out);
    /* the line comes before the first run trains */
    const char *line = strstr(out, "study: 2 runs"), *epoch = strstr(out, "epoch   1/");
    ck_assert_ptr_nonnull(epoch);
    ck_assert_msg(line < epoch, "the estimate must come first: %s", out);
    ck_assert_int_eq(count_runs("r.db", "finished"), 2);
    /* the same network, batch and threads again: measured */
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "study: 2 runs, 3 epochs, about "), "%s", out);
    ck_assert_msg(strstr(out, "(measured on earlier runs of the same network, batch and "
                              "threads, testing included)"), "%s", out);
    /* the measured rate is the epochs' wall time, testing included: 200
     * images in 2 s of epoch (100 a second) though training alone ran at
     * 1000 a second; 3 epochs of 200 images then take 6 s, not 0.6 */
    sqlite3 *s;
    char path[256];
    snprintf(path, sizeof path, "%s/r.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "UPDATE epochs SET images = 200, seconds = 2, "
                                     "images_per_sec = 1000", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "study: 2 runs, 3 epochs, about 6.0s (measured"), "%s", out);
    /* another width: projected from the database's runs */
    write_file("exps/c.ini", GOOD_INI("2") "[sweep]\nlayer.c1.filters = 8, 16\n");
    ck_assert_int_eq(cnnrun("run exps/c.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "study: 2 runs, 4 epochs, about "), "%s", out);
    ck_assert_msg(strstr(out, "1 run measured on earlier runs of the same network, batch and "
                              "threads, testing included; 1 run projected from the FLOPs a second of "), "%s", out);
    /* one run is no study to estimate */
    ck_assert_int_eq(cnnrun("run exps/a.ini --db r.db --threads 1"), 0);
    ck_assert_msg(!strstr(out, "study: "), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("study_start");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_misfits_refuse_the_study);
    tcase_add_test(tc, test_skip_invalid_runs_the_rest);
    tcase_add_test(tc, test_study_estimate);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
