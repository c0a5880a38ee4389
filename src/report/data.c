/* data.c — loads runs, their epochs, LR range tests and layer tables, and the
 * groups of runs that differ only in their seed (view run_groups, with their
 * member runs and values), from the results database for `cnnrun report` and
 * `cnnrun runs` (report.h). Opens the file read-only and reads only the base
 * tables plus `layers` (and from version 6 `run_params` and the view
 * `run_groups`), so version-1 databases work too; the comparison columns are
 * the `run_summary` view's query (results_read.h: results_run_summary_select),
 * so report and view always agree. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/decimal.h"
#include "cnnrun/report.h"
#include "cnnrun/results_read.h"
#include "cnnrun/util.h"

static double col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static int db_fail(const char *path, sqlite3 *db, const char *what)
{
    fprintf(stderr, "%s: %s (%s)\n", path, what, sqlite3_errmsg(db));
    return CN_EXIT_FAIL;
}

/* Parses "1,3,7" into ids; -1 (message printed) when malformed or an id
 * is repeated. */
static int parse_ids(const char *spec, int64_t **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = p + strcspn(p, ",");
        char item[32] = ""; /* one id, decimal only (decimal.h) */
        long v = 0;
        if ((size_t)(end - p) < sizeof item) memcpy(item, p, (size_t)(end - p));
        if (decimal_long(item, &v) != DECIMAL_OK || v < 1) {
            fprintf(stderr, "cnnrun: --runs expects run ids separated by commas (e.g. 1,3), "
                            "'latest' or 'all', got '%s'\n", spec);
            free(*ids);
            *ids = NULL;
            return -1;
        }
        for (int k = 0; k < *n; k++)
            if ((*ids)[k] == v) { /* a run shown twice would count twice in the report */
                fprintf(stderr, "cnnrun: --runs names run %lld twice ('%s'); give each run "
                                "once\n", (long long)v, spec);
                free(*ids);
                *ids = NULL;
                return -1;
            }
        *ids = xrealloc(*ids, sizeof(int64_t) * (size_t)(*n + 1));
        (*ids)[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) {
        fprintf(stderr, "cnnrun: --runs is empty; give run ids such as 1,3, 'latest' or 'all'\n");
        return -1;
    }
    return 0;
}

static void load_summary(sqlite3_stmt *st, ReportRun *r)
{
    /* column order of results_run_summary_select's query */
    r->id = sqlite3_column_int64(st, 0);
    r->experiment = col_text(st, 1);
    r->status = col_text(st, 2);
    r->epochs_done = sqlite3_column_int(st, 3);
    r->epochs_planned = sqlite3_column_int(st, 4);
    r->best_test_acc = col_double(st, 5);
    r->best_epoch = sqlite3_column_int(st, 6);
    r->final_test_acc = col_double(st, 7);
    r->train_seconds = col_double(st, 8);
    r->images_per_sec = col_double(st, 9);
    r->params = sqlite3_column_int64(st, 10);
    r->mflops = col_double(st, 11);
    r->threads = sqlite3_column_int(st, 13);
    r->started_at = col_text(st, 14);
    r->error = col_text(st, 16);
    r->seconds_to_target = NAN;
    if (sqlite3_column_count(st) > 20) { /* version 7 */
        r->stop_reason = col_text(st, 18);
        r->epochs_to_target = sqlite3_column_int(st, 19);
        r->seconds_to_target = col_double(st, 20);
    }
}

