/* test_merge.c — `cnnrun merge A.db B.db --into ALL.db` (issue 16): every
 * run of both files, renumbered, with its epochs, layers, lr_find and
 * run_params rows pointing at the new numbers; a version-1 file's runs too
 * (ranks 1); a second merge of the same file finding them there (issue 34:
 * skipped, or brought up to date when merged unfinished), and files of
 * other programs refused, with the destination left as it was;
 * `pragma integrity_check` ok and no foreign key broken. Issue 23: 2 x 3,000
 * runs merged in linear time; a failure in a later transaction takes the
 * earlier ones back, and no new file is left; a run whose database another
 * process holds locked waits and loses no epoch, and Ctrl-C twice ends that
 * wait at once (the first only says what it does); a damaged file is refused. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/results/schema.sql.h"
#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/util.h"

/* One short epoch on a part of the sample. */
#define TINY(name, seed)                                                                        \
    "[experiment]\nname = " name "\nseed = " seed "\nepochs = 1\n"                              \
    "[data]\nbatch_size = 50\ntrain_subset = 300\ntest_subset = 100\n"                          \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\n"                                                 \
    "[schedule]\ntype = constant\nlr = 0.05\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = 4\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

static int q(const char *db, const char *sql)
{
    int v = fixture_poll_int(db, sql);
    return v;
}

static void text(const char *db, const char *sql, char *buf, size_t size)
{
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    buf[0] = '\0';
    ck_assert_int_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* Runs sql on dir/name (created if needed). */
static void raw_exec(const char *name, const char *sql)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sqlite3 *s;
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    char *err = NULL;
    ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &err) == SQLITE_OK, "%s", err ? err : "");
    sqlite3_close(s);
}

/* A fingerprint of what a database holds, to see that a refused merge left it alone. */
static int rows(const char *db)
{
    return q(db, "select (select count(*) from runs) * 1000000 + (select count(*) from epochs) "
                 "* 10000 + (select count(*) from layers) * 100 + (select count(*) from lr_find)");
}

