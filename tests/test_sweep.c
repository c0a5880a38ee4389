/* test_sweep.c — sweeps and groups (issue 15) through the cnnrun command: a
 * [sweep] of 2 learning rates x 2 seeds trains 4 runs in grid order, each
 * with its values in run_params, and run_groups gives 2 groups of 2 whose
 * std is the sample std of the runs' final_test_acc; a sweep stopped by
 * SIGINT in its second point and resumed runs every point exactly once, on
 * the numbers of an uninterrupted sweep; a sweep's errors (an unknown key, a
 * bad value in one point, an empty list, a key twice, a --set of a swept
 * key, a list key without '|') exit 2 at the sweep's line and write no
 * database; `cnnrun check` lists the grid; --sweep from the command line,
 * alone or over the file's key; `cnnrun runs --groups`; a random search's
 * points distinct as the values they load (a float key's as floats);
 * --resume of a sweep whose file changed names the change (once, before
 * anything trains); one file given twice to `run` is refused. */
#include <check.h>
#include <math.h>
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
#include "cnnrun/util.h"

/* 50 steps per epoch on the sample: long enough to be stopped inside an
 * epoch. The [sweep] section is line 16 (lr_max) and 17 (seed). */
#define SWEEP_HEAD                                                                              \
    "[experiment]\nname = sw\nseed = 9\nepochs = 3\n"              /* lines 1-4 */             \
    "[data]\nbatch_size = 50\naugment = crop:2, flip\ntest_subset = 300\n" /* 5-8 */           \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n" /* -13 */\
    "lr_end = 0.001\n"                                              /* 14 */                    \
    "[sweep]\n"                                                     /* 15 */
#define SWEEP_LAYERS                                                                            \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.drop]\ntype = dropout\nprobability = 0.2\n"                                         \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define SWEEP_INI(lines) SWEEP_HEAD lines SWEEP_LAYERS
#define GRID_2x2 "schedule.lr_max = 0.05, 0.2\nexperiment.seed = 1, 2\n"

/* The first column of every row, joined by '|'. */
static void q_rows(sqlite3 *s, const char *sql, char *buf, size_t n)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(s));
    size_t used = 0;
    buf[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW && used < n) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "|" : "",
                                 t ? (const char *)t : "NULL");
    }
    sqlite3_finalize(st);
}

static int db_query_int(const char *db, const char *sql)
{
    sqlite3 *s = fixture_open_db(db);
    int v = fixture_q_int(s, sql);
    sqlite3_close(s);
    return v;
}

/* ---- (1) a 2 x 2 sweep and its groups ------------------------------------- */

START_TEST(test_sweep_groups)
{
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("run sw.ini --db g.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "grid point 4 of 4: schedule.lr_max=0.2, experiment.seed=2"), "%s",
                  out);
    ck_assert_msg(strstr(out, "4 of 4 runs succeeded"), "%s", out);
    sqlite3 *s = fixture_open_db("g.db");
    char rows[1024];
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'finished'"), 4);
    /* grid order: the first key outermost; each run's values recorded */
    q_rows(s, "select r.id || ':' || r.seed || ':' || group_concat(p.key || '=' || p.value, ',') "
              "from runs r join (select * from run_params order by run_id, key) p "
              "on p.run_id = r.id group by r.id order by r.id", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:1:experiment.seed=1,schedule.lr_max=0.05|"
                           "2:2:experiment.seed=2,schedule.lr_max=0.05|"
                           "3:1:experiment.seed=1,schedule.lr_max=0.2|"
                           "4:2:experiment.seed=2,schedule.lr_max=0.2");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where id >= 3 and config like "
                              "'%lr_max = 0.2%' and config not like '%[sweep]%'"), 2);

    /* two groups of two, std the sample std of the runs' final_test_acc */
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "select n, mean_final_test_acc, std_final_test_acc, "
                                           "params, run_ids from run_groups", -1, &st, NULL),
                     SQLITE_OK);
    int groups = 0;
    double any_std = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        groups++;
        ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
        const char *params = (const char *)sqlite3_column_text(st, 3);
        const char *ids = (const char *)sqlite3_column_text(st, 4);
        int a = groups == 1 ? 1 : 3;
        char want_ids[16];
        snprintf(want_ids, sizeof want_ids, "%d,%d", a, a + 1);
        ck_assert_str_eq(ids, want_ids);
        ck_assert_str_eq(params, groups == 1 ? "schedule.lr_max=0.05" : "schedule.lr_max=0.2");
        char sql[128];
        double x[2];
        for (int k = 0; k < 2; k++) {
            sqlite3_stmt *q;
            snprintf(sql, sizeof sql, "select final_test_acc from runs where id = %d", a + k);
            ck_assert_int_eq(sqlite3_prepare_v2(s, sql, -1, &q, NULL), SQLITE_OK);
            ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
            x[k] = sqlite3_column_double(q, 0);
            sqlite3_finalize(q);
        }
        double mean = (x[0] + x[1]) / 2;
        double std = sqrt(((x[0] - mean) * (x[0] - mean) + (x[1] - mean) * (x[1] - mean)) / 1);
        ck_assert_double_eq_tol(sqlite3_column_double(st, 1), mean, 1e-12);
        ck_assert_double_eq_tol(sqlite3_column_double(st, 2), std, 1e-12);
        any_std += std;
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(groups, 2);
    ck_assert_msg(any_std > 0, "the seeds gave the same accuracies: the std is not tested");
    sqlite3_close(s);

    /* cnnrun runs: unchanged; --groups: mean ± std per group */
    ck_assert_int_eq(cnnrun("runs --db g.db"), 0);
    ck_assert_msg(!strstr(out, "\xc2\xb1") && strstr(out, "   4  sw "), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db g.db --groups"), 0);
    ck_assert_msg(strstr(out, "sw                 2  ") && strstr(out, "\xc2\xb1") &&
                      strstr(out, "1,2          schedule.lr_max=0.05") &&
                      strstr(out, "3,4          schedule.lr_max=0.2"), "%s", out);
    ck_assert_int_eq(cnnrun("runs --db g.db --groups --runs 1"), 2);
}
END_TEST

