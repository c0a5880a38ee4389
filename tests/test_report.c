/* test_report.c — the report's groups (issue 15) on a fixture database made
 * here with the results API: two sweeps, over schedule.lr_max (3 values, 3,
 * 2 and 1 seeds, one run stopped at its target after 2 of 3 epochs) and over
 * layer.c1.filters (2 values, 2 seeds each). The HTML's group table holds
 * each group's mean ± sample std as computed here from the runs' numbers;
 * the group curves are the per-epoch mean and std of the runs that reached
 * the epoch; groups-acc.svg / groups-loss.svg carry one translucent band per
 * group of two or more runs per panel; the sweep over a rate gets a log axis
 * and the sweep over filters a linear one; `cnnrun runs` shows stop_reason
 * and the time to accuracy, refuses a run id given twice and shows a
 * running row whose process is gone as `dead`. Also the sweep detection's and the log rule's
 * edge cases on hand-made groups. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/config.h"
#include "cnnrun/report.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"

#define OV(s, k, v) {.section = s, .key = k, .value = v}

/* one run of the fixture: its values and its epochs */
typedef struct {
    const char *exp, *key_section, *key, *value; /* the swept value */
    int seed, n_epochs;
    double acc[3], test_loss[3], train_loss[3], seconds;
} FixRun;

static const FixRun runs[] = {
    /* sw, lr_max = 0.05: three seeds, the third stopped at its target after epoch 2 */
    {"sw", "schedule", "lr_max", "0.05", 1501, 3, {0.30, 0.52, 0.50}, {1.9, 1.5, 1.4}, {2.0, 1.6, 1.5}, 30},
    {"sw", "schedule", "lr_max", "0.05", 1502, 3, {0.35, 0.48, 0.54}, {1.8, 1.6, 1.3}, {2.1, 1.7, 1.4}, 34},
    {"sw", "schedule", "lr_max", "0.05", 1503, 2, {0.40, 0.61, 0}, {1.7, 1.2, 0}, {1.9, 1.3, 0}, 41},
    /* sw, lr_max = 0.2: two seeds */
    {"sw", "schedule", "lr_max", "0.2", 1501, 3, {0.20, 0.30, 0.40}, {2.1, 1.9, 1.7}, {2.2, 2.0, 1.8}, 31},
    {"sw", "schedule", "lr_max", "0.2", 1502, 3, {0.25, 0.33, 0.46}, {2.0, 1.8, 1.6}, {2.1, 1.9, 1.7}, 33},
    /* sw, lr_max = 0.8: one seed, no std */
    {"sw", "schedule", "lr_max", "0.8", 1501, 3, {0.10, 0.15, 0.12}, {2.3, 2.2, 2.2}, {2.3, 2.3, 2.2}, 29},
    /* wd: filters 8 and 16, two seeds each */
    {"wd", "layer.c1", "filters", "8", 1501, 3, {0.20, 0.25, 0.27}, {2.0, 1.9, 1.8}, {2.0, 1.9, 1.9}, 20},
    {"wd", "layer.c1", "filters", "8", 1502, 3, {0.22, 0.24, 0.29}, {2.0, 1.9, 1.8}, {2.0, 1.9, 1.8}, 22},
    {"wd", "layer.c1", "filters", "16", 1501, 3, {0.24, 0.31, 0.33}, {1.9, 1.8, 1.7}, {1.9, 1.8, 1.7}, 25},
    {"wd", "layer.c1", "filters", "16", 1502, 3, {0.26, 0.30, 0.37}, {1.9, 1.8, 1.7}, {1.9, 1.8, 1.6}, 27},
};
#define N_RUNS ((int)(sizeof runs / sizeof runs[0]))
/* the groups, in the order of their first run: runs[first .. first + n) */
static const int group_first[] = {0, 3, 5, 6, 8}, group_n[] = {3, 2, 1, 2, 2};
#define N_GROUPS 5

