/* test_merge.c — `cnnrun merge A.db B.db --into ALL.db` (issue 16): every
 * run of both files, renumbered, with its epochs, layers, lr_find and
 * run_params rows pointing at the new numbers; a version-1 file's runs too
 * (ranks 1); a second merge of the same file refused as duplicates, and
 * files of other programs refused, with the destination left as it was;
 * `pragma integrity_check` ok and no foreign key broken. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/results/schema.sql.h"
#include "check_run.h"
#include "cli_fixture.h"

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

    /* the same runs again: refused, nothing written */
    const int before = rows(all);
    ck_assert_int_eq(cnnrun("merge b/r.db --into all/all.db"), 1);
    ck_assert_ptr_nonnull(strstr(out, "already in the destination as run 3"));
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

int main(void)
{
    Suite *s = suite_create("merge");
    TCase *tc = tcase_create("merge");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_merge_two_databases);
    tcase_add_test(tc, test_merge_refuses_other_files);
    suite_add_tcase(s, tc);
    return check_run(s);
}