/* ---- (2) stopped in the middle, resumed ------------------------------------- */

START_TEST(test_sweep_interrupt_resume)
{
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    char p[256];
    snprintf(p, sizeof p, "%s/i", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(cnnrun("run sw.ini --db ref.db --threads 1"), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        FILE *log = freopen("log", "a", stderr);
        (void)log;
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "sw.ini", "--db", "i/r.db", "--threads",
              "1", (char *)NULL);
        _exit(127);
    }
    /* inside grid point 2: after its first epoch */
    snprintf(p, sizeof p, "%s/i/r.db", dir);
    int reached = 0;
    for (int i = 0; i < 60000 && !reached; i++) {
        struct stat sb;
        reached = stat(p, &sb) == 0 &&
                  fixture_poll_int("i/r.db", "select count(*) from epochs where run_id = 2") >= 1;
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the sweep ended before point 2");
        if (!reached) usleep(1000);
    }
    ck_assert(reached);
    usleep(50000);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    sqlite3 *s = fixture_open_db("i/r.db");
    char rows[512];
    q_rows(s, "select id || ':' || status from runs order by id", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:finished|2:interrupted"); /* points 3 and 4 not started */
    sqlite3_close(s);
    snprintf(p, sizeof p, "%s/log", dir);
    char *log = read_text_file(p, NULL);
    ck_assert_msg(log && strstr(log, "grid point 3 of 4 not run (interrupted)") &&
                      strstr(log, "`cnnrun run sw.ini --db i/r.db --threads 1 --resume` "
                                  "continues"), "%s", log);
    free(log);

    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 1, finished); not run again") &&
                      strstr(out, "resuming run 2 at epoch"), "%s", out);
    /* every grid point once, finished, on the uninterrupted sweep's numbers */
    s = fixture_open_db("i/r.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs"), 4);
    ck_assert_int_eq(fixture_q_int(s, "select count(distinct config) from runs where status = "
                              "'finished'"), 4);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), 12);
    char sql[512];
    snprintf(sql, sizeof sql, "attach '%s/ref.db' as ref", dir);
    ck_assert_int_eq(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs a join ref.epochs b using (run_id, "
                              "epoch) where a.train_loss = b.train_loss and a.test_acc = "
                              "b.test_acc and a.lr = b.lr"), 12);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs a join ref.runs b using (id) where "
                              "a.config = b.config and a.final_test_acc = b.final_test_acc"), 4);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from run_params a join ref.run_params b using "
                              "(run_id, key, value)"), 8);
    sqlite3_close(s);

    /* resumed again: everything has run, nothing runs twice */
    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --threads 1 --resume"), 0);
    ck_assert_int_eq(db_query_int("i/r.db", "select count(*) from runs"), 4);
    /* a checkpoint path continues one run, not a sweep */
    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --resume i/r-checkpoints/sw-2-last.ckpt"), 2);
    ck_assert_msg(strstr(out, "a sweep is continued with --resume alone"), "%s", out);
}
END_TEST

/* ---- (3) errors ------------------------------------------------------------- */

/* `cnnrun run` of text as sw.ini exits 2 with `want` in its output and
 * writes no database; `cnnrun check` says the same. */
static void refused(const char *ini, const char *args, const char *want, const char *want2)
{
    write_file("sw.ini", ini);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "run sw.ini --db e/r.db --threads 1 %s", args);
    ck_assert_int_eq(cnnrun(cmd), 2);
    ck_assert_msg(strstr(out, want), "expected \"%s\" in:\n%s", want, out);
    ck_assert_msg(!want2 || strstr(out, want2), "expected \"%s\" in:\n%s", want2, out);
    ck_assert_msg(!exists("e"), "a database directory was made for a bad sweep");
    snprintf(cmd, sizeof cmd, "check sw.ini %s", args);
    ck_assert_int_eq(cnnrun(cmd), 2);
    ck_assert_msg(strstr(out, want), "check: expected \"%s\" in:\n%s", want, out);
}

