/* export_data.c — the table `cnnrun runs --csv` and `--json` write
 * (report_load_export, report.h): every run that report_load_runs reads (the
 * run_summary columns, its epochs; `--runs` and its errors as `cnnrun runs`),
 * with the columns of `runs` the summary leaves out and the run's run_params,
 * as cells that know NULL from 0. The column order below is the documented one
 * (docs/results.md, "Getting results out"): add new columns at the end of
 * their list, never in between. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/results_read.h"
#include "cnnrun/report.h"
#include "cnnrun/util.h"

const char *const REPORT_RUN_COLUMNS[] = {
    "id", "experiment", "status", "stop_reason",
    "epochs_done", "epochs_planned", "best_epoch", "best_test_acc", "best_val_acc",
    "final_test_acc", "final_train_loss", "final_train_acc", "final_test_loss",
    "train_seconds", "images_per_sec", "epochs_to_target", "seconds_to_target",
    "params", "mflops", "seed", "threads", "ranks",
    "started_at", "finished_at", "hostname", "blas_core", "engine", "precision", "version",
    "config_path", "data_dir", "error", "data",
};
const int REPORT_N_RUN_COLUMNS = (int)(sizeof REPORT_RUN_COLUMNS / sizeof REPORT_RUN_COLUMNS[0]);

const char *const REPORT_EPOCH_COLUMNS[] = {
    "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc",
    "seconds", "images_per_sec",
};
_Static_assert(sizeof REPORT_EPOCH_COLUMNS / sizeof REPORT_EPOCH_COLUMNS[0] ==
                   REPORT_N_EPOCH_COLUMNS, "one name per epoch column");

/* The columns of `runs` read here as they are stored, in the order they
 * take in the table; from schema version `since` on (before: `before`, the
 * value run_summary's rules give such rows). */
static const struct {
    const char *column;
    int since;
    const char *before;
} RAW[] = {
    {"epochs_planned", 1, NULL}, {"epochs_to_target", 7, "NULL"}, {"params", 1, NULL},
    {"seed", 1, NULL},           {"threads", 1, NULL},            {"ranks", 8, "1"},
    {"finished_at", 1, NULL},    {"hostname", 1, NULL},           {"blas_core", 9, "NULL"},
    {"engine", 11, "NULL"},      {"precision", 12, "'fp32'"},
    {"version", 1, NULL},        {"config_path", 1, NULL},        {"data_dir", 1, NULL},
    {"data", 13, "NULL"},
};
#define N_RAW ((int)(sizeof RAW / sizeof RAW[0]))

static ReportCell c_int(int64_t v) { return (ReportCell){.kind = CELL_INT, .i = v}; }

static ReportCell c_real(double v)
{
    return isfinite(v) ? (ReportCell){.kind = CELL_REAL, .d = v} : (ReportCell){0};
}

static ReportCell c_text(const char *s)
{
    return s ? (ReportCell){.kind = CELL_TEXT, .s = xstrdup(s)} : (ReportCell){0};
}

/* column i of a row as it is stored */
static ReportCell c_column(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return c_int(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return c_real(sqlite3_column_double(st, i));
    case SQLITE_NULL: return (ReportCell){0};
    default: return c_text((const char *)sqlite3_column_text(st, i));
    }
}

static int col_index(const ReportTable *t, const char *name)
{
    for (int i = 0; i < t->n_cols; i++)
        if (strcmp(t->cols[i], name) == 0) return i;
    return -1;
}

static void set(ReportTable *t, int row, const char *name, ReportCell c)
{
    int i = col_index(t, name);
    if (i < 0) { /* a run_params key written after the keys were read */
        free(c.s);
        return;
    }
    ReportCell *dst = &t->cells[(size_t)row * (size_t)t->n_cols + (size_t)i];
    free(dst->s);
    *dst = c;
}

