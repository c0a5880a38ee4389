/* report.h — reading runs back from the results database for people: the
 * comparison table on a terminal (`cnnrun runs`) and the HTML report with its
 * SVG plots (`cnnrun report`). The database is opened read
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
    double val_loss, val_acc; /* NaN: NULL, or a database before version 7 */
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
    char *precision; /* runs.precision: "fp32", "bf16" (NULL: before schema version 12, fp32) */
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
    /* its run_params rows, sorted by key (report_load_in; schema version 6) */
    char **param_keys, **param_values;
    int n_param;
} ReportRun;

/* ---- groups: runs that differ only in their seed (view run_groups) ---- */

typedef struct {
    char *experiment, *params, *run_ids; /* params: "key=value, ..." ("" for none) */
    int n;
    int n_pruned; /* of n, the runs [sweep] prune stopped (schema version 10): not in the means */
    int64_t study_id; /* the study its runs belong to (schema version 14; 0: none) */
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
    int64_t study_id; /* the study selected (report_load_groups_in; 0: every group) */
    char *study_name;
} ReportGroups;

typedef struct {
    char *db_path;
    int schema_version;
    ReportRun *runs;
    int n_runs;
    int n_recorded;  /* the runs the selected study has (no study selected: the database) */
    int n_everywhere; /* the runs the database has in all */
    int64_t study_id; /* the study selected (report_load_in; 0: none, every run) */
    char *study_name;
    int best_first;   /* runs are best first (REPORT_BEST_FIRST), else by id */
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
/* The same runs with their epochs, layers and LR range tests, without the
 * groups (`cnnrun runs --csv|--json`). */
int report_load_runs(const char *db_path, const char *runs_spec, ReportData *out);
void report_free(ReportData *d);
/* The same, within a study (issue 36): `study` is "newest" or NULL (the
 * newest study; on a file without studies every run), "all" (every run), a
 * study id or a study's name (its newest study of that name); a study that
 * is not there is CN_EXIT_USAGE (printed). flags: REPORT_DETAILS, the epochs, layers
 * and groups too (as report_load; else the rows alone, as
 * report_load_table); REPORT_BEST_FIRST, the runs best first (the best
 * validation accuracy where a run has one, else the best test accuracy;
 * runs without an epoch last), else by id. */
enum { REPORT_DETAILS = 1, REPORT_BEST_FIRST = 2 };
int report_load_in(const char *db_path, const char *runs_spec, const char *study, int flags,
                   ReportData *out);
/* run r's value of run_params key (NULL: none). */
const char *report_run_param(const ReportRun *r, const char *key);
/* The swept keys of d's runs, sorted, at most max into keys (pointing into
 * d): the run_params keys whose value differs between them (every key of a
 * single run). Returns how many. */
int report_swept_keys(const ReportData *d, const char **keys, int max);

/* The comparison table, one line per run, for a terminal. */
void report_print_table(const ReportData *d, FILE *f);

/* Reads the view run_groups (none before schema version 6). 0 or
 * CN_EXIT_FAIL, as report_load. */
int report_load_groups(const char *db_path, ReportGroups *out);
/* The groups of one study (`study` as report_load_in's). */
int report_load_groups_in(const char *db_path, const char *study, ReportGroups *out);
void report_free_groups(ReportGroups *g);
/* One line per group: n, final and best test accuracy as mean ± std, mean
 * time, the runs, the values. */
void report_print_groups(const ReportGroups *g, const char *db_path, FILE *f);

/* ---- studies (src/report/studies.c; schema version 14) ---- */

/* One run of a study: its objective is its best validation accuracy where
 * it has [data] validation (on_val), else its best test accuracy (NaN: no
 * epoch); its run_params as keys/values. */
typedef struct {
    int64_t run_id;
    char *experiment, *status, *stop_reason;
    double objective;
    int on_val;
    int epochs_done, epochs_planned;
    double seconds;
    char **keys, **values;
    int n_params;
} ReportPoint;

typedef struct {
    int64_t study_id;
    ReportPoint *points; /* best first (highest objective; none last), then by run id */
    int n;
    char **swept;        /* the keys whose value differs between the points (sorted) */
    int n_swept;
} ReportPoints;

/* The runs of study `study`, best first. 0 or CN_EXIT_FAIL (printed);
 * nothing for a file before schema version 14. */
int report_load_points(const char *db_path, int64_t study, ReportPoints *out);
void report_free_points(ReportPoints *p);
/* "key=value key=value" of p's swept keys ("-" for none). */
void report_point_values(const ReportPoints *pts, const ReportPoint *p, char *buf, size_t size);
/* The best point (its values, its accuracy and on what) and, for two
 * points or more, a table of the points best first (at most max_rows; 0:
 * all: else the command that shows them all, on db_path), pruned and failed
 * ones marked. */
void report_print_points(const ReportPoints *pts, int max_rows, const char *db_path, FILE *f);

typedef struct {
    int64_t id;
    char *name, *status, *started_at, *command;
    int n_runs, n_finished, n_pruned, n_failed; /* finished: not pruned; failed: or diverged */
    double wall_seconds; /* started to finished (to now while running) */
    ReportPoints points;
} ReportStudy;

typedef struct {
    int schema_version;
    ReportStudy *studies;
    int n;
    int n_without; /* runs of no study (recorded before studies) */
} ReportStudies;

/* Every study, oldest first (none before schema version 14). 0 or
 * CN_EXIT_FAIL (printed). */
int report_load_studies(const char *db_path, ReportStudies *out);
/* `cnnrun studies`: one line per study. */
void report_print_studies(const ReportStudies *s, const char *db_path, FILE *f);
void report_free_studies(ReportStudies *s);

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

/* ---- results out: `cnnrun runs --csv | --json | --diff` ---- */

/* One value of the export: NULL (NaN and infinities too), an integer, a real,
 * text, or a run_params value (text that JSON writes as a number when it is
 * one: "0.05" -> 0.05, "crop:4, flip" -> "crop:4, flip"). */
typedef enum { CELL_NULL = 0, CELL_INT, CELL_REAL, CELL_TEXT, CELL_VALUE } ReportCellKind;
typedef struct {
    ReportCellKind kind;
    int64_t i;
    double d;
    char *s;
} ReportCell;

/* Every run named as report_load names them, one row each: the fixed
 * columns (REPORT_RUN_COLUMNS, in that order), then one column per
 * run_params key any of them has (sorted; NULL in a run without it). With
 * epochs, each row's epochs (REPORT_EPOCH_COLUMNS each). export_data.c. */
typedef struct {
    int n_cols;
    char **cols;        /* the fixed columns' names, then the run_params keys */
    int n_rows;
    ReportCell *cells;  /* n_rows x n_cols, row by row */
    int with_epochs;
    int *n_epochs;      /* per row */
    ReportCell **epochs; /* per row: n_epochs[row] x REPORT_N_EPOCH_COLUMNS */
} ReportTable;
extern const char *const REPORT_RUN_COLUMNS[];
extern const int REPORT_N_RUN_COLUMNS;
extern const char *const REPORT_EPOCH_COLUMNS[];
#define REPORT_N_EPOCH_COLUMNS 10
/* 0, or report_load's statuses (the message printed). Free with
 * report_free_table, also after a failure. */
int report_load_export(const char *db_path, const char *runs_spec, int with_epochs,
                       ReportTable *out);
void report_free_table(ReportTable *t);
/* RFC 4180 CSV (csv.c): a header line, then one line per run, or with
 * epochs one per (run, epoch) — the run's columns repeated, then "epoch" and
 * the other epoch columns as epoch_NAME; a run without epochs has one line,
 * its epoch columns empty. Lines end in "\n". */
void report_write_csv(const ReportTable *t, FILE *f);
/* JSON (json.c): an array of one object per run, keyed by the column names in
 * their order; with epochs an "epochs" array of objects in each. Always valid
 * JSON: NULL, NaN and infinities as null, strings escaped, bytes that are not
 * UTF-8 as U+FFFD. */
void report_write_json(const ReportTable *t, FILE *f);
/* `cnnrun runs --diff` (diff.c): the configuration keys (runs.config, with
 * run_params) whose values differ between the runs of ids (n >= 2; every id
 * in the database, else CN_EXIT_USAGE with the message), one line per key,
 * one column per run; a line saying so when none differ. 0 or report_load's
 * statuses. */
int report_print_diff(const char *db_path, const int64_t *ids, int n, FILE *f);

/* Writes DIR/index.html and its SVG plots (DIR is created if missing):
 * all of them, written first in a directory inside DIR, or none (an earlier
 * report's files are replaced, no file of another kind is: files.h
 * output_target_ok). Returns 0, or with the reason printed on stderr
 * CN_EXIT_USAGE (a file of another kind in the way, a file where DIR goes)
 * or CN_EXIT_FAIL. */
int report_write_html(const ReportData *d, const char *dir);

/* ---- legends (src/report/labels.c) ---- */

/* A series named by its experiment and its run_params (keys[i] = values[i]). */
typedef struct {
    const char *experiment;
    char *const *keys, *const *values;
    int n;
} ReportNamed;
/* The legend text of n series: what differs between them, and only that —
 * the experiment where they are not all of one, then each key whose value
 * differs (or that others lack), sorted, by its last part where no other
 * differing key ends the same: "lr_max=0.05 seed=2"; "" for all when nothing
 * differs. Free with report_free_labels. */
char **report_differing_labels(const ReportNamed *s, int n);
void report_free_labels(char **labels, int n);

/* ---- plots (src/report/plot.c: SVG of its own, svg.c) ---- */

typedef struct {
    const char *label;       /* legend text; NULL: no legend entry */
    const char *hover;       /* what hovering the line says; NULL: the label */
    const char *const *point_hover; /* per point; NULL: the hover text, then x and y */
    const double *x, *y;     /* n points; NaN y values break the line */
    int n;
    int color;               /* style index 0..: svg.h's 12 colours by 4 dash patterns */
    int dashed;              /* a dashed line whatever its style */
    int markers_only;        /* points, no line */
    int dodge;               /* px the points move right (< 0: left): two series of equal
                              * values stay side by side */
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
    int int_x;               /* whole-number x ticks only (epochs) */
    int label_x;             /* the x ticks at the first series' x values, each labelled
                              * (a label that would overlap the one before it left out) */
} PlotPanel;

/* An SVG of the panels side by side, width px wide, at least height px high
 * (taller where a legend needs it), into f: each panel's legend outside its
 * plot, on the right, its lines never clipped (a label too long for a third
 * of the panel is shortened with "...", whole in its hover text); each line
 * and point carries its hover text (<title>). */
void plot_svg(FILE *f, int width, int height, const PlotPanel *panels, int n_panels);

#endif
