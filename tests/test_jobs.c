/* test_jobs.c — `cnnrun run --jobs N` (src/cli/jobs.c) through the cnnrun
 * command: a 4-point sweep trained 2 at a time, 1 thread each, gives the
 * epochs rows (==) of the same sweep run one at a time, its runs in grid
 * order, one line per run and no progress display; a worker killed with
 * SIGKILL leaves its run `failed` naming it while the others finish, and
 * --resume trains only that run, on its uninterrupted curve (also one killed
 * after its row was made, before it was reported open); SIGTERM to the
 * parent marks the runs in progress `interrupted` and starts no other;
 * --until-epoch pauses every run after an epoch, and --resume continues
 * them (again paused, then to the end) on their uninterrupted curves, and
 * the study ETA counts the epochs to the pause, and a worker's validation
 * line is not passed on (one line per run); the ETA takes a going run's own
 * time per epoch (a slow network beside a fast one); the first point's
 * worker killed before it made its row: --resume trains that point, and a
 * later --resume nothing; two studies of one file, both paused, resumed at
 * once: each resume claims one of a point's two runs, both succeed;
 * --jobs is checked (an integer >= 1; `run` only). */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

/* 20 steps per epoch (train_subset 1000, batch 50), 6 epochs: a worker can
 * be stopped while its run is in progress. */
static const char *ini =
    "[experiment]\nname = jb\nseed = 9\nepochs = 6\n"
    "[data]\nbatch_size = 50\ntrain_subset = 1000\naugment = crop:2, flip\ntest_subset = 200\n"
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 6\n"
    "lr_end = 0.001\n"
    "[sweep]\nschedule.lr_max = 0.05, 0.2\nexperiment.seed = 1, 2\n"
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"
    "[layer.pool]\ntype = global_avgpool\n"
    "[layer.fc]\ntype = linear\noutputs = 10\n";

/* The epochs rows of db equal to ref.db's (every column), and the runs with
 * the same id, configuration and parameters. */
/* db's runs are ref_db's, bit for bit. */
static void same_as(const char *db, const char *ref_db, int want_epochs)
{
    sqlite3 *s = fixture_open_db(db);
    char sql[512];
    snprintf(sql, sizeof sql, "attach '%s/%s' as ref", dir, ref_db);
    ck_assert_int_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from ref.epochs"), want_epochs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), want_epochs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs a join ref.epochs b using (run_id, "
                              "epoch) where a.lr = b.lr and a.train_loss = b.train_loss and "
                              "a.train_acc = b.train_acc and a.test_loss = b.test_loss and "
                              "a.test_acc = b.test_acc and a.steps = b.steps and "
                              "a.images = b.images"), want_epochs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs a join ref.runs b using (id) where "
                              "a.config = b.config and a.threads = b.threads and "
                              "a.final_test_acc = b.final_test_acc and a.status = 'finished'"),
                     4);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from run_params a join ref.run_params b using "
                              "(run_id, key, value)"), 8);
    sqlite3_close(s);
}

static void same_as_ref(const char *db, int want_epochs)
{
    same_as(db, "ref.db", want_epochs);
}

static void make_ref(void)
{
    write_file("jb.ini", ini);
    ck_assert_int_eq(cnnrun("run jb.ini --db ref.db --threads 1"), 0);
}

/* ---- (1) two at a time, the curves of one at a time ----------------------- */

START_TEST(test_jobs_same_curves)
{
    make_ref();
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2"), 0);
    same_as_ref("j.db", 24);
    ck_assert_msg(strstr(out, "4 runs, 2 at a time (--jobs 2), 1 thread each") &&
                      strstr(out, "jb[1/4]: run 1 finished: test acc ") &&
                      strstr(out, "jb[4/4]: run 4 finished: test acc ") &&
                      strstr(out, "study ETA") && strstr(out, "4 of 4 runs succeeded"),
                  "%s", out);
    /* no progress display, no model table: one line per run */
    ck_assert_msg(!strstr(out, "epoch   1/6") && !strstr(out, "global_avgpool"), "%s", out);
    /* a warning about OpenBLAS's core (where this machine's earns one) once a
     * study, not once a worker */
    int warnings = 0;
    for (const char *p = out; (p = strstr(p, "warning: OpenBLAS runs")); p++) warnings++;
    ck_assert_msg(warnings <= 1, "%d warnings:\n%s", warnings, out);
}
END_TEST

