/* html.c — the HTML report (report_write_html): DIR/index.html with the
 * comparison table, the groups of seeds (html_groups.c), an overlay plot of
 * the runs' test accuracy and, per run, loss / accuracy / learning-rate
 * plots, the LR range test where there is one and the layer table; the plots
 * are SVG files next to it (plot.c); the page's helpers are html_page.c's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cnnrun/files.h"
#include "cnnrun/report.h"
#include "cnnrun/util.h"
#include "format.h"
#include "html.h"
#include "html_page.h"

/* mkdir -p; 0, or after printing the reason CN_EXIT_USAGE (a file where a
 * directory goes) or CN_EXIT_FAIL. */
static int make_dirs(const char *dir)
{
    char buf[4096];
    if (!str_copy(buf, sizeof buf, dir)) {
        fprintf(stderr, "%s: the output directory path is too long\n", dir);
        return CN_EXIT_USAGE;
    }
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (stat(buf, &st) != 0) {
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "%s: cannot create the report directory: %s\nHINT: choose "
                                "another one with -o DIR\n", buf, strerror(errno));
                return CN_EXIT_FAIL;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "%s: is not a directory\nHINT: choose another report directory "
                            "with -o DIR\n", buf);
            return CN_EXIT_USAGE;
        }
        *p = c;
        if (c == '\0') break;
    }
    return 0;
}

/* loss | accuracy | learning rate of one run, side by side */
static int plot_run(FILE *page, const char *dir, const ReportRun *r)
{
    int n = r->n_epochs;
    double *x = xmalloc(sizeof(double) * (size_t)n * 6);
    double *trl = x + n, *tel = x + 2 * n, *tra = x + 3 * n, *tea = x + 4 * n, *lr = x + 5 * n;
    for (int i = 0; i < n; i++) {
        const ReportEpoch *e = &r->epochs[i];
        x[i] = e->epoch;
        trl[i] = e->train_loss;
        tel[i] = e->test_loss;
        tra[i] = 100 * e->train_acc;
        tea[i] = 100 * e->test_acc;
        lr[i] = e->lr;
    }
    char h[3][64];
    snprintf(h[0], sizeof h[0], "run %lld: train", (long long)r->id);
    snprintf(h[1], sizeof h[1], "run %lld: test", (long long)r->id);
    snprintf(h[2], sizeof h[2], "run %lld: learning rate", (long long)r->id);
    PlotSeries loss[] = {{.label = "train", .hover = h[0], .x = x, .y = trl, .n = n, .color = 0},
                         {.label = "test", .hover = h[1], .x = x, .y = tel, .n = n, .color = 1}};
    PlotSeries acc[] = {{.label = "train", .hover = h[0], .x = x, .y = tra, .n = n, .color = 0},
                        {.label = "test", .hover = h[1], .x = x, .y = tea, .n = n, .color = 1}};
    PlotSeries rate[] = {{.hover = h[2], .x = x, .y = lr, .n = n, .color = 2}};
    PlotPanel panels[] = {
        {.title = "loss", .xlabel = "epoch", .ylabel = "cross-entropy", .series = loss,
         .n_series = 2, .int_x = 1},
        {.title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy (%)", .series = acc,
         .n_series = 2, .int_x = 1},
        {.title = "learning rate", .xlabel = "epoch", .ylabel = "lr (last step of the epoch)",
         .series = rate, .n_series = 1, .int_x = 1},
    };
    char name[64];
    snprintf(name, sizeof name, "run-%lld.svg", (long long)r->id);
    int rc = html_plot(page, dir, name, 1200, 340, panels, 3);
    free(x);
    return rc;
}

