/* studies.c — the studies of a results database (issue 36; table `studies`,
 * schema version 14): `cnnrun studies` (one line per study: its runs
 * finished, pruned and failed, its wall time, its best point), and a study's
 * points sorted best first (report_load_points), which the end of
 * `cnnrun run` prints as the study's summary. The objective of a point is
 * its best validation accuracy where the run has `[data] validation`, else
 * its best test accuracy (ReportPoint.on_val says which). The keys shown
 * with a point are its swept ones: the run_params whose value differs
 * between the study's runs (all of them for a study of one run). Read only;
 * the file is opened as data.c opens it. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/escape.h"
#include "cnnrun/report.h"
#include "cnnrun/results_read.h"
#include "cnnrun/util.h"
#include "format.h"

static char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static double col_double(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int fail(const char *path, sqlite3 *db, const char *what)
{
    fprintf(stderr, "%s: %s (%s)\n", path, what, sqlite3_errmsg(db));
    return CN_EXIT_FAIL;
}

/* ---- a study's points --------------------------------------------------- */

/* Each point's params into p->keys/values (every run_params row but the
 * seed's unless the seed is what differs: decided later by swept()). */
static int load_params(sqlite3 *db, const char *path, ReportPoint *p)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_params WHERE run_id = ?1 ORDER BY key",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(path, db, "cannot read table run_params");
    sqlite3_bind_int64(st, 1, p->run_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        p->keys = xrealloc(p->keys, sizeof(char *) * (size_t)(p->n_params + 1));
        p->values = xrealloc(p->values, sizeof(char *) * (size_t)(p->n_params + 1));
        p->keys[p->n_params] = col_text(st, 0);
        p->values[p->n_params++] = col_text(st, 1);
    }
    sqlite3_finalize(st);
    return 0;
}

static const char *value_of(const ReportPoint *p, const char *key)
{
    for (int k = 0; k < p->n_params; k++)
        if (!strcmp(p->keys[k], key)) return p->values[k];
    return NULL;
}

/* Whether `key` takes more than one value (or is missing somewhere) over pts. */
static int varies(const ReportPoint *pts, int n, const char *key)
{
    const char *first = value_of(&pts[0], key);
    for (int i = 1; i < n; i++) {
        const char *v = value_of(&pts[i], key);
        if (!v || !first || strcmp(v, first) != 0) return 1;
    }
    return 0;
}

/* The swept keys of the study into out->swept (sorted, each once). */
static void find_swept(ReportPoints *out)
{
    for (int i = 0; i < out->n; i++) {
        const ReportPoint *p = &out->points[i];
        for (int k = 0; k < p->n_params; k++) {
            const char *key = p->keys[k];
            int seen = 0;
            for (int s = 0; s < out->n_swept && !seen; s++) seen = !strcmp(out->swept[s], key);
            if (seen || (out->n > 1 && !varies(out->points, out->n, key))) continue;
            out->swept = xrealloc(out->swept, sizeof(char *) * (size_t)(out->n_swept + 1));
            out->swept[out->n_swept++] = xstrdup(key);
        }
    }
    for (int a = 1; a < out->n_swept; a++) /* few keys: insertion sort */
        for (int b = a; b > 0 && strcmp(out->swept[b - 1], out->swept[b]) > 0; b--) {
            char *t = out->swept[b];
            out->swept[b] = out->swept[b - 1];
            out->swept[b - 1] = t;
        }
}

static int load_points(sqlite3 *db, const char *path, int64_t study, ReportPoints *out)
{
    static const char sql[] =
        "SELECT r.id, r.experiment, r.status, r.stop_reason,\n"
        "  (SELECT max(val_acc) FROM epochs e WHERE e.run_id = r.id) AS v,\n"
        "  (SELECT max(test_acc) FROM epochs e WHERE e.run_id = r.id) AS t,\n"
        "  (SELECT count(*) FROM epochs e WHERE e.run_id = r.id), r.epochs_planned,\n"
        "  coalesce(r.train_seconds, (SELECT sum(seconds) FROM epochs e WHERE e.run_id = r.id))\n"
        "FROM runs r WHERE r.study_id = ?1\n"
        "ORDER BY coalesce(v, t) IS NULL, coalesce(v, t) DESC, r.id";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(path, db, "cannot read table runs");
    sqlite3_bind_int64(st, 1, study);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->points = xrealloc(out->points, sizeof *out->points * (size_t)(out->n + 1));
        ReportPoint *p = &out->points[out->n++];
        memset(p, 0, sizeof *p);
        p->run_id = sqlite3_column_int64(st, 0);
        p->experiment = col_text(st, 1);
        p->status = col_text(st, 2);
        p->stop_reason = col_text(st, 3);
        double v = col_double(st, 4), t = col_double(st, 5);
        p->on_val = isfinite(v);
        p->objective = p->on_val ? v : t;
        p->epochs_done = sqlite3_column_int(st, 6);
        p->epochs_planned = sqlite3_column_int(st, 7);
        p->seconds = col_double(st, 8);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return fail(path, db, "cannot read table runs");
    for (int i = 0; i < out->n; i++)
        if (load_params(db, path, &out->points[i]) != 0) return CN_EXIT_FAIL;
    find_swept(out);
    return 0;
}