static void make_db(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < N_RUNS; i++) {
        const FixRun *f = &runs[i];
        char config[512], seed[16];
        snprintf(config, sizeof config, "; resolved configuration of %s.ini\n\n[experiment]\n"
                                         "name = %s\nseed = %d\nepochs = 3\n\n[%s]\n%s = %s\n",
                 f->exp, f->exp, f->seed, f->key_section, f->key, f->value);
        snprintf(seed, sizeof seed, "%d", f->seed);
        RunInfo info = {.experiment = f->exp, .config = config, .seed = (uint64_t)f->seed,
                        .epochs_planned = 3};
        int64_t id = results_begin_run(r, &info);
        ck_assert_int_eq(id, i + 1);
        ConfigOverride ov[] = {OV(f->key_section, f->key, f->value),
                               OV("experiment", "seed", seed)};
        ck_assert_int_eq(results_add_params(r, id, ov, 2), 0);
        for (int k = 0; k < f->n_epochs; k++) {
            EpochRecord e = {.epoch = k + 1, .test_acc = f->acc[k], .test_loss = f->test_loss[k],
                             .train_loss = f->train_loss[k], .train_acc = f->acc[k],
                             .seconds = f->seconds / f->n_epochs, .lr = 0.1};
            ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
        }
        if (i == 2) { /* reached its target at epoch 2 */
            ck_assert_int_eq(results_reached_target(r, id, 2, 12.4), 0);
            ck_assert_int_eq(results_stop_reason(r, id, "target"), 0);
        }
        ck_assert_int_eq(results_finish_run(r, id, "finished", f->seconds, NULL), 0);
    }
    results_close(r);
}

static double mean_of(const double *x, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m += x[i];
    return m / n;
}

static double std_of(const double *x, int n) /* sample std, NaN for one */
{
    if (n < 2) return NAN;
    double m = mean_of(x, n), ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

/* group g's final and best test accuracies and times, from the fixture */
static void group_numbers(int g, double *fin, double *best, double *secs)
{
    for (int j = 0; j < group_n[g]; j++) {
        const FixRun *f = &runs[group_first[g] + j];
        fin[j] = f->acc[f->n_epochs - 1];
        best[j] = 0;
        for (int k = 0; k < f->n_epochs; k++)
            if (f->acc[k] > best[j]) best[j] = f->acc[k];
        secs[j] = f->seconds;
    }
}


static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

/* "45.00 ± 7.07 %" as the report writes it, the mean alone for one run */
static void pm_pct(char *b, size_t n, double mean, double std)
{
    if (isnan(std)) snprintf(b, n, "%.2f %%", 100 * mean);
    else snprintf(b, n, "%.2f \xc2\xb1 %.2f %%", 100 * mean, 100 * std);
}

START_TEST(test_html_group_table)
{
    make_db("r.db");
    char db[256], out_dir[256];
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out_dir, sizeof out_dir, "%s/rep", dir);
    ReportData d;
    ck_assert_int_eq(report_load(db, NULL, &d), 0);
    ck_assert_int_eq(d.n_runs, 2); /* the latest of each experiment */
    ck_assert_int_eq(d.groups.n, N_GROUPS);
    ck_assert_int_eq(report_write_html(&d, out_dir), 0);
    report_free(&d);

    char *html = fixture_slurp("rep/index.html");
    /* the header says the table shows 2 of the recorded runs */
    char shown[128];
    snprintf(shown, sizeof shown, "2 runs, the newest of each experiment, of %d recorded",
             N_RUNS);
    ck_assert_msg(strstr(html, shown), "%s", shown);
    const char *start = strstr(html, "<table class=groups>");
    ck_assert_ptr_nonnull(start);
    char *table = xstrdup(start);
    *strstr(table, "</table>") = '\0';
    char *row = table;
    for (int g = 0; g < N_GROUPS; g++) {
        double fin[3] = {0}, best[3] = {0}, secs[3] = {0};
        group_numbers(g, fin, best, secs);
        int n = group_n[g] < 3 ? group_n[g] : 3; /* (all are; says so to the compiler) */
        char want[256], a[64], b[64], t[64];
        pm_pct(a, sizeof a, mean_of(fin, n), std_of(fin, n));
        pm_pct(b, sizeof b, mean_of(best, n), std_of(best, n));
        if (n > 1) snprintf(t, sizeof t, "%.0f \xc2\xb1 %.0f s", mean_of(secs, n), std_of(secs, n));
        else snprintf(t, sizeof t, "%.0f s", secs[0]);
        snprintf(want, sizeof want, "<td>%d</td><td>%s</td><td>%s</td><td>%s</td>", n, a, b, t);
        /* each row in its place: after the previous one */
        char *at = strstr(row, want);
        ck_assert_msg(at != NULL, "group %d: '%s' not in the group table after its previous "
                                  "row:\n%s", g + 1, want, table);
        row = at + strlen(want);
    }
    /* e.g. group 1: final 0.50, 0.54, 0.61 (mean 55.00, std 5.57) */
    ck_assert_ptr_nonnull(strstr(table, "<td>55.00 \xc2\xb1 5.57 %</td>"));
    ck_assert_ptr_nonnull(strstr(table, "schedule.lr_max=0.05"));
    /* the comparison table has the stop column and the time to target */
    ck_assert_ptr_nonnull(strstr(html, "<th class=l>stopped</th><th>to target</th>"));

    /* bands: one per group of two or more runs, per panel */
    char *acc = fixture_slurp("rep/groups-acc.svg"), *loss = fixture_slurp("rep/groups-loss.svg");
    ck_assert_int_eq(count(acc, "fill-opacity=\"0.22"), 4);
    ck_assert_int_eq(count(loss, "fill-opacity=\"0.22"), 8);
    free(acc);
    free(loss);

    /* the sweeps: log axis for the rate, linear for the filters */
    char *sw = strstr(html, "over <code>schedule.lr_max</code>");
    char *wd = strstr(html, "over <code>layer.c1.filters</code>");
    ck_assert_ptr_nonnull(sw);
    ck_assert_ptr_nonnull(wd);
    ck_assert_ptr_nonnull(strstr(sw, "3 groups; the x axis is logarithmic"));
    ck_assert_ptr_nonnull(strstr(wd, "2 groups; the x axis is linear"));
    ck_assert(exists("rep/sweep-1.svg") && exists("rep/sweep-2.svg"));
    free(table);
    free(html);
}
END_TEST