/* "run 3: lr_max=0.05" (what differs between the runs), hovers with every swept key */
static int plot_overlay(FILE *page, const char *dir, const ReportData *d)
{
    int nr = d->n_runs;
    PlotSeries *s = xcalloc((size_t)nr, sizeof *s);
    ReportNamed *named = xcalloc((size_t)nr, sizeof *named);
    char **labels = xcalloc((size_t)nr, sizeof *labels), **hovers = xcalloc((size_t)nr, sizeof *hovers);
    char ***points = xcalloc((size_t)nr, sizeof *points);
    double **bufs = xcalloc((size_t)nr, sizeof *bufs);
    const char *keys[16];
    int n_keys = report_swept_keys(d, keys, 16);
    for (int i = 0; i < nr; i++) {
        const ReportRun *r = &d->runs[i];
        named[i] = (ReportNamed){.experiment = r->experiment, .keys = r->param_keys,
                                 .values = r->param_values, .n = r->n_param};
    }
    char **diff = report_differing_labels(named, nr);
    for (int i = 0; i < nr; i++) {
        const ReportRun *r = &d->runs[i];
        labels[i] = html_fmt("run %lld%s%s", (long long)r->id, *diff[i] ? ": " : "", diff[i]);
        hovers[i] = html_fmt("run %lld (%s, %s)", (long long)r->id, r->experiment, r->status);
        for (int k = 0; k < n_keys; k++) {
            const char *v = report_run_param(r, keys[k]);
            char *t = html_fmt("%s\n%s=%s", hovers[i], keys[k], v ? v : "-");
            free(hovers[i]);
            hovers[i] = t;
        }
        bufs[i] = xmalloc(sizeof(double) * (size_t)(2 * r->n_epochs + 1));
        points[i] = xcalloc((size_t)r->n_epochs + 1, sizeof(char *));
        for (int k = 0; k < r->n_epochs; k++) {
            bufs[i][k] = r->epochs[k].epoch;
            bufs[i][r->n_epochs + k] = 100 * r->epochs[k].test_acc;
            points[i][k] = html_fmt("%s\nepoch %d: test accuracy %.2f %%", hovers[i],
                                          r->epochs[k].epoch, 100 * r->epochs[k].test_acc);
        }
        s[i] = (PlotSeries){.label = r->n_epochs ? labels[i] : NULL, .hover = hovers[i],
                            .point_hover = (const char *const *)points[i], .x = bufs[i],
                            .y = bufs[i] + r->n_epochs, .n = r->n_epochs, .color = i};
    }
    PlotPanel p = {.title = "test accuracy per epoch", .xlabel = "epoch",
                   .ylabel = "test accuracy (%)", .series = s, .n_series = nr, .int_x = 1};
    int rc = html_plot(page, dir, "overlay.svg", 1200, 420, &p, 1);
    for (int i = 0; i < nr; i++) {
        for (int k = 0; k < d->runs[i].n_epochs; k++) free(points[i][k]);
        free(points[i]);
        free(bufs[i]);
    }
    report_free_labels(diff, nr);
    report_free_labels(labels, nr);
    report_free_labels(hovers, nr);
    free(points);
    free(bufs);
    free(named);
    free(s);
    return rc;
}

static int plot_lr_find(FILE *page, const char *dir, const ReportRun *r)
{
    char h[64];
    snprintf(h, sizeof h, "run %lld: LR range test", (long long)r->id);
    PlotSeries s = {.hover = h, .x = r->lrf_lr, .y = r->lrf_loss, .n = r->n_lrf, .color = 3};
    PlotPanel p = {.title = "LR range test", .xlabel = "learning rate (log scale)",
                   .ylabel = "training loss", .series = &s, .n_series = 1, .log_x = 1};
    char name[64];
    snprintf(name, sizeof name, "lr-find-%lld.svg", (long long)r->id);
    return html_plot(page, dir, name, 1200, 420, &p, 1);
}

static const char *style =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;"
    "max-width:1240px;padding:0 16px;color:#222;line-height:1.4}\n"
    "h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:32px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}\n"
    ".meta{color:#666;font-size:14px}\n"
    "table{border-collapse:collapse;font-size:14px;margin:8px 0}\n"
    "th,td{padding:5px 7px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}\n"
    "th{background:#f4f4f4;font-weight:600;white-space:normal}\n"
    "td.l,th.l{text-align:left}\n"
    "tr.best td{font-weight:600;background:#fff7e6}tr.pruned td{color:#777;font-style:italic}\n"
    "tr.failed td{background:#fdf0ef}\n"
    ".status-finished{color:#067d3f}.status-running{color:#0a5fb4}\n"
    ".status-failed,.status-diverged,.status-interrupted,.status-dead{color:#b3261e}\n"
    "figure{margin:8px 0}figure svg{max-width:100%;height:auto;display:block}\n"
    ".error{color:#b3261e}.wide{overflow-x:auto}\n"
    "details{margin:6px 0 12px}summary{cursor:pointer;color:#444}\n";