START_TEST(test_sweep_errors)
{
    refused(SWEEP_INI("schedule.lr_mx = 0.05, 0.2\n"), "",
            "sw.ini:16: unknown key 'lr_mx' in [schedule]; did you mean 'lr_max'?", NULL);
    /* one bad value among good ones: named once, at its line, with its point */
    refused(SWEEP_INI("experiment.seed = 1, 2\nschedule.lr_max = 0.05, -1, 0.2\n"), "",
            "sw.ini:17: 'lr_max' must be > 0, got -1",
            "sw.ini:17: (the sweep's value '-1' of schedule.lr_max: grid point 2 of 6)");
    ck_assert_ptr_null(strstr(strstr(out, "got -1") + 1, "got -1"));
    /* a value only bad with another key's: the point */
    refused(SWEEP_INI("schedule.lr_max = 0.2, 0.005\n"), "",
            "one_cycle schedule: 'lr_start' (0.01) must not exceed 'lr_max' (0.005)",
            "(the sweep's value '0.005' of schedule.lr_max: grid point 2 of 2)");
    refused(SWEEP_INI("schedule.lr_max =\n"), "", "sw.ini:16: the sweep of schedule.lr_max has "
            "no values", NULL);
    refused(SWEEP_INI("schedule.lr_max = 0.1, , 0.2\n"), "", "sw.ini:16: the sweep of "
            "schedule.lr_max has an empty value (value 2)", NULL);
    refused(SWEEP_INI("schedule.lr_max = 0.1, 0.1\n"), "", "has the value '0.1' twice", NULL);
    /* the same number however written: compared as the key's type reads it
     * (0.1, 0.10, 1e-1 were three identical runs) */
    refused(SWEEP_INI("schedule.lr_max = 0.1, 0.2, 0.10, 1e-1\n"), "", "sw.ini:16: the sweep of "
            "schedule.lr_max has the same value twice: '0.1' and '0.10' are equal", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep schedule.lr_max=0.1,1e-1", "--sweep schedule.lr_max: "
            "the sweep of schedule.lr_max has the same value twice: '0.1' and '1e-1' are equal",
            NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep layer.c1.filters=8,+8", "'8' and '+8' are equal", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep experiment.seed=3,03", "'3' and '03' are equal", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep experiment.epochs=2,2.0", "'2' and '2.0' are equal",
            NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep data.drop_last=yes,true", "'yes' and 'true' are equal",
            NULL);
    /* 32-bit float keys: values that differ only past a float's precision are one run */
    refused(SWEEP_INI(GRID_2x2), "--sweep schedule.lr_max=0.1,0.1000000001", "'0.1' and "
            "'0.1000000001' are equal", NULL);
    refused(SWEEP_INI("schedule.lr_max = 0.1, 0.2\nexperiment.seed = 1\n"
                      "schedule.lr_max = 0.3\n"), "", "sw.ini:18: duplicate key "
            "'schedule.lr_max' in [sweep]", NULL);
    refused(SWEEP_INI("lr_max = 0.1, 0.2\n"), "", "sw.ini:16: a swept key is written "
            "SECTION.KEY", NULL);
    refused(SWEEP_INI("layer.c9.filters = 4, 8\n"), "", "sw.ini:16: there is no [layer.c9] in "
            "the file ([sweep] changes layers", NULL);
    /* a list-valued key: '|' between the values */
    refused(SWEEP_INI("data.augment = crop:2, flip\n"), "", "sw.ini:16: data.augment takes a "
            "list of its own: separate the sweep's values with '|'", NULL);
    /* with --set and --sweep */
    refused(SWEEP_INI(GRID_2x2), "--set schedule.lr_max=0.3", "--set schedule.lr_max: the key "
            "is swept (sw.ini:16)", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep layer.c1.filters=4,x",
            "--sweep layer.c1.filters: expected an integer for 'filters', got 'x'", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep experiment.seed=3 --sweep experiment.seed=4",
            "--sweep experiment.seed: given twice", NULL);
    refused(SWEEP_INI(GRID_2x2), "--sweep experiment.seed", "expected --sweep "
            "SECTION.KEY=V1,V2", NULL);
    refused(SWEEP_INI(GRID_2x2), "--set sweep.experiment.seed=3", "the [sweep] section is not "
            "changed with --set", NULL);
    /* different numbers, and text compared as text, are fine */
    write_file("sw.ini", SWEEP_INI("schedule.lr_max = 0.1, 0.11, 1e-2\n"));
    ck_assert_int_eq(cnnrun("check sw.ini --sweep experiment.epochs=1,1.0000000001"), 0);
    /* a list key swept with '|' is fine */
    write_file("sw.ini", SWEEP_INI("data.augment = crop:2, flip | none\n"));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    ck_assert_msg(strstr(out, "    1  data.augment=\"crop:2, flip\"\n    2  data.augment=none\n"),
                  "%s", out);
}
END_TEST

/* ---- (4) check lists the grid ------------------------------------------------ */