START_TEST(test_merge_two_databases)
{
    write_file("a.ini", TINY("alpha", "1"));
    write_file("b.ini", TINY("beta", "2"));
    ck_assert_int_eq(cnnrun("run a.ini --db a/r.db --threads 1"), 0);
    ck_assert_int_eq(cnnrun("run a.ini --db a/r.db --threads 1 --set experiment.seed=3"), 0);
    ck_assert_int_eq(cnnrun("run b.ini --db b/r.db --threads 1 --set experiment.epochs=2"), 0);
    ck_assert_int_eq(cnnrun("lr-find b.ini --db b/r.db --threads 1 --steps 5"), 0);
    const int a_runs = q("a/r.db", "select count(*) from runs");
    const int b_runs = q("b/r.db", "select count(*) from runs");
    ck_assert_int_eq(a_runs, 2);
    ck_assert_int_eq(b_runs, 2);
    ck_assert_int_eq(q("b/r.db", "select count(*) from lr_find"), 5);
    const int a_rows = rows("a/r.db"), b_rows = rows("b/r.db");

    /* a version-1 file as cnnrun 0.1.0 wrote it: one run, one epoch */
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = 1; PRAGMA application_id = %d;",
             RESULTS_APPLICATION_ID);
    raw_exec("v1.db", RESULTS_SCHEMA_SQL);
    raw_exec("v1.db", pragmas);
    raw_exec("v1.db", "INSERT INTO runs (id, experiment, status, started_at, threads) VALUES "
                      "(7, 'old', 'finished', '2025-01-01T00:00:00Z', 2);"
                      "INSERT INTO epochs (run_id, epoch, test_acc) VALUES (7, 1, 0.25);");

    ck_assert_int_eq(cnnrun("merge a/r.db b/r.db v1.db --into all/all.db"), 0);
    const char *all = "all/all.db";
    ck_assert_int_eq(q(all, "select count(*) from runs"), a_runs + b_runs + 1);
    ck_assert_int_eq(q(all, "select min(id) = 1 and max(id) = count(*) from runs"), 1);
    ck_assert_int_eq(rows(all), a_rows + b_rows + 1000000 + 10000);
    ck_assert_int_eq(q(all, "select count(*) from run_params"),
                     q("a/r.db", "select count(*) from run_params") +
                         q("b/r.db", "select count(*) from run_params"));
    /* renumbered in order: a's runs 1, 2, then b's 3, 4, then the old one 5;
     * each child row follows its run */
    char s[512];
    text(all, "select group_concat(experiment || ':' || coalesce(seed, ''), ',') from "
              "(select * from runs order by id)", s, sizeof s);
    ck_assert_str_eq(s, "alpha:1,alpha:3,beta:2,beta/lr-find:2,old:");
    ck_assert_int_eq(q(all, "select count(*) from epochs where run_id = 3"), 2);
    ck_assert_int_eq(q(all, "select count(*) from lr_find where run_id = 4"), 5);
    ck_assert_int_eq(q(all, "select count(*) from run_params where run_id = 2 and "
                            "key = 'experiment.seed' and value = '3'"), 1);
    ck_assert_int_eq(q(all, "select count(*) from layers where run_id = 1"),
                     q("a/r.db", "select count(*) from layers where run_id = 1"));
    ck_assert_int_eq(q(all, "select threads * 10 + ranks from runs where id = 5"), 21);
    ck_assert_int_eq(q(all, "select epochs_done from run_summary where run_id = 5"), 1);
    /* the columns come over as written */
    text(all, "select config from runs where id = 3", s, sizeof s);
    char t[512];
    text("b/r.db", "select config from runs where id = 1", t, sizeof t);
    ck_assert_str_eq(s, t);
    text(all, "pragma integrity_check", s, sizeof s);
    ck_assert_str_eq(s, "ok");
    ck_assert_int_eq(q(all, "select count(*) from pragma_foreign_key_check"), 0);
    ck_assert_int_eq(q(all, "pragma user_version"), RESULTS_SCHEMA_VERSION);

    /* the same runs again: each already there as it is, nothing written (issue 34:
     * refused before, so a study merged while it ran could never be merged again) */
    const int before = rows(all);
    ck_assert_int_eq(cnnrun("merge b/r.db --into all/all.db"), 0);
    ck_assert_msg(strstr(out, "all/all.db: 0 runs merged, 2 already there"), "%s", out);
    ck_assert_int_eq(rows(all), before);
    /* a file given twice: the second copy's runs are the first's */
    ck_assert_int_eq(cnnrun("merge a/r.db a/r.db --into twice.db"), 1);
    ck_assert_msg(!exists("twice.db") && !exists("twice.db-wal"),
                  "a failed merge into a new file leaves no file behind");
    /* the sources are never changed */
    ck_assert_int_eq(rows("a/r.db"), a_rows);
    ck_assert_int_eq(rows("b/r.db"), b_rows);
}
END_TEST

START_TEST(test_merge_refuses_other_files)
{
    write_file("a.ini", TINY("alpha", "1"));
    ck_assert_int_eq(cnnrun("run a.ini --db a.db --threads 1"), 0);
    raw_exec("other.db", "CREATE TABLE runs (id INTEGER PRIMARY KEY, experiment TEXT);"
                         "INSERT INTO runs VALUES (1, 'x');");
    write_file("text.db", "not a database at all, but long enough to have a header....\n");
    ck_assert_int_eq(cnnrun("merge a.db --into all.db"), 0);
    const int before = rows("all.db");

    ck_assert_int_eq(cnnrun("merge other.db --into all.db"), 2);
    ck_assert_ptr_nonnull(strstr(out, "not a cnnrun results database"));
    ck_assert_int_eq(cnnrun("merge text.db --into all.db"), 2);
    ck_assert_ptr_nonnull(strstr(out, "text.db"));
    /* the good file first does not let the bad one through */
    ck_assert_int_eq(cnnrun("merge a.db other.db --into fresh.db"), 2);
    ck_assert(!exists("fresh.db"));
    ck_assert_int_eq(cnnrun("merge all.db --into all.db"), 2);
    ck_assert_int_eq(cnnrun("merge a.db"), 2);          /* no --into */
    ck_assert_int_eq(cnnrun("merge missing.db --into all.db"), 2);
    ck_assert_int_eq(rows("all.db"), before);
    char p[256];
    snprintf(p, sizeof p, "%s/future.db", dir);
    raw_exec("future.db", "CREATE TABLE runs (id INTEGER PRIMARY KEY);");
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
             RESULTS_SCHEMA_VERSION + 1, RESULTS_APPLICATION_ID);
    raw_exec("future.db", pragmas);
    ck_assert_int_eq(cnnrun("merge future.db --into all.db"), 2);
    ck_assert_ptr_nonnull(strstr(out, "newer"));
}
END_TEST