static void write_table(FILE *f, const ReportData *d)
{
    double best = -1;
    for (int i = 0; i < d->n_runs; i++)
        if (isfinite(d->runs[i].best_test_acc) && d->runs[i].best_test_acc > best)
            best = d->runs[i].best_test_acc;
    const char *keys[16]; /* a column per swept key */
    int n_keys = report_swept_keys(d, keys, 16);
    /* the swept keys right after the experiment: what tells the points apart
     * stays in sight on a narrow screen */
    fputs("<table>\n<tr><th>run</th><th class=l>experiment</th>", f);
    for (int k = 0; k < n_keys; k++) {
        fputs("<th class=l>", f);
        html_esc(f, keys[k]);
        fputs("</th>", f);
    }
    fputs("<th class=l>status</th><th>epochs</th><th>best test acc</th><th>at epoch</th>"
          "<th>final test acc</th><th>train time</th><th>img/s</th><th>params</th>"
          "<th>MFLOPs/img</th><th class=l>stopped</th><th>to target</th></tr>\n",
          f);
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        char b1[24], b2[24], b3[24], b4[24], b5[24], b6[24], b7[48];
        int top = d->best_first ? i == 0 && r->n_epochs > 0
                                : isfinite(r->best_test_acc) && r->best_test_acc == best;
        int pruned = r->stop_reason && !strcmp(r->stop_reason, "pruned");
        int failed = strcmp(r->status, "finished") && strcmp(r->status, "running");
        fprintf(f, "<tr class=\"%s%s%s\"><td><a href=\"#run-%lld\">%lld</a>%s</td><td class=l>",
                top ? "best" : "", pruned ? " pruned" : "", failed ? " failed" : "",
                (long long)r->id, (long long)r->id, top ? " &#9733;" : "");
        html_esc(f, r->experiment);
        fputs("</td>", f);
        for (int k = 0; k < n_keys; k++) {
            const char *v = report_run_param(r, keys[k]);
            fputs("<td class=l>", f);
            html_esc(f, v ? v : "-");
            fputs("</td>", f);
        }
        fprintf(f, "<td class=\"l status-");
        html_esc(f, r->status);
        fputs("\">", f);
        html_esc(f, r->status);
        fprintf(f, "</td><td>%d / %d</td><td>%s</td><td>", r->epochs_done, r->epochs_planned,
                fmt_pct(b1, sizeof b1, r->best_test_acc));
        if (r->epochs_done > 0) fprintf(f, "%d", r->best_epoch);
        else fputs("-", f);
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=l>",
                fmt_pct(b2, sizeof b2, r->final_test_acc),
                fmt_duration(b3, sizeof b3, r->train_seconds),
                fmt_num(b4, sizeof b4, r->images_per_sec, 0), fmt_params(b5, sizeof b5, r->params),
                fmt_num(b6, sizeof b6, r->mflops, 1));
        html_esc(f, r->stop_reason ? r->stop_reason : "-");
        fprintf(f, "</td><td>%s</td></tr>\n",
                fmt_to_target(b7, sizeof b7, r->seconds_to_target, r->epochs_to_target));
    }
    fputs("</table>\n", f);
}

static void write_layers(FILE *f, const ReportRun *r)
{
    if (r->n_layers == 0) return;
    fprintf(f, "<details><summary>layers (%d sections)</summary>\n<table>\n<tr><th>#</th>"
               "<th class=l>layer</th><th class=l>type</th><th class=l>input</th>"
               "<th class=l>output</th><th>params</th><th>MFLOPs</th></tr>\n",
            r->n_layers);
    for (int k = 0; k < r->n_layers; k++) {
        const ReportLayer *l = &r->layers[k];
        fprintf(f, "<tr><td>%d</td><td class=l>", l->idx);
        html_esc(f, l->name);
        fputs("</td><td class=l>", f);
        html_esc(f, l->type);
        fputs("</td><td class=l>", f);
        html_esc(f, l->input_shape);
        fputs("</td><td class=l>", f);
        html_esc(f, l->output_shape);
        fprintf(f, "</td><td>%lld</td><td>%.2f</td></tr>\n", (long long)l->params, l->mflops);
    }
    fputs("</table>\n</details>\n", f);
}

