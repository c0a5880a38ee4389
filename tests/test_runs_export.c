/* test_runs_export.c — results out (issue 24, item 4) through the cnnrun
 * command, on a 2-point sweep of schedule.lr (runs 1 and 2) and one run of
 * the same file without the sweep (run 3, lr 0.05: run 1's configuration):
 * `runs --csv` read back by an RFC 4180 parser (a line per run, the
 * documented first columns, the swept key as a column, an experiment name
 * with a comma and an error with a comma, quotes and a line break coming back
 * as stored), `--epochs` (a line per run and epoch; a run without epochs one
 * line), `runs --json` (the fields as stored, an infinity null, a control
 * character and a byte that is not UTF-8 escaped; valid JSON to python3's
 * json module: the optional case "python3", meson test
 * test_runs_export_python3, skipped without it), `--diff` (only the swept
 * key; identical configurations said so; an unknown id exit 2) and the
 * options that do not go together (exit 2); a version-1 database read as it is. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/results/schema.sql.h"
#include "check_run.h"
#include "cli_fixture.h"

/* 100 images, 2 epochs, a 162-parameter network: a few hundredths of a second a run */
#define TINY_HEAD                                                                               \
    "[experiment]\nname = sw\nseed = 9\nepochs = 2\n"                                          \
    "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 50\n"                          \
    "[schedule]\ntype = constant\nlr = 0.05\n"
#define TINY_LAYERS                                                                             \
    "[layer.c1]\ntype = conv\nfilters = 4\nstride = 2\n"                                       \
    "[layer.pool]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

#define ERROR_TEXT "boom, \"quoted\"\nline 2"

