/* cmd_report.c — `cnnrun report` (the HTML report with its SVG plots, or with
 * --text the comparison table) and `cnnrun runs` (the table of every run;
 * --groups: of every group of runs that differ only in their seed; --csv,
 * --json: every run with its values and metrics, --epochs with its epochs;
 * the table and --groups within a study: the newest, or --study ID|NAME|all
 * (--runs alone: from every study); report: the newest study, whole, best
 * first;
 * --diff ID ID ...: the configuration keys that differ between runs) on
 * the results database; the work is in src/report/. Exit status: 0, 1 the
 * database is missing or unreadable or the report cannot be written, 2 bad
 * usage (an argument, options that do not go together, a bad --runs or
 * --diff list, a run id not in the database, a report directory whose
 * index.html or plot is a file of another kind, which it would replace). */
#include <ctype.h>
#include <errno.h>
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
    /* a study, whole and best first: the newest unless --study says; runs
     * named by --runs (ids, latest, all) are taken from every study unless
     * --study says */
    ReportData d;
    int flags = (o->text ? 0 : REPORT_DETAILS) | (o->runs ? 0 : REPORT_BEST_FIRST);
    int rc = report_load_in(o->db, o->runs ? o->runs : "all",
                            o->study ? o->study : o->runs ? "all" : "newest", flags, &d);
    if (rc == 0 && o->text) {
        report_print_table(&d, stdout);
    } else if (rc == 0) {
        char *dir = o->output ? xstrdup(o->output) : default_dir(o->db);
        rc = report_write_html(&d, dir);
        if (rc == 0 && d.study_id > 0)
            printf("%s/index.html: report of study %lld (%s): %d run%s%s\n", dir,
                   (long long)d.study_id, d.study_name ? d.study_name : "", d.n_runs,
                   d.n_runs == 1 ? "" : "s", d.best_first ? ", best first" : "");
        else if (rc == 0)
            printf("%s/index.html: report of %d run%s\n", dir, d.n_runs, d.n_runs == 1 ? "" : "s");
        free(dir);
    }
    report_free(&d);
    return rc;
}

/* --diff's ids ("1,3" from `--diff 1 3`) into ids (at least two, each once);
 * the count, or -1 after saying what is wrong. */
static int diff_ids(const char *spec, int64_t **ids)
{
    int n = 0;
    *ids = NULL;
    for (const char *p = spec; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || (*end && *end != ',') || !isdigit((unsigned char)*p)) {
            fprintf(stderr, "cnnrun runs: --diff expects run ids (e.g. --diff 3 7), got '%s'\n",
                    spec);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if ((*ids)[k] == v) {
                fprintf(stderr, "cnnrun runs: --diff names run %lld twice; give each run once\n",
                        v);
                return -1;
            }
        *ids = xrealloc(*ids, sizeof(int64_t) * (size_t)(n + 1));
        (*ids)[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n < 2) {
        fprintf(stderr, "cnnrun runs: --diff compares two or more runs; give their ids (e.g. "
                        "--diff 3 7; cnnrun runs lists them)\n");
        return -1;
    }
    return n;
}

/* The options of `cnnrun runs` that do not go together: 0, or -1 (said why). */
static int runs_usage(const CliOptions *o)
{
    const char *bad = NULL;
    if (o->groups && (o->csv || o->json || o->diff || o->epochs))
        bad = "--groups prints the table of groups; it does not go with --csv, --json, "
              "--diff or --epochs";
    else if (o->groups && o->runs)
        bad = "--groups shows every group of finished runs; drop --runs";
    else if (o->csv && o->json)
        bad = "--csv and --json are two formats of the same rows; give one";
    else if (o->diff && (o->csv || o->json || o->epochs || o->runs))
        bad = "--diff ID ID ... compares the configurations of the runs it names; it does not "
              "go with --csv, --json, --epochs or --runs";
    else if (o->study && (o->csv || o->json || o->diff))
        bad = "--study selects the runs of the table and of --groups; --csv and --json export "
              "every run (--runs selects), --diff the runs it names: drop --study";
    else if (o->epochs && !o->csv && !o->json)
        bad = "--epochs adds each run's epochs to --csv or --json; give one of them";
    if (!bad) return 0;
    fprintf(stderr, "cnnrun runs: %s\n", bad);
    return -1;
}

/* Where the export's rows go: stdout, checked once written (a full disk or
 * a closed pipe is an I/O failure, exit status 1). */
static int flushed(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return CN_EXIT_OK;
    fprintf(stderr, "cnnrun runs: cannot write the output: %s\n", strerror(errno));
    return CN_EXIT_FAIL;
}

int cmd_runs(CliOptions *o)
{
    if (no_files(o, "runs") != 0 || runs_usage(o) != 0) return CN_EXIT_USAGE;
    if (o->groups) { /* the view run_groups: the groups of finished runs of a study */
        ReportGroups g;
        int rc = report_load_groups_in(o->db, o->study, &g);
        if (rc == 0) report_print_groups(&g, o->db, stdout);
        report_free_groups(&g);
        return rc;
    }
    if (o->diff) {
        int64_t *ids = NULL;
        int n = diff_ids(o->diff, &ids);
        int rc = n < 0 ? CN_EXIT_USAGE : report_print_diff(o->db, ids, n, stdout);
        free(ids);
        return rc == 0 ? flushed() : rc;
    }
    if (o->csv || o->json) { /* every run (default), for pandas and spreadsheets */
        ReportTable t;
        int rc = report_load_export(o->db, o->runs ? o->runs : "all", o->epochs, &t);
        if (rc == 0 && o->csv) report_write_csv(&t, stdout);
        else if (rc == 0) report_write_json(&t, stdout);
        report_free_table(&t);
        return rc == 0 ? flushed() : rc;
    }
    ReportData d; /* the runs of a study: the newest unless --study says */
    int rc = report_load_in(o->db, o->runs ? o->runs : "all",
                            o->study ? o->study : o->runs ? "all" : "newest", 0, &d);
    if (rc == 0) report_print_table(&d, stdout);
    report_free(&d);
    return rc;
}

int cmd_studies(CliOptions *o)
{
    if (no_files(o, "studies") != 0) return CN_EXIT_USAGE;
    ReportStudies s;
    int rc = report_load_studies(o->db, &s);
    if (rc == 0) report_print_studies(&s, o->db, stdout);
    report_free_studies(&s);
    return rc;
}