/* The curves of group 1: per epoch, the mean and sample std of the runs
 * that reached it (epoch 3: two of the three). */
/* Short runs' train time: a decimal under 10 s, no spread shown where it
 * rounds to nothing (before: "0 ± 0 s"). */
START_TEST(test_group_seconds_short)
{
    make_db("r.db");
    sqlite3 *w;
    char db[256], out_dir[256];
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out_dir, sizeof out_dir, "%s/rep", dir);
    ck_assert_int_eq(sqlite3_open(db, &w), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(w, "UPDATE runs SET train_seconds = CASE id WHEN 10 THEN 0.4 "
                                     "ELSE 0.2 END WHERE id >= 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
    ReportData d;
    ck_assert_int_eq(report_load(db, NULL, &d), 0);
    ck_assert_int_eq(report_write_html(&d, out_dir), 0);
    report_free(&d);
    char *html = fixture_slurp("rep/index.html");
    ck_assert_msg(strstr(html, "<td>0.2 s</td>") && strstr(html, "<td>0.3 \xc2\xb1 0.1 s</td>") &&
                      !strstr(html, " 0 \xc2\xb1 0 s"), "%s", html);
    free(html);
}
END_TEST

START_TEST(test_group_curves)
{
    make_db("r.db");
    char db[256];
    snprintf(db, sizeof db, "%s/r.db", dir);
    ReportData d;
    ck_assert_int_eq(report_load(db, "all", &d), 0);
    ck_assert_int_eq(d.groups.n, N_GROUPS);
    const ReportGroup *g = &d.groups.groups[0];
    ck_assert_int_eq(g->n_runs, 3);
    ck_assert_int_eq(g->n_values, 1);
    ck_assert_str_eq(g->keys[0], "schedule.lr_max");
    ck_assert_str_eq(g->values[0], "0.05");
    static const int columns[] = {REPORT_TEST_ACC, REPORT_TEST_LOSS, REPORT_TRAIN_LOSS};
    for (int c = 0; c < 3; c++) {
        GroupCurve curve;
        report_group_curve(g, columns[c], &curve);
        ck_assert_int_eq(curve.n, 3);
        for (int k = 0; k < 3; k++) {
            double v[3] = {0};
            int n = 0;
            for (int j = 0; j < 3; j++) {
                const FixRun *f = &runs[j];
                if (k >= f->n_epochs) continue;
                v[n++] = c == 0 ? 100 * f->acc[k] : c == 1 ? f->test_loss[k] : f->train_loss[k];
            }
            ck_assert_int_eq(curve.count[k], n);
            ck_assert_int_eq(n, k < 2 ? 3 : 2);
            ck_assert_double_eq(curve.epoch[k], k + 1);
            ck_assert_double_eq_tol(curve.mean[k], mean_of(v, n), 1e-12);
            ck_assert_double_eq_tol(curve.std[k], std_of(v, n), 1e-12);
            ck_assert_double_eq_tol(curve.lo[k], mean_of(v, n) - std_of(v, n), 1e-12);
            ck_assert_double_eq_tol(curve.hi[k], mean_of(v, n) + std_of(v, n), 1e-12);
        }
        report_free_curve(&curve);
    }
    /* a group of one: its line, no std */
    GroupCurve one;
    report_group_curve(&d.groups.groups[2], REPORT_TEST_ACC, &one);
    ck_assert_int_eq(one.n, 3);
    ck_assert(isnan(one.std[0]) && isnan(one.lo[0]));
    ck_assert_double_eq_tol(one.mean[2], 12.0, 1e-12);
    report_free_curve(&one);
    report_free(&d);
    /* --runs of one wd run: only the groups of its experiment */
    ck_assert_int_eq(report_load(db, "7", &d), 0);
    ck_assert_int_eq(d.groups.n, 2);
    ck_assert_str_eq(d.groups.groups[0].experiment, "wd");
    report_free(&d);
}
END_TEST

/* `cnnrun runs`: stop_reason and the time to accuracy of run 3, "-" for the others */
START_TEST(test_runs_stop_columns)
{
    make_db("r.db");
    ck_assert_int_eq(cnnrun("runs --db r.db"), 0);
    ck_assert_msg(strstr(out, "stopped  to target") != NULL, "%s", out);
    const char *l3 = strstr(out, "\n   3  sw");
    ck_assert_msg(l3 != NULL, "%s", out);
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)(strchr(l3 + 1, '\n') - l3 - 1), l3 + 1);
    ck_assert_msg(strstr(line, "  target   12 s (ep 2)") != NULL, "%s", line);
    const char *l1 = strstr(out, "\n   1  sw");
    ck_assert_ptr_nonnull(l1);
    snprintf(line, sizeof line, "%.*s", (int)(strchr(l1 + 1, '\n') - l1 - 1), l1 + 1);
    ck_assert_msg(strstr(line, "  -        -") != NULL, "%s", line);
}
END_TEST

