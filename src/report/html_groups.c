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

/* the members' train_seconds: mean ± sample std in the mean's unit */
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
    int dec = unit == 1 ? 0 : 1;
    if (k < 2) snprintf(b, n, "%.*f %s", dec, mean / unit, name);
    else snprintf(b, n, "%.*f " PLUS_MINUS " %.*f %s", dec, mean / unit, dec,
                  sqrt(ss / (k - 1)) / unit, name);
    return b;
}

static void write_table(FILE *f, const ReportGroups *g)
{
    fputs("<table class=groups>\n<tr><th>group</th><th class=l>experiment</th>"
          "<th class=l>values</th><th>n</th><th>final test acc</th><th>best test acc</th>"
          "<th>train time</th><th class=l>runs</th></tr>\n", f);
    for (int i = 0; i < g->n; i++) {
        const ReportGroup *r = &g->groups[i];
        char fin[64], best[64], tm[64];
        fprintf(f, "<tr><td>%d</td><td class=l>", i + 1);
        html_esc(f, r->experiment);
        fputs("</td><td class=l>", f);
        html_esc(f, r->params && *r->params ? r->params : "-");
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
}

/* legend text of group i: "1: sweep lr_max=0.05 (n=3)" */
static void group_label(char *b, size_t n, const ReportGroups *g, int i)
{
    const ReportGroup *r = &g->groups[i];
    snprintf(b, n, "%d: %.24s%s%.40s (n=%d)", i + 1, r->experiment,
             r->params && *r->params ? " " : "", r->params ? r->params : "", r->n);
}

/* one panel per column: each group's mean line with its band */
static int plot_curves(const char *dir, const ReportGroups *g, const char *name, int w, int h,
                       const int *columns, const char *const *titles, int n_panels)
{
    GroupCurve *c = xcalloc((size_t)(g->n * n_panels), sizeof *c);
    PlotSeries *s = xcalloc((size_t)(g->n * n_panels), sizeof *s);
    char (*labels)[96] = xcalloc((size_t)g->n, sizeof *labels);
    PlotPanel panels[3];
    for (int p = 0; p < n_panels; p++) {
        for (int i = 0; i < g->n; i++) {
            GroupCurve *k = &c[p * g->n + i];
            report_group_curve(&g->groups[i], columns[p], k);
            group_label(labels[i], sizeof labels[i], g, i);
            s[p * g->n + i] = (PlotSeries){.label = n_panels == 1 && k->n ? labels[i] : NULL,
                                           .x = k->epoch, .y = k->mean, .n = k->n, .color = i,
                                           .lo = k->lo, .hi = k->hi};
        }
        int acc = columns[p] == REPORT_TEST_ACC;
        panels[p] = (PlotPanel){.title = titles[p], .xlabel = "epoch",
                                .ylabel = acc ? "test accuracy (%)" : "cross-entropy",
                                .series = s + p * g->n, .n_series = g->n, .y_min = NAN,
                                .y_max = NAN, .legend = PLOT_LEGEND_OUTSIDE};
    }
    int rc = html_plot(dir, name, w, h, panels, n_panels);
    for (int i = 0; i < g->n * n_panels; i++) report_free_curve(&c[i]);
    free(c);
    free(s);
    free(labels);
    return rc;
}

/* accuracy against the swept key: final and best test accuracy, mean ± std */
static int plot_sweep(FILE *f, const char *dir, const ReportGroups *g, int k, const char *key,
                      const int *idx, const double *x, int m)
{
    double *v = xmalloc(sizeof(double) * (size_t)m * 6);
    double *fm = v, *flo = v + m, *fhi = v + 2 * m, *bm = v + 3 * m, *blo = v + 4 * m,
           *bhi = v + 5 * m;
    for (int i = 0; i < m; i++) {
        const ReportGroup *r = &g->groups[idx[i]];
        fm[i] = 100 * r->mean_final, bm[i] = 100 * r->mean_best;
        flo[i] = 100 * (r->mean_final - r->std_final), fhi[i] = 100 * (r->mean_final + r->std_final);
        blo[i] = 100 * (r->mean_best - r->std_best), bhi[i] = 100 * (r->mean_best + r->std_best);
    }
    int log_x = report_log_axis(key, x, m);
    char xlabel[160], name[64];
    snprintf(xlabel, sizeof xlabel, "%s%s", key, log_x ? " (log scale)" : "");
    PlotSeries s[] = {{.label = "final test accuracy", .x = x, .y = fm, .n = m, .color = 0,
                       .lo = flo, .hi = fhi, .bars = 1},
                      {.label = "best test accuracy", .x = x, .y = bm, .n = m, .color = 1,
                       .dashed = 1, .lo = blo, .hi = bhi, .bars = 1}};
    PlotPanel p = {.title = "accuracy against the swept key (mean, bars: ± 1 std)",
                   .xlabel = xlabel, .ylabel = "test accuracy (%)", .series = s, .n_series = 2,
                   .log_x = log_x, .y_min = NAN, .y_max = NAN, .legend = PLOT_LEGEND_OUTSIDE,
                   .label_x = 1};
    snprintf(name, sizeof name, "sweep-%d.svg", k);
    int rc = html_plot(dir, name, 1200, 420, &p, 1);
    free(v);
    fputs("<h3>Sweep of ", f);
    html_esc(f, g->groups[idx[0]].experiment);
    fputs(" over <code>", f);
    html_esc(f, key);
    fprintf(f, "</code></h3>\n<p class=meta>%d groups; the x axis is %s.</p>\n"
               "<img src=\"%s\" alt=\"test accuracy against ", m,
            log_x ? "logarithmic (a rate, or values spanning 10x or more)" : "linear", name);
    html_esc(f, key); /* a key is the user's text: escaped in the attribute too */
    fputs(", mean and standard deviation of each group\">\n", f);
    return rc;
}

/* Group i is its experiment's first (where that experiment's sweep is looked for). */
static int first_of_experiment(const ReportGroups *g, int i)
{
    for (int j = 0; j < i; j++)
        if (strcmp(g->groups[j].experiment, g->groups[i].experiment) == 0) return 0;
    return 1;
}

int html_groups(FILE *f, const char *dir, const ReportGroups *g)
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
        rc |= plot_curves(dir, g, "groups-acc.svg", 1200, 420, acc, acc_t, 1);
        rc |= plot_curves(dir, g, "groups-loss.svg", 1200, 340, loss, loss_t, 2);
        fputs("<p class=meta>Each line is a group's mean over the runs that reached the epoch; "
              "the band around it is the mean " PLUS_MINUS " 1 sample standard deviation of "
              "those runs (none for a group of one). The loss plots use the same colours.</p>\n"
              "<img src=\"groups-acc.svg\" alt=\"test accuracy per epoch of each group: mean "
              "with a band of one standard deviation\">\n"
              "<img src=\"groups-loss.svg\" alt=\"train and test loss per epoch of each group: "
              "mean with a band of one standard deviation\">\n", f);
        /* a sweep plot per experiment, at its first group */
        int k = 0;
        for (int i = 0; i < g->n; i++) {
            const char *key;
            int m = first_of_experiment(g, i)
                        ? report_sweep_over_one_key(g, g->groups[i].experiment, &key, idx, x)
                        : 0;
            if (m > 0) rc |= plot_sweep(f, dir, g, ++k, key, idx, x, m);
        }
    }
    free(idx);
    free(x);
    return rc ? -1 : 0;
}