static void db_exec(const char *sql)
{
    char p[256];
    snprintf(p, sizeof p, "%s/r.db", dir);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(p, &s, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *err = NULL;
    ck_assert_msg(sqlite3_exec(s, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
    sqlite3_close(s);
}

/* runs 1, 2: the sweep (lr 0.05, 0.2); run 3: lr 0.05 without the sweep */
static void make_db(void)
{
    write_file("sw.ini", TINY_HEAD "[sweep]\nschedule.lr = 0.05, 0.2\n" TINY_LAYERS);
    write_file("one.ini", TINY_HEAD TINY_LAYERS);
    ck_assert_msg(cnnrun("run sw.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_msg(cnnrun("run one.ini --db r.db --threads 1") == 0, "%s", out);
}

/* ---- an RFC 4180 reader: fields of at most 255 bytes ---- */

#define MAX_ROWS 16
#define MAX_COLS 64
typedef struct {
    char f[MAX_COLS][256];
    int n;
} Row;

/* Parses text into rows; returns their number. Every line must end in '\n'. */
static int parse_csv(const char *s, Row *rows)
{
    int n = 0;
    while (*s) {
        ck_assert_int_lt(n, MAX_ROWS);
        Row *r = &rows[n++];
        r->n = 0;
        for (;;) {
            ck_assert_int_lt(r->n, MAX_COLS);
            char *f = r->f[r->n++];
            size_t len = 0;
            if (*s == '"') {
                for (s++; !(*s == '"' && s[1] != '"'); s++) {
                    ck_assert_msg(*s, "a quoted field is not closed");
                    if (*s == '"') s++; /* "" */
                    f[len++] = *s;
                }
                s++;
            } else {
                while (*s && *s != ',' && *s != '\n') {
                    ck_assert_msg(*s != '"', "a quote in an unquoted field");
                    f[len++] = *s++;
                }
            }
            f[len] = '\0';
            if (*s == ',') {
                s++;
                continue;
            }
            ck_assert_msg(*s == '\n', "a line does not end in \\n");
            s++;
            break;
        }
    }
    return n;
}

static int col(const Row *header, const char *name)
{
    for (int j = 0; j < header->n; j++)
        if (!strcmp(header->f[j], name)) return j;
    ck_abort_msg("no column %s", name);
    return -1;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

/* Whether python3 reads dir/out.log (the last command's output) as JSON. */
static int json_valid(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' "
                              "< %s/out.log", dir);
    return system(cmd) == 0;
}

START_TEST(test_csv)
{
    make_db();
    db_exec("update runs set error = '" ERROR_TEXT "' where id = 2;"
            "update runs set experiment = 'a,b' where id = 1");
    ck_assert_msg(cnnrun("runs --db r.db --csv") == 0, "%s", out);
    static Row rows[MAX_ROWS];
    ck_assert_int_eq(parse_csv(out, rows), 4); /* the header, a line per run */
    const Row *h = &rows[0];
    /* the documented order of the first columns; the swept key last */
    ck_assert_msg(!strncmp(out, "id,experiment,status,stop_reason,epochs_done,epochs_planned,"
                                "best_epoch,best_test_acc,", 80), "%s", out);
    ck_assert_str_eq(h->f[h->n - 1], "schedule.lr");
    for (int i = 1; i < 4; i++) ck_assert_int_eq(rows[i].n, h->n);
    int id = col(h, "id"), exp = col(h, "experiment"), err = col(h, "error"),
        lr = col(h, "schedule.lr"), done = col(h, "epochs_done"), st = col(h, "status");
    ck_assert_str_eq(rows[1].f[id], "1");
    ck_assert_str_eq(rows[3].f[id], "3");
    ck_assert_str_eq(rows[1].f[exp], "a,b");
    ck_assert_str_eq(rows[2].f[exp], "sw");
    ck_assert_str_eq(rows[2].f[err], ERROR_TEXT);
    ck_assert_str_eq(rows[1].f[err], ""); /* NULL */
    ck_assert_str_eq(rows[1].f[lr], "0.05");
    ck_assert_str_eq(rows[2].f[lr], "0.2");
    ck_assert_str_eq(rows[3].f[lr], ""); /* run 3 was given no value */
    ck_assert_str_eq(rows[3].f[done], "2");
    ck_assert_str_eq(rows[3].f[st], "finished");

    /* --runs chooses the runs, as for the table */
    ck_assert_msg(cnnrun("runs --db r.db --csv --runs 2") == 0, "%s", out);
    ck_assert_int_eq(parse_csv(out, rows), 2);
    ck_assert_str_eq(rows[1].f[id], "2");
}
END_TEST

START_TEST(test_csv_epochs)
{
    make_db();
    /* a run that failed before its first epoch */
    db_exec("insert into runs (id, experiment, status, started_at) "
            "values (4, 'early', 'failed', '2026-12-04T00:00:00Z')");
    ck_assert_msg(cnnrun("runs --db r.db --csv --epochs") == 0, "%s", out);
    static Row rows[MAX_ROWS];
    ck_assert_int_eq(parse_csv(out, rows), 1 + 3 * 2 + 1);
    const Row *h = &rows[0];
    int id = col(h, "id"), ep = col(h, "epoch"), acc = col(h, "epoch_test_acc");
    ck_assert_int_eq(ep, h->n - 10); /* the epoch columns after the run's */
    const char *ids[] = {"1", "1", "2", "2", "3", "3", "4"};
    const char *eps[] = {"1", "2", "1", "2", "1", "2", ""};
    for (int i = 1; i <= 7; i++) {
        ck_assert_int_eq(rows[i].n, h->n);
        ck_assert_str_eq(rows[i].f[id], ids[i - 1]);
        ck_assert_str_eq(rows[i].f[ep], eps[i - 1]);
        ck_assert_int_eq(rows[i].f[acc][0] != '\0', i < 7);
    }
}
END_TEST

/* make_db, with run 2's error holding a control character and a byte that
 * is not UTF-8, and run 1's train_seconds infinite */
static void make_odd_db(void)
{
    make_db();
    db_exec("update runs set error = '" ERROR_TEXT "' || char(1) || cast(x'ff' as text) "
            "where id = 2; update runs set train_seconds = 9e999 where id = 1");
}

START_TEST(test_json)
{
    make_odd_db();
    ck_assert_msg(cnnrun("runs --db r.db --json") == 0, "%s", out);
    ck_assert_int_eq(count(out, "{\"id\": "), 3);
    ck_assert_msg(strstr(out, "{\"id\": 1, \"experiment\": \"sw\", \"status\": \"finished\", "
                              "\"stop_reason\": null, \"epochs_done\": 2,"), "%s", out);
    ck_assert_msg(strstr(out, "\"train_seconds\": null"), "%s", out); /* the infinity */
    ck_assert_msg(strstr(out, "\"error\": \"boom, \\\"quoted\\\"\\nline 2\\u0001\\ufffd\""),
                  "%s", out);
    ck_assert_msg(strstr(out, "\"schedule.lr\": 0.05}") && strstr(out, "\"schedule.lr\": 0.2}") &&
                      strstr(out, "\"schedule.lr\": null}"), "%s", out);

    ck_assert_msg(cnnrun("runs --db r.db --json --epochs --runs 1,3") == 0, "%s", out);
    ck_assert_int_eq(count(out, "\"epochs\": [{\"epoch\": 1, \"lr\": "), 2);
    ck_assert_int_eq(count(out, "{\"epoch\": "), 4);
}
END_TEST

START_TEST(test_diff)
{
    make_db();
    ck_assert_msg(cnnrun("runs --db r.db --diff 1 2") == 0, "%s", out);
    ck_assert_str_eq(out, "key          run 1  run 2\n"
                          "schedule.lr  0.05   0.2\n");
    ck_assert_msg(cnnrun("runs --db r.db --diff 3 2 1") == 0, "%s", out);
    ck_assert_str_eq(out, "key          run 3  run 2  run 1\n"
                          "schedule.lr  0.05   0.2    0.05\n");
    /* run 3 is run 1's file without the sweep: the same configuration */
    ck_assert_msg(cnnrun("runs --db r.db --diff=1,3") == 0, "%s", out);
    ck_assert_str_eq(out, "runs 1,3: the same configuration (no key differs)\n");
    ck_assert_int_eq(cnnrun("runs --db r.db --diff 1 9"), 2);
    ck_assert_msg(strstr(out, "r.db: there is no run 9"), "%s", out);
}
END_TEST

START_TEST(test_usage)
{
    make_db();
    struct {
        const char *args, *says;
    } bad[] = {
        {"--csv --json", "--csv and --json are two formats"},
        {"--epochs", "--epochs adds each run's epochs to --csv or --json"},
        {"--diff 1", "--diff compares two or more runs"},
        {"--diff", "--diff compares two or more runs"},
        {"--diff 1 1", "--diff names run 1 twice"},
        {"--diff 1 x", "--diff expects run ids"},
        {"--diff 1 2 --csv", "--diff ID ID ... compares the configurations"},
        {"--diff 1 2 --runs 1", "does not go with --csv, --json, --epochs or --runs"},
        {"--groups --json", "--groups prints the table of groups"},
        {"--csv=1", "--csv takes no value"},
        {"--csv --runs 7", "there is no run 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[128];
        snprintf(args, sizeof args, "runs --db r.db %s", bad[i].args);
        ck_assert_msg(cnnrun(args) == 2, "%s: %s", args, out);
        ck_assert_msg(strstr(out, bad[i].says), "%s: %s", args, out);
    }
    ck_assert_int_eq(cnnrun("runs --help"), 0);
    ck_assert_msg(strstr(out, "\n  --csv ") && strstr(out, "\n  --json ") &&
                      strstr(out, "\n  --epochs ") && strstr(out, "\n  --diff ID ID ..."),
                  "%.1000s", out);
}
END_TEST

/* A version-1 file as cnnrun 0.1.0 wrote it (no run_params, layers, val_acc,
 * ranks, blas_core), as r.db: runs 1 and 2, run 1 with 2 epochs. */
static void make_version_1_db(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/r.db", dir);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = 1; PRAGMA application_id = %d;",
             RESULTS_APPLICATION_ID);
    ck_assert_int_eq(sqlite3_exec(s, RESULTS_SCHEMA_SQL, NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, pragmas, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
    db_exec("INSERT INTO runs (id, experiment, status, started_at, epochs_planned, params, config) "
            "VALUES (1, 'old', 'finished', '2025-01-01T00:00:00Z', 2, 100, '[a]\nx = 1\n'),"
            "(2, 'old', 'finished', '2025-01-02T00:00:00Z', 2, 100, '[a]\nx = 2\n');"
            "INSERT INTO epochs (run_id, epoch, test_acc, seconds, images_per_sec) VALUES "
            "(1, 1, 0.25, 10, 100), (1, 2, 0.5, 10, 300)");
}

/* A version-1 file is read as it is, the later columns empty (ranks 1). */
START_TEST(test_version_1)
{
    make_version_1_db();
    ck_assert_msg(cnnrun("runs --db r.db --csv --epochs") == 0, "%s", out);
    static Row rows[MAX_ROWS];
    ck_assert_int_eq(parse_csv(out, rows), 1 + 2 + 1);
    const Row *h = &rows[0];
    ck_assert_str_eq(h->f[col(h, "data") + 1], "epoch"); /* no run_params columns */
    ck_assert_str_eq(rows[2].f[col(h, "data")], ""); /* runs.data (version 13): none */
    ck_assert_str_eq(rows[2].f[col(h, "epoch_test_acc")], "0.5");
    ck_assert_str_eq(rows[2].f[col(h, "epoch_val_acc")], "");
    ck_assert_str_eq(rows[2].f[col(h, "ranks")], "1");
    ck_assert_str_eq(rows[2].f[col(h, "blas_core")], "");
    ck_assert_str_eq(rows[3].f[col(h, "epoch")], ""); /* run 2: no epochs */
    ck_assert_msg(cnnrun("runs --db r.db --json") == 0, "%s", out);
    ck_assert_msg(strstr(out, "\"epochs_to_target\": null"), "%s", out);
    ck_assert_msg(cnnrun("runs --db r.db --diff 1 2") == 0, "%s", out);
    ck_assert_str_eq(out, "key  run 1  run 2\na.x  1      2\n");
}
END_TEST

/* What `runs --json` writes is JSON to python3's json module: the odd
 * values of test_json, the epochs, a version-1 file. The optional case
 * "python3". */
START_TEST(test_json_reads_back)
{
    make_odd_db();
    static const char *const args[] = {"runs --db r.db --json",
                                       "runs --db r.db --json --epochs --runs 1,3",
                                       "runs --db r.db --json --epochs"};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(cnnrun(args[i]) == 0, "%s: %s", args[i], out);
        ck_assert_msg(json_valid(), "%s: not JSON: %s", args[i], out);
    }
    for (const char *f = "r.db\0r.db-wal\0r.db-shm\0"; *f; f += strlen(f) + 1) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, f);
        unlink(p);
    }
    make_version_1_db();
    ck_assert_msg(cnnrun("runs --db r.db --json --epochs") == 0, "%s", out);
    ck_assert_msg(json_valid(), "version 1: not JSON: %s", out);
}
END_TEST

static const char *python3_missing(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) return "no /usr/bin/python3";
    if (system("/usr/bin/python3 -c 'import json' 2>/dev/null") != 0)
        return "/usr/bin/python3 cannot import json";
    return NULL;
}

static void python3_tests(TCase *tc)
{
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_json_reads_back);
}

int main(int argc, char **argv)
{
    static const CheckOptional python3 = {"python3", python3_missing, python3_tests};
    int optional = check_run_optional(argc, argv, &python3);
    if (optional >= 0) return optional;
    Suite *s = suite_create("runs_export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_csv);
    tcase_add_test(tc, test_csv_epochs);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_diff);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_version_1);
    suite_add_tcase(s, tc);
    return check_run(s);
}
