/* test_report_plots.c — the report's pictures at study scale (issue 36), on
 * a fixture database made here: 12 runs of one experiment, 3 epochs each,
 * that share data.train_subset and experiment.epochs and differ in
 * schedule.lr_max. The legends name only what differs (`run 3: lr_max=0.05`,
 * groups `lr_max=0.05 (n=1)`), the epoch axes have whole-number ticks, the
 * 12 lines have 12 styles, every line and point carries its hover text
 * (<title>) in the SVG files and in the page; a sweep over two keys gets
 * small multiples and parallel coordinates. Also report_differing_labels
 * on its own. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/config.h"
#include "cnnrun/report.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"

#define N_FIX 12
static const char *const lrs[N_FIX] = {"0.001", "0.002", "0.005", "0.01", "0.02", "0.03",
                                       "0.05", "0.1", "0.2", "0.3", "0.5", "1"};

/* n runs of "quick"; run i with schedule.lr_max = lrs[i % 12] and, with
 * two_keys, optimizer.weight_decay = 1e-4 or 1e-3 (i / 12 ... alternating) */
static void make_db(const char *name, int n, int two_keys)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ResultsDb *r = results_open(path);
    ck_assert_ptr_nonnull(r);
    for (int i = 0; i < n; i++) {
        RunInfo info = {.experiment = "quick", .config = "[experiment]\nname = quick\n",
                        .seed = 1, .epochs_planned = 3};
        int64_t id = results_begin_run(r, &info);
        ck_assert_int_eq(id, i + 1);
        ConfigOverride ov[] = {{.section = "data", .key = "train_subset", .value = "1000"},
                               {.section = "experiment", .key = "epochs", .value = "3"},
                               {.section = "schedule", .key = "lr_max", .value = lrs[i % N_FIX]},
                               {.section = "optimizer", .key = "weight_decay",
                                .value = i % 2 ? "1e-3" : "1e-4"}};
        ck_assert_int_eq(results_add_params(r, id, ov, two_keys ? 4 : 3), 0);
        for (int k = 0; k < 3; k++) {
            EpochRecord e = {.epoch = k + 1, .test_acc = 0.1 + 0.01 * i + 0.05 * k,
                             .train_acc = 0.2, .test_loss = 2.0 - 0.1 * k, .train_loss = 2.1,
                             .seconds = 1, .lr = 0.1};
            ck_assert_int_eq(results_add_epoch(r, id, &e), 0);
        }
        ck_assert_int_eq(results_finish_run(r, id, "finished", 3, NULL), 0);
    }
    results_close(r);
}

static void make_report(const char *db_name, const char *out)
{
    char db[256], out_dir[256];
    snprintf(db, sizeof db, "%s/%s", dir, db_name);
    snprintf(out_dir, sizeof out_dir, "%s/%s", dir, out);
    ReportData d;
    ck_assert_int_eq(report_load(db, "all", &d), 0);
    ck_assert_int_eq(report_write_html(&d, out_dir), 0);
    report_free(&d);
}


static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what)) n++;
    return n;
}

/* the texts of the <text> elements of svg that have `attr` in their tag
 * ("" for all), one per line, into out */
static void texts(const char *svg, const char *attr, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = svg; (p = strstr(p, "<text")); p++) {
        const char *gt = strchr(p, '>'), *end = gt ? strstr(gt, "</text>") : NULL;
        if (!end) break;
        int has = 1;
        if (*attr) {
            char *tag = strndup(p, (size_t)(gt - p));
            has = strstr(tag, attr) != NULL;
            free(tag);
        }
        size_t used = strlen(out);
        if (has) snprintf(out + used, size - used, "%.*s\n", (int)(end - gt - 1), gt + 1);
    }
}