/* precision = bf16 (issue 35): the workers' curves are those of the runs
 * trained one at a time, bit for bit, and every row says bf16. */
START_TEST(test_jobs_bf16)
{
    char text[2048];
    const char *at = "name = jb\n";
    const char *p = strstr(ini, at);
    ck_assert_ptr_nonnull(p);
    snprintf(text, sizeof text, "%.*sprecision = bf16\n%s", (int)(p - ini + strlen(at)), ini,
             p + strlen(at));
    write_file("jb.ini", text);
    ck_assert_int_eq(cnnrun("run jb.ini --db ref.db --threads 1"), 0);
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2"), 0);
    same_as_ref("j.db", 24);
    sqlite3 *s = fixture_open_db("j.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where precision = 'bf16'"), 4);
    sqlite3_close(s);
    /* `cnnrun runs` and the report say so: a column, and each run's line */
    ck_assert_int_eq(cnnrun("runs --db j.db"), 0);
    ck_assert_msg(strstr(out, " prec ") && strstr(out, " bf16 "), "%s", out);
    ck_assert_int_eq(cnnrun("report --db j.db -o rep"), 0);
    char *html = fixture_slurp("rep/index.html");
    ck_assert_msg(strstr(html, "thread &middot; bf16</p>"), "the report names no precision");
    free(html);
    /* the same with oneDNN's convolutions wherever they run (a CPU with bf16
     * instructions; elsewhere im2col, and the same comparison again) */
    setenv("CNNRUN_CONV", "onednn", 1);
    ck_assert_int_eq(cnnrun("run jb.ini --db dref.db --threads 1"), 0);
    ck_assert_int_eq(cnnrun("run jb.ini --db dj.db --threads 1 --jobs 2"), 0);
    unsetenv("CNNRUN_CONV");
    same_as("dj.db", "dref.db", 24);
    sqlite3 *d = fixture_open_db("dj.db");
    int want = bf16_path() != BF16_EMULATED ? 4 : 0;
    ck_assert_int_eq(fixture_q_int(d, "select count(distinct run_id) from layers where conv_algo = "
                                      "'onednn'"), want);
    sqlite3_close(d);
}
END_TEST

/* Forks `cnnrun ARGS` in dir (stderr to dir/LOG); returns its pid. */
static pid_t start_logged(const char *args, const char *logname)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        FILE *log = freopen(logname, "w", stderr);
        (void)log;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "exec \"$CNNRUN_BIN\" %s", args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Forks `cnnrun ARGS` in dir (stderr to dir/log); returns its pid. */
static pid_t start(const char *args)
{
    return start_logged(args, "log");
}

/* Once run 2 has its first checkpoint: the pid of the worker training it
 * (its run lock holds the pid), a child of parent. */
static pid_t run2_worker(pid_t parent)
{
    char p[256];
    snprintf(p, sizeof p, "%s/j-checkpoints/jb-2-last.ckpt", dir);
    for (int i = 0; i < 60000; i++) {
        struct stat sb;
        if (stat(p, &sb) == 0) break;
        int st;
        ck_assert_msg(waitpid(parent, &st, WNOHANG) == 0, "the sweep ended before run 2 did an "
                                                          "epoch");
        usleep(1000);
    }
    snprintf(p, sizeof p, "%s/j-checkpoints/jb-2.lock", dir);
    char *text = read_text_file(p, NULL);
    ck_assert_ptr_nonnull(text);
    pid_t w = (pid_t)atol(text);
    free(text);
    snprintf(p, sizeof p, "/proc/%d/stat", (int)w);
    text = read_text_file(p, NULL);
    ck_assert_msg(text, "worker %d is gone", (int)w);
    int ppid = 0;
    const char *rp = strrchr(text, ')');
    ck_assert(rp && sscanf(rp + 2, "%*c %d", &ppid) == 1);
    free(text);
    ck_assert_int_eq(ppid, parent);
    return w;
}

static char *log_named(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return read_text_file(p, NULL);
}

static char *log_text(void)
{
    return log_named("log");
}