START_TEST(test_sweep_check)
{
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    ck_assert_msg(strstr(out, "; sweep: 4 runs (the first key outermost; above: grid point 1)\n"
                              "    1  schedule.lr_max=0.05, experiment.seed=1\n"
                              "    2  schedule.lr_max=0.05, experiment.seed=2\n"
                              "    3  schedule.lr_max=0.2, experiment.seed=1\n"
                              "    4  schedule.lr_max=0.2, experiment.seed=2\n"
                              "sw.ini: ok\n"), "%s", out);
    /* the configuration shown is point 1's; no [sweep] in it */
    ck_assert_msg(strstr(out, "\nlr_max = 0.05\n") && strstr(out, "\nseed = 1\n") &&
                      !strstr(out, "[sweep]"), "%s", out);
    /* a --sweep replaces the file's line of its key, in place; a new key goes last */
    ck_assert_int_eq(cnnrun("check sw.ini --sweep schedule.lr_max=0.3 --sweep "
                            "layer.c1.filters=4,8"), 0);
    ck_assert_msg(strstr(out, "; sweep: 4 runs") &&
                      strstr(out, "    1  schedule.lr_max=0.3, experiment.seed=1, "
                                  "layer.c1.filters=4\n"
                                  "    2  schedule.lr_max=0.3, experiment.seed=1, "
                                  "layer.c1.filters=8\n") &&
                      strstr(out, "    4  schedule.lr_max=0.3, experiment.seed=2, "
                                  "layer.c1.filters=8\n"), "%s", out);
    /* no sweep: no list */
    write_file("plain.ini", SWEEP_INI(""));
    ck_assert_int_eq(cnnrun("check plain.ini"), 0);
    ck_assert_msg(!strstr(out, "; sweep:"), "%s", out);
}
END_TEST

/* The commands that run one configuration say that the [sweep] is not
 * applied, at its first key's line, unless --set gives every swept key. */
START_TEST(test_sweep_not_applied_note)
{
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("lr-find sw.ini --db l.db --threads 1 --steps 3"), 0);
    ck_assert_msg(strstr(out, "sw.ini:16: note: lr-find does not apply the [sweep] section (4 grid "
                              "points): it uses the file's own values; give a point's with --set "
                              "(e.g. --set schedule.lr_max=0.05)"), "%s", out);
    ck_assert_int_eq(cnnrun("bench sw.ini --steps 1 --threads 1 --set schedule.lr_max=0.2"), 0);
    ck_assert_msg(strstr(out, "sw.ini:17: note: bench does not apply the [sweep] section (2 grid "
                              "points)") && strstr(out, "--set experiment.seed=1)"), "%s", out);
    ck_assert_int_eq(cnnrun("bench sw.ini --steps 1 --threads 1 --set schedule.lr_max=0.2 "
                            "--set experiment.seed=3"), 0);
    ck_assert_msg(!strstr(out, "does not apply"), "%s", out);
}
END_TEST

/* ---- (5) --sweep from the command line ----------------------------------------- */

START_TEST(test_sweep_command_line)
{
    write_file("plain.ini", SWEEP_INI(""));
    ck_assert_int_eq(cnnrun("run plain.ini --db c.db --threads 1 --set experiment.epochs=1 "
                            "--sweep experiment.seed=3,4 --sweep=layer.c1.filters=4,8"), 0);
    sqlite3 *s = fixture_open_db("c.db");
    char rows[1024];
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'finished'"), 4);
    /* the --set value recorded with the swept ones */
    q_rows(s, "select r.id || ':' || r.seed || ':' || r.params || ':' || "
              "group_concat(p.key || '=' || p.value, ',') from runs r join (select * from "
              "run_params order by run_id, key) p on p.run_id = r.id group by r.id order by r.id",
           rows, sizeof rows);
    ck_assert_str_eq(rows,
                     "1:3:166:experiment.epochs=1,experiment.seed=3,layer.c1.filters=4|"
                     "2:3:322:experiment.epochs=1,experiment.seed=3,layer.c1.filters=8|"
                     "3:4:166:experiment.epochs=1,experiment.seed=4,layer.c1.filters=4|"
                     "4:4:322:experiment.epochs=1,experiment.seed=4,layer.c1.filters=8");
    /* the values that are not the seed make the groups: 2 of 2 */
    q_rows(s, "select n || ' ' || params from run_groups", rows, sizeof rows);
    ck_assert_str_eq(rows, "2 experiment.epochs=1, layer.c1.filters=4|"
                           "2 experiment.epochs=1, layer.c1.filters=8");
    sqlite3_close(s);

    /* over the file's sweep: the --sweep's values replace its line */
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("run sw.ini --db d.db --threads 1 --set experiment.epochs=1 "
                            "--sweep schedule.lr_max=0.3"), 0);
    s = fixture_open_db("d.db");
    q_rows(s, "select value from run_params where key = 'schedule.lr_max' order by run_id", rows,
           sizeof rows);
    ck_assert_str_eq(rows, "0.3|0.3");
    q_rows(s, "select seed from runs order by id", rows, sizeof rows);
    ck_assert_str_eq(rows, "1|2");
    sqlite3_close(s);
}
END_TEST

/* ---- (6) random search: samples = N, uniform / loguniform / choice ------------ */

/* 4 points drawn: lr_max a float, filters an integer key, augment (a list
 * key) a choice; lines 16-19. */
#define RANDOM_4                                                                                \
    "samples = 4\nschedule.lr_max = loguniform(0.02, 0.5)\n"                                   \
    "layer.c1.filters = loguniform(4, 32)\ndata.augment = choice(crop:2, flip | none)\n"