/* The report's files in dir (the staging directory): 0 or CN_EXIT_FAIL. */
static int write_report(const ReportData *d, const char *dir)
{
    char *index = html_path(dir, "index.html");
    FILE *f = fopen(index, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write the report: %s\nHINT: choose another directory with "
                        "-o DIR\n", index, strerror(errno));
        free(index);
        return CN_EXIT_FAIL;
    }
    int rc = 0;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, CN_REPORT_SIGNATURE "; the plots are the SVG files next to this file -->\n"
               "<html lang=en><head><meta charset=utf-8>\n<title>cnnrun report</title>\n"
               "<style>\n%s</style></head><body>\n<h1>cnnrun report</h1>\n<p class=meta>",
            style);
    html_esc(f, d->db_path);
    if (d->study_id > 0) { /* the default: a study, whole */
        fprintf(f, " &middot; study %lld (", (long long)d->study_id);
        html_esc(f, d->study_name ? d->study_name : "");
        fputs(")", f);
    }
    fprintf(f, " &middot; %d run%s%s", d->n_runs, d->n_runs == 1 ? "" : "s",
            d->best_first ? ", best first (validation accuracy where a run has it, else test)"
                          : "");
    if (d->latest && d->n_recorded > d->n_runs) /* a sweep's 9 runs: "1 run" alone misleads */
        fprintf(f, ", the newest of each experiment, of %d recorded (<code>cnnrun report --runs "
                   "all</code> for every run; the groups below count them all)", d->n_recorded);
    fprintf(f, " &middot; written %s by cnnrun %s &middot; accuracies on the test set</p>\n",
            when, CN_VERSION);

    fputs("<h2>Comparison</h2>\n", f);
    if (d->n_runs == 0) fputs("<p>No runs recorded yet: train with <code>cnnrun run</code>.</p>\n", f);
    else {
        if (d->best_first)
            fputs("<p class=meta>The points best first: &#9733; the best; a swept key's values in "
                  "its column; pruned runs in grey italics (<code>stopped: pruned</code>), runs "
                  "that failed, diverged or were interrupted shaded red.</p>\n", f);
        fputs("<div class=wide>", f); /* scrolls inside the page where the screen is narrow */
        write_table(f, d);
        fputs("</div>\n", f);
    }
    rc |= html_groups(f, dir, &d->groups, d->runs, d->n_runs);
    rc |= html_sweep(f, dir, d);

    int any_epochs = 0;
    for (int i = 0; i < d->n_runs; i++) any_epochs |= d->runs[i].n_epochs > 0;
    if (any_epochs) {
        fputs("<h2>Test accuracy</h2>\n", f);
        rc |= plot_overlay(f, dir, d);
    }
    for (int i = 0; i < d->n_runs; i++) {
        const ReportRun *r = &d->runs[i];
        fprintf(f, "<h2 id=\"run-%lld\">Run %lld &middot; ", (long long)r->id, (long long)r->id);
        html_esc(f, r->experiment);
        fputs("</h2>\n<p class=meta>", f);
        html_esc(f, r->status);
        fprintf(f, " &middot; %d of %d epochs &middot; started ", r->epochs_done,
                r->epochs_planned);
        html_esc(f, r->started_at);
        fprintf(f, " &middot; %d thread%s &middot; %s</p>\n", r->threads, r->threads == 1 ? "" : "s",
                r->precision ? r->precision : "fp32");
        if (r->error) {
            fputs("<p class=error>", f);
            html_esc(f, r->error);
            fputs("</p>\n", f);
        }
        if (r->n_epochs > 0) {
            rc |= plot_run(f, dir, r);
        } else if (r->n_lrf == 0) {
            fputs("<p>No epoch finished: nothing to plot.</p>\n", f);
        }
        if (r->n_lrf > 0) {
            fputs("<h3>LR range test</h3>\n", f);
            rc |= plot_lr_find(f, dir, r);
        }
        write_layers(f, r);
    }
    fputs("</body></html>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write the report: %s\n", index, strerror(errno));
        rc = -1;
    }
    free(index);
    return rc ? CN_EXIT_FAIL : 0;
}

int report_write_html(const ReportData *d, const char *dir)
{
    int rc = make_dirs(dir);
    if (rc != 0) return rc;
    char *stage = html_stage(dir);
    if (!stage) return CN_EXIT_FAIL;
    rc = write_report(d, stage);
    if (rc == 0) rc = html_publish(stage, dir);
    html_unstage(stage);
    free(stage);
    return rc;
}