/* A child process of parent (the first one found in /proc), or 0. */
static pid_t child_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    pid_t found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        if (strspn(de->d_name, "0123456789") != strlen(de->d_name)) continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%s/stat", de->d_name);
        char *text = read_text_file(p, NULL);
        const char *rp = text ? strrchr(text, ')') : NULL;
        int ppid = 0;
        if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == parent)
            found = (pid_t)atol(de->d_name);
        free(text);
    }
    closedir(d);
    return found;
}

/* Each run's epochs in db equal to those of ref.db's run with the same
 * configuration (every column), want_epochs of them; every run finished. */
static void same_curves_by_config(const char *db, int want_runs, int want_epochs)
{
    sqlite3 *s = fixture_open_db(db);
    char sql[512];
    snprintf(sql, sizeof sql, "attach '%s/ref.db' as ref", dir);
    ck_assert_int_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb'"),
                     want_runs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb' and "
                                      "status = 'finished'"), want_runs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs a join runs ra on ra.id = "
                                      "a.run_id where ra.experiment = 'jb'"), want_epochs);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs a join runs ra on ra.id = "
                                      "a.run_id join ref.runs rb on rb.config = ra.config join "
                                      "ref.epochs b on b.run_id = rb.id and b.epoch = a.epoch "
                                      "where a.lr = b.lr and a.train_loss = b.train_loss and "
                                      "a.train_acc = b.train_acc and a.test_loss = b.test_loss "
                                      "and a.test_acc = b.test_acc and a.steps = b.steps and "
                                      "a.images = b.images"), want_epochs);
    sqlite3_close(s);
}

/* ---- (2) a worker killed; the rest finish; --resume finishes it ------------- */

START_TEST(test_jobs_killed_worker_resume)
{
    make_ref();
    pid_t pid = start("run jb.ini --db j.db --threads 1 --jobs 2");
    pid_t w = run2_worker(pid);
    ck_assert_int_eq(kill(w, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char want[128];
    snprintf(want, sizeof want, "worker pid %d died (signal 9)", (int)w);
    sqlite3 *s = fixture_open_db("j.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'finished'"), 3);
    char sql[256];
    snprintf(sql, sizeof sql, "select count(*) from runs where id = 2 and status = 'failed' and "
                              "error = '%s'", want);
    ck_assert_int_eq(fixture_q_int(s, sql), 1);
    sqlite3_close(s);
    char *log = log_text();
    ck_assert_msg(log && strstr(log, want) && strstr(log, "3 of 4 runs succeeded"), "%s", log);
    free(log);

    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2 --resume"), 0);
    ck_assert_msg(strstr(out, "resuming run 2 at epoch") &&
                      strstr(out, "already run (run 1, finished)") &&
                      strstr(out, "already run (run 3, finished)") &&
                      strstr(out, "already run (run 4, finished)"), "%s", out);
    same_as_ref("j.db", 24); /* run 2 on its uninterrupted curve */
}
END_TEST

/* ---- (2b) a worker killed after its row exists, before it is open ---------- */

/* A trigger makes run 2's first `layers` row take seconds: the worker is
 * then between creating its runs row and reporting it open (the window the
 * row event closes). Killed there, its row ends `failed`, not `running`, and
 * --resume trains that point in it. */
START_TEST(test_jobs_killed_before_open)
{
    write_file("jb.ini", ini);
    write_file("one.ini", "[experiment]\nname = one\nepochs = 1\n"
                          "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 100\n"
                          "[layer.pool]\ntype = global_avgpool\n"
                          "[layer.fc]\ntype = linear\noutputs = 10\n");
    ck_assert_int_eq(cnnrun("run one.ini --db j.db --threads 1"), 0); /* run 1: the schema */
    char p[256];
    snprintf(p, sizeof p, "%s/j.db", dir);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "create table slow (x); insert into slow with recursive "
                                     "c(x) as (select 1 union all select x + 1 from c where x < "
                                     "20000) select x from c; create trigger slow_layers after "
                                     "insert on layers when new.run_id = 2 begin select count(*) "
                                     "from slow a, slow b; end",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(s);
    pid_t pid = start("run jb.ini --db j.db --threads 1 --jobs 2");
    snprintf(p, sizeof p, "%s/j-checkpoints/jb-2.lock", dir);
    pid_t w = 0; /* the lock file holds the worker's pid */
    for (int i = 0; i < 60000 && w <= 0; i++) {
        char *text = read_text_file(p, NULL);
        if (text) w = (pid_t)atol(text);
        free(text);
        if (w <= 0) usleep(1000);
    }
    ck_assert_msg(w > 0, "no run lock of run 2");
    s = fixture_open_db("j.db"); /* still in the trigger: the row is not open yet */
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from layers where run_id = 2"), 0);
    ck_assert_int_eq(kill(w, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char want[128], sql[256];
    snprintf(want, sizeof want, "worker pid %d died (signal 9)", (int)w);
    snprintf(sql, sizeof sql, "select count(*) from runs where id = 2 and status = 'failed' and "
                              "error = '%s'", want);
    ck_assert_int_eq(fixture_q_int(s, sql), 1);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb' and "
                              "status = 'finished'"), 3);
    sqlite3_close(s);
    char *log = log_text();
    snprintf(sql, sizeof sql, "jb[1/4]: run 2 failed (%s)", want);
    ck_assert_msg(log && strstr(log, sql) && strstr(log, "3 of 4 runs succeeded"), "%s", log);
    free(log);

    /* --resume trains that point (it has no epoch yet) in its row, and only it */
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 3, finished)") &&
                      strstr(out, "already run (run 5, finished)") &&
                      strstr(out, "jb[1/4]: run 2 finished"), "%s", out);
    s = fixture_open_db("j.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb' and "
                              "status = 'finished'"), 4);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs where run_id = 2"), 6);
    sqlite3_close(s);
}
END_TEST

