/* group_stats.c — what the report computes about groups of runs (report.h):
 * a group's per-epoch curve as the mean and sample std of its members (a
 * run [sweep] prune stopped left out), the
 * sweep over one key (the groups of an experiment whose values differ in
 * exactly one numeric key) and whether that key's axis is logarithmic. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/report.h"
#include "cnnrun/util.h"

static double epoch_value(const ReportEpoch *e, int column)
{
    switch (column) {
    case REPORT_TEST_ACC: return 100 * e->test_acc;
    case REPORT_TEST_LOSS: return e->test_loss;
    default: return e->train_loss;
    }
}

/* [sweep] prune stopped it: counted in its group, not in the group's means */
static int pruned(const ReportRun *r)
{
    return r->stop_reason && strcmp(r->stop_reason, "pruned") == 0;
}

void report_group_curve(const ReportGroup *g, int column, GroupCurve *c)
{
    memset(c, 0, sizeof *c);
    int last = 0;
    for (int r = 0; r < g->n_runs; r++)
        for (int k = 0; k < g->runs[r].n_epochs; k++)
            if (g->runs[r].epochs[k].epoch > last) last = g->runs[r].epochs[k].epoch;
    if (last == 0) return;
    double *buf = xmalloc(sizeof(double) * (size_t)last * 5);
    c->epoch = buf, c->mean = buf + last, c->std = buf + 2 * last;
    c->lo = buf + 3 * last, c->hi = buf + 4 * last;
    c->count = xcalloc((size_t)last, sizeof(int));
    for (int ep = 1; ep <= last; ep++) {
        double sum = 0, ss = 0;
        int n = 0;
        for (int pass = 0; pass < 2; pass++) /* the mean, then the squared deviations */
            for (int r = 0; r < g->n_runs; r++)
                for (int k = 0; k < g->runs[r].n_epochs && !pruned(&g->runs[r]); k++) {
                    if (g->runs[r].epochs[k].epoch != ep) continue;
                    double v = epoch_value(&g->runs[r].epochs[k], column);
                    if (!isfinite(v)) continue;
                    if (pass == 0) sum += v, n++;
                    else ss += (v - sum / n) * (v - sum / n);
                }
        if (n == 0) continue; /* no member has this epoch: left out */
        int i = c->n++;
        c->epoch[i] = ep;
        c->count[i] = n;
        c->mean[i] = sum / n;
        c->std[i] = n > 1 ? sqrt(ss / (n - 1)) : NAN;
        c->lo[i] = c->mean[i] - c->std[i];
        c->hi[i] = c->mean[i] + c->std[i];
    }
}

void report_free_curve(GroupCurve *c)
{
    free(c->epoch);
    free(c->count);
    memset(c, 0, sizeof *c);
}

/* g's value of key, NULL if it has none */
static const char *value_of(const ReportGroup *g, const char *key)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->keys[i], key) == 0) return g->values[i];
    return NULL;
}

static int parse_number(const char *s, double *v)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno || !isfinite(*v) ? -1 : 0;
}

/* 1 if key has the same value (or none) in every group of `members` */
static int constant_key(const ReportGroups *g, const int *members, int m, const char *key)
{
    const char *first = value_of(&g->groups[members[0]], key);
    for (int i = 1; i < m; i++) {
        const char *v = value_of(&g->groups[members[i]], key);
        if ((first == NULL) != (v == NULL) || (v && strcmp(v, first) != 0)) return 0;
    }
    return 1;
}

int report_sweep_over_one_key(const ReportGroups *g, const char *experiment, const char **key,
                              int *idx, double *x)
{
    int m = 0;
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->groups[i].experiment, experiment) == 0) idx[m++] = i;
    if (m < 2) return 0;
    const char *varying = NULL;
    for (int i = 0; i < m; i++) {
        const ReportGroup *gr = &g->groups[idx[i]];
        for (int k = 0; k < gr->n_values; k++) {
            if (constant_key(g, idx, m, gr->keys[k])) continue;
            if (varying && strcmp(varying, gr->keys[k]) != 0) return 0; /* a second key */
            varying = gr->keys[k];
        }
    }
    if (!varying) return 0;
    for (int i = 0; i < m; i++)
        if (parse_number(value_of(&g->groups[idx[i]], varying), &x[i]) != 0) return 0;
    /* in the order of the values; two groups with one value are no sweep of it */
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
            double t = x[j];
            x[j] = x[j - 1], x[j - 1] = t;
            int u = idx[j];
            idx[j] = idx[j - 1], idx[j - 1] = u;
        }
    for (int i = 1; i < m; i++)
        if (x[i] == x[i - 1]) return 0;
    *key = varying;
    return m;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int report_log_axis(const char *key, const double *x, int n)
{
    if (n < 1) return 0;
    double lo = x[0], hi = x[0];
    for (int i = 0; i < n; i++) {
        if (!(x[i] > 0)) return 0;
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    const char *dot = strrchr(key, '.');
    const char *name = dot ? dot + 1 : key;
    int rate = strncmp(name, "lr", 2) == 0 || ends_with(name, "decay") || ends_with(name, "eps");
    return rate || hi >= 10 * lo;
}
