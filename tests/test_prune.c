/* test_prune.c — stopping hopeless runs of a sweep early ([sweep] prune,
 * issue 24 item 2): the decisions (prune_decide) on synthetic numbers —
 * median (odd and even counts, too few earlier runs, warmup, ties) and ASHA
 * (rungs only, top 1/eta, at least one kept); the keys' errors at their
 * line, exit 2, no database, and `cnnrun check` showing the rule and the
 * test-set warning and the warning of a decision before the learning
 * rate's peak; a sweep of a tiny net on the sample where the points
 * with lr = 1e-9 are pruned by median and by asha (with --jobs 2 too) while
 * the best survives, each pruned run finished with stop_reason 'pruned' and
 * its epochs kept; `--resume` of the sweep leaves pruned runs as they are;
 * a run killed after its checkpoint but before its decision is pruned at
 * the same epoch when resumed, without training another epoch; a group
 * (run_groups, `runs --groups`) counts a pruned run and leaves it out of
 * its means. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* ---- (1) the decisions ------------------------------------------------------ */

static PruneRule median_rule(int min_runs, int warmup)
{
    return (PruneRule){.kind = PRUNE_MEDIAN, .min_runs = min_runs, .warmup = warmup};
}

static PruneRule asha_rule(int eta, int min_runs)
{
    return (PruneRule){.kind = PRUNE_ASHA, .min_runs = min_runs, .n_rungs = 3,
                       .rungs = {1, 3, 9}, .eta = eta};
}

START_TEST(test_median_decisions)
{
    PruneRule r = median_rule(3, 0);
    const double three[] = {0.5, 0.2, 0.4}; /* median 0.4 */
    ck_assert_int_eq(prune_decide(&r, 1, 0.39, three, 3), PRUNE_STOP);
    ck_assert_int_eq(prune_decide(&r, 1, 0.40, three, 3), PRUNE_GO_ON); /* not below */
    ck_assert_int_eq(prune_decide(&r, 1, 0.9, three, 3), PRUNE_GO_ON);
    const double four[] = {0.1, 0.6, 0.2, 0.5}; /* median (0.2 + 0.5) / 2 = 0.35 */
    ck_assert_int_eq(prune_decide(&r, 2, 0.34, four, 4), PRUNE_STOP);
    ck_assert_int_eq(prune_decide(&r, 2, 0.36, four, 4), PRUNE_GO_ON);
    /* fewer earlier runs than prune_min_runs: go on, however bad */
    ck_assert_int_eq(prune_decide(&r, 1, 0.0, three, 2), PRUNE_GO_ON);
    ck_assert_int_eq(prune_decide(&r, 1, 0.0, NULL, 0), PRUNE_GO_ON);
    PruneRule one = median_rule(1, 0);
    ck_assert_int_eq(prune_decide(&one, 1, 0.0, three, 1), PRUNE_STOP);
    /* warmup: never at or before epoch 2 */
    PruneRule w = median_rule(3, 2);
    ck_assert_int_eq(prune_decides_at(&w, 2), 0);
    ck_assert_int_eq(prune_decides_at(&w, 3), 1);
    ck_assert_int_eq(prune_decide(&w, 2, 0.0, three, 3), PRUNE_GO_ON);
    ck_assert_int_eq(prune_decide(&w, 3, 0.0, three, 3), PRUNE_STOP);
    /* a NaN among the others does not count; a NaN metric stops */
    const double nan3[] = {0.5, NAN, 0.4};
    ck_assert_int_eq(prune_decide(&r, 1, 0.0, nan3, 3), PRUNE_GO_ON); /* 2 numbers < 3 */
    ck_assert_int_eq(prune_decide(&r, 1, NAN, three, 3), PRUNE_STOP);
    PruneRule none = {.kind = PRUNE_NONE, .min_runs = 1};
    ck_assert_int_eq(prune_decides_at(&none, 1), 0);
    ck_assert_int_eq(prune_decide(&none, 1, 0.0, three, 3), PRUNE_GO_ON);
}
END_TEST