/* ---- (2c) the first point's worker killed before it made its row ---------- */

/* A trigger makes the insert of point 1's runs row (lr_max 0.05, seed 1)
 * take seconds, and its worker is killed before the row exists; the other
 * points train. --resume trains point 1 (in a new run, after the others'),
 * and a second --resume trains nothing: every point once, on its
 * uninterrupted curve. */
START_TEST(test_jobs_first_point_died_before_row)
{
    make_ref();
    write_file("one.ini", "[experiment]\nname = one\nepochs = 1\n"
                          "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 100\n"
                          "[layer.pool]\ntype = global_avgpool\n"
                          "[layer.fc]\ntype = linear\noutputs = 10\n");
    ck_assert_int_eq(cnnrun("run one.ini --db j.db --threads 1"), 0); /* run 1: the schema */
    char p[256];
    snprintf(p, sizeof p, "%s/j.db", dir);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "create table slow (x); insert into slow with recursive "
                                     "c(x) as (select 1 union all select x + 1 from c where x < "
                                     "20000) select x from c; create trigger slow_p1 before "
                                     "insert on runs when new.experiment = 'jb' and new.seed = 1 "
                                     "and new.config like '%lr_max = 0.05%' begin select "
                                     "count(*) from slow a, slow b; end",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(s);
    pid_t pid = start("run jb.ini --db j.db --threads 1 --jobs 2");
    pid_t w = 0; /* point 1's worker: the first, alone until it has its row */
    for (int i = 0; i < 60000 && !w; i++) {
        w = child_of(pid);
        if (!w) usleep(1000);
    }
    ck_assert_msg(w > 0, "no worker started");
    ck_assert_int_eq(kill(w, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    char want[128];
    snprintf(want, sizeof want, "jb[1/4]: failed before its run started (worker pid %d died "
                                "(signal 9))", (int)w);
    char *log = log_text();
    ck_assert_msg(log && strstr(log, want) && strstr(log, "3 of 4 runs succeeded"), "%s", log);
    free(log);
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb' and "
                                      "status = 'finished'"), 3);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where experiment = 'jb'"), 3);
    ck_assert_int_eq(sqlite3_exec(s, "drop trigger slow_p1", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);

    /* resumed: point 1 trains, in a new run; the others are not run again */
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 2, finished)") &&
                      strstr(out, "already run (run 3, finished)") &&
                      strstr(out, "already run (run 4, finished)") &&
                      strstr(out, "jb[1/4]: run 5 finished"), "%s", out);
    same_curves_by_config("j.db", 4, 24);
    /* and again (one at a time, then two): every point has run, nothing trains */
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 5, finished)") &&
                      strstr(out, "already run (run 4, finished)"), "%s", out);
    ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2 --resume"), 0);
    same_curves_by_config("j.db", 4, 24);
}
END_TEST