/* The run_summary values and the last epoch's (report_load_runs read them). */
static void fill_summary(ReportTable *t, int row, const ReportRun *r)
{
    const ReportEpoch *last = r->n_epochs ? &r->epochs[r->n_epochs - 1] : NULL;
    double best_val = NAN;
    for (int k = 0; k < r->n_epochs; k++)
        if (isfinite(r->epochs[k].val_acc) && !(r->epochs[k].val_acc <= best_val))
            best_val = r->epochs[k].val_acc;
    set(t, row, "id", c_int(r->id));
    set(t, row, "experiment", c_text(r->experiment));
    set(t, row, "status", c_text(r->status));
    set(t, row, "stop_reason", c_text(r->stop_reason));
    set(t, row, "epochs_done", c_int(r->epochs_done));
    set(t, row, "best_epoch", r->epochs_done > 0 ? c_int(r->best_epoch) : (ReportCell){0});
    set(t, row, "best_test_acc", c_real(r->best_test_acc));
    set(t, row, "best_val_acc", c_real(best_val));
    set(t, row, "final_test_acc", c_real(r->final_test_acc));
    set(t, row, "final_train_loss", c_real(last ? last->train_loss : NAN));
    set(t, row, "final_train_acc", c_real(last ? last->train_acc : NAN));
    set(t, row, "final_test_loss", c_real(last ? last->test_loss : NAN));
    set(t, row, "train_seconds", c_real(r->train_seconds));
    set(t, row, "images_per_sec", c_real(r->images_per_sec));
    set(t, row, "seconds_to_target", c_real(r->seconds_to_target));
    set(t, row, "mflops", c_real(r->mflops));
    set(t, row, "started_at", c_text(r->started_at));
    set(t, row, "error", c_text(r->error));
    if (!t->with_epochs) return;
    t->n_epochs[row] = r->n_epochs;
    t->epochs[row] = xcalloc((size_t)r->n_epochs * REPORT_N_EPOCH_COLUMNS + 1, sizeof(ReportCell));
    for (int k = 0; k < r->n_epochs; k++) {
        const ReportEpoch *e = &r->epochs[k];
        ReportCell *c = &t->epochs[row][(size_t)k * REPORT_N_EPOCH_COLUMNS];
        c[0] = c_int(e->epoch);
        const double v[] = {e->lr, e->train_loss, e->train_acc, e->test_loss, e->test_acc,
                            e->val_loss, e->val_acc, e->seconds, e->images_per_sec};
        for (int j = 0; j < 9; j++) c[1 + j] = c_real(v[j]);
    }
}

static int db_fail(const char *path, sqlite3 *db, const char *what)
{
    fprintf(stderr, "%s: %s (%s)\n", path, what, sqlite3_errmsg(db));
    return CN_EXIT_FAIL;
}

/* The run_params keys of the runs, sorted, once each (schema version >= 6). */
static int param_keys(sqlite3 *db, const char *path, const ReportData *d, char ***keys, int *n)
{
    *keys = NULL;
    *n = 0;
    if (d->schema_version < 6) return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT DISTINCT key FROM run_params WHERE run_id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table run_params");
    for (int i = 0; i < d->n_runs; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, d->runs[i].id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *k = (const char *)sqlite3_column_text(st, 0);
            int seen = 0;
            for (int j = 0; j < *n && !seen; j++) seen = strcmp((*keys)[j], k) == 0;
            if (seen) continue;
            *keys = xrealloc(*keys, sizeof(char *) * (size_t)(*n + 1));
            (*keys)[(*n)++] = xstrdup(k);
        }
    }
    sqlite3_finalize(st);
    for (int a = 1; a < *n; a++) /* a handful of keys: insertion sort */
        for (int b = a; b > 0 && strcmp((*keys)[b - 1], (*keys)[b]) > 0; b--) {
            char *tmp = (*keys)[b];
            (*keys)[b] = (*keys)[b - 1];
            (*keys)[b - 1] = tmp;
        }
    return 0;
}