START_TEST(test_legend_names_what_differs)
{
    make_db("r.db", N_FIX, 0);
    make_report("r.db", "rep");
    char *ov = fixture_slurp("rep/overlay.svg"), *acc = fixture_slurp("rep/groups-acc.svg");
    static char t[65536];
    texts(ov, "", t, sizeof t);
    /* run 7 has lr_max 0.05: its entry says that and nothing the runs share */
    ck_assert_msg(strstr(t, "\nrun 7: lr_max=0.05\n"), "overlay's texts:\n%.1500s", t);
    ck_assert_msg(!strstr(t, "train_subset") && !strstr(t, "quick") && !strstr(t, "schedule."),
                  "overlay's texts:\n%.1500s", t);
    texts(acc, "", t, sizeof t);
    ck_assert_msg(strstr(t, "\nlr_max=0.05 (n=1)\n"), "groups' texts:\n%.1500s", t);
    ck_assert_msg(!strstr(t, "train_subset") && !strstr(t, "schedule."), "%.1500s", t);
    free(ov);
    free(acc);
}
END_TEST

START_TEST(test_epoch_ticks_whole)
{
    make_db("r.db", 2, 0);
    make_report("r.db", "rep");
    const char *files[] = {"rep/overlay.svg", "rep/run-1.svg", "rep/groups-acc.svg"};
    for (int i = 0; i < 3; i++) {
        char *svg = fixture_slurp(files[i]);
        static char t[8192];
        texts(svg, "class=\"xtick\"", t, sizeof t);
        /* run-1.svg: three panels, each 1 2 3 */
        const char *want = i == 1 ? "1\n2\n3\n1\n2\n3\n1\n2\n3\n" : "1\n2\n3\n";
        ck_assert_msg(strcmp(t, want) == 0, "%s: x ticks\n%s", files[i], t);
        free(svg);
    }
}
END_TEST

START_TEST(test_twelve_styles)
{
    make_db("r.db", N_FIX, 0);
    make_report("r.db", "rep");
    char *ov = fixture_slurp("rep/overlay.svg");
    char styles[2 * N_FIX][64];
    int n = 0;
    /* the lines: class="ln" paths with their stroke and dashes; the first 12
     * are the series', the next 12 the legend's swatches */
    for (const char *p = ov; (p = strstr(p, "class=\"ln\"")) && n < 2 * N_FIX; p++) {
        const char *end = strstr(p, "/>"), *st = strstr(p, "stroke=\""),
                   *da = strstr(p, "stroke-dasharray=\"");
        ck_assert_ptr_nonnull(st);
        snprintf(styles[n], sizeof styles[n], "%.7s %.*s", st + 8,
                 da && da < end ? (int)strcspn(da + 18, "\"") : 0, da && da < end ? da + 18 : "");
        n++;
    }
    ck_assert_int_eq(n, 2 * N_FIX);
    for (int i = 0; i < N_FIX; i++) {
        ck_assert_str_eq(styles[i], styles[N_FIX + i]); /* legend swatch = its line */
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(styles[i], styles[j]) != 0, "series %d and %d alike: %s", j + 1,
                          i + 1, styles[i]);
    }
    free(ov);
}
END_TEST

START_TEST(test_hover_texts)
{
    make_db("r.db", N_FIX, 0);
    make_report("r.db", "rep");
    char *ov = fixture_slurp("rep/overlay.svg"), *page = fixture_slurp("rep/index.html");
    /* each line: its run and values; each point: those, its epoch and accuracy */
    ck_assert_int_eq(count(ov, "<g class=\"s\"><title>run "), 2 * N_FIX); /* lines + legend */
    ck_assert_ptr_nonnull(strstr(ov, "<title>run 7 (quick, finished)\nschedule.lr_max=0.05</title>"));
    ck_assert_int_eq(count(ov, "class=\"pt\""), 3 * N_FIX);
    ck_assert_int_eq(count(ov, "</title></circle>"), 3 * N_FIX);
    ck_assert_ptr_nonnull(strstr(ov, "<title>run 7 (quick, finished)\nschedule.lr_max=0.05\nepoch 2: "
                                     "test accuracy 21.00 %</title>"));
    /* the page holds the pictures themselves, where hovering works */
    char *fig = strstr(page, "<figure id=\"overlay\">\n<svg ");
    ck_assert_ptr_nonnull(fig);
    ck_assert_int_eq(count(fig, "</title></circle>") >= 3 * N_FIX, 1);
    ck_assert_ptr_null(strstr(page, "<img"));
    /* the sweep plot's points too */
    char *sw = fixture_slurp("rep/sweep-1.svg");
    ck_assert_ptr_nonnull(strstr(sw, "<title>schedule.lr_max=0.05\nbest test accuracy 26.00 %"));
    ck_assert_int_eq(count(sw, "class=\"pt\""), 2 * N_FIX);
    free(sw);
    free(ov);
    free(page);
}
END_TEST