/* The run list of `cnnrun check`'s output (from "; sweep:" on), into buf. */
static void check_list(char *buf, size_t n)
{
    const char *from = strstr(out, "; sweep:");
    ck_assert_msg(from != NULL, "%s", out);
    snprintf(buf, n, "%s", from);
}

/* text with its first `from` replaced by `to`, for a variant of a file. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_ptr_nonnull(at);
    char *r = malloc(strlen(text) + strlen(to) + 1);
    ck_assert_ptr_nonnull(r);
    sprintf(r, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return r;
}

START_TEST(test_sweep_random_check)
{
    char a[4096], b[4096];
    write_file("sw.ini", SWEEP_INI(RANDOM_4));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    check_list(a, sizeof a);
    ck_assert_msg(strstr(a, "; sweep: 4 runs") &&
                      strstr(a, "; 4 points drawn at random, seed 9 ([experiment] seed)\n"), "%s",
                  a);
    /* each point in its ranges; the integer key an integer; 4 different points */
    const char *p = strstr(a, "\n    1  ");
    for (int i = 1; i <= 4; i++) {
        char want[16];
        snprintf(want, sizeof want, "\n    %d  ", i);
        p = strstr(p, want);
        ck_assert_msg(p != NULL, "point %d in %s", i, a);
        char lr[32], filters[32], aug[32];
        ck_assert_msg(sscanf(p + strlen(want), "schedule.lr_max=%31[^,], layer.c1.filters=%31[^,], "
                                               "data.augment=%31[^\n]", lr, filters, aug) == 3,
                      "%s", p);
        double x = atof(lr);
        ck_assert_msg(x >= 0.02 && x <= 0.5, "lr_max %s", lr);
        ck_assert_msg(strspn(filters, "0123456789") == strlen(filters) && atoi(filters) >= 4 &&
                          atoi(filters) <= 32, "filters %s", filters);
        ck_assert_msg(!strcmp(aug, "\"crop:2, flip\"") || !strcmp(aug, "none"), "augment %s", aug);
        p++;
    }
    /* the same file: the same points */
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    check_list(b, sizeof b);
    ck_assert_str_eq(a, b);
    /* --set experiment.seed changes the runs' seed, not the points */
    ck_assert_int_eq(cnnrun("check sw.ini --set experiment.seed=3"), 0);
    check_list(b, sizeof b);
    ck_assert_str_eq(a, b);
    /* another [experiment] seed in the file, or a [sweep] seed: other points */
    char *other = replaced(SWEEP_INI(RANDOM_4), "seed = 9", "seed = 8");
    write_file("sw.ini", other);
    free(other);
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    check_list(b, sizeof b);
    ck_assert_msg(strcmp(a, b) != 0, "%s", b);
    write_file("sw.ini", SWEEP_INI("seed = 5\n" RANDOM_4));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    check_list(b, sizeof b);
    ck_assert_msg(strcmp(a, b) != 0 && strstr(b, "seed 5 ([sweep] seed)"), "%s", b);
    char c[4096];
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    check_list(c, sizeof c);
    ck_assert_str_eq(b, c);
    /* crossed with a list: the drawn points are an axis at the first random
     * key's place (first key outermost), each with both seeds */
    write_file("sw.ini", SWEEP_INI("samples = 2\nschedule.lr_max = uniform(0.05, 0.2)\n"
                                   "experiment.seed = 1, 2\n"));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    char lr1[32], lr2[32], lr3[32], lr4[32];
    p = strstr(out, "    1  ");
    ck_assert_msg(p && sscanf(p, "    1  schedule.lr_max=%31[^,], experiment.seed=1\n"
                                 "    2  schedule.lr_max=%31[^,], experiment.seed=2\n"
                                 "    3  schedule.lr_max=%31[^,], experiment.seed=1\n"
                                 "    4  schedule.lr_max=%31[^,], experiment.seed=2\n",
                              lr1, lr2, lr3, lr4) == 4, "%s", out);
    ck_assert_str_eq(lr1, lr2);
    ck_assert_str_eq(lr3, lr4);
    ck_assert_str_ne(lr1, lr3);
    /* a choice over as many values as samples: each value once */
    write_file("sw.ini", SWEEP_INI("samples = 3\nlayer.c1.filters = choice(4, 8, 12)\n"));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    ck_assert_msg(strstr(out, "filters=4\n") && strstr(out, "filters=8\n") &&
                      strstr(out, "filters=12\n"), "%s", out);
    /* lr-find does not apply it: says so with a drawn value */
    write_file("sw.ini", SWEEP_INI(RANDOM_4));
    ck_assert_int_eq(cnnrun("bench sw.ini --steps 1 --threads 1"), 0);
    ck_assert_msg(strstr(out, "sw.ini:17: note: bench does not apply the [sweep] section (4 grid "
                              "points)"), "%s", out);
}
END_TEST

