/* html_sweep.c — the report's sweep section (html_sweep), for runs swept
 * over two keys or more (the seed aside; a sweep over one key is the groups
 * section's): accuracy against each numeric key as small multiples (a panel
 * per key, sharing their styles: every run's best and final test accuracy as
 * points side by side, a line through each value's mean best accuracy), and
 * every key at once as parallel coordinates (parallel.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"
#include "html.h"
#include "html_page.h"
#include "parallel.h"

#define MAX_KEYS 16

static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = s ? strtod(s, &end) : NAN;
    return s && *s && !*end && !errno && isfinite(*v);
}

static int pruned(const ReportRun *r)
{
    return r->stop_reason && strcmp(r->stop_reason, "pruned") == 0;
}

/* the panel of one key: x holds each run's value; m[0..nv) the distinct values */
typedef struct {
    double *x, *best, *fin, *vals, *mean;
    char **hb, **hf, **hm;
    int nv;
} KeyPanel;

static void fill_panel(KeyPanel *k, const ReportRun *runs, int n, const char *key,
                       const char *const *keys, int n_keys)
{
    k->x = xcalloc((size_t)n * 5 + 5, sizeof(double));
    k->best = k->x + n + 1, k->fin = k->best + n + 1, k->vals = k->fin + n + 1;
    k->mean = k->vals + n + 1;
    k->hb = xcalloc((size_t)n + 1, sizeof(char *)), k->hf = xcalloc((size_t)n + 1, sizeof(char *));
    k->hm = xcalloc((size_t)n + 1, sizeof(char *));
    k->nv = 0;
    for (int i = 0; i < n; i++) {
        const ReportRun *r = &runs[i];
        number(report_run_param(r, key), &k->x[i]);
        k->best[i] = 100 * r->best_test_acc, k->fin[i] = 100 * r->final_test_acc;
        char vals[512] = "";
        for (int j = 0; j < n_keys; j++) {
            const char *v = report_run_param(r, keys[j]);
            size_t used = strlen(vals);
            snprintf(vals + used, sizeof vals - used, "\n%s=%s", keys[j], v ? v : "-");
        }
        const char *st = pruned(r) ? " (pruned)" : "";
        k->hb[i] = html_fmt("run %lld%s%s\nbest test accuracy %.2f %% (epoch %d)", (long long)r->id,
                            st, vals, k->best[i], r->best_epoch);
        k->hf[i] = html_fmt("run %lld%s%s\nfinal test accuracy %.2f %%", (long long)r->id, st,
                            vals, k->fin[i]);
        int seen = 0;
        for (int v = 0; v < k->nv && !seen; v++) seen = k->vals[v] == k->x[i];
        if (!seen && isfinite(k->x[i])) k->vals[k->nv++] = k->x[i];
    }
    for (int a = 1; a < k->nv; a++) /* the values in order */
        for (int b = a; b > 0 && k->vals[b] < k->vals[b - 1]; b--) {
            double t = k->vals[b];
            k->vals[b] = k->vals[b - 1], k->vals[b - 1] = t;
        }
    for (int v = 0; v < k->nv; v++) { /* the mean best of the finished runs of each value */
        double sum = 0;
        int c = 0;
        for (int i = 0; i < n; i++)
            if (k->x[i] == k->vals[v] && !pruned(&runs[i]) && isfinite(k->best[i]))
                sum += k->best[i], c++;
        k->mean[v] = c ? sum / c : NAN;
        k->hm[v] = html_fmt("%s=%g\nmean best test accuracy %.2f %% over %d run%s", key,
                            k->vals[v], k->mean[v], c, c == 1 ? "" : "s");
    }
}

static void free_panel(KeyPanel *k, int n)
{
    report_free_labels(k->hb, n);
    report_free_labels(k->hf, n);
    report_free_labels(k->hm, k->nv);
    free(k->x);
}