/* issue 23: a run id given twice in --runs is refused (it would be counted
 * twice), by report and runs alike */
START_TEST(test_runs_repeated_id)
{
    make_db("r.db");
    ck_assert_int_eq(cnnrun("runs --db r.db --runs 1,1,1"), 2);
    ck_assert_msg(strstr(out, "names run 1 twice") != NULL, "%s", out);
    ck_assert_int_eq(cnnrun("report --db r.db --text --runs 2,1,2"), 2);
    ck_assert_msg(strstr(out, "names run 2 twice") != NULL, "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --runs 1,2"), 0);
}
END_TEST

/* issue 23: a `running` row whose process is gone (the pid in its lock file
 * names no process) shows as `dead` with a line saying so; one whose
 * process lives stays `running`; the database is not changed */
START_TEST(test_runs_dead_process)
{
    make_db("r.db");
    char path[256];
    snprintf(path, sizeof path, "%s/r.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "UPDATE runs SET status = 'running' WHERE id IN (1, 2)",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    pid_t child = fork(); /* a pid that was a process and is no more */
    if (child == 0) _exit(0);
    ck_assert_int_gt(child, 0);
    waitpid(child, NULL, 0);
    char pid[32];
    snprintf(path, sizeof path, "%s/r-checkpoints", dir);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    snprintf(pid, sizeof pid, "%ld\n", (long)child);
    write_file("r-checkpoints/sw-1.lock", pid);
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid()); /* alive */
    write_file("r-checkpoints/sw-2.lock", pid);
    ck_assert_int_eq(cnnrun("runs --db r.db"), 0);
    ck_assert_msg(strstr(out, "\n   1  sw               dead ") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "\n   2  sw               running ") != NULL, "%s", out);
    char line[128];
    snprintf(line, sizeof line, "run 1 dead: its row says running, but its process (pid %ld",
             (long)child);
    ck_assert_msg(strstr(out, line) != NULL, "%s", out);
    ck_assert_ptr_null(strstr(out, "run 2 dead"));
    ck_assert_int_eq(fixture_poll_int("r.db", "select count(*) from runs where status = "
                                              "'running'"), 2);
}
END_TEST