START_TEST(test_asha_decisions)
{
    PruneRule r = asha_rule(3, 1);
    ck_assert_int_eq(prune_decides_at(&r, 1), 1);
    ck_assert_int_eq(prune_decides_at(&r, 2), 0); /* not a rung */
    ck_assert_int_eq(prune_decides_at(&r, 9), 1);
    const double five[] = {0.1, 0.2, 0.3, 0.4, 0.5};
    ck_assert_int_eq(prune_decide(&r, 2, 0.0, five, 5), PRUNE_GO_ON);
    /* 6 reached rung 3 with it: the top 6 / 3 = 2 go on */
    ck_assert_int_eq(prune_decide(&r, 3, 0.6, five, 5), PRUNE_GO_ON);  /* first */
    ck_assert_int_eq(prune_decide(&r, 3, 0.45, five, 5), PRUNE_GO_ON); /* second */
    ck_assert_int_eq(prune_decide(&r, 3, 0.35, five, 5), PRUNE_STOP);  /* third */
    ck_assert_int_eq(prune_decide(&r, 3, 0.4, five, 5), PRUNE_GO_ON);  /* ties go on */
    /* fewer than eta reached it: only the best so far goes on */
    const double one[] = {0.5};
    ck_assert_int_eq(prune_decide(&r, 1, 0.4, one, 1), PRUNE_STOP);
    ck_assert_int_eq(prune_decide(&r, 1, 0.6, one, 1), PRUNE_GO_ON);
    /* eta 2 over 4: the top 2 */
    PruneRule h = asha_rule(2, 1);
    const double three[] = {0.1, 0.2, 0.3};
    ck_assert_int_eq(prune_decide(&h, 1, 0.25, three, 3), PRUNE_GO_ON);
    ck_assert_int_eq(prune_decide(&h, 1, 0.15, three, 3), PRUNE_STOP);
    /* prune_min_runs */
    PruneRule m = asha_rule(3, 3);
    ck_assert_int_eq(prune_decide(&m, 1, 0.0, three, 2), PRUNE_GO_ON);
    ck_assert_int_eq(prune_decide(&m, 1, 0.0, three, 3), PRUNE_STOP);
}
END_TEST

/* ---- (2) the keys ----------------------------------------------------------- */

/* Lines 1-10; [sweep] at 11, its lines from 12. */
#define HEAD                                                                                    \
    "[experiment]\nname = pr\nseed = 9\nepochs = 4\n"                                          \
    "[data]\nbatch_size = 50\ntest_subset = 300\n"                                              \
    "[schedule]\ntype = constant\nlr = 0.05\n"                                                  \
    "[sweep]\n"
#define LAYERS                                                                                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define PR_INI(lines) HEAD lines LAYERS
#define LRS "schedule.lr = 0.1, 0.05, 0.02, 1e-9\n"

static void refused(const char *ini, const char *want)
{
    write_file("pr.ini", ini);
    ck_assert_int_eq(cnnrun("run pr.ini --db e/r.db --threads 1"), 2);
    ck_assert_msg(strstr(out, want), "expected \"%s\" in:\n%s", want, out);
    ck_assert_msg(!exists("e"), "a database directory was made for a bad sweep");
    ck_assert_int_eq(cnnrun("check pr.ini"), 2);
    ck_assert_msg(strstr(out, want), "check: expected \"%s\" in:\n%s", want, out);
}