START_TEST(test_sweep_random_errors)
{
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = uniform(0.5, 0.1)\n"), "",
            "sw.ini:17: uniform(a, b) needs a < b, got a = 0.5, b = 0.1", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = uniform(0.1, 0.1)\n"), "",
            "sw.ini:17: uniform(a, b) needs a < b", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(0, 0.1)\n"), "",
            "sw.ini:17: loguniform(a, b) needs 0 < a", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(-1, 0.1)\n"), "",
            "sw.ini:17: loguniform(a, b) needs 0 < a", NULL);
    refused(SWEEP_INI("samples = 3\nlayer.c1.filters = uniform(4, 8.5)\n"), "",
            "sw.ini:17: layer.c1.filters takes integers: the bounds of uniform(a, b) must be "
            "integers, got '8.5'", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = logunifrom(0.01, 0.1)\n"), "",
            "sw.ini:17: unknown function 'logunifrom' in the sweep of schedule.lr_max; did you "
            "mean 'loguniform'?", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = uniform(0.01)\n"), "",
            "sw.ini:17: uniform(a, b) takes two bounds, got 'uniform(0.01)'", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(0.01, 0.1, 1)\n"), "",
            "sw.ini:17: loguniform(a, b) takes two bounds", NULL);
    /* issue 34: text after a distribution is its error, not a list's second value */
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(0.01, 1) junk\n"), "",
            "sw.ini:17: unexpected text 'junk' after loguniform(0.01, 1) in the sweep of "
            "schedule.lr_max", NULL);
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(0.01, 1\n"), "",
            "sw.ini:17: loguniform(...) of schedule.lr_max has no closing ')'", NULL);
    /* issue 34: a drawn value a float holds only as 0 is named as that, not as "must be
     * > 0, got 1.24e-48" */
    refused(SWEEP_INI("samples = 2\nschedule.lr_max = loguniform(1e-50, 1e-46)\n"), "",
            "sw.ini:17: 'lr_max' is too small for a 32-bit float: ", NULL);
    ck_assert_ptr_null(strstr(out, "must be > 0"));
    refused(SWEEP_INI("samples = 2\nlayer.c1.filters = choice(4)\n"), "",
            "sw.ini:17: choice(v1, v2, ...) of layer.c1.filters needs two values or more, got 1",
            NULL);
    refused(SWEEP_INI("samples = 2\nlayer.c1.filters = choice(4, 8, 4)\n"), "",
            "sw.ini:17: the sweep of layer.c1.filters has the value '4' twice", NULL);
    refused(SWEEP_INI("samples = 2\nlayer.c1.filters = choice(4, x)\n"), "",
            "sw.ini:17: expected an integer for layer.c1.filters, got 'x' in choice(...)", NULL);
    refused(SWEEP_INI("samples = 2\ndata.augment = uniform(1, 2)\n"), "",
            "sw.ini:17: data.augment is not a number: draw its values with choice", NULL);
    /* samples and the random keys go together */
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = 0.1, 0.2\n"), "",
            "sw.ini:16: samples = 3, but no key of the sweep is drawn at random", NULL);
    refused(SWEEP_INI("schedule.lr_max = uniform(0.01, 0.1)\n"), "",
            "sw.ini:16: schedule.lr_max = uniform(0.01, 0.1) is drawn at random: say how many "
            "points to draw with 'samples = N' in [sweep]", NULL);
    refused(SWEEP_INI("seed = 5\nschedule.lr_max = 0.05, 0.1\n"), "",
            "sw.ini:16: the sweep's 'seed' seeds its random draws, but it has no 'samples'", NULL);
    refused(SWEEP_INI("samples = 0\nschedule.lr_max = uniform(0.01, 0.1)\n"), "",
            "sw.ini:16: 'samples' must be 1..10000, got 0", NULL);
    refused(SWEEP_INI("samples = 10001\nschedule.lr_max = uniform(0.01, 0.1)\n"), "",
            "sw.ini:16: 'samples' must be 1..10000, got 10001", NULL);
    refused(SWEEP_INI("samples = 2.5\nschedule.lr_max = uniform(0.01, 0.1)\n"), "",
            "sw.ini:16: expected a whole number of points for 'samples', got '2.5'", NULL);
    refused(SWEEP_INI("samples = 5\nlayer.c1.filters = choice(4, 8)\n"), "",
            "sw.ini:16: samples = 5, but the random keys have only 2 different points", NULL);
    /* decimal numbers only */
    refused(SWEEP_INI("samples = 2\nschedule.lr_max = uniform(0x1, 2)\n"), "",
            "sw.ini:17: expected a number for a bound of uniform(a, b) for schedule.lr_max, got "
            "'0x1' (only decimal numbers are accepted)", NULL);
    refused(SWEEP_INI("samples = 0x10\nschedule.lr_max = uniform(0.01, 0.1)\n"), "",
            "(only decimal numbers are accepted)", NULL);
    refused(SWEEP_INI("samples = 2\nschedule.lr_max = uniform(0.01, inf)\n"), "",
            "sw.ini:17: the bounds of uniform(a, b) for schedule.lr_max must be finite, got 'inf'",
            NULL);
    /* a drawn value out of its key's range: the point is refused as a grid's */
    refused(SWEEP_INI("samples = 2\nlayer.drop.probability = uniform(1, 3)\n"), "",
            "sw.ini:17: 'probability' must be", "sw.ini:16: (drawn point 1 of 2: grid point 1 "
            "of 2: layer.drop.probability=");
    /* a value of a choice that this draw did not take is checked all the same (the one
     * point drawn, 4 filters, is a good one) */
    refused(SWEEP_INI("samples = 1\nlayer.c1.filters = choice(4, 0, 8)\n"), "",
            "sw.ini:17: 'filters' must be", "sw.ini:17: (the value '0' of layer.c1.filters's "
            "choice, not drawn with samples = 1)");
    /* --sweep takes random values too; --set of a random key is refused */
    refused(SWEEP_INI(RANDOM_4), "--sweep 'schedule.lr_max=uniform(2, 1)'",
            "--sweep schedule.lr_max: uniform(a, b) needs a < b", NULL);
    refused(SWEEP_INI(RANDOM_4), "--set schedule.lr_max=0.1",
            "--set schedule.lr_max: the key is swept (sw.ini:17)", NULL);
    write_file("sw.ini", SWEEP_INI(RANDOM_4));
    ck_assert_int_eq(cnnrun("check sw.ini --sweep 'schedule.lr_max=uniform(0.1, 0.2)'"), 0);
    ck_assert_int_eq(cnnrun("check sw.ini --sweep 'schedule.lr_max=0.1,0.2'"), 0);
    ck_assert_msg(strstr(out, "; sweep: 8 runs"), "%s", out);
}
END_TEST

