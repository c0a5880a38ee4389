/* html_groups.c — the report's groups section (html_groups): runs of one
 * experiment that differ only in their seed (view run_groups) as a table of
 * mean ± sample std; each group's test accuracy and losses per epoch as its
 * mean with a band of ± 1 sample std (groups-acc.svg, groups-loss.svg); and,
 * for the groups of an experiment that differ in one numeric key (a sweep
 * over it), accuracy against that key with ± 1 std error bars, on a log axis
 * for a rate (sweep-K.svg; report_log_axis says when). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"
#include "format.h"
#include "html.h"
#include "html_page.h"

/* the members' train_seconds: mean ± sample std in the mean's unit, under
 * 10 s with a decimal; a spread that rounds to nothing is not shown (it
 * printed "0 ± 0 s") */
static const char *seconds_std(char *b, size_t n, const ReportGroup *g)
{
    double sum = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < g->n_runs; i++)
        if (isfinite(g->runs[i].train_seconds)) sum += g->runs[i].train_seconds, k++;
    if (k == 0) return snprintf(b, n, "-"), b;
    double mean = sum / k;
    for (int i = 0; i < g->n_runs; i++)
        if (isfinite(g->runs[i].train_seconds))
            ss += (g->runs[i].train_seconds - mean) * (g->runs[i].train_seconds - mean);
    double unit = mean < 120 ? 1 : mean < 7200 ? 60 : 3600;
    const char *name = unit == 1 ? "s" : unit == 60 ? "min" : "h";
    int dec = unit == 1 && mean >= 10 ? 0 : 1;
    double std = k < 2 ? 0 : sqrt(ss / (k - 1)) / unit;
    if (std < 0.5 * pow(10, -dec)) snprintf(b, n, "%.*f %s", dec, mean / unit, name);
    else snprintf(b, n, "%.*f " PLUS_MINUS " %.*f %s", dec, mean / unit, dec, std, name);
    return b;
}

/* legend text of each group: what differs between them ("lr_max=0.05", with_n: "lr_max=0.05
 * (n=3)"); hover
 * text: the group's experiment, values and runs (caller frees both) */
static void group_labels(const ReportGroups *g, int with_n, char ***labels, char ***hovers)
{
    ReportNamed *named = xcalloc((size_t)g->n + 1, sizeof *named);
    for (int i = 0; i < g->n; i++)
        named[i] = (ReportNamed){.experiment = g->groups[i].experiment, .keys = g->groups[i].keys,
                                 .values = g->groups[i].values, .n = g->groups[i].n_values};
    char **diff = report_differing_labels(named, g->n);
    *labels = xcalloc((size_t)g->n + 1, sizeof **labels);
    *hovers = xcalloc((size_t)g->n + 1, sizeof **hovers);
    for (int i = 0; i < g->n; i++) {
        const ReportGroup *r = &g->groups[i];
        if (with_n) (*labels)[i] = html_fmt("%s%s(n=%d)", diff[i], *diff[i] ? " " : "", r->n);
        else (*labels)[i] = xstrdup(diff[i]);
        (*hovers)[i] = html_fmt("group %d: %s %s\nn=%d, runs %s", i + 1, r->experiment,
                                r->params && *r->params ? r->params : "", r->n, r->run_ids);
    }
    report_free_labels(diff, g->n);
    free(named);
}