/* ---- issue 23: linear time, short transactions, nothing half-made ------- */

/* dir/name: a version-1 results file with n runs of one experiment, all
 * started in the same second on one machine, seeds seed0 + 1.. (the worst
 * case for a duplicate lookup by experiment), one epoch each; the last run's epoch is numbered 0
 * when bad (the destination's CHECK refuses it: a failure late in a merge). */
static void synthetic(const char *name, int n, int seed0, int bad)
{
    char pragmas[128], sql[1024];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = 1; PRAGMA application_id = %d;",
             RESULTS_APPLICATION_ID);
    raw_exec(name, RESULTS_SCHEMA_SQL);
    raw_exec(name, pragmas);
    snprintf(sql, sizeof sql,
             "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) "
             "INSERT INTO runs (id, experiment, status, started_at, seed, hostname, config) "
             "SELECT i, 'same', 'finished', '2025-01-01T00:00:00Z', %d + i, 'host', "
             "'[experiment]' || char(10) || 'name = same' FROM c; "
             "INSERT INTO epochs (run_id, epoch, test_acc) SELECT id, 1, 0.5 FROM runs; "
             "PRAGMA ignore_check_constraints = %d; UPDATE epochs SET epoch = 0 WHERE run_id = %d "
             "AND %d; COMMIT;", n, seed0, bad, n, bad);
    raw_exec(name, sql);
}

/* no file of the destination's name, nor a temporary one beside it */
static void assert_no_file(const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -q -- '%s'", dir, name);
    ck_assert_msg(system(cmd) != 0, "%s (or a temporary file of it) is left", name);
}

/* Seconds of `cnnrun ARGS` (exit status want), the faster of two tries: a
 * slow spell of a shared machine falls on one of them. ARGS has a %d for
 * the try (0, 1), so that each writes its own file. */