/* `cnnrun run sw.ini --db DB` stopped by SIGINT inside its second point
 * (after that point's first epoch); exits 1. */
static void run_stopped_in_point_2(const char *db)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        unsetenv("CNNRUN_DATA");
        FILE *log = freopen("log", "a", stderr);
        (void)log;
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "sw.ini", "--db", db, "--threads", "1",
              (char *)NULL);
        _exit(127);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, db);
    int reached = 0;
    for (int i = 0; i < 60000 && !reached; i++) {
        struct stat sb;
        reached = stat(p, &sb) == 0 &&
                  fixture_poll_int(db, "select count(*) from epochs where run_id = 2") >= 1;
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the sweep ended before point 2");
        if (!reached) usleep(1000);
    }
    ck_assert(reached);
    usleep(50000);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
}

/* --resume of a sweep whose file changed since it ran: refused before
 * anything trains, naming what changed against the nearest recorded run
 * (as a single run's resume does), once, not a refusal per point; restored,
 * it resumes. A sweep never run is refused with what to do. */
START_TEST(test_sweep_resume_changed_file)
{
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    char p[256];
    snprintf(p, sizeof p, "%s/i", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    run_stopped_in_point_2("i/r.db");
    char *changed = replaced(SWEEP_INI(GRID_2x2), "test_subset = 300", "test_subset = 200");
    write_file("sw.ini", changed);
    const char *const how[] = {"", " --jobs 2"};
    for (int k = 0; k < 2; k++) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "run sw.ini --db i/r.db --threads 1 --resume%s", how[k]);
        ck_assert_int_eq(cnnrun(cmd), 2);
        ck_assert_msg(strstr(out, "sw.ini: no run in i/r.db has the resolved configuration of a "
                                  "grid point of this sweep: the nearest recorded one, run ") &&
                          strstr(out, "[data] test_subset: now '200', then '300'; resuming "
                                      "would not continue the sweep's runs") &&
                          !strstr(out, "more difference") && !strstr(out, "grid point 1 of 4:") &&
                          !strstr(out, "no run of the sweep's grid point"),
                      "%s: %s", how[k], out);
    }
    /* two changes: the first named, the others counted */
    char *two = replaced(changed, "epochs = 3", "epochs = 4");
    write_file("sw.ini", two);
    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "[experiment] epochs: now '4', then '3' and 1 more difference;"),
                  "%s", out);
    free(two);
    free(changed);
    /* nothing was written */
    sqlite3 *s = fixture_open_db("i/r.db");
    char rows[256];
    q_rows(s, "select id || ':' || status from runs order by id", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:finished|2:interrupted");
    sqlite3_close(s);
    /* never run: nothing to resume */
    ck_assert_int_eq(cnnrun("run sw.ini --db n/r.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "sw.ini: no run of experiment 'sw' in n/r.db to resume; run it "
                              "without --resume"), "%s", out);
    /* restored: resumed */
    write_file("sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --threads 1 --resume"), 0);
    ck_assert_int_eq(db_query_int("i/r.db", "select count(*) from runs where status = "
                                            "'finished'"), 4);
}
END_TEST

/* One file given twice to `run` (by one path, by two, or by a directory and
 * a path in it) would train its runs twice: refused, naming it, before
 * anything is written. */