/* hand-made groups with values for the sweep detection */
static ReportGroup hand(const char *exp, char **keys, char **values, int n)
{
    return (ReportGroup){.experiment = (char *)exp, .keys = keys, .values = values,
                         .n_values = n, .n = 1};
}

START_TEST(test_sweep_detection)
{
    char *k1[] = {"experiment.name", "schedule.lr_max"}, *v1[] = {"a", "0.2"};
    char *k2[] = {"experiment.name", "schedule.lr_max"}, *v2[] = {"a", "0.05"};
    char *k3[] = {"experiment.name", "schedule.lr_max"}, *v3[] = {"a", "0.1"};
    char *k4[] = {"schedule.lr_max"}, *v4[] = {"0.1"};
    ReportGroup gs[] = {hand("e", k1, v1, 2), hand("e", k2, v2, 2), hand("other", k4, v4, 1),
                        hand("e", k3, v3, 2)};
    ReportGroups g = {.groups = gs, .n = 4};
    int idx[4];
    double x[4];
    const char *key = NULL;
    /* three groups of e, sorted by value; the other experiment's group left out */
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 3);
    ck_assert_str_eq(key, "schedule.lr_max");
    ck_assert_int_eq(idx[0], 1);
    ck_assert_int_eq(idx[1], 3);
    ck_assert_int_eq(idx[2], 0);
    ck_assert_double_eq(x[0], 0.05);
    ck_assert_double_eq(x[2], 0.2);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "other", &key, idx, x), 0); /* one group */
    /* a second key varying: no sweep over one key */
    char *v5[] = {"b", "0.4"};
    gs[3] = hand("e", k3, v5, 2);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 0);
    /* a value that is no number */
    char *v6[] = {"a", "fast"};
    gs[3] = hand("e", k3, v6, 2);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 0);
    /* two groups with one value (the file edited between them) */
    char *v7[] = {"a", "0.2"};
    gs[3] = hand("e", k3, v7, 2);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 0);
    /* the key missing in one group */
    gs[3] = hand("e", k3, v3, 1);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 0);
    /* back to a clean sweep */
    gs[3] = hand("e", k3, v3, 2);
    ck_assert_int_eq(report_sweep_over_one_key(&g, "e", &key, idx, x), 3);
}
END_TEST

START_TEST(test_log_axis_rule)
{
    const double lr[] = {0.05, 0.1, 0.2}, wd[] = {5e-4, 1e-3}, filters[] = {8, 16, 32},
                 batch[] = {32, 128, 512}, with_zero[] = {0, 0.001}, eps[] = {1e-5, 1e-4},
                 neg[] = {-1, 20};
    ck_assert_int_eq(report_log_axis("schedule.lr_max", lr, 3), 1);
    ck_assert_int_eq(report_log_axis("group.head.lr_scale", lr, 3), 1);
    ck_assert_int_eq(report_log_axis("optimizer.weight_decay", wd, 2), 1);
    ck_assert_int_eq(report_log_axis("layer.c1.bn_eps", eps, 2), 1);
    ck_assert_int_eq(report_log_axis("layer.c1.filters", filters, 3), 0); /* 4x, no rate */
    ck_assert_int_eq(report_log_axis("data.batch_size", batch, 3), 1);    /* 16x */
    ck_assert_int_eq(report_log_axis("schedule.lr_end", with_zero, 2), 0); /* 0 on no log axis */
    ck_assert_int_eq(report_log_axis("experiment.epochs", neg, 2), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("groups");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_html_group_table);
    tcase_add_test(tc, test_group_curves);
    tcase_add_test(tc, test_group_seconds_short);
    tcase_add_test(tc, test_runs_stop_columns);
    tcase_add_test(tc, test_runs_repeated_id);
    tcase_add_test(tc, test_runs_dead_process);
    tcase_add_test(tc, test_sweep_detection);
    tcase_add_test(tc, test_log_axis_rule);
    suite_add_tcase(s, tc);
    return check_run(s);
}