static int open_db(const char *path, sqlite3 **db, int *version)
{
    ResultsRefusal why;
    *db = results_open_readonly(path, version, &why);
    if (*db) return 0;
    if (why == RESULTS_RO_MISSING)
        fprintf(stderr, "HINT: train something first (cnnrun run FILE.ini) or pass --db PATH\n");
    return CN_EXIT_FAIL;
}

int report_load_points(const char *path, int64_t study, ReportPoints *out)
{
    memset(out, 0, sizeof *out);
    out->study_id = study;
    sqlite3 *db = NULL;
    int version = 0;
    int rc = open_db(path, &db, &version);
    if (rc != 0) return rc;
    if (version >= 14) rc = load_points(db, path, study, out);
    sqlite3_close(db);
    return rc;
}

static void free_point(ReportPoint *p)
{
    free(p->experiment);
    free(p->status);
    free(p->stop_reason);
    for (int k = 0; k < p->n_params; k++) {
        free(p->keys[k]);
        free(p->values[k]);
    }
    free(p->keys);
    free(p->values);
}

void report_free_points(ReportPoints *p)
{
    for (int i = 0; i < p->n; i++) free_point(&p->points[i]);
    free(p->points);
    for (int k = 0; k < p->n_swept; k++) free(p->swept[k]);
    free(p->swept);
    memset(p, 0, sizeof *p);
}

void report_point_values(const ReportPoints *pts, const ReportPoint *p, char *b, size_t n)
{
    size_t len = 0;
    b[0] = '\0';
    for (int k = 0; k < pts->n_swept && len + 1 < n; k++) {
        const char *v = value_of(p, pts->swept[k]);
        int w = snprintf(b + len, n - len, "%s%s=%s", len ? " " : "", pts->swept[k], v ? v : "-");
        if (w < 0) break;
        len += (size_t)w < n - len ? (size_t)w : n - len - 1;
    }
    if (!b[0]) snprintf(b, n, "-");
}

/* How a point ended, for the tables: "pruned", its status otherwise. */
static const char *point_end(const ReportPoint *p)
{
    if (p->stop_reason && !strcmp(p->stop_reason, "pruned")) return "pruned";
    return p->status ? p->status : "-";
}

void report_print_points(const ReportPoints *pts, int max_rows, const char *db_path, FILE *f)
{
    if (pts->n == 0) return;
    const ReportPoint *best = &pts->points[0];
    char vals[1024], acc[32], tm[32];
    if (isfinite(best->objective)) {
        report_point_values(pts, best, vals, sizeof vals);
        fprintf(f, "best point: run %lld (%s): %s best %s accuracy%s\n",
                (long long)best->run_id, vals, fmt_pct(acc, sizeof acc, best->objective),
                best->on_val ? "validation" : "test",
                best->on_val ? "" : " (no [data] validation: chosen on the test set)");
    }
    if (pts->n < 2) return;
    fprintf(f, "%4s  %9s %4s  %-11s %7s %9s  %s\n", "run", "accuracy", "on", "end", "epochs",
            "time", "values");
    int rows = max_rows > 0 && pts->n > max_rows ? max_rows : pts->n;
    for (int i = 0; i < rows; i++) {
        const ReportPoint *p = &pts->points[i];
        char ep[24];
        snprintf(ep, sizeof ep, "%d/%d", p->epochs_done, p->epochs_planned);
        report_point_values(pts, p, vals, sizeof vals);
        fprintf(f, "%4lld  %9s %4s  %-11s %7s %9s  %s\n", (long long)p->run_id,
                fmt_pct(acc, sizeof acc, p->objective), !isfinite(p->objective) ? "-"
                : p->on_val ? "val" : "test", point_end(p), ep,
                fmt_duration(tm, sizeof tm, p->seconds), vals);
    }
    if (rows < pts->n) { /* (before: "cnnrun studies and cnnrun report show them all") */
        fprintf(f, "(the best %d of %d points; `cnnrun runs --study %lld --db ", rows, pts->n,
                (long long)pts->study_id);
        shell_put_word(f, db_path);
        fputs("` shows them all)\n", f);
    }
}