START_TEST(test_sweep_same_file_twice)
{
    char p[256];
    snprintf(p, sizeof p, "%s/d", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    write_file("d/sw.ini", SWEEP_INI(GRID_2x2));
    ck_assert_int_eq(cnnrun("run d/sw.ini d/sw.ini --db e/r.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "cnnrun run: d/sw.ini is given twice; its runs would train "
                              "twice: give it once"), "%s", out);
    ck_assert_int_eq(cnnrun("run d/sw.ini ./d/sw.ini --db e/r.db --threads 1 --jobs 2"), 2);
    ck_assert_msg(strstr(out, "cnnrun run: d/sw.ini and ./d/sw.ini are the same file"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("run d d/sw.ini --db e/r.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "cnnrun run: d/sw.ini is given twice"), "%s", out);
    ck_assert_msg(!exists("e"), "a database was made for a file given twice");
}
END_TEST

/* A random search's points differ as the values the runs load, as a grid's
 * values do: lr_max is a 32-bit float, and two draws written differently
 * (0.100000012, 0.100000014) that load as one float are one point. */
START_TEST(test_sweep_random_loaded_values)
{
    /* [0.1, 0.1000000001] holds one float: 3 different points cannot be drawn */
    refused(SWEEP_INI("samples = 3\nschedule.lr_max = uniform(0.1, 0.1000000001)\n"), "",
            "sw.ini:16: samples = 3, but the random keys have only 1 different point", NULL);
    /* [0.1, 0.1000002] holds 27 floats: 20 points, 20 different floats */
    write_file("sw.ini", SWEEP_INI("samples = 20\nschedule.lr_max = uniform(0.1, 0.1000002)\n"));
    ck_assert_int_eq(cnnrun("check sw.ini"), 0);
    char list[8192];
    check_list(list, sizeof list);
    float v[20];
    int n = 0;
    for (const char *p = strstr(list, "lr_max="); p && n < 20; p = strstr(p + 1, "lr_max="))
        v[n++] = (float)strtod(p + strlen("lr_max="), NULL);
    ck_assert_msg(n == 20, "%d points in %s", n, list);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            ck_assert_msg(v[i] != v[j], "points %d and %d load as one float (%.9g):\n%s", j + 1,
                          i + 1, (double)v[i], list);
}
END_TEST

/* A random sweep: run twice, the same points in run_params; stopped in its
 * second point and resumed, the points are drawn again identically and
 * exactly the remaining ones train, on the uninterrupted numbers. */
START_TEST(test_sweep_random_resume)
{
    /* 2 epochs: the file's, so that --resume finds the same configuration */
    char *text = replaced(SWEEP_INI("samples = 3\nschedule.lr_max = loguniform(0.02, 0.5)\n"
                                    "layer.c1.filters = uniform(4, 12)\n"),
                          "epochs = 3", "epochs = 2");
    write_file("sw.ini", text);
    free(text);
    char p[256];
    snprintf(p, sizeof p, "%s/i", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(cnnrun("run sw.ini --db ref.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "3 of 3 runs succeeded"), "%s", out);
    char rows[1024];
    sqlite3 *s = fixture_open_db("ref.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from run_params where key in ('schedule.lr_max', "
                              "'layer.c1.filters')"), 6);
    ck_assert_int_eq(fixture_q_int(s, "select count(distinct value) from run_params where key = "
                              "'schedule.lr_max'"), 3);
    /* the recorded text is the value the run used: its configuration says so */
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs r join run_params p on p.run_id = r.id "
                              "and p.key = 'layer.c1.filters' where r.config like '%filters = ' "
                              "|| p.value || '%'"), 3);
    sqlite3_close(s);

    /* the same file again into another database: the same points */
    ck_assert_int_eq(cnnrun("run sw.ini --db two.db --threads 1 --set experiment.epochs=1"), 0);
    s = fixture_open_db("two.db");
    snprintf(rows, sizeof rows, "attach '%s/ref.db' as ref", dir);
    ck_assert_int_eq(sqlite3_exec(s, rows, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from run_params a join ref.run_params b using "
                              "(run_id, key, value) where key <> 'experiment.epochs'"), 6);
    sqlite3_close(s);

    /* stopped in point 2, resumed: the remaining points only */
    run_stopped_in_point_2("i/r.db");
    s = fixture_open_db("i/r.db");
    q_rows(s, "select id || ':' || status from runs order by id", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:finished|2:interrupted");
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("run sw.ini --db i/r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 1, finished); not run again") &&
                      strstr(out, "resuming run 2 at epoch") &&
                      strstr(out, "grid point 3 of 3: schedule.lr_max="), "%s", out);
    s = fixture_open_db("i/r.db");
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs"), 3);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from runs where status = 'finished'"), 3);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs"), 6);
    snprintf(rows, sizeof rows, "attach '%s/ref.db' as ref", dir);
    ck_assert_int_eq(sqlite3_exec(s, rows, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from run_params a join ref.run_params b using "
                              "(run_id, key, value)"), 6);
    ck_assert_int_eq(fixture_q_int(s, "select count(*) from epochs a join ref.epochs b using (run_id, "
                              "epoch) where a.train_loss = b.train_loss and a.test_acc = "
                              "b.test_acc and a.lr = b.lr"), 6);
    sqlite3_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_sweep_check);
    tcase_add_test(tc, test_sweep_not_applied_note);
    tcase_add_test(tc, test_sweep_errors);
    tcase_add_test(tc, test_sweep_command_line);
    tcase_add_test(tc, test_sweep_groups);
    tcase_add_test(tc, test_sweep_interrupt_resume);
    tcase_add_test(tc, test_sweep_random_check);
    tcase_add_test(tc, test_sweep_random_errors);
    tcase_add_test(tc, test_sweep_random_resume);
    tcase_add_test(tc, test_sweep_random_loaded_values);
    tcase_add_test(tc, test_sweep_resume_changed_file);
    tcase_add_test(tc, test_sweep_same_file_twice);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    return check_run(s);
}
