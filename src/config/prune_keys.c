/* prune_keys.c — the [sweep] keys that stop hopeless runs early (`prune`,
 * `prune_min_runs`, `prune_warmup`, `rungs`, `eta`) read into the Sweep's
 * PruneRule, each checked at its line: the value's form, and that a key
 * belongs to the pruner chosen. sweep.c hands every plain (dotless) [sweep]
 * key here; the decision itself is src/train/prune.c's. */
#include <stdio.h>
#include <string.h>

#include "cnnrun/config.h"
#include "cnnrun/decimal.h"
#include "cnnrun/util.h"
#include "prune_keys.h"

static const char *const KEYS[] = {"prune", "prune_min_runs", "prune_warmup", "rungs", "eta"};
enum { K_PRUNE, K_MIN_RUNS, K_WARMUP, K_RUNGS, K_ETA, K_COUNT };

void prune_keys_init(PruneKeys *pk)
{
    memset(pk, 0, sizeof *pk);
    pk->rule = (PruneRule){.kind = PRUNE_NONE, .min_runs = 3, .warmup = 0, .n_rungs = 3,
                           .rungs = {1, 3, 9}, .eta = 3};
}

/* A whole number in [lo, hi] at loc, or -1 (reported). */
static int read_int(Diag *d, CfgLoc loc, const char *key, const char *v, long lo, long hi,
                    const char *why)
{
    long x;
    if (decimal_long(v, &x) != DECIMAL_OK || x < lo || x > hi) {
        diag_error(d, loc, "%s must be a whole number from %ld to %ld (%s), got '%s'", key, lo,
                   hi, why, v);
        return -1;
    }
    return (int)x;
}

/* rungs = 1, 3, 9: increasing positive epochs. */
static void read_rungs(Diag *d, CfgLoc loc, const char *v, PruneRule *r)
{
    char buf[256];
    str_copy(buf, sizeof buf, v);
    int n = 0, prev = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t') t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t')) t[--len] = '\0';
        long x;
        if (decimal_long(t, &x) != DECIMAL_OK || x < 1 || x > 1000000) {
            diag_error(d, loc, "rungs are epochs, whole numbers from 1 (e.g. rungs = 1, 3, 9), "
                               "got '%s'", t);
            return;
        }
        if (x <= prev) {
            diag_error(d, loc, "rungs must increase (e.g. rungs = 1, 3, 9): %ld after %d", x,
                       prev);
            return;
        }
        if (n == CN_PRUNE_MAX_RUNGS) {
            diag_error(d, loc, "at most %d rungs", CN_PRUNE_MAX_RUNGS);
            return;
        }
        r->rungs[n++] = (int)x;
        prev = (int)x;
    }
    if (n == 0) {
        diag_error(d, loc, "rungs has no epochs; give them separated by commas (e.g. rungs = "
                           "1, 3, 9)");
        return;
    }
    r->n_rungs = n;
}

int prune_keys_read(Diag *d, PruneKeys *pk, const char *key, const char *value, int line)
{
    int k = 0;
    while (k < K_COUNT && strcmp(KEYS[k], key) != 0) k++;
    if (k == K_COUNT) return 0;
    CfgLoc loc = {line, NULL};
    PruneRule *r = &pk->rule;
    pk->line[k] = line;
    int x;
    switch (k) {
    case K_PRUNE:
        if (!strcmp(value, "median")) r->kind = PRUNE_MEDIAN;
        else if (!strcmp(value, "asha")) r->kind = PRUNE_ASHA;
        else if (!strcmp(value, "none")) r->kind = PRUNE_NONE;
        else
            diag_error(d, loc, "prune must be median, asha or none, got '%s'", value);
        r->line = line;
        break;
    case K_MIN_RUNS:
        if ((x = read_int(d, loc, key, value, 1, 100000,
                          "the earlier runs a decision needs")) >= 0)
            r->min_runs = x;
        break;
    case K_WARMUP:
        if ((x = read_int(d, loc, key, value, 0, 1000000, "epochs never pruned after")) >= 0)
            r->warmup = x;
        break;
    case K_RUNGS: read_rungs(d, loc, value, r); break;
    case K_ETA:
        if ((x = read_int(d, loc, key, value, 2, 1000, "a rung keeps the top 1/eta")) >= 0)
            r->eta = x;
        break;
    }
    return 1;
}

void prune_keys_check(Diag *d, PruneKeys *pk)
{
    const PruneRule *r = &pk->rule;
    for (int k = K_MIN_RUNS; k < K_COUNT; k++) {
        if (!pk->line[k]) continue;
        CfgLoc loc = {pk->line[k], NULL};
        if (r->kind == PRUNE_NONE)
            diag_error(d, loc, "%s is a key of pruning; it needs prune = %s in [sweep]", KEYS[k],
                       k == K_WARMUP ? "median" : k == K_MIN_RUNS ? "median or asha" : "asha");
        else if (k == K_WARMUP && r->kind != PRUNE_MEDIAN)
            diag_error(d, loc, "prune_warmup is a key of prune = median (asha decides at its "
                               "rungs only)");
        else if ((k == K_RUNGS || k == K_ETA) && r->kind != PRUNE_ASHA)
            diag_error(d, loc, "%s is a key of prune = asha, not of prune = median", KEYS[k]);
    }
}

void prune_rule_text(const PruneRule *r, char *buf, size_t n)
{
    if (r->kind == PRUNE_MEDIAN) {
        snprintf(buf, n, "median (prune_min_runs = %d, prune_warmup = %d)", r->min_runs,
                 r->warmup);
    } else if (r->kind == PRUNE_ASHA) {
        char rungs[CN_PRUNE_MAX_RUNGS * 12] = "";
        size_t used = 0;
        for (int i = 0; i < r->n_rungs; i++)
            used += (size_t)snprintf(rungs + used, sizeof rungs - used, "%s%d", i ? ", " : "",
                                     r->rungs[i]);
        snprintf(buf, n, "asha (rungs = %s, eta = %d, prune_min_runs = %d)", rungs, r->eta,
                 r->min_runs);
    } else {
        snprintf(buf, n, "none");
    }
}