static void write_table(FILE *f, const ReportGroups *g)
{
    char **labels, **hovers; /* the values that differ; every value in the cell's title */
    group_labels(g, 0, &labels, &hovers);
    fputs("<table class=groups>\n<tr><th>group</th><th class=l>experiment</th>"
          "<th class=l>values</th><th>n</th><th>final test acc</th><th>best test acc</th>"
          "<th>train time</th><th class=l>runs</th></tr>\n", f);
    for (int i = 0; i < g->n; i++) {
        const ReportGroup *r = &g->groups[i];
        char fin[64], best[64], tm[64];
        fprintf(f, "<tr><td>%d</td><td class=l>", i + 1);
        html_esc(f, r->experiment);
        fputs("</td><td class=l title=\"", f);
        html_esc(f, r->params && *r->params ? r->params : "-");
        fputs("\">", f);
        html_esc(f, *labels[i] ? labels[i] : r->params && *r->params ? r->params : "-");
        fprintf(f, "</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td class=l>", r->n,
                fmt_pct_std(fin, sizeof fin, r->mean_final, r->std_final),
                fmt_pct_std(best, sizeof best, r->mean_best, r->std_best),
                seconds_std(tm, sizeof tm, r));
        html_esc(f, r->run_ids);
        if (r->n_pruned > 0) /* counted in n, not in the means */
            fprintf(f, " (%d pruned, not in the means)", r->n_pruned);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
    report_free_labels(labels, g->n);
    report_free_labels(hovers, g->n);
}

/* one panel per column: each group's mean line with its band */
static int plot_curves(FILE *page, const char *dir, const ReportGroups *g, const char *name, int w,
                       int h, const int *columns, const char *const *titles, int n_panels)
{
    GroupCurve *c = xcalloc((size_t)(g->n * n_panels), sizeof *c);
    PlotSeries *s = xcalloc((size_t)(g->n * n_panels), sizeof *s);
    char **labels, **hovers;
    group_labels(g, 1, &labels, &hovers);
    PlotPanel panels[3];
    for (int p = 0; p < n_panels; p++) {
        for (int i = 0; i < g->n; i++) {
            GroupCurve *k = &c[p * g->n + i];
            report_group_curve(&g->groups[i], columns[p], k);
            /* the legend on the last panel only: the panels share the styles */
            s[p * g->n + i] = (PlotSeries){.label = p == n_panels - 1 && k->n ? labels[i] : NULL,
                                           .hover = hovers[i], .x = k->epoch, .y = k->mean,
                                           .n = k->n, .color = i, .lo = k->lo, .hi = k->hi};
        }
        int acc = columns[p] == REPORT_TEST_ACC;
        panels[p] = (PlotPanel){.title = titles[p], .xlabel = "epoch",
                                .ylabel = acc ? "test accuracy (%)" : "cross-entropy",
                                .series = s + p * g->n, .n_series = g->n, .int_x = 1};
    }
    int rc = html_plot(page, dir, name, w, h, panels, n_panels);
    for (int i = 0; i < g->n * n_panels; i++) report_free_curve(&c[i]);
    free(c);
    free(s);
    report_free_labels(labels, g->n);
    report_free_labels(hovers, g->n);
    return rc;
}

/* Whether id is in the comma-separated list ids ("7,8"). */
static int in_ids(const char *ids, int64_t id)
{
    for (const char *p = ids; p && *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) break;
        if (v == id) return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* The pruned runs of the m groups idx (at x): a point each at its best test
 * accuracy before [sweep] prune stopped it, with its hover; how many. A group
 * whose runs were all pruned has no mean, and the point shows where it stood. */
static int pruned_points(const ReportGroups *g, const int *idx, const double *x, int m,
                         const char *key, const ReportRun *runs, int n_runs, double *px,
                         double *py, char **hover)
{
    int n = 0;
    for (int r = 0; r < n_runs; r++) {
        const ReportRun *u = &runs[r];
        if (!u->stop_reason || strcmp(u->stop_reason, "pruned") || !isfinite(u->best_test_acc))
            continue;
        for (int i = 0; i < m; i++) {
            const ReportGroup *gr = &g->groups[idx[i]];
            if (!in_ids(gr->run_ids, u->id)) continue;
            px[n] = x[i], py[n] = 100 * u->best_test_acc;
            hover[n++] = html_fmt("%s=%g\nrun %lld, pruned after epoch %d: best test accuracy "
                                  "%.2f %%", key, x[i], (long long)u->id, u->epochs_done,
                                  100 * u->best_test_acc);
            break;
        }
    }
    return n;
}

/* accuracy against the swept key: final and best test accuracy, mean ± std,
 * and each pruned run's best */
static int plot_sweep(FILE *f, const char *dir, const ReportGroups *g, int k, const char *key,
                      const int *idx, const double *x, int m, const ReportRun *runs, int n_runs)
{
    double *v = xmalloc(sizeof(double) * (size_t)m * 6);
    double *fm = v, *flo = v + m, *fhi = v + 2 * m, *bm = v + 3 * m, *blo = v + 4 * m,
           *bhi = v + 5 * m;
    char **hf = xcalloc((size_t)m, sizeof *hf), **hb = xcalloc((size_t)m, sizeof *hb);
    for (int i = 0; i < m; i++) {
        const ReportGroup *r = &g->groups[idx[i]];
        char a[64], b[64];
        fm[i] = 100 * r->mean_final, bm[i] = 100 * r->mean_best;
        flo[i] = 100 * (r->mean_final - r->std_final), fhi[i] = 100 * (r->mean_final + r->std_final);
        blo[i] = 100 * (r->mean_best - r->std_best), bhi[i] = 100 * (r->mean_best + r->std_best);
        fmt_pct_std(a, sizeof a, r->mean_final, r->std_final);
        fmt_pct_std(b, sizeof b, r->mean_best, r->std_best);
        hf[i] = html_fmt("%s=%g\nfinal test accuracy %s\nn=%d, runs %s", key, x[i], a, r->n, r->run_ids);
        hb[i] = html_fmt("%s=%g\nbest test accuracy %s\nn=%d, runs %s", key, x[i], b, r->n, r->run_ids);
    }
    int log_x = report_log_axis(key, x, m);
    char xlabel[160], name[64];
    snprintf(xlabel, sizeof xlabel, "%s%s", key, log_x ? " (log scale)" : "");
    double *px = xmalloc(sizeof(double) * (size_t)(n_runs + 1) * 2), *py = px + n_runs + 1;
    char **hp = xcalloc((size_t)n_runs + 1, sizeof *hp);
    int np = pruned_points(g, idx, x, m, key, runs, n_runs, px, py, hp);
    /* final and best side by side (dodged), so that best is seen where it equals final */
    PlotSeries s[] = {{.label = "final test accuracy", .point_hover = (const char *const *)hf,
                       .x = x, .y = fm, .n = m, .color = 0, .lo = flo, .hi = fhi, .bars = 1,
                       .dodge = -5},
                      {.label = "best test accuracy", .point_hover = (const char *const *)hb,
                       .x = x, .y = bm, .n = m, .color = 1, .dashed = 1, .lo = blo, .hi = bhi,
                       .bars = 1, .dodge = 5},
                      {.label = "pruned run (its best before it stopped)",
                       .point_hover = (const char *const *)hp, .x = px, .y = py, .n = np,
                       .color = 7, .markers_only = 1}};
    PlotPanel p = {.title = "accuracy against the swept key (mean, bars: ± 1 std)",
                   .xlabel = xlabel, .ylabel = "test accuracy (%)", .series = s,
                   .n_series = np > 0 ? 3 : 2, .log_x = log_x, .label_x = 1};
    snprintf(name, sizeof name, "sweep-%d.svg", k);
    fputs("<h3>Sweep of ", f);
    html_esc(f, g->groups[idx[0]].experiment);
    fputs(" over <code>", f);
    html_esc(f, key);
    fprintf(f, "</code></h3>\n<p class=meta>%d groups; the x axis is %s.%s</p>\n", m,
            log_x ? "logarithmic (a rate, or values spanning 10x or more)" : "linear",
            np ? " The means are of the finished runs; each pruned run is a point at its best "
                 "test accuracy before it stopped (at an earlier epoch: not comparable with the "
                 "finished runs' final accuracy)." : "");
    int rc = html_plot(f, dir, name, 1200, 420, &p, 1);
    report_free_labels(hf, m);
    report_free_labels(hb, m);
    report_free_labels(hp, np);
    free(px);
    free(v);
    return rc;
}

/* Group i is its experiment's first (where that experiment's sweep is looked for). */
static int first_of_experiment(const ReportGroups *g, int i)
{
    for (int j = 0; j < i; j++)
        if (strcmp(g->groups[j].experiment, g->groups[i].experiment) == 0) return 0;
    return 1;
}

int html_groups(FILE *f, const char *dir, const ReportGroups *g, const ReportRun *runs,
                int n_runs)
{
    int *idx = xmalloc(sizeof(int) * (size_t)(g->n + 1));
    double *x = xmalloc(sizeof(double) * (size_t)(g->n + 1));
    int show = 0;
    for (int i = 0; i < g->n && !show; i++) {
        const char *key;
        show = g->groups[i].n >= 2 ||
               (first_of_experiment(g, i) &&
                report_sweep_over_one_key(g, g->groups[i].experiment, &key, idx, x) > 0);
    }
    int rc = 0;
    if (show) {
        fputs("<h2 id=groups>Groups</h2>\n<p class=meta>Runs of one experiment that differ only "
              "in their seed (the view <code>run_groups</code>, finished runs): mean " PLUS_MINUS
              " sample standard deviation over the group's runs.</p>\n", f);
        write_table(f, g);
        static const int acc[] = {REPORT_TEST_ACC}, loss[] = {REPORT_TRAIN_LOSS, REPORT_TEST_LOSS};
        static const char *const acc_t[] = {"test accuracy per epoch, groups (mean, band: "
                                            "± 1 std)"};
        static const char *const loss_t[] = {"train loss (mean ± 1 std)",
                                             "test loss (mean ± 1 std)"};
        fputs("<p class=meta>Each line is a group's mean over the runs that reached the epoch; "
              "the band around it is the mean " PLUS_MINUS " 1 sample standard deviation of "
              "those runs (none for a group of one). The loss plots use the same styles. Hover "
              "a line or a point for its values.</p>\n", f);
        rc |= plot_curves(f, dir, g, "groups-acc.svg", 1200, 420, acc, acc_t, 1);
        rc |= plot_curves(f, dir, g, "groups-loss.svg", 1200, 340, loss, loss_t, 2);
        /* a sweep plot per experiment, at its first group */
        int k = 0;
        for (int i = 0; i < g->n; i++) {
            const char *key;
            int m = first_of_experiment(g, i)
                        ? report_sweep_over_one_key(g, g->groups[i].experiment, &key, idx, x)
                        : 0;
            if (m > 0) rc |= plot_sweep(f, dir, g, ++k, key, idx, x, m, runs, n_runs);
        }
    }
    free(idx);
    free(x);
    return rc ? -1 : 0;
}