static int small_multiples(FILE *f, const char *dir, const ReportData *d, const char *const *keys,
                           int n_keys, const char *const *all, int n_all)
{
    int n = d->n_runs;
    KeyPanel *kp = xcalloc((size_t)n_keys, sizeof *kp);
    PlotSeries *s = xcalloc((size_t)n_keys * 3, sizeof *s);
    PlotPanel *p = xcalloc((size_t)n_keys, sizeof *p);
    for (int k = 0; k < n_keys; k++) {
        fill_panel(&kp[k], d->runs, n, keys[k], all, n_all);
        int last = k == n_keys - 1, log_x = report_log_axis(keys[k], kp[k].vals, kp[k].nv);
        PlotSeries *ks = s + 3 * k;
        ks[0] = (PlotSeries){.label = last ? "mean best (finished runs)" : NULL,
                             .point_hover = (const char *const *)kp[k].hm, .x = kp[k].vals,
                             .y = kp[k].mean, .n = kp[k].nv, .color = 11};
        ks[1] = (PlotSeries){.label = last ? "final test accuracy" : NULL, .markers_only = 1,
                             .point_hover = (const char *const *)kp[k].hf, .x = kp[k].x,
                             .y = kp[k].fin, .n = n, .color = 0, .dodge = -5};
        ks[2] = (PlotSeries){.label = last ? "best test accuracy" : NULL, .markers_only = 1,
                             .point_hover = (const char *const *)kp[k].hb, .x = kp[k].x,
                             .y = kp[k].best, .n = n, .color = 1, .dashed = 1, .dodge = 5};
        p[k] = (PlotPanel){.title = keys[k], .xlabel = log_x ? "value (log scale)" : "value",
                           .ylabel = "test accuracy (%)", .series = ks, .n_series = 3,
                           .log_x = log_x, .label_x = 1};
    }
    int rc = html_plot(f, dir, "sweep-keys.svg", 1200, 380, p, n_keys);
    for (int k = 0; k < n_keys; k++) free_panel(&kp[k], n);
    free(kp);
    free(s);
    free(p);
    return rc;
}

typedef struct {
    const ReportData *d;
    const char *const *keys;
    int n_keys;
} Parallel;

static void draw_parallel(FILE *f, const void *arg)
{
    const Parallel *p = arg;
    plot_parallel(f, 1200, 380, p->d->runs, p->d->n_runs, p->keys, p->n_keys);
}

int html_sweep(FILE *f, const char *dir, const ReportData *d)
{
    const char *swept[MAX_KEYS], *keys[MAX_KEYS], *numeric[MAX_KEYS];
    int n_swept = report_swept_keys(d, swept, MAX_KEYS), n_keys = 0, n_num = 0;
    for (int k = 0; k < n_swept; k++) {
        if (strcmp(swept[k], "experiment.seed") == 0) continue;
        keys[n_keys++] = swept[k];
        int all = 1;
        double v;
        for (int i = 0; i < d->n_runs; i++) all &= number(report_run_param(&d->runs[i], swept[k]), &v);
        if (all) numeric[n_num++] = swept[k];
    }
    if (n_keys < 2 || d->n_runs < 2) return 0;
    fprintf(f, "<h2 id=sweep>Sweep</h2>\n<p class=meta>%d runs over %d keys. Each panel: the test "
               "accuracy of every run against one key's value (final and best side by side; the "
               "line: the mean best of the finished runs of each value). Hover a point for its "
               "run and values.</p>\n", d->n_runs, n_keys);
    int rc = n_num > 0 ? small_multiples(f, dir, d, numeric, n_num, keys, n_keys) : 0;
    fputs("<p class=meta>Every key at once: one line per run through its values and its best "
          "test accuracy, darker the better; the best run orange, pruned runs dashed.</p>\n", f);
    Parallel p = {.d = d, .keys = keys, .n_keys = n_keys};
    rc |= html_figure(f, dir, "sweep-parallel.svg", draw_parallel, &p);
    return rc ? -1 : 0;
}
