/* test_studies.c — a study is one `cnnrun run` invocation (issue 36): its
 * row in `studies`, runs.study_id; two runs of one sweep are two studies,
 * counted apart by `runs --groups` and by pruning; a sweep resumed goes on
 * in its study; `cnnrun studies` lists them with their best point; `--study
 * ID|NAME|all` selects. */
#include <check.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/util.h"

/* Lines 1-10; [sweep] at 11, its lines from 12. */
#define HEAD                                                                                    \
    "[experiment]\nname = st\nseed = 9\nepochs = 2\n"                                          \
    "[data]\nbatch_size = 50\ntest_subset = 300\n"                                              \
    "[schedule]\ntype = constant\nlr = 0.05\n"                                                  \
    "[sweep]\n"
#define LAYERS                                                                                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define ST_INI(lines) HEAD lines LAYERS

static int q(const char *sql)
{
    sqlite3 *s = fixture_open_db("r.db");
    int v = fixture_q_int(s, sql);
    sqlite3_close(s);
    return v;
}

/* The *.lock files in dir/sub. */
static int lock_files(const char *sub)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        n += len > 5 && !strcmp(de->d_name + len - 5, ".lock");
    }
    if (d) closedir(d);
    return n;
}

/* The same sweep run twice into one database: two studies; the groups of
 * each count one run per point (before: n=2 of "two seeds"). */
