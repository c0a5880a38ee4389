/* parallel.c — a study's parallel-coordinates picture (parallel.h): one
 * vertical axis per swept key and a last one for the best test accuracy;
 * each run a line through its values, darker the better, the best point in
 * its own colour and drawn last, a pruned run dashed; every line carries its
 * run, values and accuracy as hover text. A numeric key's axis is linear or
 * logarithmic as the sweep plot's (report_log_axis); another key's values
 * stand evenly spaced, sorted. Primitives: svg.c. */
#include "parallel.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"
#include "svg.h"

#define TOP 46
#define BOTTOM 28
#define SIDE 110

typedef struct {
    const char **vals; /* the distinct values, sorted (numbers by value) */
    double *pos;       /* their place on the axis, 0 (bottom) .. 1 (top) */
    int n;
} Axis;

static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = s ? strtod(s, &end) : NAN;
    return s && *s && !*end && !errno && isfinite(*v);
}

static int cmp_values(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    double u, v;
    if (number(x, &u) && number(y, &v)) return (u > v) - (u < v);
    return strcmp(x, y);
}

static void make_axis(Axis *ax, const ReportRun *runs, int n, const char *key)
{
    ax->vals = xcalloc((size_t)n + 1, sizeof *ax->vals);
    ax->pos = xcalloc((size_t)n + 1, sizeof *ax->pos);
    ax->n = 0;
    int numeric = 1;
    for (int i = 0; i < n; i++) {
        const char *v = report_run_param(&runs[i], key);
        v = v ? v : "-";
        int seen = 0;
        for (int k = 0; k < ax->n && !seen; k++) seen = strcmp(ax->vals[k], v) == 0;
        if (!seen) ax->vals[ax->n++] = v;
    }
    qsort(ax->vals, (size_t)ax->n, sizeof *ax->vals, cmp_values);
    double *x = xcalloc((size_t)ax->n + 1, sizeof *x);
    for (int k = 0; k < ax->n; k++) numeric &= number(ax->vals[k], &x[k]);
    int log_axis = numeric && report_log_axis(key, x, ax->n);
    double lo = log_axis ? log10(x[0]) : x[0], hi = log_axis ? log10(x[ax->n - 1]) : x[ax->n - 1];
    for (int k = 0; k < ax->n; k++) {
        double v = log_axis ? log10(x[k]) : x[k];
        ax->pos[k] = ax->n == 1 ? 0.5 : numeric && hi > lo ? (v - lo) / (hi - lo)
                                                           : (double)k / (ax->n - 1);
    }
    free(x);
}

static double axis_pos(const Axis *ax, const char *v)
{
    for (int k = 0; k < ax->n; k++)
        if (strcmp(ax->vals[k], v ? v : "-") == 0) return ax->pos[k];
    return 0.5;
}

/* a blue from light (0) to dark (1) */
static void ramp(char *b, size_t n, double t)
{
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    snprintf(b, n, "#%02x%02x%02x", (int)(158 + t * (8 - 158)), (int)(202 + t * (48 - 202)),
             (int)(225 + t * (107 - 225)));
}

void plot_parallel(FILE *f, int width, int height, const ReportRun *runs, int n,
                   const char *const *keys, int n_keys)
{
    Axis *axes = xcalloc((size_t)n_keys + 1, sizeof *axes);
    for (int k = 0; k < n_keys; k++) make_axis(&axes[k], runs, n, keys[k]);
    double lo = INFINITY, hi = -INFINITY;
    int best = -1;
    for (int i = 0; i < n; i++) {
        double a = 100 * runs[i].best_test_acc;
        if (!isfinite(a)) continue;
        lo = a < lo ? a : lo, hi = a > hi ? a : hi;
        if (best < 0 || a > 100 * runs[best].best_test_acc) best = i;
    }
    if (!(hi > lo)) lo -= 1, hi += 1;
    double step = (width - 2.0 * SIDE) / n_keys, y0 = TOP, y1 = height - BOTTOM;
    svg_open(f, width, height, "the study's points: one line per run through its swept values "
                               "and its best test accuracy");
    for (int k = 0; k <= n_keys; k++) { /* the axes, each with its name */
        double x = SIDE + k * step;
        fprintf(f, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\"/>\n<text x=\"%.1f\" y=\"%d\" "
                   "text-anchor=\"middle\" font-weight=\"600\" fill=\"%s\">", x, y0, y1, SVG_FG,
                x, TOP - 22, SVG_FG);
        svg_esc(f, k < n_keys ? keys[k] : "best test accuracy (%)");
        fputs("</text>\n", f);
    }
    for (int pass = 0; pass < 2; pass++) /* the others, then the best on top */
        for (int i = 0; i < n; i++) {
            const ReportRun *r = &runs[i];
            double a = 100 * r->best_test_acc;
            if (!isfinite(a) || (i == best) != (pass == 1)) continue;
            char color[8], *hover = NULL;
            size_t cap = 0;
            FILE *h = open_memstream(&hover, &cap);
            fprintf(h, "run %lld (%s)", (long long)r->id, r->status);
            for (int k = 0; k < n_keys; k++) {
                const char *v = report_run_param(r, keys[k]);
                fprintf(h, "\n%s=%s", keys[k], v ? v : "-");
            }
            fprintf(h, "\nbest test accuracy %.2f %%%s%s", a, r->stop_reason ? ", stopped: " : "",
                    r->stop_reason ? r->stop_reason : "");
            fclose(h);
            ramp(color, sizeof color, (a - lo) / (hi - lo));
            fprintf(f, "<g class=\"s\">");
            svg_title(f, hover);
            fputs("<path class=\"ln\" d=\"", f);
            for (int k = 0; k <= n_keys; k++) {
                double pos = k < n_keys ? axis_pos(&axes[k], report_run_param(r, keys[k]))
                                        : (a - lo) / (hi - lo);
                fprintf(f, "%c%.1f %.1f", k ? 'L' : 'M', SIDE + k * step, y1 - pos * (y1 - y0));
            }
            int pruned = r->stop_reason && strcmp(r->stop_reason, "pruned") == 0;
            fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s/></g>\n",
                    i == best ? svg_color(1) : color, i == best ? "3.5" : "2",
                    pruned ? " stroke-dasharray=\"5 3\"" : "");
            free(hover);
        }
    for (int k = 0; k <= n_keys; k++) { /* each axis's values, over the lines */
        double x = SIDE + k * step, t[16], last = -INFINITY;
        int nt = k < n_keys ? axes[k].n : svg_ticks(lo, hi, 0, 0, t, 16);
        for (int j = 0; j < nt; j++) {
            double pos = k < n_keys ? axes[k].pos[j] : (t[j] - lo) / (hi - lo);
            if (pos * (y1 - y0) < last + 14) continue; /* would overlap the value below */
            last = pos * (y1 - y0);
            char b[48];
            if (k == n_keys) svg_tick_text(b, sizeof b, t[j], 0, nt > 1 ? t[1] - t[0] : 1);
            fprintf(f, "<text class=\"ptick\" x=\"%.1f\" y=\"%.1f\" dy=\"0.35em\" "
                       "text-anchor=\"end\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"4\" "
                       "paint-order=\"stroke\">", x - 6, y1 - pos * (y1 - y0), SVG_FG);
            svg_esc(f, k < n_keys ? axes[k].vals[j] : b);
            fputs("</text>\n", f);
        }
    }
    fputs("</svg>\n", f);
    for (int k = 0; k < n_keys; k++) free(axes[k].vals), free(axes[k].pos);
    free(axes);
}