static int load_details(sqlite3 *db, const char *path, int schema_version, ReportRun *r)
{
    sqlite3_stmt *st = NULL;
    char sql[256]; /* val_loss and val_acc from version 7 */
    snprintf(sql, sizeof sql, "SELECT epoch, lr, train_loss, train_acc, test_loss, test_acc, "
             "seconds, images_per_sec, %s FROM epochs WHERE run_id = ?1 ORDER BY epoch",
             schema_version >= 7 ? "val_loss, val_acc" : "NULL, NULL");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table epochs");
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        r->epochs = xrealloc(r->epochs, sizeof(ReportEpoch) * (size_t)(r->n_epochs + 1));
        ReportEpoch *e = &r->epochs[r->n_epochs++];
        e->epoch = sqlite3_column_int(st, 0);
        e->lr = col_double(st, 1);
        e->train_loss = col_double(st, 2);
        e->train_acc = col_double(st, 3);
        e->test_loss = col_double(st, 4);
        e->test_acc = col_double(st, 5);
        e->seconds = col_double(st, 6);
        e->images_per_sec = col_double(st, 7);
        e->val_loss = col_double(st, 8);
        e->val_acc = col_double(st, 9);
    }
    sqlite3_finalize(st);

    if (sqlite3_prepare_v2(db, "SELECT lr, loss FROM lr_find WHERE run_id = ?1 ORDER BY step", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table lr_find");
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        r->lrf_lr = xrealloc(r->lrf_lr, sizeof(double) * (size_t)(r->n_lrf + 1));
        r->lrf_loss = xrealloc(r->lrf_loss, sizeof(double) * (size_t)(r->n_lrf + 1));
        r->lrf_lr[r->n_lrf] = col_double(st, 0);
        r->lrf_loss[r->n_lrf] = col_double(st, 1);
        r->n_lrf++;
    }
    sqlite3_finalize(st);

    if (schema_version < 2) return 0;  /* no `layers` table before version 2 */
    if (sqlite3_prepare_v2(db,
                           "SELECT idx, name, type, input_shape, output_shape, params, mflops "
                           "FROM layers WHERE run_id = ?1 ORDER BY idx",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table layers");
    sqlite3_bind_int64(st, 1, r->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        r->layers = xrealloc(r->layers, sizeof(ReportLayer) * (size_t)(r->n_layers + 1));
        ReportLayer *l = &r->layers[r->n_layers++];
        l->idx = sqlite3_column_int(st, 0);
        l->name = col_text(st, 1);
        l->type = col_text(st, 2);
        l->input_shape = col_text(st, 3);
        l->output_shape = col_text(st, 4);
        l->params = sqlite3_column_int64(st, 5);
        l->mflops = col_double(st, 6);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Each run's run_params rows (the swept keys of the table's columns). */
static int load_run_params(sqlite3 *db, const char *path, ReportData *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_params WHERE run_id = ?1 ORDER BY key",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table run_params");
    for (int i = 0; i < d->n_runs; i++) {
        ReportRun *r = &d->runs[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            r->param_keys = xrealloc(r->param_keys, sizeof(char *) * (size_t)(r->n_param + 1));
            r->param_values =
                xrealloc(r->param_values, sizeof(char *) * (size_t)(r->n_param + 1));
            r->param_keys[r->n_param] = col_text(st, 0);
            r->param_values[r->n_param++] = col_text(st, 1);
        }
    }
    sqlite3_finalize(st);
    return 0;
}

/* Each run's precision (runs.precision, schema version 12: "fp32" or
 * "bf16"); older databases trained fp32 only and leave it NULL. */
static int load_precision(sqlite3 *db, const char *path, ReportData *d)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT precision FROM runs WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(path, db, "cannot read runs.precision");
    for (int i = 0; i < d->n_runs; i++) {
        sqlite3_bind_int64(st, 1, d->runs[i].id);
        if (sqlite3_step(st) == SQLITE_ROW) d->runs[i].precision = col_text(st, 0);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

/* A `running` row of this machine whose process is gone (its lock file,
 * next to the database, names a pid no process has: it was killed without
 * marking the row) is shown as `dead`, with a line saying so; the row
 * itself is left as it is (the report only reads). */
static void mark_dead_runs(sqlite3 *db, const char *path, ReportData *d)
{
    char host[256], dir[CN_PATH_MAX];
    if (gethostname(host, sizeof host) != 0) return;
    host[sizeof host - 1] = '\0';
    checkpoint_default_dir(dir, sizeof dir, path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT hostname = ?2 FROM runs WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    for (int i = 0; i < d->n_runs; i++) {
        ReportRun *r = &d->runs[i];
        if (!r->status || strcmp(r->status, "running") != 0) continue;
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
        int here = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
        sqlite3_reset(st);
        long pid = here ? run_lock_dead_pid(dir, r->experiment, r->id) : 0;
        if (!pid) continue;
        char why[256];
        snprintf(why, sizeof why, "its row says running, but its process (pid %ld on this "
                                  "machine) is gone: it was killed; `cnnrun run --resume` "
                                  "continues it", pid);
        free(r->status);
        r->status = xstrdup("dead");
        free(r->error);
        r->error = xstrdup(why);
    }
    sqlite3_finalize(st);
}

/* Opens path read-only and checks that it is a results database this cnnrun
 * reads; *version: its schema version. 0, or CN_EXIT_FAIL (printed; *db is
 * closed). */
static int open_results(const char *path, sqlite3 **out, int *version)
{
    ResultsRefusal why;
    *out = results_open_readonly(path, version, &why);
    if (*out) return 0;
    if (why == RESULTS_RO_MISSING)
        fprintf(stderr, "HINT: train something first (cnnrun run FILE.ini) or pass --db PATH\n");
    else if (why == RESULTS_RO_FOREIGN)
        fprintf(stderr, "HINT: pass the database that cnnrun run wrote with --db PATH\n");
    else if (why == RESULTS_RO_NEWER)
        fprintf(stderr, "HINT: upgrade cnnrun\n");
    return CN_EXIT_FAIL;
}

/* below: the groups of the report's experiments */
static int load_groups(sqlite3 *db, const char *path, int version, int64_t study,
                       ReportGroups *out);
static int load_group_members(sqlite3 *db, const char *path, ReportData *d);

/* The study `spec` names (report.h, report_load_in) into *id and *name
 * (owned): 0 with *id 0 for no selection (all runs: "all", or the default
 * on a file without studies), CN_EXIT_USAGE for a study that is not there
 * (printed). */
static int resolve_study(sqlite3 *db, const char *path, int version, const char *spec,
                         int64_t *id, char **name)
{
    *id = 0;
    *name = NULL;
    if (spec && !strcmp(spec, "all")) return 0;
    int newest = !spec || !strcmp(spec, "newest");
    if (version < 14) {
        if (newest) return 0;
        fprintf(stderr, "%s: no studies: the database has schema version %d, studies came with "
                        "version 14 (the next `cnnrun run` on it upgrades the file); drop "
                        "--study\n", path, version);
        return CN_EXIT_USAGE;
    }
    long num = 0;
    const int number = !newest && decimal_long(spec, &num) == DECIMAL_OK;
    const int by_id = number && num >= 1, bad_id = number && !by_id; /* 0, -3: no name */
    const char *sql = newest ? "SELECT id, name FROM studies ORDER BY id DESC LIMIT 1"
                      : by_id ? "SELECT id, name FROM studies WHERE id = ?1"
                              : "SELECT id, name FROM studies WHERE name = ?1 ORDER BY id DESC "
                                "LIMIT 1";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table studies");
    if (by_id) sqlite3_bind_int64(st, 1, num);
    else if (!newest) sqlite3_bind_text(st, 1, spec, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *name = col_text(st, 1);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return db_fail(path, db, "cannot read table studies");
    if (step == SQLITE_ROW || newest) return 0; /* newest of none: every run */
    fprintf(stderr, "%s: there is no study %s%s%s\nHINT: cnnrun studies --db %s lists them "
                    "(--study ID, NAME or all)\n", path, by_id || bad_id ? "" : "named ", spec,
            bad_id ? " (study ids start at 1)" : "", path);
    return CN_EXIT_USAGE;
}

/* report_load (details: every run's epochs and layers, the groups with their
 * members; LOAD_NO_GROUPS: not the groups), report_load_runs (LOAD_DETAILS |
 * LOAD_NO_GROUPS) and report_load_table (the runs rows alone). */
enum { LOAD_DETAILS = REPORT_DETAILS, LOAD_BEST_FIRST = REPORT_BEST_FIRST, LOAD_NO_GROUPS = 4 };
static int load(const char *path, const char *spec, const char *study, int how,
                ReportData *out)
{
    memset(out, 0, sizeof *out);
    out->db_path = xstrdup(path);
    int64_t *ids = NULL;
    int n_ids = 0;
    int all = spec && strcmp(spec, "all") == 0;
    if (spec && !all && strcmp(spec, "latest") != 0 && parse_ids(spec, &ids, &n_ids) != 0)
        return CN_EXIT_USAGE;
    sqlite3 *db = NULL;
    int rc = open_results(path, &db, &out->schema_version);
    if (rc != 0) {
        free(ids);
        return rc;
    }
    rc = resolve_study(db, path, out->schema_version, study, &out->study_id, &out->study_name);
    if (rc != 0) {
        free(ids);
        sqlite3_close(db);
        return rc;
    }
    rc = CN_EXIT_FAIL;
    sqlite3_stmt *st = NULL;

    char in_study[64] = "", where[1024];
    if (out->study_id > 0)
        snprintf(in_study, sizeof in_study, "study_id = %lld", (long long)out->study_id);
    /* best first: the objective (the best validation accuracy where the run
     * has one, else the best test accuracy), runs without one last */
    const char *objective = out->schema_version >= 7
        ? "coalesce((SELECT max(e.val_acc) FROM epochs e WHERE e.run_id = r.id), "
          "(SELECT max(e.test_acc) FROM epochs e WHERE e.run_id = r.id))"
        : "(SELECT max(e.test_acc) FROM epochs e WHERE e.run_id = r.id)";
    char order[512] = " ORDER BY r.id";
    if (how & LOAD_BEST_FIRST)
        snprintf(order, sizeof order, " ORDER BY %s IS NULL, %s DESC, r.id", objective,
                 objective);
    out->best_first = (how & LOAD_BEST_FIRST) != 0;
    if (all)
        snprintf(where, sizeof where, "%s%s%s", *in_study ? " WHERE r." : "", in_study, order);
    else if (n_ids)
        snprintf(where, sizeof where, " WHERE r.id = ?1%s%s", *in_study ? " AND r." : "",
                 in_study);
    else
        snprintf(where, sizeof where, " WHERE r.id IN (SELECT max(id) FROM runs%s%s GROUP BY "
                 "experiment)%s", *in_study ? " WHERE " : "", in_study, order);
    char sql[4096];
    /* before version 7 there is no epochs.val_acc: the best epoch is on test */
    snprintf(sql, sizeof sql, "%s%s", results_run_summary_select(out->schema_version), where);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(path, db, "cannot read table runs");
        goto done;
    }
    for (int k = 0; k < (n_ids ? n_ids : 1); k++) {
        if (n_ids) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, ids[k]);
        }
        int found = 0, step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            out->runs = xrealloc(out->runs, sizeof(ReportRun) * (size_t)(out->n_runs + 1));
            ReportRun *r = &out->runs[out->n_runs++];
            memset(r, 0, sizeof *r);
            load_summary(st, r);
            found = 1;
        }
        if (step != SQLITE_DONE) {
            sqlite3_finalize(st);
            db_fail(path, db, "cannot read table runs");
            goto done;
        }
        if (n_ids && !found) {
            sqlite3_finalize(st);
            if (out->study_id > 0)
                fprintf(stderr, "%s: there is no run %lld in study %lld\nHINT: cnnrun runs "
                                "--study all --db %s lists every run\n", path,
                        (long long)ids[k], (long long)out->study_id, path);
            else
                fprintf(stderr, "%s: there is no run %lld\nHINT: cnnrun runs --runs all --db %s "
                                "lists the run ids\n", path, (long long)ids[k], path);
            rc = CN_EXIT_USAGE;
            goto done;
        }
    }
    sqlite3_finalize(st);
    mark_dead_runs(db, path, out);
    if (out->schema_version >= 12 && load_precision(db, path, out) != 0) goto done;
    if (out->schema_version >= 6 && load_run_params(db, path, out) != 0) goto done;
    sqlite3_int64 recorded = out->n_runs;
    char count_sql[128];
    snprintf(count_sql, sizeof count_sql, "SELECT count(*) FROM runs%s%s",
             *in_study ? " WHERE " : "", in_study);
    sqlite3_int64 everywhere = 0;
    if (results_query_int64(db, count_sql, &recorded) != 0 ||
        results_query_int64(db, "SELECT count(*) FROM runs", &everywhere) != 0) {
        db_fail(path, db, "cannot read table runs");
        goto done;
    }
    out->n_recorded = (int)recorded;
    out->n_everywhere = (int)everywhere;
    out->latest = !all && !n_ids;
    out->groups.schema_version = out->schema_version;
    int details = how & LOAD_DETAILS, groups = details && !(how & LOAD_NO_GROUPS);
    for (int i = 0; details && i < out->n_runs; i++)
        if (load_details(db, path, out->schema_version, &out->runs[i]) != 0) goto done;
    if (groups && out->schema_version >= 6 &&
        (load_groups(db, path, out->schema_version, out->study_id, &out->groups) != 0 ||
         load_group_members(db, path, out) != 0))
        goto done;
    rc = 0;
done:
    free(ids);
    sqlite3_close(db);
    return rc;
}

int report_load(const char *path, const char *spec, ReportData *out)
{
    return load(path, spec, "all", LOAD_DETAILS, out);
}

int report_load_runs(const char *path, const char *spec, ReportData *out)
{
    return load(path, spec, "all", LOAD_DETAILS | LOAD_NO_GROUPS, out);
}

int report_load_table(const char *path, const char *spec, ReportData *out)
{
    return load(path, spec, "all", 0, out);
}

int report_load_in(const char *path, const char *spec, const char *study, int flags,
                   ReportData *out)
{
    return load(path, spec, study, flags & (REPORT_DETAILS | REPORT_BEST_FIRST), out);
}

const char *report_run_param(const ReportRun *r, const char *key)
{
    for (int k = 0; k < r->n_param; k++)
        if (!strcmp(r->param_keys[k], key)) return r->param_values[k];
    return NULL;
}

int report_swept_keys(const ReportData *d, const char **keys, int max)
{
    int n = 0;
    for (int i = 0; i < d->n_runs; i++)
        for (int k = 0; k < d->runs[i].n_param; k++) {
            const char *key = d->runs[i].param_keys[k];
            const char *first = report_run_param(&d->runs[0], key);
            int seen = 0, differs = d->n_runs == 1;
            for (int s = 0; s < n && !seen; s++) seen = !strcmp(keys[s], key);
            for (int j = 1; j < d->n_runs && !differs; j++) {
                const char *v = report_run_param(&d->runs[j], key);
                differs = !v || !first || strcmp(v, first) != 0;
            }
            if (seen || !differs || n == max) continue;
            int at = n++;
            while (at > 0 && strcmp(keys[at - 1], key) > 0) keys[at] = keys[at - 1], at--;
            keys[at] = key;
        }
    return n;
}

static void free_runs(ReportRun *runs, int n)
{
    for (int i = 0; i < n; i++) {
        ReportRun *r = &runs[i];
        free(r->experiment);
        free(r->status);
        free(r->started_at);
        free(r->error);
        free(r->stop_reason);
        free(r->precision);
        free(r->epochs);
        free(r->lrf_lr);
        free(r->lrf_loss);
        for (int k = 0; k < r->n_layers; k++) {
            free(r->layers[k].name);
            free(r->layers[k].type);
            free(r->layers[k].input_shape);
            free(r->layers[k].output_shape);
        }
        free(r->layers);
        for (int k = 0; k < r->n_param; k++) {
            free(r->param_keys[k]);
            free(r->param_values[k]);
        }
        free(r->param_keys);
        free(r->param_values);
    }
    free(runs);
}

/* ---- issue 15: groups of runs that differ only in their seed ---------------- */

static void free_group(ReportGroup *g)
{
    free(g->experiment);
    free(g->params);
    free(g->run_ids);
    free_runs(g->runs, g->n_runs);
    for (int k = 0; k < g->n_values; k++) {
        free(g->keys[k]);
        free(g->values[k]);
    }
    free(g->keys);
    free(g->values);
}

/* Every row of run_groups into out->groups (appended). */
static int load_groups(sqlite3 *db, const char *path, int version, int64_t study,
                       ReportGroups *out)
{
    sqlite3_stmt *st = NULL;
    char sql[512], where[64] = "";
    if (study > 0 && version >= 14)
        snprintf(where, sizeof where, " WHERE study_id = %lld", (long long)study);
    snprintf(sql, sizeof sql, "SELECT experiment, params, n, mean_final_test_acc, "
                              "std_final_test_acc, mean_best_test_acc, std_best_test_acc, "
                              "mean_train_seconds, run_ids, %s, %s FROM run_groups%s",
             version >= 10 ? "n_pruned" : "0", /* [sweep] prune came with version 10 */
             version >= 14 ? "study_id" : "NULL", where);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read view run_groups");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->groups = xrealloc(out->groups, sizeof *out->groups * (size_t)(out->n + 1));
        ReportGroup *g = &out->groups[out->n++];
        memset(g, 0, sizeof *g);
        g->experiment = col_text(st, 0);
        g->params = col_text(st, 1);
        g->n = sqlite3_column_int(st, 2);
        g->mean_final = col_double(st, 3);
        g->std_final = col_double(st, 4);
        g->mean_best = col_double(st, 5);
        g->std_best = col_double(st, 6);
        g->mean_seconds = col_double(st, 7);
        g->run_ids = col_text(st, 8);
        g->n_pruned = sqlite3_column_int(st, 9);
        g->study_id = sqlite3_column_int64(st, 10);
    }
    int rc = step == SQLITE_DONE ? 0 : db_fail(path, db, "cannot read view run_groups");
    sqlite3_finalize(st);
    return rc;
}