START_TEST(test_two_studies_apart)
{
    write_file("st.ini", ST_INI("schedule.lr = 0.1, 0.05\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --study second") == 0, "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM studies"), 2);
    ck_assert_int_eq(q("SELECT count(*) FROM studies WHERE id = 1 AND name = 'st' AND status = "
                       "'finished' AND command LIKE '%/cnnrun run st.ini --db r.db --threads 1' AND "
                       "finished_at >= started_at"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM studies WHERE id = 2 AND name = 'second'"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM runs WHERE study_id = (id + 1) / 2"), 4);
    /* the view: a group per study and point, never one of two studies */
    ck_assert_int_eq(q("SELECT count(*) FROM run_groups"), 4);
    ck_assert_int_eq(q("SELECT max(n) FROM run_groups"), 1);

    /* runs --groups: the newest study by default */
    ck_assert_int_eq(cnnrun("runs --db r.db --groups"), 0);
    ck_assert_msg(strstr(out, "study 2 (second)") && strstr(out, "  3 ") &&
                      !strstr(out, "1,3") && !strstr(out, "2,4"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --groups --study all"), 0);
    ck_assert_msg(!strstr(out, "1,3") && !strstr(out, "2,4"), "%s", out);
    /* runs: the newest study, a study by id or name, or all */
    ck_assert_int_eq(cnnrun("runs --db r.db"), 0);
    ck_assert_msg(!strstr(out, "\n   1  st") && strstr(out, "\n   3  st") &&
                      strstr(out, "(study 2, second: 2 of the 4 runs recorded"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study st"), 0);
    ck_assert_msg(strstr(out, "\n   1  st") && !strstr(out, "\n   3  st"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 2"), 0);
    ck_assert_msg(!strstr(out, "\n   1  st") && strstr(out, "\n   4  st"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study all"), 0);
    ck_assert_msg(strstr(out, "\n   1  st") && strstr(out, "\n   4  st"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 9"), 2);
    ck_assert_msg(strstr(out, "r.db: there is no study 9") &&
                      strstr(out, "cnnrun studies --db r.db lists them"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study nope"), 2);
    ck_assert_msg(strstr(out, "there is no study named nope"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 0"), 2); /* a number, not a name */
    ck_assert_msg(strstr(out, "there is no study 0 (study ids start at 1)"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 1 --csv"), 2);
    ck_assert_int_eq(cnnrun("run st.ini --db r.db --study ''"), 2);

    /* cnnrun studies: one line each, with its best point */
    ck_assert_int_eq(cnnrun("studies --db r.db"), 0);
    ck_assert_msg(strstr(out, "   1  st ") && strstr(out, "   2  second ") &&
                      strstr(out, "finished") && strstr(out, "(test) schedule.lr="), "%s", out);
    ck_assert_int_eq(cnnrun("studies --db nothere.db"), 1);
}
END_TEST

/* A sweep paused with --until-epoch and resumed: one study, interrupted
 * while paused (its runs are), then finished. */
START_TEST(test_resume_same_study)
{
    write_file("st.ini", ST_INI("schedule.lr = 0.1, 0.05\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --until-epoch 1") == 0, "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM studies WHERE status = 'interrupted'"), 1);
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --resume") == 0, "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM studies"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM runs WHERE study_id = 1"), 2);
    ck_assert_int_eq(q("SELECT count(*) FROM studies WHERE status = 'finished'"), 1);
    /* the runs claimed to be resumed or looked at leave no lock file */
    ck_assert_int_eq(lock_files("r-checkpoints"), 0);
    ck_assert_int_eq(cnnrun("run st.ini --db r.db --threads 1 --resume"), 0); /* nothing left */
    ck_assert_msg(strstr(out, "already run (run 2, finished)"), "%s", out);
    ck_assert_int_eq(lock_files("r-checkpoints"), 0);
    /* a new invocation without --resume is a new study */
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --sweep schedule.lr=0.02") == 0,
                  "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM studies"), 2);
    ck_assert_int_eq(q("SELECT study_id FROM runs WHERE id = 3"), 2);
}
END_TEST

/* Pruning compares a run with the earlier runs of its own study: a study
 * of one hopeless point is not pruned against another study's good runs. */
START_TEST(test_prune_within_study)
{
    write_file("st.ini", ST_INI("schedule.lr = 0.1, 0.05, 0.02\nprune = median\n"
                                "prune_min_runs = 2\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --sweep schedule.lr=1e-9") == 0, "%s",
                  out);
    ck_assert_msg(!strstr(out, "pruned"), "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM runs WHERE id = 4 AND stop_reason IS NULL"), 1);
    ck_assert_int_eq(q("SELECT count(*) FROM epochs WHERE run_id = 4"), 2);
}
END_TEST

/* A one-key sweep's plot shows the pruned runs too, each a point at its best
 * before it stopped (before: a group of pruned runs has no mean, and 4 of a
 * 6-point sweep were missing from the plot). */
START_TEST(test_report_sweep_shows_pruned)
{
    write_file("st.ini", ST_INI("schedule.lr = 0.1, 0.05, 1e-9\nprune = median\n"
                                "prune_min_runs = 2\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_int_eq(q("SELECT count(*) FROM runs WHERE id = 3 AND stop_reason = 'pruned'"), 1);
    ck_assert_msg(cnnrun("report --db r.db -o rep") == 0, "%s", out);
    char *svg = fixture_slurp("rep/sweep-1.svg");
    ck_assert_msg(strstr(svg, "pruned run (its best before it stopped)"), "%s", svg);
    ck_assert_msg(strstr(svg, "schedule.lr=1e-09\nrun 3, pruned after epoch 1: best test "
                              "accuracy "), "%s", svg);
    free(svg);
}
END_TEST

/* The end of a study of several runs names its best point with its values
 * and the points best first; the objective is said (test here, validation
 * with [data] validation). `runs` has a column per swept key; `--jobs`
 * lines name each point's values. */
START_TEST(test_study_summary)
{
    write_file("st.ini", ST_INI("schedule.lr = 1e-9, 0.1\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1") == 0, "%s", out);
    const char *best = strstr(out, "best point: run 2 (schedule.lr=0.1): ");
    ck_assert_msg(strstr(out, "study 1 (st): 2 runs\n") && best &&
                      strstr(best, "best test accuracy (no [data] validation: chosen on the test "
                                   "set)\n"), "%s", out);
    const char *row2 = strstr(best, "\n   2 "), *row1 = strstr(best, "\n   1 ");
    ck_assert_msg(row2 && row1 && row2 < row1 && strstr(row1, "schedule.lr=1e-9"), "%s", out);

    ck_assert_int_eq(cnnrun("runs --db r.db"), 0);
    ck_assert_msg(strstr(out, "to target     schedule.lr\n") && strstr(out, "  1e-9\n") &&
                      strstr(out, "  0.1\n"), "%s", out);

    ck_assert_msg(cnnrun("run st.ini --db v.db --threads 1 --set data.validation=100") == 0,
                  "%s", out);
    ck_assert_msg(strstr(out, "best validation accuracy\n") && !strstr(out, "chosen on the test"),
                  "%s", out);

    ck_assert_msg(cnnrun("run st.ini --db j.db --jobs 2 --threads 1") == 0, "%s", out);
    ck_assert_msg(strstr(out, "st[1/2]: run ") && strstr(out, " with schedule.lr=1e-9") &&
                      strstr(out, " with schedule.lr=0.1") && strstr(out, "best point: run "),
                  "%s", out);
}
END_TEST

/* `cnnrun report` shows the newest study whole, best first (before: the
 * newest run of each experiment, one arbitrary point of a sweep). */
START_TEST(test_report_newest_study)
{
    write_file("st.ini", ST_INI("schedule.lr = 1e-9, 0.1\n"));
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1 --sweep schedule.lr=0.05") == 0, "%s",
                  out);
    ck_assert_msg(cnnrun("run st.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_int_eq(cnnrun("report --db r.db --text"), 0);
    const char *r3 = strstr(out, "\n   3  st"), *r2 = strstr(out, "\n   2  st");
    ck_assert_msg(r3 && r2 && r3 < r2 && !strstr(out, "\n   1  st") &&
                      strstr(out, "schedule.lr"), "%s", out);
    ck_assert_int_eq(cnnrun("report --db r.db -o rep"), 0);
    ck_assert_msg(strstr(out, "rep/index.html: report of study 2 (st): 2 runs, best first"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("report --db r.db --text --study 1"), 0);
    ck_assert_msg(strstr(out, "\n   1  st") && !strstr(out, "\n   2  st"), "%s", out);
    ck_assert_int_eq(cnnrun("report --db r.db --text --runs 1,3"), 0); /* ids: any study */
    ck_assert_msg(strstr(out, "\n   1  st") && strstr(out, "\n   3  st"), "%s", out);
}
END_TEST

static char *read_in_dir(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *text = read_text_file(p, NULL);
    return text ? text : xstrdup("");
}

/* `cnnrun run x.ini > log`: the epochs and the study's summary in log;
 * progress and notes on stderr. */
START_TEST(test_epochs_on_stdout)
{
    write_file("st.ini", ST_INI("schedule.lr = 1e-9, 0.1\n"));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && env -u CNNRUN_DATA %s run st.ini --db r.db --threads 1 "
             "> o.log 2> e.log", dir, getenv("CNNRUN_BIN"));
    ck_assert_int_eq(system(cmd), 0);
    char *o = read_in_dir("o.log"), *e = read_in_dir("e.log");
    ck_assert_msg(strstr(o, "epoch   1/2  lr ") && strstr(o, "epoch   2/2  lr ") &&
                      strstr(o, "best point: run 2 (schedule.lr=0.1)") &&
                      !strstr(o, "grid point"), "stdout:\n%s", o);
    ck_assert_msg(!strstr(e, "epoch   1/2  lr ") && !strstr(e, "best point") &&
                      strstr(e, "st.ini: grid point 1 of 2"), "stderr:\n%s", e);
    free(o);
    free(e);
}
END_TEST

/* SIGTERM stops a sweep; the hint it prints, run literally by a shell,
 * continues it (its --set, --sweep and a --db with a space kept) in the
 * same study. */
START_TEST(test_resume_hint_works)
{
    write_file("st.ini", ST_INI("schedule.lr = 1e-9\n"));
    pid_t run = fork();
    ck_assert_int_ge(run, 0);
    if (run == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        if (!freopen("log", "w", stderr) || dup2(fileno(stderr), 1) < 0) _exit(127);
        execl(getenv("CNNRUN_BIN"), getenv("CNNRUN_BIN"), "run", "st.ini", "--db", "my db/r.db",
              "--set", "experiment.epochs=6", "--sweep", "schedule.lr=0.1,0.05", "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    int epochs = 0;
    char db[256];
    snprintf(db, sizeof db, "%s/my db/r.db", dir);
    for (int i = 0; i < 6000 && epochs < 1; i++) {
        usleep(10000);
        if (access(db, F_OK) == 0) /* not before the run has made it */
            epochs = fixture_poll_int("my db/r.db", "SELECT count(*) FROM epochs");
    }
    ck_assert_int_ge(epochs, 1);
    ck_assert_int_eq(kill(run, SIGTERM), 0);
    int status = 0;
    ck_assert_int_eq(waitpid(run, &status, 0), run);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char *log = read_in_dir("log");
    const char *at = strstr(log, "cnnrun: interrupted; `");
    ck_assert_msg(at, "%s", log);
    at += strlen("cnnrun: interrupted; `");
    const char *end = strchr(at, '`');
    ck_assert_ptr_nonnull(end);
    char hint[1024];
    snprintf(hint, sizeof hint, "%.*s", (int)(end - at), at);
    char want[1024];
    snprintf(want, sizeof want, "%s run st.ini --db 'my db/r.db' --set experiment.epochs=6 "
             "--sweep schedule.lr=0.1,0.05 --threads 1 --resume", getenv("CNNRUN_BIN"));
    ck_assert_str_eq(hint, want);
    free(log);
    /* the hint as a shell reads it */
    char script[1200];
    snprintf(script, sizeof script, "%s\n", hint);
    write_file("hint.sh", script);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cd %s && env -u CNNRUN_DATA sh hint.sh > h.log 2>&1", dir);
    int rc = system(cmd);
    log = read_in_dir("h.log");
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s", log);
    free(log);
    ck_assert_int_eq(fixture_poll_int("my db/r.db", "SELECT count(*) FROM runs WHERE status = "
                                                    "'finished' AND study_id = 1"), 2);
    ck_assert_int_eq(fixture_poll_int("my db/r.db", "SELECT count(*) FROM epochs"), 12);
    ck_assert_int_eq(fixture_poll_int("my db/r.db", "SELECT count(*) FROM studies WHERE status = "
                                                    "'finished'"), 1);
}
END_TEST

/* [experiment] keep_checkpoints: what a finished run keeps; an unfinished
 * one keeps `last`; the run's .lock goes when it ends; the key may change
 * between a pause and its --resume (it does not change the run). */
#define K_INI(keep)                                                                             \
    "[experiment]\nname = k\nseed = 9\nepochs = 2\n" keep                                     \
    "[data]\nbatch_size = 50\ntest_subset = 300\n"                                              \
    "[schedule]\ntype = constant\nlr = 0.05\n" LAYERS
START_TEST(test_keep_checkpoints)
{
    write_file("k.ini", K_INI(""));
    ck_assert_msg(cnnrun("run k.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert(exists("r-checkpoints/k-1-best.ckpt") && exists("r-checkpoints/k-1-last.ckpt"));
    ck_assert_msg(!exists("r-checkpoints/k-1.lock"), "the lock file outlived its run");
    write_file("k.ini", K_INI("keep_checkpoints = best\n"));
    ck_assert_msg(cnnrun("run k.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert(exists("r-checkpoints/k-2-best.ckpt") && !exists("r-checkpoints/k-2-last.ckpt"));
    write_file("k.ini", K_INI("keep_checkpoints = last\n"));
    ck_assert_msg(cnnrun("run k.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert(!exists("r-checkpoints/k-3-best.ckpt") && exists("r-checkpoints/k-3-last.ckpt"));
    write_file("k.ini", K_INI("keep_checkpoints = last,best\n")); /* = best, last */
    ck_assert_msg(cnnrun("check k.ini") == 0, "%s", out);
    ck_assert_msg(strstr(out, "keep_checkpoints = best, last"), "%s", out);
    write_file("k.ini", K_INI("keep_checkpoints = best, bogus\n"));
    ck_assert_int_eq(cnnrun("check k.ini"), 2);
    ck_assert_msg(strstr(out, "k.ini:5: ") &&
                      strstr(out, "(expected one of: best, last | best | last | none)"), "%s",
                  out);

    /* paused: `last` stays for --resume; resumed under `none`, nothing stays */
    write_file("k.ini", K_INI("keep_checkpoints = best\n"));
    ck_assert_msg(cnnrun("run k.ini --db r.db --threads 1 --until-epoch 1") == 0, "%s", out);
    ck_assert(exists("r-checkpoints/k-4-last.ckpt") && !exists("r-checkpoints/k-4.lock"));
    write_file("k.ini", K_INI("keep_checkpoints = none\n"));
    ck_assert_msg(cnnrun("run k.ini --db r.db --threads 1 --resume") == 0, "%s", out);
    ck_assert_msg(strstr(out, "resuming run 4 at epoch 2"), "%s", out);
    ck_assert(!exists("r-checkpoints/k-4-best.ckpt") && !exists("r-checkpoints/k-4-last.ckpt") &&
              !exists("r-checkpoints/k-4.lock"));

    /* the report's directory is not for git */
    char p[1024];
    snprintf(p, sizeof p, "%s/.gitignore", getenv("CNNRUN_SOURCE_DIR"));
    char *ignore = read_text_file(p, NULL);
    ck_assert_msg(ignore && strstr(ignore, "\n/results/report/\n"), "%s", ignore ? ignore : p);
    free(ignore);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("studies");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_two_studies_apart);
    tcase_add_test(tc, test_resume_same_study);
    tcase_add_test(tc, test_prune_within_study);
    tcase_add_test(tc, test_study_summary);
    tcase_add_test(tc, test_report_newest_study);
    tcase_add_test(tc, test_report_sweep_shows_pruned);
    tcase_add_test(tc, test_epochs_on_stdout);
    tcase_add_test(tc, test_resume_hint_works);
    tcase_add_test(tc, test_keep_checkpoints);
    suite_add_tcase(s, tc);
    return check_run(s);
}
