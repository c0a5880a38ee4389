/* merge.c — `cnnrun merge A.db B.db ... --into ALL.db` (results.h): copies
 * the runs of results databases written on other machines (a SLURM job
 * array's, say: docs/distributed.md) into one, renumbered after the runs the
 * destination already has, each with its epochs, layers, lr_find and
 * run_params rows. A source of an older schema version gives the columns it
 * has (the rest take their defaults, as a migration gives them); sources are
 * opened read-only and never changed. Everything goes in one transaction:
 * a refused file or a duplicate run leaves the destination as it was. */
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "readonly.h"
#include "schema.sql.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_MAX_COLS 64

/* The tables a run's rows live in besides `runs`, keyed by run_id. */
static const char *const CHILD_TABLES[] = {"epochs", "layers", "lr_find", "run_params"};

typedef struct {
    int n;
    char *name[MERGE_MAX_COLS];
} Columns;

static void columns_free(Columns *c)
{
    for (int i = 0; i < c->n; i++) free(c->name[i]);
    c->n = 0;
}

/* The columns of `table` in db (none when it has no such table). */
static int table_columns(sqlite3 *db, const char *table, Columns *out)
{
    out->n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < MERGE_MAX_COLS)
        out->name[out->n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) { /* a column left out would be lost without a word */
        fprintf(stderr, "table %s: more than %d columns; cnnrun merge copies at most that many\n",
                table, MERGE_MAX_COLS);
        return -1;
    }
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The columns of `table` both files have, but `skip` (the key the copy
 * sets: runs.id, the children's run_id), as "a, b, c". */
static char *common_columns(sqlite3 *src, sqlite3 *dst, const char *table, const char *skip,
                            int *n_out)
{
    Columns a, b;
    *n_out = 0;
    if (table_columns(src, table, &a) != 0) return NULL;
    if (table_columns(dst, table, &b) != 0) {
        columns_free(&a);
        return NULL;
    }
    size_t len = 1;
    for (int i = 0; i < a.n; i++) len += strlen(a.name[i]) + 4;
    char *list = xmalloc(len);
    list[0] = '\0';
    for (int i = 0; i < a.n; i++) {
        if (!strcmp(a.name[i], skip)) continue;
        int both = 0;
        for (int j = 0; j < b.n && !both; j++) both = !strcmp(a.name[i], b.name[j]);
        if (!both) continue;
        if (*n_out) strcat(list, ", ");
        strcat(list, "\"");
        strcat(list, a.name[i]);
        strcat(list, "\"");
        (*n_out)++;
    }
    columns_free(&a);
    columns_free(&b);
    return list;
}

/* A source, read-only, if it is a results database this program reads
 * (readonly.h); NULL after printing why not. */
static sqlite3 *open_source(const char *path)
{
    int version;
    ResultsRefusal why;
    return results_open_readonly(path, &version, &why);
}

/* Binds every column of row `from` to `to`'s parameters first.. in order. */
static void bind_row(sqlite3_stmt *to, int first, sqlite3_stmt *from, int n)
{
    for (int i = 0; i < n; i++) sqlite3_bind_value(to, first + i, sqlite3_column_value(from, i));
}

/* Copies the rows of `table` of source run old_id as destination run new_id. */
static int copy_children(sqlite3 *src, sqlite3 *dst, const char *table, sqlite3_int64 old_id,
                         sqlite3_int64 new_id, const char *path)
{
    int n;
    char *cols = common_columns(src, dst, table, "run_id", &n);
    if (!cols) return -1;
    if (n == 0) { /* an older file without the table */
        free(cols);
        return 0;
    }
    size_t len = 2 * strlen(cols) + 4 * (size_t)n + 128;
    char *sel = xmalloc(len), *ins = xmalloc(len);
    snprintf(sel, len, "SELECT %s FROM \"%s\" WHERE run_id = ?1", cols, table);
    int k = snprintf(ins, len, "INSERT INTO \"%s\" (run_id, %s) VALUES (?1", table, cols);
    for (int i = 0; i < n; i++) k += snprintf(ins + k, len - (size_t)k, ", ?%d", i + 2);
    snprintf(ins + k, len - (size_t)k, ")");
    sqlite3_stmt *s = NULL, *d = NULL;
    int ok = sqlite3_prepare_v2(src, sel, -1, &s, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, ins, -1, &d, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(s, 1, old_id);
        int rc;
        while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            sqlite3_bind_int64(d, 1, new_id);
            bind_row(d, 2, s, n);
            ok = sqlite3_step(d) == SQLITE_DONE;
            sqlite3_reset(d);
        }
        ok = ok && rc == SQLITE_DONE;
    }
    if (!ok)
        fprintf(stderr, "%s: cannot copy the %s rows of run %lld (%s)\n", path, table,
                (long long)old_id, sqlite3_errmsg(sqlite3_errcode(dst) != SQLITE_OK ? dst : src));
    sqlite3_finalize(s);
    sqlite3_finalize(d);
    free(sel);
    free(ins);
    free(cols);
    return ok ? 0 : -1;
}