/* The columns of `runs` the summary leaves out, and the run_params values. */
static int fill_raw(sqlite3 *db, const char *path, int version, ReportTable *t,
                    const ReportData *d)
{
    char sql[1024] = "SELECT ";
    for (int j = 0; j < N_RAW; j++) {
        size_t used = strlen(sql);
        snprintf(sql + used, sizeof sql - used, "%s%s", j ? ", " : "",
                 version >= RAW[j].since ? RAW[j].column : RAW[j].before);
    }
    strncat(sql, " FROM runs WHERE id = ?1", sizeof sql - strlen(sql) - 1);
    sqlite3_stmt *st = NULL, *pst = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table runs");
    if (version >= 6 && sqlite3_prepare_v2(db, "SELECT key, value FROM run_params WHERE "
                                               "run_id = ?1", -1, &pst, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return db_fail(path, db, "cannot read table run_params");
    }
    int rc = 0;
    for (int i = 0; i < d->n_runs && rc == 0; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, d->runs[i].id);
        if (sqlite3_step(st) == SQLITE_ROW)
            for (int j = 0; j < N_RAW; j++) set(t, i, RAW[j].column, c_column(st, j));
        if (!pst) continue;
        sqlite3_reset(pst);
        sqlite3_bind_int64(pst, 1, d->runs[i].id);
        int step;
        while ((step = sqlite3_step(pst)) == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(pst, 1);
            set(t, i, (const char *)sqlite3_column_text(pst, 0),
                (ReportCell){.kind = CELL_VALUE, .s = xstrdup(v ? v : "")});
        }
        if (step != SQLITE_DONE) rc = db_fail(path, db, "cannot read table run_params");
    }
    sqlite3_finalize(st);
    sqlite3_finalize(pst);
    return rc;
}

int report_load_export(const char *path, const char *spec, int with_epochs, ReportTable *t)
{
    memset(t, 0, sizeof *t);
    ReportData d;
    int rc = report_load_runs(path, spec, &d);
    if (rc != 0) {
        report_free(&d);
        return rc;
    }
    int version;
    ResultsRefusal why;
    sqlite3 *db = results_open_readonly(path, &version, &why);
    char **keys = NULL;
    int n_keys = 0;
    rc = db ? param_keys(db, path, &d, &keys, &n_keys) : CN_EXIT_FAIL;
    if (rc == 0) {
        t->n_cols = REPORT_N_RUN_COLUMNS + n_keys;
        t->cols = xmalloc(sizeof(char *) * (size_t)t->n_cols);
        for (int j = 0; j < REPORT_N_RUN_COLUMNS; j++) t->cols[j] = xstrdup(REPORT_RUN_COLUMNS[j]);
        for (int j = 0; j < n_keys; j++) t->cols[REPORT_N_RUN_COLUMNS + j] = keys[j];
        t->n_rows = d.n_runs;
        t->cells = xcalloc((size_t)t->n_rows * (size_t)t->n_cols + 1, sizeof(ReportCell));
        t->with_epochs = with_epochs;
        if (with_epochs) {
            t->n_epochs = xcalloc((size_t)t->n_rows + 1, sizeof(int));
            t->epochs = xcalloc((size_t)t->n_rows + 1, sizeof(ReportCell *));
        }
        for (int i = 0; i < d.n_runs; i++) fill_summary(t, i, &d.runs[i]);
        rc = fill_raw(db, path, version, t, &d);
    } else {
        for (int j = 0; j < n_keys; j++) free(keys[j]);
    }
    free(keys);
    sqlite3_close(db);
    report_free(&d);
    return rc;
}

void report_free_table(ReportTable *t)
{
    for (size_t i = 0; i < (size_t)t->n_rows * (size_t)t->n_cols; i++) free(t->cells[i].s);
    for (int i = 0; i < t->n_cols; i++) free(t->cols[i]);
    for (int i = 0; t->epochs && i < t->n_rows; i++) free(t->epochs[i]); /* no strings */
    free(t->cells);
    free(t->cols);
    free(t->epochs);
    free(t->n_epochs);
    memset(t, 0, sizeof *t);
}