/* ---- (2d) two studies of one file, both stopped, both resumed at once ------- */

/* Two studies of jb.ini in one database, each paused after epoch 1: every
 * point has two unfinished runs. Two resumes at once each claim one of
 * them: both succeed, every run finishes on its uninterrupted curve, and
 * no run is trained twice or left unfinished. */
START_TEST(test_jobs_two_studies_resumed_at_once)
{
    make_ref();
    for (int k = 0; k < 2; k++)
        ck_assert_int_eq(cnnrun("run jb.ini --db j.db --threads 1 --jobs 2 --until-epoch 1"), 0);
    pid_t a = start_logged("run jb.ini --db j.db --threads 1 --jobs 2 --resume", "log-a");
    pid_t b = start_logged("run jb.ini --db j.db --threads 1 --jobs 2 --resume", "log-b");
    int sa, sb;
    ck_assert_int_eq(waitpid(a, &sa, 0), a);
    ck_assert_int_eq(waitpid(b, &sb, 0), b);
    char *la = log_named("log-a"), *lb = log_named("log-b");
    ck_assert(la && lb);
    /* the logs' ends in a message (Check's messages are short) */
    const char *ta = la + (strlen(la) > 1500 ? strlen(la) - 1500 : 0);
    const char *tb = lb + (strlen(lb) > 1500 ? strlen(lb) - 1500 : 0);
    ck_assert_msg(WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) &&
                      WEXITSTATUS(sb) == 0, "status %d and %d:\n%s\n----\n%s", sa, sb, ta, tb);
    ck_assert_msg(strstr(la, "4 of 4 runs succeeded") && strstr(lb, "4 of 4 runs succeeded"),
                  "%s\n----\n%s", ta, tb);
    free(la);
    free(lb);
    same_curves_by_config("j.db", 8, 48);
}
END_TEST

/* ---- (3) SIGTERM to the parent -------------------------------------------- */

START_TEST(test_jobs_sigterm)
{
    write_file("jb.ini", ini);
    pid_t pid = start("run jb.ini --db j.db --threads 1 --jobs 2");
    pid_t w = run2_worker(pid);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    ck_assert_int_eq(kill(w, 0), -1); /* the workers ended with it */
    /* run 2 was in progress, so was any other run not finished; no run
     * started after the signal (on a busy machine run 1 may have finished
     * before it and run 3 started) */
    char *log = log_text();
    ck_assert_msg(log && strstr(log, "jb[2/4]: run 2 interrupted") &&
                      strstr(log, "grid point 4 of 4 not run (interrupted)"), "%s", log);
    sqlite3 *s = fixture_open_db("j.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where id = 2 and status = "
                              "'interrupted' and error = 'interrupted by a signal'"), 1);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status not in ('finished', "
                              "'interrupted')"), 0);
    for (int k = 1; k <= 4; k++) {
        char sql[64], want[64];
        snprintf(sql, sizeof sql, "select count(*) from runs where id = %d", k);
        snprintf(want, sizeof want, "grid point %d of 4 not run (interrupted)", k);
        ck_assert_msg((fixture_q_int(s, sql) == 1) != (strstr(log, want) != NULL), "point %d: %s", k,
                      log);
    }
    sqlite3_close(s);
    free(log);
}
END_TEST

/* ---- (4) --until-epoch: a study trained in time-boxed shares ----------------- */

/* The last 3000 characters of text: enough of a long log to see why. */
static const char *tail(const char *text)
{
    size_t n = strlen(text);
    return n > 3000 ? text + n - 3000 : text;
}

/* Paused after epoch 2 (2 at a time), then after epoch 4 (one at a time),
 * then finished (2 at a time): every run's curve is its uninterrupted one. */
