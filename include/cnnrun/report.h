/* report.h — reading runs back from the results database for people: the
 * comparison table on a terminal (`cnnrun runs`) and the HTML report with its
 * SVG plots (`cnnrun report`, drawn with PLplot). The database is opened read
 * only and never changed; version-1 files are read too.
 *
 *   ReportData d;
 *   int rc = report_load("results/results.db", NULL, &d);   // latest run per experiment
 *   if (rc == 0) report_print_table(&d, stdout);
 *   if (rc == 0) rc = report_write_html(&d, "out");          // out/index.html + SVGs
 *   report_free(&d);                                          // also after a failed load
 */
#ifndef CNNRUN_REPORT_H
#define CNNRUN_REPORT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    int epoch;
    double lr, train_loss, train_acc, test_loss, test_acc, seconds, images_per_sec; /* NaN: NULL */
} ReportEpoch;

typedef struct {
    int idx;
    char *name, *type, *input_shape, *output_shape;
    int64_t params;
    double mflops;
} ReportLayer;

typedef struct {
    int64_t id;
    char *experiment, *status, *started_at, *error;
    int epochs_done, epochs_planned, best_epoch, threads;
    double best_test_acc, final_test_acc, train_seconds, images_per_sec, mflops; /* NaN: none */
    int64_t params;
    /* schema version 7: why a finished run stopped early ("patience",
     * "target"; NULL: it ran every epoch) and its time to accuracy (0 / NaN:
     * no target or not reached) */
    char *stop_reason;
    int epochs_to_target;
    double seconds_to_target;
    ReportEpoch *epochs;
    int n_epochs;
    double *lrf_lr, *lrf_loss;  /* the LR range test (table lr_find), n_lrf points */
    int n_lrf;
    ReportLayer *layers;        /* table `layers` (schema version >= 2) */
    int n_layers;
} ReportRun;

/* ---- groups: runs that differ only in their seed (view run_groups) ---- */

typedef struct {
    char *experiment, *params, *run_ids; /* params: "key=value, ..." ("" for none) */
    int n;
    double mean_final, std_final, mean_best, std_best, mean_seconds; /* NaN: NULL */
    /* report_load only (the HTML report): the member runs with their epochs,
     * and the group's values but the seed (run_params of its first run) */
    ReportRun *runs;
    int n_runs;
    char **keys, **values;
    int n_values;
} ReportGroup;

typedef struct {
    int schema_version;
    ReportGroup *groups;
    int n;
} ReportGroups;

typedef struct {
    char *db_path;
    int schema_version;
    ReportRun *runs;
    int n_runs;
    int n_recorded;  /* the runs the database has in all */
    int latest;      /* runs are the newest of each experiment (--runs latest) */
    /* the groups (view run_groups) of the experiments of `runs`, each with
     * its member runs and values; none before schema version 6 */
    ReportGroups groups;
} ReportData;

/* Loads the runs named by `runs_spec`: NULL or "latest" = the newest run of
 * each experiment, "all" = every run, or a list of ids "1,3,7". Returns 0,
 * CN_EXIT_FAIL when the database is missing or unreadable, CN_EXIT_USAGE for
 * a bad spec or an id that is not in the database (the message names the
 * file and says what to do). */
int report_load(const char *db_path, const char *runs_spec, ReportData *out);
/* The same runs, their rows alone (no epochs, layers or groups): all that
 * report_print_table needs. */
int report_load_table(const char *db_path, const char *runs_spec, ReportData *out);
void report_free(ReportData *d);

/* The comparison table, one line per run, for a terminal. */
void report_print_table(const ReportData *d, FILE *f);

/* Reads the view run_groups (none before schema version 6). 0 or
 * CN_EXIT_FAIL, as report_load. */
int report_load_groups(const char *db_path, ReportGroups *out);
void report_free_groups(ReportGroups *g);
/* One line per group: n, final and best test accuracy as mean ± std, mean
 * time, the runs, the values. */
void report_print_groups(const ReportGroups *g, const char *db_path, FILE *f);

/* ---- a group's statistics (src/report/group_stats.c) ---- */

enum { REPORT_TEST_ACC = 0, REPORT_TEST_LOSS, REPORT_TRAIN_LOSS };

/* A group's curve of one epoch column (REPORT_*): for each epoch some member
 * reached, the mean and the sample std (n - 1; NaN where fewer than two
 * members have a value) over the members that have it; accuracies in %.
 * lo / hi: mean -/+ std (NaN without a std): the band the report draws. */
typedef struct {
    double *epoch, *mean, *std, *lo, *hi;
    int *count; /* members with a value at that epoch */
    int n;
} GroupCurve;
void report_group_curve(const ReportGroup *g, int column, GroupCurve *out);
void report_free_curve(GroupCurve *c);

/* A sweep over one key: the groups of `experiment` (indices into g, in
 * order) whose values differ in exactly one key, the same key for all, with
 * a number for its value in each. Returns how many groups (>= 2; 0: not such
 * a sweep); *key points into g, x[i] is group idx[i]'s value. idx and x hold
 * g->n entries. */
int report_sweep_over_one_key(const ReportGroups *g, const char *experiment, const char **key,
                              int *idx, double *x);
/* Whether the sweep plot puts `key`'s values on a log axis: every value > 0
 * and either the key is a rate (its last part, after the last '.', starts
 * with "lr" or ends with "decay" or "eps": lr_max, weight_decay, bn_eps) or
 * the largest value is at least 10 times the smallest. */
int report_log_axis(const char *key, const double *x, int n);

/* Writes DIR/index.html and its SVG plots (DIR is created if missing).
 * Returns 0 or CN_EXIT_FAIL with the reason printed on stderr. */
int report_write_html(const ReportData *d, const char *dir);

/* ---- plots (src/report/plot.c, PLplot's svg driver) ---- */

typedef struct {
    const char *label;       /* legend text; NULL: no legend entry */
    const double *x, *y;     /* n points; NaN y values break the line */
    int n;
    int color;               /* palette index 0.. */
    int dashed;
    /* optional, n points each: a band filled from lo to hi behind the line
     * (translucent, the line's colour), or with `bars` error bars from lo to
     * hi at each point; NaN leaves a point out of it */
    const double *lo, *hi;
    int bars;
} PlotSeries;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const PlotSeries *series;
    int n_series;
    int log_x, log_y;
    double y_min, y_max;     /* NaN: from the data */
    int legend;              /* PLOT_LEGEND_*: where the legend goes */
    int label_x;             /* write each point's x value (%g) under it */
} PlotPanel;
enum { PLOT_LEGEND_OUTSIDE = 0, PLOT_LEGEND_TOP_RIGHT, PLOT_LEGEND_BOTTOM_RIGHT };

/* Writes an SVG of width x height pixels with the panels side by side.
 * Returns 0, or -1 with `path: message` printed. */
int plot_svg(const char *path, int width, int height, const PlotPanel *panels, int n_panels);

#endif