/* ---- `cnnrun studies` ------------------------------------------------------ */

int report_load_studies(const char *path, ReportStudies *out)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db = NULL;
    int rc = open_db(path, &db, &out->schema_version);
    if (rc != 0) return rc;
    if (out->schema_version < 14) {
        sqlite3_close(db);
        return 0;
    }
    static const char sql[] =
        "SELECT s.id, s.name, s.status, s.started_at, s.command,\n"
        "  (SELECT count(*) FROM runs r WHERE r.study_id = s.id),\n"
        "  (SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.status = 'finished'\n"
        "     AND r.stop_reason IS NOT 'pruned'),\n"
        "  (SELECT count(*) FROM runs r WHERE r.study_id = s.id AND r.stop_reason IS 'pruned'),\n"
        "  (SELECT count(*) FROM runs r WHERE r.study_id = s.id\n"
        "     AND r.status IN ('failed', 'diverged')),\n"
        "  (julianday(coalesce(s.finished_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))\n"
        "     - julianday(s.started_at)) * 86400\n"
        "FROM studies s ORDER BY s.id";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = fail(path, db, "cannot read table studies");
        sqlite3_close(db);
        return rc;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        out->studies = xrealloc(out->studies, sizeof *out->studies * (size_t)(out->n + 1));
        ReportStudy *s = &out->studies[out->n++];
        memset(s, 0, sizeof *s);
        s->id = sqlite3_column_int64(st, 0);
        s->name = col_text(st, 1);
        s->status = col_text(st, 2);
        s->started_at = col_text(st, 3);
        s->command = col_text(st, 4);
        s->n_runs = sqlite3_column_int(st, 5);
        s->n_finished = sqlite3_column_int(st, 6);
        s->n_pruned = sqlite3_column_int(st, 7);
        s->n_failed = sqlite3_column_int(st, 8);
        s->wall_seconds = col_double(st, 9);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) rc = fail(path, db, "cannot read table studies");
    for (int i = 0; rc == 0 && i < out->n; i++)
        rc = load_points(db, path, out->studies[i].id, &out->studies[i].points);
    sqlite3_int64 loose = 0;
    if (rc == 0 &&
        results_query_int64(db, "SELECT count(*) FROM runs WHERE study_id IS NULL", &loose) != 0)
        rc = fail(path, db, "cannot read table runs");
    out->n_without = (int)loose;
    sqlite3_close(db);
    return rc;
}

void report_print_studies(const ReportStudies *s, const char *db_path, FILE *f)
{
    if (s->schema_version > 0 && s->schema_version < 14) {
        fprintf(f, "%s: no studies: the database has schema version %d, studies came with "
                   "version 14 (the next `cnnrun run` on it upgrades the file)\n",
                db_path, s->schema_version);
        return;
    }
    if (s->n == 0) fprintf(f, "%s: no studies recorded yet\n", db_path);
    if (s->n > 0)
        fprintf(f, "%4s  %-16s %-11s %4s %8s %6s %6s %9s  %s\n", "id", "name", "status", "runs",
                "finished", "pruned", "failed", "wall", "best point");
    for (int i = 0; i < s->n; i++) {
        const ReportStudy *st = &s->studies[i];
        char tm[32], best[1200] = "-", vals[1024], acc[32];
        const ReportPoints *pts = &st->points;
        if (pts->n > 0 && isfinite(pts->points[0].objective)) {
            report_point_values(pts, &pts->points[0], vals, sizeof vals);
            snprintf(best, sizeof best, "run %lld: %s (%s) %s", (long long)pts->points[0].run_id,
                     fmt_pct(acc, sizeof acc, pts->points[0].objective),
                     pts->points[0].on_val ? "val" : "test", vals);
        }
        fprintf(f, "%4lld  %-16.16s %-11s %4d %8d %6d %6d %9s  %s\n", (long long)st->id,
                st->name ? st->name : "", st->status ? st->status : "", st->n_runs,
                st->n_finished, st->n_pruned, st->n_failed,
                fmt_duration(tm, sizeof tm, st->wall_seconds), best);
    }
    if (s->n_without > 0) {
        fprintf(f, "(%d run%s recorded before studies belong to none: `cnnrun runs --study all "
                   "--db ", s->n_without, s->n_without == 1 ? "" : "s");
        shell_put_word(f, db_path);
        fputs("` shows them)\n", f);
    }
}

void report_free_studies(ReportStudies *s)
{
    for (int i = 0; i < s->n; i++) {
        ReportStudy *st = &s->studies[i];
        free(st->name);
        free(st->status);
        free(st->started_at);
        free(st->command);
        report_free_points(&st->points);
    }
    free(s->studies);
    memset(s, 0, sizeof *s);
}