START_TEST(test_two_key_sweep)
{
    make_db("r.db", N_FIX, 1);
    make_report("r.db", "rep");
    char *page = fixture_slurp("rep/index.html"), *par = fixture_slurp("rep/sweep-parallel.svg");
    char *keys = fixture_slurp("rep/sweep-keys.svg");
    ck_assert_ptr_nonnull(strstr(page, "<h2 id=sweep>Sweep</h2>"));
    /* small multiples: a panel per key; parallel coordinates: a line per run */
    ck_assert_int_eq(count(keys, "font-weight=\"600\""), 2);
    ck_assert_int_eq(count(par, "<g class=\"s\"><title>run "), N_FIX);
    ck_assert_ptr_nonnull(strstr(par, "optimizer.weight_decay=1e-4\nschedule.lr_max=0.05\nbest"));
    free(page);
    free(par);
    free(keys);
}
END_TEST

START_TEST(test_differing_labels)
{
    char *k1[] = {"data.train_subset", "experiment.epochs", "schedule.lr_max"};
    char *v1[] = {"1000", "3", "0.05"}, *v2[] = {"1000", "3", "0.1"};
    char *k3[] = {"layer.c1.filters", "schedule.lr_max"}, *v3[] = {"16", "0.05"};
    char *k4[] = {"group.head.lr_max", "schedule.lr_max"}, *v4[] = {"1", "0.05"};
    ReportNamed s[] = {{"quick", k1, v1, 3}, {"quick", k1, v2, 3}};
    char **l = report_differing_labels(s, 2);
    ck_assert_str_eq(l[0], "lr_max=0.05");
    ck_assert_str_eq(l[1], "lr_max=0.1");
    report_free_labels(l, 2);
    /* another experiment: its name, and each key only where a series has it */
    ReportNamed t[] = {{"quick", k1, v1, 3}, {"wide", k3, v3, 2}};
    l = report_differing_labels(t, 2);
    ck_assert_str_eq(l[0], "quick train_subset=1000 epochs=3");
    ck_assert_str_eq(l[1], "wide filters=16");
    report_free_labels(l, 2);
    /* two differing keys that end alike keep their full names */
    ReportNamed u[] = {{"quick", k1, v2, 3}, {"quick", k4, v4, 2}};
    l = report_differing_labels(u, 2);
    ck_assert_str_eq(l[0], "train_subset=1000 epochs=3 schedule.lr_max=0.1");
    ck_assert_str_eq(l[1], "group.head.lr_max=1 schedule.lr_max=0.05");
    report_free_labels(l, 2);
    /* nothing differs */
    l = report_differing_labels(s, 1);
    ck_assert_str_eq(l[0], "");
    report_free_labels(l, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_plots");
    TCase *tc = tcase_create("plots");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_legend_names_what_differs);
    tcase_add_test(tc, test_epoch_ticks_whole);
    tcase_add_test(tc, test_twelve_styles);
    tcase_add_test(tc, test_hover_texts);
    tcase_add_test(tc, test_two_key_sweep);
    tcase_add_test(tc, test_differing_labels);
    suite_add_tcase(s, tc);
    return check_run(s);
}