/* The destination run that is the same run as the source's current row
 * `s` (columns experiment, started_at, hostname, seed, config first),
 * among those there before this source: 0 if none. */
static sqlite3_int64 find_duplicate(sqlite3_stmt *dup, sqlite3_stmt *s)
{
    bind_row(dup, 1, s, 5); /* ?6 stays bound */
    sqlite3_int64 id = sqlite3_step(dup) == SQLITE_ROW ? sqlite3_column_int64(dup, 0) : 0;
    sqlite3_reset(dup);
    return id;
}

/* Copies every run of one source. Returns the runs copied or -1. */
static int copy_source(sqlite3 *src, sqlite3 *dst, const char *path)
{
    int n;
    char *cols = common_columns(src, dst, "runs", "id", &n);
    if (!cols) return -1;
    /* the identity of a run first: what find_duplicate compares */
    const char *key = "experiment, started_at, hostname, seed, config";
    size_t len = strlen(cols) + 4 * (size_t)n + 256;
    char *sel = xmalloc(len), *ins = xmalloc(len);
    snprintf(sel, len, "SELECT %s, id, %s FROM runs ORDER BY id", key, cols);
    int k = snprintf(ins, len, "INSERT INTO runs (%s) VALUES (?1", cols);
    for (int i = 1; i < n; i++) k += snprintf(ins + k, len - (size_t)k, ", ?%d", i + 1);
    snprintf(ins + k, len - (size_t)k, ")");
    sqlite3_stmt *s = NULL, *d = NULL, *dup = NULL;
    int copied = 0, ok = sqlite3_prepare_v2(src, sel, -1, &s, NULL) == SQLITE_OK &&
                         sqlite3_prepare_v2(dst, ins, -1, &d, NULL) == SQLITE_OK &&
                         sqlite3_prepare_v2(dst,
                                            "SELECT id FROM runs WHERE experiment = ?1 AND "
                                            "started_at = ?2 AND hostname IS ?3 AND seed IS ?4 "
                                            "AND config IS ?5 AND id <= ?6", -1, &dup, NULL) == SQLITE_OK;
    /* runs of this source itself are not compared with each other: two runs
     * of one file started in the same second are two runs */
    sqlite3_int64 before = 0;
    ok = ok && results_query_int64(dst, "SELECT coalesce(max(id), 0) FROM runs", &before) == 0;
    if (ok) sqlite3_bind_int64(dup, 6, before);
    if (!ok)
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, sqlite3_errmsg(src));
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_int64 old_id = sqlite3_column_int64(s, 5);
        sqlite3_int64 same = find_duplicate(dup, s);
        if (same) {
            fprintf(stderr, "%s: run %lld (%s, started %s) is already in the destination as run "
                            "%lld; nothing was merged\n", path, (long long)old_id,
                    (const char *)sqlite3_column_text(s, 0),
                    (const char *)sqlite3_column_text(s, 1), (long long)same);
            ok = 0;
            break;
        }
        for (int i = 0; i < n; i++) sqlite3_bind_value(d, i + 1, sqlite3_column_value(s, 6 + i));
        ok = sqlite3_step(d) == SQLITE_DONE;
        sqlite3_reset(d);
        if (!ok) {
            fprintf(stderr, "%s: cannot copy run %lld (%s)\n", path, (long long)old_id,
                    sqlite3_errmsg(dst));
            break;
        }
        sqlite3_int64 new_id = sqlite3_last_insert_rowid(dst);
        for (size_t t = 0; ok && t < sizeof CHILD_TABLES / sizeof CHILD_TABLES[0]; t++)
            ok = copy_children(src, dst, CHILD_TABLES[t], old_id, new_id, path) == 0;
        copied += ok;
    }
    if (ok && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, sqlite3_errmsg(src));
        ok = 0;
    }
    sqlite3_finalize(s);
    sqlite3_finalize(d);
    sqlite3_finalize(dup);
    free(sel);
    free(ins);
    free(cols);
    return ok ? copied : -1;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int results_merge(const char *into, const char *const *srcs, int n)
{
    for (int i = 0; i < n; i++)
        if (same_file(srcs[i], into)) {
            fprintf(stderr, "%s: is the destination itself; nothing was merged\n", srcs[i]);
            return -2;
        }
    /* every source checked before the destination is created */
    sqlite3 **src = xcalloc((size_t)(n > 0 ? n : 1), sizeof *src);
    int ok = 1;
    for (int i = 0; i < n && ok; i++) ok = (src[i] = open_source(srcs[i])) != NULL;
    int refused = !ok;
    struct stat before;
    int created = stat(into, &before) != 0; /* a failed merge leaves no new file behind */
    ResultsDb *r = ok ? results_open(into) : NULL; /* creates or migrates its schema */
    ok = ok && r;
    results_close(r);
    sqlite3 *dst = NULL;
    if (ok && sqlite3_open_v2(into, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open the database (%s)\n", into, sqlite3_errmsg(dst));
        ok = 0;
    }
    if (ok) {
        sqlite3_busy_timeout(dst, 10000);
        ok = sqlite3_exec(dst, "PRAGMA foreign_keys = ON; BEGIN IMMEDIATE", NULL, NULL, NULL) ==
             SQLITE_OK;
        if (!ok) fprintf(stderr, "%s: cannot lock the database (%s)\n", into, sqlite3_errmsg(dst));
    }
    int total = 0;
    for (int i = 0; i < n && ok; i++) {
        int c = copy_source(src[i], dst, srcs[i]);
        ok = c >= 0;
        if (ok) fprintf(stderr, "%s: %d run%s\n", srcs[i], c, c == 1 ? "" : "s");
        total += ok ? c : 0;
    }
    if (ok && sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot commit the merge (%s)\n", into, sqlite3_errmsg(dst));
        ok = 0;
    }
    if (!ok && dst && !sqlite3_get_autocommit(dst)) sqlite3_exec(dst, "ROLLBACK", NULL, NULL, NULL);
    if (ok) fprintf(stderr, "%s: %d run%s merged\n", into, total, total == 1 ? "" : "s");
    sqlite3_close(dst);
    if (!ok && created) {
        unlink(into);
        for (const char *suffix = "-wal\0-shm\0-journal\0"; *suffix; suffix += strlen(suffix) + 1) {
            char side[4096];
            snprintf(side, sizeof side, "%s%s", into, suffix);
            unlink(side);
        }
    }
    for (int i = 0; i < n; i++) sqlite3_close(src[i]);
    free(src);
    return ok ? total : refused ? -2 : -1;
}
