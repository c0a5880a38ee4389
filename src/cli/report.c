/* report.c — `cnnrun report` (the HTML report with its SVG plots, or with
 * --text the comparison table) and `cnnrun runs` (the table of every run;
 * --groups: of every group of runs that differ only in their seed) on
 * the results database; the work is in src/report/. Exit status: 0, 1 the
 * database is missing or unreadable or the report cannot be written, 2 bad
 * usage (an argument, a bad --runs list or a run id not in the database). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/report.h"
#include "cnnrun/util.h"

static int no_files(const CliOptions *o, const char *cmd)
{
    if (o->n_files == 0) return 0;
    fprintf(stderr, "cnnrun %s: takes no file arguments, got '%s' (the database is chosen with "
                    "--db PATH)\n", cmd, o->files[0]);
    return -1;
}

/* report/ next to the database: results/results.db -> results/report */
static char *default_dir(const char *db)
{
    const char *slash = strrchr(db, '/');
    size_t n = slash ? (size_t)(slash - db) + 1 : 0;
    char *dir = xmalloc(n + sizeof "report");
    memcpy(dir, db, n);
    memcpy(dir + n, "report", sizeof "report");
    return dir;
}

int cmd_report(CliOptions *o)
{
    if (no_files(o, "report") != 0) return CN_EXIT_USAGE;
    if (o->text && o->output) {
        fprintf(stderr, "cnnrun report: --text prints the table and writes no files; drop -o\n");
        return CN_EXIT_USAGE;
    }
    ReportData d;
    int rc = o->text ? report_load_table(o->db, o->runs, &d) : report_load(o->db, o->runs, &d);
    if (rc == 0 && o->text) {
        report_print_table(&d, stdout);
    } else if (rc == 0) {
        char *dir = o->output ? xstrdup(o->output) : default_dir(o->db);
        rc = report_write_html(&d, dir);
        if (rc == 0)
            printf("%s/index.html: report of %d run%s\n", dir, d.n_runs, d.n_runs == 1 ? "" : "s");
        free(dir);
    }
    report_free(&d);
    return rc;
}

int cmd_runs(CliOptions *o)
{
    if (no_files(o, "runs") != 0) return CN_EXIT_USAGE;
    if (o->groups) { /* the view run_groups: every group of finished runs */
        if (o->runs) {
            fprintf(stderr, "cnnrun runs: --groups shows every group of finished runs; drop "
                            "--runs\n");
            return CN_EXIT_USAGE;
        }
        ReportGroups g;
        int rc = report_load_groups(o->db, &g);
        if (rc == 0) report_print_groups(&g, o->db, stdout);
        report_free_groups(&g);
        return rc;
    }
    ReportData d;
    int rc = report_load_table(o->db, o->runs ? o->runs : "all", &d);
    if (rc == 0) report_print_table(&d, stdout);
    report_free(&d);
    return rc;
}