START_TEST(test_jobs_until_epoch)
{
    make_ref();
    ck_assert_int_eq(cnnrun("run jb.ini --db p.db --threads 1 --jobs 2 --until-epoch 2"), 0);
    ck_assert_msg(strstr(out, "jb[1/4]: run 1 paused after epoch 2 of 6 (--until-epoch)") &&
                      strstr(out, "jb[4/4]: run 4 paused after epoch 2 of 6") &&
                      strstr(out, "4 of 4 runs succeeded"), "%s", out);
    sqlite3 *s = fixture_open_db("p.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'interrupted' "
                                      "and error like 'paused after epoch 2 of 6%'"), 4);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), 8);
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("run jb.ini --db p.db --threads 1 --resume --until-epoch 4"), 0);
    char hint[512]; /* the whole command, --until-epoch left out (issue 36) */
    snprintf(hint, sizeof hint, "jb.ini: paused after epoch 4 of 6 (--until-epoch); continue "
             "with `%s run jb.ini --db p.db --threads 1 --resume`", getenv("CNNRUN_BIN"));
    ck_assert_msg(strstr(out, hint), "%s", out);
    s = fixture_open_db("p.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), 16);
    sqlite3_close(s);
    /* already past it: nothing trained, still paused; and said so (issue 34: it said
     * "resuming run 1 at epoch 5", and --jobs then "test acc -") */
    ck_assert_int_eq(cnnrun("run jb.ini --db p.db --threads 1 --resume --until-epoch 3"), 0);
    ck_assert_msg(strstr(out, "jb.ini: run 1 is already paused after epoch 4 of 6 (--until-epoch "
                              "3): nothing to train") &&
                      !strstr(out, "resuming run"), "%s", tail(out));
    ck_assert_int_eq(cnnrun("run jb.ini --db p.db --threads 1 --jobs 2 --resume --until-epoch 4"),
                     0);
    ck_assert_msg(strstr(out, "run 4 is already paused after epoch 4 of 6 (--until-epoch 4)") &&
                      !strstr(out, "resuming run") && !strstr(out, "test acc -"), "%s", tail(out));
    s = fixture_open_db("p.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), 16);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'interrupted' "
                                      "and error like 'paused after epoch 4 of 6%'"), 4);
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("run jb.ini --db p.db --threads 1 --jobs 2 --resume"), 0);
    same_as_ref("p.db", 24);
    const char *bad[] = {"--until-epoch 0", "--until-epoch 1.5", "--until-epoch"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "run jb.ini --db e/r.db %s", bad[i]);
        ck_assert_int_eq(cnnrun(cmd), 2);
        ck_assert_msg(strstr(out, "--until-epoch"), "%s: %s", bad[i], out);
    }
    ck_assert_msg(!exists("e"), "a database was made for a bad --until-epoch");

    /* the study ETA counts the epochs to this share's end: when the first
     * of 4 runs of 30 epochs pauses after epoch 1, the 3 left take about
     * an epoch each on 2 slots (~1 epoch's time), not 30 epochs (~44) */
    ck_assert_int_eq(cnnrun("run jb.ini --db eta.db --threads 1 --jobs 2 --until-epoch 1 "
                            "--set experiment.epochs=30 --set data.validation=100"), 0);
    const char *at = strstr(out, "study ETA ");
    double eta_s = 1e9;
    char unit[4] = "";
    ck_assert_msg(at && sscanf(at, "study ETA %lf%3[ms]", &eta_s, unit) == 2 &&
                      (!strcmp(unit, "s") || !strcmp(unit, "ms")), "%s", out);
    if (!strcmp(unit, "ms")) eta_s /= 1000;
    /* one line per run: a worker's validation line is not passed on */
    ck_assert_msg(!strstr(out, "validation loss"), "%s", out);
    s = fixture_open_db("eta.db");
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select max(seconds) from epochs", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double epoch_s = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    /* 0.05: the ETA is printed to 0.1 s (to 1 ms under a second) */
    ck_assert_msg(eta_s <= 5 * epoch_s + 0.05, "ETA %g s, an epoch %g s:\n%s", eta_s, epoch_s,
                  out);
}
END_TEST

/* ---- (5) the ETA of a study whose networks differ ------------------------- */

