/* text.c — the comparison table on a terminal (`cnnrun runs`,
 * report_print_table): one line per run, the columns of `run_summary`. */
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
    fprintf(f, "%4s  %-16s %-11s %7s %9s %5s %9s %10s %7s %9s %8s\n", "run", "experiment",
            "status", "epochs", "best acc", "@ep", "final acc", "time", "img/s", "params",
            "MFLOPs");
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        char ep[24], best[24], fin[24], tm[24], ips[24], par[24], mf[24], bep[16];
        snprintf(ep, sizeof ep, "%d/%d", r->epochs_done, r->epochs_planned);
        if (r->epochs_done > 0) snprintf(bep, sizeof bep, "%d", r->best_epoch);
        else snprintf(bep, sizeof bep, "-");
        fprintf(f, "%4lld  %-16.16s %-11s %7s %9s %5s %9s %10s %7s %9s %8s\n", (long long)r->id,
                r->experiment, r->status, ep, fmt_pct(best, sizeof best, r->best_test_acc), bep,
                fmt_pct(fin, sizeof fin, r->final_test_acc),
                fmt_duration(tm, sizeof tm, r->train_seconds),
                fmt_num(ips, sizeof ips, r->images_per_sec, 0), fmt_params(par, sizeof par, r->params),
                fmt_num(mf, sizeof mf, r->mflops, 1));
    }
}
