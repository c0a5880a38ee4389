/* prune.c — whether a run of a sweep goes on after an epoch ([sweep] prune,
 * config.h PruneRule): the median rule (Golovin et al., Google Vizier, 2017:
 * stop a run whose accuracy is below the median of the earlier runs at the
 * same epoch) and asynchronous successive halving (Li et al., ASHA, 2018: at
 * each rung a run goes on only in the top 1/eta of the runs that reached
 * it). Pure functions of the numbers given; which runs count, and reading
 * them from the results database, is the caller's (src/cli/run_record.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

int prune_decides_at(const PruneRule *rule, int epoch)
{
    if (rule->kind == PRUNE_MEDIAN) return epoch > rule->warmup;
    if (rule->kind == PRUNE_ASHA)
        for (int i = 0; i < rule->n_rungs; i++)
            if (rule->rungs[i] == epoch) return 1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

PruneVerdict prune_decide(const PruneRule *rule, int epoch, double metric, const double *others,
                          int n)
{
    if (!prune_decides_at(rule, epoch) || n < rule->min_runs) return PRUNE_GO_ON;
    if (isnan(metric)) return PRUNE_STOP;
    double *v = xmalloc(sizeof *v * (size_t)(n + 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(others[i])) v[m++] = others[i];
    PruneVerdict out = PRUNE_GO_ON;
    if (m >= rule->min_runs && m > 0) {
        if (rule->kind == PRUNE_MEDIAN) {
            qsort(v, (size_t)m, sizeof *v, cmp_double);
            double median = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
            if (metric < median) out = PRUNE_STOP;
        } else {
            /* the run with the others that reached the rung: it goes on when
             * fewer than `keep` of them are strictly better */
            v[m++] = metric;
            int keep = m / rule->eta;
            if (keep < 1) keep = 1;
            int better = 0;
            for (int i = 0; i < m; i++) better += v[i] > metric;
            if (better >= keep) out = PRUNE_STOP;
        }
    }
    free(v);
    return out;
}