START_TEST(test_prune_keys)
{
    refused(PR_INI(LRS "prune = mean\n"), "pr.ini:13: prune must be median, asha or none");
    refused(PR_INI(LRS "prune = asha\nrungs = 1, 3, 3\n"), "pr.ini:14: rungs must increase");
    refused(PR_INI(LRS "prune = asha\nrungs = 0, 3\n"), "pr.ini:14: rungs are epochs");
    refused(PR_INI(LRS "prune = asha\nrungs = 1, x\n"), "pr.ini:14: rungs are epochs");
    refused(PR_INI(LRS "prune = asha\neta = 1\n"), "pr.ini:14: eta must be a whole number "
                                                   "from 2");
    refused(PR_INI(LRS "eta = 3\n"), "pr.ini:13: eta is a key of pruning; it needs prune = asha");
    refused(PR_INI(LRS "prune_min_runs = 2\n"), "pr.ini:13: prune_min_runs is a key of pruning");
    refused(PR_INI(LRS "prune = median\nrungs = 1, 2\n"),
            "pr.ini:14: rungs is a key of prune = asha");
    refused(PR_INI(LRS "prune = asha\nprune_warmup = 2\n"),
            "pr.ini:14: prune_warmup is a key of prune = median");
    refused(PR_INI(LRS "prune = median\nprune_min_runs = 0\n"),
            "pr.ini:14: prune_min_runs must be a whole number from 1");
    refused(PR_INI(LRS "prune = median\nprune_warmup = -1\n"),
            "pr.ini:14: prune_warmup must be a whole number from 0");

    /* check shows the rule, and warns that the test set judges */
    write_file("pr.ini", PR_INI(LRS "prune = asha\nrungs = 1, 2\neta = 2\n"));
    ck_assert_int_eq(cnnrun("check pr.ini"), 0);
    ck_assert_msg(strstr(out, "; prune: asha (rungs = 1, 2, eta = 2, prune_min_runs = 3), "
                              "judged on the test accuracy") &&
                      strstr(out, "pr.ini:13: warning: prune = asha judges the runs on the test "
                                  "set"), "%s", out);
    write_file("pr.ini", "[experiment]\nname = pr\nseed = 9\nepochs = 4\n"
                         "[data]\nbatch_size = 50\ntest_subset = 300\nvalidation = 500\n"
                         "[schedule]\ntype = constant\nlr = 0.05\n"
                         "[sweep]\n" LRS "prune = median\n" LAYERS);
    ck_assert_int_eq(cnnrun("check pr.ini"), 0);
    ck_assert_msg(strstr(out, "; prune: median (prune_min_runs = 3, prune_warmup = 0), judged on "
                              "the validation accuracy") && !strstr(out, "warning"), "%s", out);

    /* one_cycle over 3 epochs: point 1 (lr_max = lr_start) is flat, point 2
     * peaks at epoch 1.5; deciding after epoch 1 is warned of (the sweep
     * line is 16, prune 17); from epoch 2 it is not */
#define OC_INI(lines)                                                                           \
    "[experiment]\nname = pr\nseed = 9\nepochs = 4\n"                                        \
    "[data]\nbatch_size = 50\ntest_subset = 300\nvalidation = 500\n"                           \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 3\n"       \
    "lr_end = 0.001\n[sweep]\nschedule.lr_max = 0.01, 0.4\n" lines LAYERS
    const struct {
        const char *ini, *kind, *advice; /* kind NULL: no warning */
    } peak[] = {
        {OC_INI("prune = median\n"), "median", "prune_warmup = 1 decides from epoch 2"},
        {OC_INI("prune = median\nprune_warmup = 1\n"), NULL, NULL},
        {OC_INI("prune = asha\nrungs = 1, 2\n"), "asha", "rungs from epoch 2 decide after the "
                                                         "peak"},
        {OC_INI("prune = asha\nrungs = 2, 3\n"), NULL, NULL},
    };
#undef OC_INI
    for (size_t i = 0; i < sizeof peak / sizeof *peak; i++) {
        write_file("pr.ini", peak[i].ini);
        ck_assert_int_eq(cnnrun("check pr.ini"), 0);
        if (!peak[i].kind) {
            ck_assert_msg(!strstr(out, "warning"), "%zu: %s", i, out);
            continue;
        }
        char want[160];
        snprintf(want, sizeof want, "pr.ini:17: warning: prune = %s first decides after epoch 1, "
                                    "but the learning rate of grid point 2 rises until epoch 1.5",
                 peak[i].kind);
        ck_assert_msg(strstr(out, want) && strstr(out, peak[i].advice), "%zu: %s", i, out);
    }
}
END_TEST

/* ---- (3) sweeps on the sample ----------------------------------------------- */

