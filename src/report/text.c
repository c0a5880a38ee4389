/* text.c — the comparison table on a terminal (`cnnrun runs`,
 * report_print_table): one line per run, the columns of `run_summary`, its precision (with
 * why a run stopped early and its time to accuracy) and one per swept key
 * (the run_params keys whose value differs between the runs shown), then the error of each
 * run that failed, diverged or was interrupted; and
 * `cnnrun runs --groups` (report_print_groups): one line per group of runs
 * that differ only in their seed, the view `run_groups`. */
#include <stdio.h>
#include <string.h>

#include "cnnrun/report.h"
#include "format.h"

void report_print_table(const ReportData *d, FILE *f)
{
    if (d->n_runs == 0) {
        fprintf(f, "%s: no runs recorded yet\n", d->db_path);
        return;
    }
    const char *keys[16]; /* the swept keys, one column each after the others */
    int n_keys = report_swept_keys(d, keys, 16), width[16];
    for (int k = 0; k < n_keys; k++) {
        width[k] = (int)strlen(keys[k]);
        for (int i = 0; i < d->n_runs; i++) {
            const char *v = report_run_param(&d->runs[i], keys[k]);
            if (v && (int)strlen(v) > width[k]) width[k] = (int)strlen(v);
        }
    }
    fprintf(f, "%4s  %-16s %-11s %7s %9s %5s %9s %10s %7s %4s %9s %8s  %-8s %-*s", "run",
            "experiment", "status", "epochs", "best acc", "@ep", "final acc", "time", "img/s",
            "prec", "params", "MFLOPs", "stopped", n_keys ? 12 : 0, "to target");
    for (int k = 0; k < n_keys; k++) /* the last column unpadded */
        fprintf(f, "  %-*s", k + 1 < n_keys ? width[k] : 0, keys[k]);
    fputc('\n', f);
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        char ep[24], best[24], fin[24], tm[24], ips[24], par[24], mf[24], bep[16], tt[48];
        snprintf(ep, sizeof ep, "%d/%d", r->epochs_done, r->epochs_planned);
        if (r->epochs_done > 0) snprintf(bep, sizeof bep, "%d", r->best_epoch);
        else snprintf(bep, sizeof bep, "-");
        fprintf(f, "%4lld  %-16.16s %-11s %7s %9s %5s %9s %10s %7s %4s %9s %8s  %-8s %-*s",
                (long long)r->id, r->experiment, r->status, ep,
                fmt_pct(best, sizeof best, r->best_test_acc), bep,
                fmt_pct(fin, sizeof fin, r->final_test_acc),
                fmt_duration(tm, sizeof tm, r->train_seconds),
                fmt_num(ips, sizeof ips, r->images_per_sec, 0),
                r->precision ? r->precision : "fp32", fmt_params(par, sizeof par, r->params),
                fmt_num(mf, sizeof mf, r->mflops, 1), r->stop_reason ? r->stop_reason : "-",
                n_keys ? 12 : 0,
                fmt_to_target(tt, sizeof tt, r->seconds_to_target, r->epochs_to_target));
        for (int k = 0; k < n_keys; k++) {
            const char *v = report_run_param(r, keys[k]);
            fprintf(f, "  %-*s", k + 1 < n_keys ? width[k] : 0, v ? v : "-");
        }
        fputc('\n', f);
    }
    if (d->study_id > 0 && d->n_everywhere > d->n_recorded)
        fprintf(f, "(study %lld, %s: %d of the %d runs recorded; --study all for every run, "
                   "cnnrun studies lists the studies)\n", (long long)d->study_id,
                d->study_name ? d->study_name : "", d->n_recorded, d->n_everywhere);
    if (d->latest && d->n_recorded > d->n_runs)
        fprintf(f, "(the newest run of each experiment: %d of the %d recorded; --runs all for "
                   "every run)\n", d->n_runs, d->n_recorded);
    /* why each run that did not finish stopped (the error column), under the table */
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        if (r->error && *r->error)
            fprintf(f, "run %lld %s: %s\n", (long long)r->id, r->status, r->error);
    }
}

/* s left-aligned in `width` terminal columns */
static void print_cell(FILE *f, const char *s, int width)
{
    int cols = (int)strlen(s) - (strstr(s, PLUS_MINUS) ? 1 : 0);
    fprintf(f, "%s%*s", s, cols < width ? width - cols : 0, "");
}

void report_print_groups(const ReportGroups *g, const char *db_path, FILE *f)
{
    if (g->schema_version > 0 && g->schema_version < 6) {
        fprintf(f, "%s: no groups: the database has schema version %d, run_groups came with "
                   "version 6 (the next `cnnrun run` on it upgrades the file)\n",
                db_path, g->schema_version);
        return;
    }
    if (g->n == 0) {
        if (g->study_id > 0)
            fprintf(f, "%s: no finished runs to group yet in study %lld (%s)\n", db_path,
                    (long long)g->study_id, g->study_name ? g->study_name : "");
        else
            fprintf(f, "%s: no finished runs to group yet\n", db_path);
        return;
    }
    if (g->study_id > 0) /* the groups of one study (--study; default: the newest) */
        fprintf(f, "study %lld (%s); --study all for the groups of every study\n",
                (long long)g->study_id, g->study_name ? g->study_name : "");
    /* every study's groups (--study all): which study each is of */
    const int by_study = g->study_id == 0 && g->schema_version >= 14;
    if (by_study) fprintf(f, "%5s  ", "study");
    fprintf(f, "%-16s %3s  %-18s %-18s %10s  %-12s %s\n", "experiment", "n", "final acc",
            "best acc", "time", "runs", "values");
    for (int i = 0; i < g->n; i++) {
        const ReportGroup *r = &g->groups[i];
        char fin[48], best[48], tm[24];
        if (by_study && r->study_id > 0) fprintf(f, "%5lld  ", (long long)r->study_id);
        else if (by_study) fprintf(f, "%5s  ", "-");
        fprintf(f, "%-16.16s %3d  ", r->experiment, r->n);
        print_cell(f, fmt_pct_std(fin, sizeof fin, r->mean_final, r->std_final), 18);
        fputc(' ', f);
        print_cell(f, fmt_pct_std(best, sizeof best, r->mean_best, r->std_best), 18);
        fprintf(f, " %10s  %-12s %s", fmt_duration(tm, sizeof tm, r->mean_seconds),
                r->run_ids ? r->run_ids : "", r->params && *r->params ? r->params : "-");
        if (r->n_pruned > 0) /* counted in n, not in the means */
            fprintf(f, "  (%d of %d pruned, not in the means)", r->n_pruned, r->n);
        fputc('\n', f);
    }
}