/* Two networks, one many times slower an epoch than the other. */
#define ETA_NET(name, layers)                                                                    \
    "[experiment]\nname = " name "\nseed = 3\nepochs = 6\n"                                      \
    "[data]\nbatch_size = 50\ntrain_subset = 1000\ntest_subset = 200\n"                          \
    "[schedule]\ntype = constant\nlr = 0.05\n" layers                                            \
    "[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

static double epoch_seconds(const char *db, const char *experiment, int epoch)
{
    char sql[256];
    snprintf(sql, sizeof sql, "select e.seconds from epochs e join runs r on r.id = e.run_id "
                              "where r.experiment = '%s' and e.epoch = %d", experiment, epoch);
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

/* When the fast run of a resumed share ends, the ETA is the slow run's epoch
 * left at its own rate (known from its first share), not at the mean of the
 * epochs reported, which are the fast run's (that gave ~0 s). */
START_TEST(test_jobs_eta_own_rate)
{
    write_file("slow.ini", ETA_NET("slow", "[layer.c1]\ntype = conv\nfilters = 96\n"
                                           "activation = relu\n[layer.c2]\ntype = conv\n"
                                           "filters = 48\nactivation = relu\n"));
    write_file("fast.ini", ETA_NET("fast", "[layer.c1]\ntype = conv\nfilters = 4\nstride = 4\n"));
    ck_assert_int_eq(cnnrun("run slow.ini fast.ini --db r.db --threads 1 --jobs 2 "
                            "--until-epoch 1"), 0);
    ck_assert_int_eq(cnnrun("run slow.ini fast.ini --db r.db --threads 1 --jobs 2 --resume "
                            "--until-epoch 2"), 0);
    const char *at = strstr(out, "fast: run 2 paused after epoch 2 of 6");
    ck_assert_msg(at, "%s", out);
    at = strstr(at, "study ETA ");
    double eta_s = -1;
    char unit[4] = "";
    ck_assert_msg(at && sscanf(at, "study ETA %lf%3[ms]", &eta_s, unit) == 2, "%s", out);
    if (!strcmp(unit, "ms")) eta_s /= 1000;
    double slow = epoch_seconds("r.db", "slow", 1), fast = epoch_seconds("r.db", "fast", 2);
    ck_assert_msg(slow > 4 * fast, "the test needs a slow run: %g s against %g s", slow, fast);
    /* what is left of the slow run's epoch 2 when the fast one's ends: its
     * epoch less about the fast epoch (loose: a loaded machine's times vary) */
    ck_assert_msg(eta_s >= 0.4 * (slow - fast) && eta_s <= 3 * slow,
                  "ETA %g s; the slow run's epoch %g s, the fast one's %g s:\n%s", eta_s, slow,
                  fast, out);
}
END_TEST

/* ---- (6) the option ----------------------------------------------------------- */

START_TEST(test_jobs_option)
{
    write_file("jb.ini", ini);
    const char *bad[] = {"--jobs 0", "--jobs x", "--jobs=1.5", "--jobs -2", "--jobs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "run jb.ini --db e/r.db %s", bad[i]);
        ck_assert_int_eq(cnnrun(cmd), 2);
        ck_assert_msg(strstr(out, "--jobs expects an integer in 1..1024") ||
                          strstr(out, "--jobs needs a value"), "%s: %s", bad[i], out);
    }
    ck_assert_int_eq(cnnrun("check jb.ini --jobs 2"), 2);
    ck_assert_msg(strstr(out, "--jobs is an option of run, not of check"), "%s", out);
    ck_assert_msg(!exists("e"), "a database was made for a bad --jobs");
    ck_assert_int_eq(cnnrun("run --help"), 0);
    ck_assert_msg(strstr(out, "--jobs N"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_jobs_option);
    tcase_add_test(tc, test_jobs_bf16);
    tcase_add_test(tc, test_jobs_same_curves);
    tcase_add_test(tc, test_jobs_killed_worker_resume);
    tcase_add_test(tc, test_jobs_killed_before_open);
    tcase_add_test(tc, test_jobs_first_point_died_before_row);
    tcase_add_test(tc, test_jobs_two_studies_resumed_at_once);
    tcase_add_test(tc, test_jobs_sigterm);
    tcase_add_test(tc, test_jobs_until_epoch);
    tcase_add_test(tc, test_jobs_eta_own_rate);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