static int has_experiment(const ReportData *d, const char *experiment)
{
    for (int i = 0; i < d->n_runs; i++)
        if (strcmp(d->runs[i].experiment, experiment) == 0) return 1;
    return 0;
}

/* One group's member runs (from run_ids) with their epochs, and the values
 * of its first run but the seed. */
static int load_members(sqlite3 *db, const char *path, int version, ReportGroup *g)
{
    sqlite3_stmt *st = NULL;
    char sql[4096];
    snprintf(sql, sizeof sql, "%s WHERE r.id = ?1", results_run_summary_select(version));
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table runs");
    int64_t first = 0;
    for (const char *p = g->run_ids ? g->run_ids : ""; *p;) {
        char *end;
        long long id = strtoll(p, &end, 10);
        p = *end == ',' ? end + 1 : end + strlen(end);
        if (id < 1) continue;
        if (!first) first = id;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_ROW) continue;
        g->runs = xrealloc(g->runs, sizeof(ReportRun) * (size_t)(g->n_runs + 1));
        ReportRun *r = &g->runs[g->n_runs++];
        memset(r, 0, sizeof *r);
        load_summary(st, r);
    }
    sqlite3_finalize(st);
    for (int i = 0; i < g->n_runs; i++)
        if (load_details(db, path, version, &g->runs[i]) != 0) return CN_EXIT_FAIL;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_params WHERE run_id = ?1 AND "
                               "key <> 'experiment.seed' ORDER BY key", -1, &st, NULL) != SQLITE_OK)
        return db_fail(path, db, "cannot read table run_params");
    sqlite3_bind_int64(st, 1, first);
    while (sqlite3_step(st) == SQLITE_ROW) {
        g->keys = xrealloc(g->keys, sizeof(char *) * (size_t)(g->n_values + 1));
        g->values = xrealloc(g->values, sizeof(char *) * (size_t)(g->n_values + 1));
        g->keys[g->n_values] = col_text(st, 0);
        g->values[g->n_values++] = col_text(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Keeps the groups of the report's experiments, each with its members. */
static int load_group_members(sqlite3 *db, const char *path, ReportData *d)
{
    ReportGroups *gs = &d->groups;
    int kept = 0;
    for (int i = 0; i < gs->n; i++) {
        ReportGroup g = gs->groups[i];
        if (!has_experiment(d, g.experiment)) {
            free_group(&g);
            continue;
        }
        gs->groups[kept++] = g;
    }
    gs->n = kept;
    for (int i = 0; i < gs->n; i++)
        if (load_members(db, path, d->schema_version, &gs->groups[i]) != 0) return CN_EXIT_FAIL;
    return 0;
}

int report_load_groups(const char *path, ReportGroups *out)
{
    return report_load_groups_in(path, "all", out);
}

int report_load_groups_in(const char *path, const char *study, ReportGroups *out)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db = NULL;
    int rc = open_results(path, &db, &out->schema_version);
    if (rc != 0) return rc;
    rc = resolve_study(db, path, out->schema_version, study, &out->study_id, &out->study_name);
    if (rc == 0 && out->schema_version >= 6) /* no run_params before: nothing to group by */
        rc = load_groups(db, path, out->schema_version, out->study_id, out);
    sqlite3_close(db);
    return rc;
}

void report_free_groups(ReportGroups *g)
{
    for (int i = 0; i < g->n; i++) free_group(&g->groups[i]);
    free(g->groups);
    free(g->study_name);
    memset(g, 0, sizeof *g);
}

void report_free(ReportData *d)
{
    free_runs(d->runs, d->n_runs);
    report_free_groups(&d->groups);
    free(d->db_path);
    free(d->study_name);
    memset(d, 0, sizeof *d);
}