static double merge_seconds(const char *fmt, int want)
{
    double best = 1e9;
    for (int i = 0; i < 2; i++) {
        char args[256];
        snprintf(args, sizeof args, fmt, i);
        double t0 = now_seconds();
        ck_assert_int_eq(cnnrun(args), want);
        double t = now_seconds() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* Runs that all look alike but for their seed: the duplicate check and the
 * copy are linear. Measured as a ratio, so that it holds in any build (ASan)
 * and on any machine: 4x the runs take under 6x the time (linear: 2.1-2.4x
 * here, the start-up in both; the lookup by experiment alone, quadratic,
 * took 2.47 s for 2 x 3,000 runs against 0.24 s for 2 x 750: 10.2x). */
START_TEST(test_merge_scales)
{
    synthetic("a1.db", 750, 0, 0);
    synthetic("a2.db", 750, 750, 0);
    synthetic("s1.db", 3000, 0, 0);
    synthetic("s2.db", 3000, 3000, 0);
    double small = merge_seconds("merge a1.db a2.db --into small%d.db", 0);
    double big = merge_seconds("merge s1.db s2.db --into big%d.db", 0);
    fprintf(stderr, "merge: 2 x 750 runs %.3f s, 2 x 3000 runs %.3f s (%.1fx)\n", small, big,
            big / small);
    ck_assert_msg(big < 6 * small, "merging 4x the runs took %.1fx the time (%.2f s, %.2f s)",
                  big / small, big, small);
    ck_assert_int_eq(q("big0.db", "select count(*) from runs"), 6000);
    ck_assert_int_eq(q("big0.db", "select count(*) from epochs"), 6000);
    /* and every one of them is found again as already there, as fast */
    double small_dup = merge_seconds("merge a2.db --into small%d.db", 0);
    double big_dup = merge_seconds("merge s2.db --into big%d.db", 0);
    fprintf(stderr, "duplicates: 750 runs %.3f s, 3000 runs %.3f s\n", small_dup, big_dup);
    ck_assert_msg(big_dup < 6 * small_dup, "finding 4x the duplicates took %.1fx the time",
                  big_dup / small_dup);
    ck_assert_ptr_nonnull(strstr(out, "big1.db: 0 runs merged, 3000 already there"));
    ck_assert_int_eq(q("big1.db", "select count(*) from runs"), 6000);
}
END_TEST

/* A failure in the last of several transactions: the runs committed before
 * it are taken back (an existing destination) or the new file never
 * appears; a refused merge and a bad --into leave no file either. */
START_TEST(test_merge_failure_leaves_nothing)
{
    synthetic("bad.db", 450, 0, 1); /* 3 transactions, the last one fails */
    synthetic("good.db", 5, 1000, 0);
    ck_assert_int_eq(cnnrun("merge good.db bad.db --into new.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "cannot copy the epochs rows of run 450"));
    assert_no_file("new.db");
    ck_assert_int_eq(cnnrun("merge good.db --into old.db"), 0);
    const int before = rows("old.db");
    ck_assert_int_eq(cnnrun("merge bad.db --into old.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "nothing was merged"));
    ck_assert_int_eq(rows("old.db"), before);
    ck_assert_int_eq(q("old.db", "select count(*) from pragma_foreign_key_check"), 0);
    /* refused sources, a bad destination: nothing made */
    ck_assert_int_eq(cnnrun("merge good.db good.db --into twice.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "is the same run as run 1 of good.db"));
    assert_no_file("twice.db");
    ck_assert_int_eq(cnnrun("merge good.db --into ''"), 2);
    ck_assert_ptr_nonnull(strstr(out, "--into is empty"));
    raw_exec("other.db", "CREATE TABLE t (x);");
    ck_assert_int_eq(cnnrun("merge good.db --into other.db"), 2);
    ck_assert_ptr_nonnull(strstr(out, "HINT: --into names a cnnrun results database"));
    ck_assert_ptr_null(strstr(out, "--db"));
    ck_assert_int_eq(cnnrun("merge good.db --into"), 2);
    ck_assert_ptr_nonnull(strstr(out, "--into needs a value"));
    ck_assert_int_eq(cnnrun("merge --help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: cnnrun merge [options] A.db B.db ... --into ALL.db"));
}
END_TEST

/* Another process holds the write lock (as a long merge did) for 1.5 s,
 * many busy timeouts (CNNRUN_DB_BUSY_MS=200): the run waits, says so, and
 * finishes with all its epochs. */
START_TEST(test_run_waits_for_locked_database)
{
    write_file("a.ini", TINY("alpha", "1"));
    ck_assert_int_eq(cnnrun("run a.ini --db a.db --threads 1"), 0); /* the file exists */
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        char p[256];
        snprintf(p, sizeof p, "%s/a.db", dir);
        sqlite3 *db = NULL;
        int ok = sqlite3_open(p, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        ok = write(ready[1], ok ? "y" : "n", 1) == 1 && ok;
        usleep(1500 * 1000);
        ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    setenv("CNNRUN_DB_BUSY_MS", "200", 1);
    int rc = cnnrun("run a.ini --db a.db --threads 1 --set experiment.epochs=2");
    unsetenv("CNNRUN_DB_BUSY_MS");
    int status = 0;
    waitpid(holder, &status, 0);
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "still waiting: nothing this run finished is dropped"));
    ck_assert_int_eq(q("a.db", "select count(*) from epochs where run_id = 2"), 2);
    ck_assert_int_eq(q("a.db", "select status = 'finished' from runs where id = 2"), 1);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

/* The write lock held until the test says so: a run waiting for it gets
 * Ctrl-C (it says it stops after this step, and goes on waiting: nothing
 * finished is dropped), then Ctrl-C again: it is gone at once, by SIGINT,
 * and the database holds only the run before. */
START_TEST(test_ctrl_c_twice_ends_a_wait)
{
    write_file("a.ini", TINY("alpha", "1"));
    ck_assert_int_eq(cnnrun("run a.ini --db a.db --threads 1"), 0); /* the file exists */
    int ready[2], done[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        char p[256], c;
        snprintf(p, sizeof p, "%s/a.db", dir);
        sqlite3 *db = NULL;
        int ok = sqlite3_open(p, &db) == SQLITE_OK &&
                 sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        ok = write(ready[1], ok ? "y" : "n", 1) == 1 && ok;
        ok = read(done[0], &c, 1) == 1 && ok; /* until the test is done */
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    pid_t run = fork();
    ck_assert_int_ge(run, 0);
    if (run == 0) {
        if (chdir(dir) != 0) _exit(127);
        setenv("CNNRUN_DB_BUSY_MS", "200", 1);
        FILE *log = freopen("log", "w", stderr);
        (void)log;
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "a.ini", "--db", "a.db", "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/log", dir);
    char *log = NULL;
    for (int i = 0; i < 3000 && !(log && strstr(log, "still waiting")); i++) {
        free(log);
        usleep(10000);
        log = read_text_file(p, NULL);
    }
    ck_assert_msg(log && strstr(log, "still waiting"), "%s", log ? log : "(no log)");
    free(log);
    int status = 0;
    ck_assert_int_eq(kill(run, SIGINT), 0);
    usleep(500 * 1000);
    ck_assert_int_eq(waitpid(run, &status, WNOHANG), 0); /* the first: still waiting */
    ck_assert_int_eq(kill(run, SIGINT), 0);
    pid_t got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = waitpid(run, &status, WNOHANG);
        if (got == 0) usleep(10000);
    }
    if (got == 0) kill(run, SIGKILL), waitpid(run, &status, 0);
    ck_assert_msg(write(done[1], "x", 1) == 1, "the holder is gone");
    int hs = 0;
    waitpid(holder, &hs, 0);
    ck_assert_msg(got == run, "a second Ctrl-C did not end the wait within 5 s");
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %d", status);
    log = read_text_file(p, NULL);
    ck_assert_msg(log && strstr(log, "cnnrun: stopping at the end of this step (Ctrl-C again "
                                     "quits at once"), "%s", log ? log : "(no log)");
    free(log);
    ck_assert_int_eq(q("a.db", "select count(*) from runs"), 1);
    for (int k = 0; k < 2; k++) close(ready[k]), close(done[k]);
}
END_TEST

/* Bytes written into a page of `epochs`: run and merge refuse the file
 * (exit 1) before writing to it, saying it is damaged. */
START_TEST(test_damaged_database_refused)
{
    write_file("a.ini", TINY("alpha", "1"));
    ck_assert_int_eq(cnnrun("run a.ini --db a.db --threads 1"), 0);
    ck_assert_int_eq(cnnrun("run a.ini --db b.db --threads 1"), 0);
    const int page = q("a.db", "select rootpage from sqlite_master where name = 'epochs'");
    const int size = q("a.db", "pragma page_size");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "printf 'garbage garbage garbage garbage' | dd of=%s/a.db bs=1 "
                              "seek=%d conv=notrunc status=none", dir, (page - 1) * size + 8);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "cd %s && md5sum a.db > a.sum", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(cnnrun("run a.ini --db a.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "a.db: the results database is damaged") != NULL, "%s", out);
    ck_assert_ptr_null(strstr(out, "epoch 1/")); /* refused before training */
    ck_assert_int_eq(cnnrun("merge b.db --into a.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "is damaged"));
    ck_assert_int_eq(cnnrun("merge a.db --into c.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "is damaged"));
    assert_no_file("c.db");
    snprintf(cmd, sizeof cmd, "cd %s && md5sum -c --quiet a.sum", dir);
    ck_assert_msg(system(cmd) == 0, "the damaged file was written to");
}
END_TEST

/* ---- issue 34: a database a study is still writing, merged twice ------- */

/* Runs of a study merged while it was still writing them ('running', or
 * paused: 'interrupted') are brought up to date by a later merge of the
 * same file, keeping their numbers; its runs merged finished are skipped;
 * the first merge says which runs are still running. (The second merge was
 * refused: "already in the destination", for ever.) A copy that does not
 * lead to the destination's (an older state of a finished run) is still
 * refused, nothing written. */
START_TEST(test_merge_brings_runs_up_to_date)
{
    write_file("a.ini", TINY("alpha", "1"));
    /* a real run paused after epoch 1 of 2, one finished, then one 'running' at 3 of 6 */
    ck_assert_int_eq(cnnrun("run a.ini --db s.db --threads 1 --set experiment.epochs=2 "
                            "--until-epoch 1"), 0);
    ck_assert_int_eq(cnnrun("run a.ini --db s.db --threads 1 --set experiment.seed=2"), 0);
    raw_exec("s.db", "INSERT INTO runs (id, experiment, status, started_at, seed, hostname, "
                     "config, epochs_planned) VALUES (3, 'live', 'running', "
                     "'2026-01-01T00:00:00Z', 7, 'host', 'c', 6);"
                     "INSERT INTO epochs (run_id, epoch, test_acc) VALUES (3, 1, 0.1), "
                     "(3, 2, 0.2), (3, 3, 0.3);");
    write_file("b.ini", TINY("beta", "1"));
    ck_assert_int_eq(cnnrun("run b.ini --db all.db --threads 1"), 0); /* all.db's own run 1 */
    ck_assert_int_eq(cnnrun("merge s.db --into all.db"), 0);
    ck_assert_msg(strstr(out, "s.db: note: run 3 is still 'running' there (3 epochs so far); "
                              "merge s.db again when it has ended"), "%s", out);
    ck_assert_int_eq(q("all.db", "select count(*) from runs"), 4);
    ck_assert_int_eq(q("all.db", "select count(*) from epochs where run_id = 2"), 1);
    ck_assert_int_eq(q("all.db", "select count(*) from epochs where run_id = 4"), 3);
    /* the study goes on: the paused run finishes, the live one reaches epoch 6 */
    ck_assert_int_eq(cnnrun("run a.ini --db s.db --threads 1 --set experiment.epochs=2 "
                            "--resume"), 0);
    raw_exec("s.db", "INSERT INTO epochs (run_id, epoch, test_acc) VALUES (3, 4, 0.4), "
                     "(3, 5, 0.5), (3, 6, 0.6); UPDATE runs SET status = 'finished' WHERE id = 3;");
    ck_assert_int_eq(q("s.db", "select count(*) from runs where status = 'finished'"), 3);
    raw_exec("all.db", "INSERT INTO run_params (run_id, key, value) VALUES (4, 'k', 'old')");
    ck_assert_int_eq(cnnrun("merge s.db --into all.db"), 0);
    ck_assert_msg(strstr(out, "s.db: 0 runs, 2 brought up to date, 1 already there") &&
                      strstr(out, "s.db: run 3 brought up to date as run 4 of all.db: finished, "
                                  "6 epochs (it was running, 3 epochs)") &&
                      strstr(out, "s.db: run 1 brought up to date as run 2 of all.db: finished, "
                                  "2 epochs (it was interrupted, 1 epoch)") &&
                      strstr(out, "all.db: 0 runs merged, 2 brought up to date, 1 already there"),
                  "%s", out);
    ck_assert_int_eq(q("all.db", "select count(*) from runs"), 4);
    ck_assert_int_eq(q("all.db", "select count(*) from runs where status = 'finished'"), 4);
    ck_assert_int_eq(q("all.db", "select count(*) from epochs where run_id = 2"), 2);
    ck_assert_int_eq(q("all.db", "select count(*) from epochs where run_id = 4"), 6);
    ck_assert_int_eq(q("all.db", "select count(*) from run_params where run_id = 4"), 0);
    ck_assert_int_eq(q("all.db", "select count(*) from layers where run_id = 2"),
                     q("s.db", "select count(*) from layers where run_id = 1"));
    /* every column as the source has it now */
    ck_assert_int_eq(q("all.db", "select count(*) from runs a where a.id = 2 and "
                                 "a.train_seconds > 0 and a.finished_at is not null"), 1);
    char s1[512], s2[512];
    text("all.db", "pragma integrity_check", s1, sizeof s1);
    ck_assert_str_eq(s1, "ok");
    ck_assert_int_eq(q("all.db", "select count(*) from pragma_foreign_key_check"), 0);
    /* once more: nothing new, nothing written */
    const int before = rows("all.db");
    ck_assert_int_eq(cnnrun("merge s.db --into all.db"), 0);
    ck_assert_msg(strstr(out, "all.db: 0 runs merged, 3 already there"), "%s", out);
    ck_assert_int_eq(rows("all.db"), before);
    /* an older state of a run the destination has finished: refused, nothing written */
    raw_exec("s.db", "DELETE FROM epochs WHERE run_id = 3 AND epoch > 4; "
                     "UPDATE runs SET status = 'running' WHERE id = 3;");
    text("all.db", "select group_concat(status) from runs", s1, sizeof s1);
    ck_assert_int_eq(cnnrun("merge s.db --into all.db"), 1);
    ck_assert_msg(strstr(out, "s.db: run 3 (live, started 2026-01-01T00:00:00Z) is already in "
                              "the destination as run 4 (finished, 6 epochs), a state this copy "
                              "(running, 4 epochs) does not follow from; nothing was merged"),
                  "%s", out);
    ck_assert_int_eq(rows("all.db"), before);
    text("all.db", "select group_concat(status) from runs", s2, sizeof s2);
    ck_assert_str_eq(s1, s2);
}
END_TEST

/* ---- issue 34: the temporary files of a merge that was killed ---------- */

/* The files of dir whose names start with prefix and end with suffix. */
static int count_names(const char *prefix, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        n += !strncmp(e->d_name, prefix, strlen(prefix)) && len >= sl &&
             !strcmp(e->d_name + len - sl, suffix);
    }
    if (d) closedir(d);
    return n;
}

/* A merge into a new file killed by SIGKILL leaves ALL.db.tmp.XXXXXX and its
 * -wal, -shm; the next merge into ALL.db removes them (they lay there for
 * ever), but not one a live merge holds (its lock), nor other files. */
START_TEST(test_merge_removes_killed_temps)
{
    synthetic("big.db", 40000, 0, 0);
    synthetic("good.db", 5, 100000, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        if (!freopen("/dev/null", "w", stderr)) _exit(127);
        execl(getenv("CNNRUN_BIN"), "cnnrun", "merge", "big.db", "--into", "all.db",
              (char *)NULL);
        _exit(127);
    }
    /* killed once its temporary file has its -wal: in the middle of the copy */
    int seen = 0;
    for (int i = 0; i < 20000 && !seen; i++) {
        seen = count_names("all.db.tmp.", "-wal") > 0;
        if (!seen) usleep(500);
    }
    kill(pid, SIGKILL);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(seen && WIFSIGNALED(status), "the merge ended before it could be killed");
    ck_assert_msg(count_names("all.db.tmp.", "") >= 1, "the killed merge left no temporary file");
    char cmd[512];
    ck_assert(!exists("all.db"));
    /* a live merge's temporary file, held by its lock; and files of other names */
    write_file("all.db.tmp.Live12", "");
    write_file("all.db.tmp.Live12-wal", "");
    write_file("all.db.tmp.toolong7", "");
    write_file("other.db.tmp.Abc123", "");
    int ready[2], done[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(done), 0);
    pid_t holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        char p[256], c;
        snprintf(p, sizeof p, "%s/all.db.tmp.Live12", dir);
        int fd = open(p, O_RDWR);
        int ok = fd >= 0 && flock(fd, LOCK_EX) == 0;
        ok = write(ready[1], ok ? "y" : "n", 1) == 1 && ok;
        ok = read(done[0], &c, 1) == 1 && ok;
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    ck_assert_int_eq(cnnrun("merge good.db --into all.db"), 0);
    ck_assert_msg(strstr(out, "left by a merge into it that was killed"), "%s", out);
    ck_assert_int_eq(write(done[1], "x", 1), 1);
    waitpid(holder, &status, 0);
    for (int k = 0; k < 2; k++) close(ready[k]), close(done[k]);
    ck_assert_int_eq(q("all.db", "select count(*) from runs"), 5);
    snprintf(cmd, sizeof cmd, "cd %s && ls all.db.tmp.* | LC_ALL=C sort | tr '\\n' ' '", dir);
    FILE *ls = popen(cmd, "r");
    char listing[512] = "";
    ck_assert_ptr_nonnull(fgets(listing, sizeof listing, ls));
    pclose(ls);
    ck_assert_str_eq(listing, "all.db.tmp.Live12 all.db.tmp.Live12-wal all.db.tmp.toolong7 ");
    ck_assert(exists("other.db.tmp.Abc123"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_merge_two_databases);
    tcase_add_test(tc, test_merge_refuses_other_files);
    tcase_add_test(tc, test_merge_scales);
    tcase_add_test(tc, test_merge_failure_leaves_nothing);
    tcase_add_test(tc, test_run_waits_for_locked_database);
    tcase_add_test(tc, test_ctrl_c_twice_ends_a_wait);
    tcase_add_test(tc, test_damaged_database_refused);
    tcase_add_test(tc, test_merge_brings_runs_up_to_date);
    tcase_add_test(tc, test_merge_removes_killed_temps);
    suite_add_tcase(s, tc);
    return check_run(s);
}