/* "id:epochs:stop_reason|..." of every run */
static void runs_text(const char *db, char *buf, size_t n)
{
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(s, "SELECT r.id, (SELECT count(*) FROM epochs e WHERE "
                                           "e.run_id = r.id), coalesce(r.stop_reason, '-'), "
                                           "r.status FROM runs r ORDER BY r.id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t used = 0;
    buf[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW && used < n)
        used += (size_t)snprintf(buf + used, n - used, "%s%d:%d:%s:%s", used ? "|" : "",
                                 sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                                 (const char *)sqlite3_column_text(st, 2),
                                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* The run with the best accuracy was not pruned and ran every epoch. */
static void best_survives(const char *db, int epochs)
{
    sqlite3 *s = fixture_open_db(db);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT (SELECT count(*) FROM epochs e WHERE e.run_id = "
                              "s.run_id) = %d AND s.stop_reason IS NULL FROM run_summary s "
                              "ORDER BY s.best_test_acc DESC LIMIT 1", epochs);
    ck_assert_int_eq(fixture_q_int(s, sql), 1);
    sqlite3_close(s);
}

/* median, warmup 1: decisions at epochs 2 and 3 (4 is the last); points 1-3
 * have fewer than 3 earlier runs, point 4 (lr 1e-9, chance accuracy) is
 * below the median of 3 at epoch 2. */
START_TEST(test_median_sweep)
{
    write_file("pr.ini", PR_INI(LRS "prune = median\nprune_warmup = 1\n"));
    ck_assert_int_eq(cnnrun("run pr.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "pr.ini:13: warning: prune = median judges the runs on the test "
                              "set") &&
                      strstr(out, "run 4 pruned after epoch 2: test accuracy") &&
                      strstr(out, "stopped after epoch 2 of 4: pruned"), "%s", out);
    char rows[512];
    runs_text("r.db", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:4:-:finished|2:4:-:finished|3:4:-:finished|4:2:pruned:finished");
    best_survives("r.db", 4);
    ck_assert_int_eq(cnnrun("runs --db r.db --runs all"), 0);
    ck_assert_msg(strstr(out, "2/4") && strstr(out, "pruned"), "%s", out);

    /* --resume of the sweep: every point ran; the pruned one stays pruned */
    ck_assert_int_eq(cnnrun("run pr.ini --db r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "already run (run 4, finished); not run again"), "%s", out);
    runs_text("r.db", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:4:-:finished|2:4:-:finished|3:4:-:finished|4:2:pruned:finished");

    /* killed after epoch 2's checkpoint, before its decision: resumed, it is
     * pruned at epoch 2 again and trains no epoch more */
    sqlite3 *s;
    char p[256];
    snprintf(p, sizeof p, "%s/r.db", dir);
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "UPDATE runs SET status = 'interrupted', stop_reason = "
                                     "NULL, finished_at = NULL WHERE id = 4", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("run pr.ini --db r.db --threads 1 --resume"), 0);
    ck_assert_msg(strstr(out, "resuming run 4 at epoch 3 of 4") &&
                      strstr(out, "run 4 pruned after epoch 2") && !strstr(out, "epoch   3/4"),
                  "%s", out);
    runs_text("r.db", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:4:-:finished|2:4:-:finished|3:4:-:finished|4:2:pruned:finished");

    /* groups: the pruned run made one with run 1 (the same values) is
     * counted in n and left out of the means */
    ck_assert_int_eq(sqlite3_open(p, &s), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(s, "UPDATE run_params SET value = '0.1' WHERE run_id = 4; "
                                     "UPDATE runs SET config = (SELECT config FROM runs WHERE id "
                                     "= 1) WHERE id = 4", NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(fixture_q_int(s, "SELECT n = 2 AND n_pruned = 1 AND run_ids = '1,4' AND "
                              "mean_final_test_acc = (SELECT final_test_acc FROM run_summary "
                              "WHERE run_id = 1) AND std_final_test_acc IS NULL AND "
                              "mean_best_test_acc = (SELECT best_test_acc FROM run_summary WHERE "
                              "run_id = 1) FROM run_groups WHERE params = 'schedule.lr=0.1'"), 1);
    sqlite3_close(s);
    ck_assert_int_eq(cnnrun("runs --db r.db --groups"), 0);
    ck_assert_msg(strstr(out, "(1 of 2 pruned, not in the means)"), "%s", out);
}
END_TEST

/* asha, rungs 1 and 2, eta 2, prune_min_runs 3 (the default): points 1-3
 * have fewer than 3 earlier runs at a rung, point 4 (lr 1e-9) is not in
 * the top 2 of the 4 that reached rung 1. */
START_TEST(test_asha_sweep)
{
    write_file("pr.ini", PR_INI(LRS "prune = asha\nrungs = 1, 2\neta = 2\n"));
    ck_assert_int_eq(cnnrun("run pr.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "run 4 pruned after epoch 1: test accuracy") &&
                      strstr(out, "top 1/eta of the 3 earlier runs"), "%s", out);
    char rows[512];
    runs_text("r.db", rows, sizeof rows);
    ck_assert_str_eq(rows, "1:4:-:finished|2:4:-:finished|3:4:-:finished|4:1:pruned:finished");
    best_survives("r.db", 4);
}
END_TEST

/* asha with --jobs 2, prune_min_runs 1: the two lr ~ 1e-9 points start only
 * when a good run has ended (finished, or pruned after a rung), so at rung
 * 1 at least one better earlier run is there: both are pruned at epoch 1
 * whatever the timing; whether the second good point is pruned by the
 * first depends on it (asynchronous), the best never is. */
START_TEST(test_asha_jobs)
{
    write_file("pr.ini", PR_INI("schedule.lr = 0.1, 0.05, 1e-9, 2e-9\nprune = asha\n"
                                "rungs = 1, 2\neta = 2\nprune_min_runs = 1\n"));
    ck_assert_int_eq(cnnrun("run pr.ini --db r.db --threads 1 --jobs 2"), 0);
    sqlite3 *s = fixture_open_db("r.db");
    ck_assert_int_eq(fixture_q_int(s, "SELECT count(*) FROM runs r JOIN run_params p ON p.run_id = r.id "
                              "WHERE p.key = 'schedule.lr' AND p.value IN ('1e-9', '2e-9') AND "
                              "r.status = 'finished' AND r.stop_reason = 'pruned' AND (SELECT "
                              "count(*) FROM epochs e WHERE e.run_id = r.id) = 1"), 2);
    ck_assert_int_eq(fixture_q_int(s, "SELECT count(*) FROM runs WHERE status = 'finished'"), 4);
    sqlite3_close(s);
    best_survives("r.db", 4);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prune");
    TCase *tc = tcase_create("decisions");
    tcase_add_test(tc, test_median_decisions);
    tcase_add_test(tc, test_asha_decisions);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_prune_keys);
    tcase_add_test(tc, test_median_sweep);
    tcase_add_test(tc, test_asha_sweep);
    tcase_add_test(tc, test_asha_jobs);
    suite_add_tcase(s, tc);
    return check_run(s);
}
