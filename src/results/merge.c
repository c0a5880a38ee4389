/* merge.c — `cnnrun merge A.db B.db ... --into ALL.db` (results.h): copies
 * the runs of results databases written on other machines (a SLURM job
 * array's, say: docs/distributed.md) into one, renumbered after the runs the
 * destination already has, each with its epochs, layers, lr_find and
 * run_params rows. A source of an older schema version gives the columns it
 * has (the rest take their defaults, as a migration gives them); sources are
 * opened read-only and never changed. Every source and every duplicate is
 * checked first (a temporary table with an index: linear time); then the
 * runs are copied in short transactions of MERGE_BATCH runs, so that a run
 * training into the destination meanwhile waits a moment, not the whole
 * merge. A failure or SIGINT/SIGTERM on the way deletes the runs already
 * copied again; a new destination is built in a temporary file beside it
 * and renamed into place at the end: a refused, failed or interrupted merge
 * leaves the destination as it was, and no new file. */
#include "cnnrun/files.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "cnnrun/results_read.h"
#include "schema.sql.h"
#include "wait.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MERGE_MAX_COLS 64
/* Runs copied per transaction: the write lock is held for a fraction of a
 * second at a time, never for the whole merge. */
#define MERGE_BATCH 200
/* What makes two rows one run (a duplicate): these columns, equal. */
#define RUN_KEY "experiment, started_at, hostname, seed, config"

/* The tables a run's rows live in besides `runs`, keyed by run_id. */
static const char *const CHILD_TABLES[] = {"epochs", "layers", "lr_find", "run_params"};
#define CHILD_COUNT 4

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
        /* runs.study_id names a study of the source file, not of --into:
         * merged runs belong to no study there (studies are not merged) */
        if (!strcmp(table, "runs") && !strcmp(a.name[i], "study_id")) continue;
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
 * (results_read.h); NULL after printing why not. */
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

/* What copies one source's rows: for `runs` and each child table, the
 * SELECT on the source and the INSERT on the destination of the columns
 * both files have, prepared once for all the source's runs. */
typedef struct {
    const char *path;
    int n_runs_cols;               /* runs columns copied (after the 6 of `sel`) */
    sqlite3_stmt *sel, *ins;       /* runs: key columns, id, then the copied ones */
    int n_cols[CHILD_COUNT];       /* 0: the source has no such table */
    sqlite3_stmt *csel[CHILD_COUNT], *cins[CHILD_COUNT];
} SourceCopy;

static void source_copy_free(SourceCopy *c)
{
    sqlite3_finalize(c->sel);
    sqlite3_finalize(c->ins);
    for (int t = 0; t < CHILD_COUNT; t++) {
        sqlite3_finalize(c->csel[t]);
        sqlite3_finalize(c->cins[t]);
    }
    memset(c, 0, sizeof *c);
}

/* "INSERT INTO table (first, cols) VALUES (?1, ..., ?n)" with n values. */
static char *insert_sql(const char *table, const char *first, const char *cols, int n)
{
    size_t len = strlen(cols) + 8 * (size_t)n + 128;
    char *sql = xmalloc(len);
    int k = snprintf(sql, len, "INSERT INTO \"%s\" (%s%s%s) VALUES (?1", table, first,
                     *first ? ", " : "", cols);
    for (int i = 1; i < n; i++) k += snprintf(sql + k, len - (size_t)k, ", ?%d", i + 1);
    snprintf(sql + k, len - (size_t)k, ")");
    return sql;
}

/* Prepares c for copying src into dst: 0, or -1 (message printed). */
static int source_copy_prepare(SourceCopy *c, sqlite3 *src, sqlite3 *dst, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    int n, ok = 1;
    char *cols = common_columns(src, dst, "runs", "id", &n);
    if (!cols) return -1;
    c->n_runs_cols = n;
    size_t len = strlen(cols) + 128;
    char *sel = xmalloc(len);
    /* the identity of a run first: what the duplicate check compares */
    snprintf(sel, len, "SELECT " RUN_KEY ", id, %s FROM runs ORDER BY id", cols);
    char *ins = insert_sql("runs", "", cols, n);
    ok = sqlite3_prepare_v2(src, sel, -1, &c->sel, NULL) == SQLITE_OK &&
         sqlite3_prepare_v2(dst, ins, -1, &c->ins, NULL) == SQLITE_OK;
    free(sel);
    free(ins);
    free(cols);
    for (int t = 0; ok && t < CHILD_COUNT; t++) {
        cols = common_columns(src, dst, CHILD_TABLES[t], "run_id", &c->n_cols[t]);
        if (!cols) {
            ok = 0;
            break;
        }
        if (c->n_cols[t] > 0) { /* an older file may lack the table */
            len = strlen(cols) + 128;
            sel = xmalloc(len);
            snprintf(sel, len, "SELECT %s FROM \"%s\" WHERE run_id = ?1", cols, CHILD_TABLES[t]);
            ins = insert_sql(CHILD_TABLES[t], "run_id", cols, c->n_cols[t] + 1);
            ok = sqlite3_prepare_v2(src, sel, -1, &c->csel[t], NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(dst, ins, -1, &c->cins[t], NULL) == SQLITE_OK;
            free(sel);
            free(ins);
        }
        free(cols);
    }
    if (!ok) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, sqlite3_errmsg(src));
        source_copy_free(c);
    }
    return ok ? 0 : -1;
}

/* Copies the child rows of source run old_id as destination run new_id. */
static int copy_children(SourceCopy *c, sqlite3 *src, sqlite3 *dst, sqlite3_int64 old_id,
                         sqlite3_int64 new_id)
{
    for (int t = 0; t < CHILD_COUNT; t++) {
        if (!c->n_cols[t]) continue;
        sqlite3_stmt *s = c->csel[t], *d = c->cins[t];
        sqlite3_bind_int64(s, 1, old_id);
        int rc, ok = 1;
        while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            sqlite3_bind_int64(d, 1, new_id);
            bind_row(d, 2, s, c->n_cols[t]);
            ok = sqlite3_step(d) == SQLITE_DONE;
            sqlite3_reset(d);
        }
        ok = ok && rc == SQLITE_DONE;
        sqlite3_reset(s);
        if (!ok) {
            fprintf(stderr, "%s: cannot copy the %s rows of run %lld (%s)\n", c->path,
                    CHILD_TABLES[t], (long long)old_id,
                    sqlite3_errmsg(sqlite3_errcode(dst) != SQLITE_OK ? dst : src));
            return -1;
        }
    }
    return 0;
}

/* ---- duplicates: one pass, a temporary table with an index ----------------- */

/* temp.merge_keys holds the identity of every run the destination has and of
 * every run of the sources checked so far (src: the source's index, -1 for
 * the destination); each lookup is one index probe, so checking N runs
 * against M takes N log M, not N * M. */
static int keys_create(sqlite3 *dst)
{
    return sqlite3_exec(dst,
                        "CREATE TEMP TABLE merge_keys (experiment, started_at, hostname, seed, "
                        "config, src INTEGER, id INTEGER);"
                        "CREATE INDEX temp.merge_keys_run ON merge_keys (experiment, started_at, "
                        "hostname, seed, config);"
                        "INSERT INTO temp.merge_keys SELECT " RUN_KEY ", -1, id FROM main.runs;",
                        NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Refuses the merge when a run of source i (srcs[i]) is already in the
 * destination or in an earlier source (runs of one file are not compared
 * with each other: two runs of one file started in the same second are two
 * runs). 0, or -1 (message printed). */
static int check_duplicates(sqlite3 *src, sqlite3 *dst, int i, const char *const *srcs)
{
    sqlite3_stmt *s = NULL, *probe = NULL, *add = NULL;
    int ok = sqlite3_prepare_v2(src, "SELECT " RUN_KEY ", id FROM runs ORDER BY id", -1, &s,
                                NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "SELECT src, id FROM temp.merge_keys WHERE experiment = ?1 "
                                     "AND started_at = ?2 AND hostname IS ?3 AND seed IS ?4 AND "
                                     "config IS ?5 AND src <> ?6 LIMIT 1", -1, &probe,
                                NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "INSERT INTO temp.merge_keys VALUES (?1, ?2, ?3, ?4, ?5, "
                                     "?6, ?7)", -1, &add, NULL) == SQLITE_OK;
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        bind_row(probe, 1, s, 5);
        sqlite3_bind_int(probe, 6, i);
        if (sqlite3_step(probe) == SQLITE_ROW) {
            int other = sqlite3_column_int(probe, 0);
            sqlite3_int64 same = sqlite3_column_int64(probe, 1);
            char where[4096 + 64];
            if (other < 0)
                snprintf(where, sizeof where, "is already in the destination as run %lld",
                         (long long)same);
            else
                snprintf(where, sizeof where, "is the same run as run %lld of %s",
                         (long long)same, srcs[other]);
            fprintf(stderr, "%s: run %lld (%s, started %s) %s; nothing was merged\n", srcs[i],
                    (long long)sqlite3_column_int64(s, 5),
                    (const char *)sqlite3_column_text(s, 0),
                    (const char *)sqlite3_column_text(s, 1), where);
            ok = 0;
        }
        sqlite3_reset(probe);
        if (!ok) break;
        bind_row(add, 1, s, 5);
        sqlite3_bind_int(add, 6, i);
        sqlite3_bind_int64(add, 7, sqlite3_column_int64(s, 5));
        ok = sqlite3_step(add) == SQLITE_DONE;
        sqlite3_reset(add);
        if (!ok) fprintf(stderr, "%s: cannot compare its runs (%s)\n", srcs[i],
                         sqlite3_errmsg(dst));
    }
    if (ok && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", srcs[i], sqlite3_errmsg(src));
        ok = 0;
    }
    sqlite3_finalize(s);
    sqlite3_finalize(probe);
    sqlite3_finalize(add);
    return ok ? 0 : -1;
}

/* ---- the copy: short transactions ---------------------------------------- */

/* SIGINT / SIGTERM during a merge: stop after the current run and undo. */
static volatile sig_atomic_t merge_stop;

static void on_merge_signal(int sig)
{
    (void)sig;
    merge_stop = 1;
}

/* The new ids of the runs copied so far: what a failure deletes again. */
typedef struct {
    sqlite3_int64 *id;
    int n, cap;
} NewIds;

static int commit(sqlite3 *dst, const char *into)
{
    if (sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return 0;
    fprintf(stderr, "%s: cannot commit the merge (%s)\n", into, sqlite3_errmsg(dst));
    return -1;
}

/* Copies every run of one source, MERGE_BATCH runs per transaction so that
 * a training run writing to the destination never waits long for the lock.
 * Returns the runs copied or -1 (message printed; the open transaction is
 * left to the caller to roll back). */
static int copy_source(sqlite3 *src, sqlite3 *dst, const char *path, const char *into,
                       NewIds *ids)
{
    SourceCopy c;
    if (source_copy_prepare(&c, src, dst, path) != 0) return -1;
    int copied = 0, ok = 1, rc;
    while (ok && (rc = sqlite3_step(c.sel)) == SQLITE_ROW) {
        if (merge_stop) {
            fprintf(stderr, "%s: interrupted by a signal\n", into);
            ok = 0;
            break;
        }
        if (sqlite3_get_autocommit(dst) &&
            sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "%s: cannot lock the database (%s)\n", into, sqlite3_errmsg(dst));
            ok = 0;
            break;
        }
        sqlite3_int64 old_id = sqlite3_column_int64(c.sel, 5);
        for (int k = 0; k < c.n_runs_cols; k++)
            sqlite3_bind_value(c.ins, k + 1, sqlite3_column_value(c.sel, 6 + k));
        ok = sqlite3_step(c.ins) == SQLITE_DONE;
        sqlite3_reset(c.ins);
        if (!ok) {
            fprintf(stderr, "%s: cannot copy run %lld (%s)\n", path, (long long)old_id,
                    sqlite3_errmsg(dst));
            break;
        }
        sqlite3_int64 new_id = sqlite3_last_insert_rowid(dst);
        if (ids->n == ids->cap) {
            ids->cap = ids->cap ? 2 * ids->cap : 256;
            ids->id = xrealloc(ids->id, sizeof *ids->id * (size_t)ids->cap);
        }
        ids->id[ids->n++] = new_id;
        ok = copy_children(&c, src, dst, old_id, new_id) == 0;
        copied += ok;
        if (ok && copied % MERGE_BATCH == 0) ok = commit(dst, into) == 0;
    }
    if (ok && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, sqlite3_errmsg(src));
        ok = 0;
    }
    if (ok && !sqlite3_get_autocommit(dst)) ok = commit(dst, into) == 0;
    source_copy_free(&c);
    return ok ? copied : -1;
}

/* After a failure: the runs already committed are deleted again (their
 * child rows go with them: ON DELETE CASCADE), so the destination holds
 * what it held before. */
static void undo_copies(sqlite3 *dst, const char *into, const NewIds *ids)
{
    if (!sqlite3_get_autocommit(dst)) sqlite3_exec(dst, "ROLLBACK", NULL, NULL, NULL);
    if (ids->n == 0) return;
    sqlite3_stmt *del = NULL;
    int ok = sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "DELETE FROM runs WHERE id = ?1", -1, &del, NULL) ==
                 SQLITE_OK;
    for (int i = 0; ok && i < ids->n; i++) {
        sqlite3_bind_int64(del, 1, ids->id[i]);
        ok = sqlite3_step(del) == SQLITE_DONE;
        sqlite3_reset(del);
    }
    sqlite3_finalize(del);
    ok = ok && sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        if (!sqlite3_get_autocommit(dst)) sqlite3_exec(dst, "ROLLBACK", NULL, NULL, NULL);
        fprintf(stderr, "%s: cannot take back the %d run%s already merged (%s); they are runs "
                        "%lld to %lld\n", into, ids->n, ids->n == 1 ? "" : "s",
                sqlite3_errmsg(dst), (long long)ids->id[0], (long long)ids->id[ids->n - 1]);
    }
}

/* INTO.tmp.XXXXXX beside `into` (created empty, as util.h's temp_beside
 * makes it: SQLite makes it a database), where a merge into a new file is
 * built; NULL after printing why not. The directory is created (one level)
 * as results_open would. */
static char *merge_temp(const char *into)
{
    const char *slash = strrchr(into, '/');
    if (slash && slash != into) {
        char *dir = xstrdup(into);
        dir[slash - into] = '\0';
        mkdir(dir, 0777); /* an error shows in temp_beside's */
        free(dir);
    }
    char *tmp;
    int fd = temp_beside(into, &tmp);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot create the database (%s)\n", into, strerror(errno));
        return NULL;
    }
    close(fd);
    return tmp;
}

/* Removes a database file and its -wal, -shm and -journal. */
static void remove_database(const char *path)
{
    unlink(path);
    for (const char *suffix = "-wal\0-shm\0-journal\0"; *suffix; suffix += strlen(suffix) + 1) {
        char side[4096];
        snprintf(side, sizeof side, "%s%s", path, suffix);
        unlink(side);
    }
}

/* The built file becomes `into`, unless one appeared there meanwhile. */
static int publish(const char *tmp, const char *into)
{
    if (link(tmp, into) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno == EEXIST) {
        fprintf(stderr, "%s: appeared while the merge ran; nothing was merged into it\n", into);
        return -1;
    }
    if (rename(tmp, into) == 0) return 0; /* a file system without hard links */
    fprintf(stderr, "%s: cannot create the database (%s)\n", into, strerror(errno));
    return -1;
}

int results_merge(const char *into, const char *const *srcs, int n)
{
    for (int i = 0; i < n; i++)
        if (same_file(srcs[i], into)) {
            fprintf(stderr, "%s: is the destination itself; nothing was merged\n", srcs[i]);
            return -2;
        }
    /* from here a signal stops the merge where it can be undone */
    struct sigaction on_stop = {.sa_handler = on_merge_signal}, old_int, old_term;
    merge_stop = 0;
    sigaction(SIGINT, &on_stop, &old_int);
    sigaction(SIGTERM, &on_stop, &old_term);
    /* every source checked before the destination is created */
    sqlite3 **src = xcalloc((size_t)(n > 0 ? n : 1), sizeof *src);
    int ok = 1, refused = 0;
    for (int i = 0; i < n && ok; i++) ok = (src[i] = open_source(srcs[i])) != NULL;
    refused = !ok;
    for (int i = 0; i < n && ok; i++) ok = results_quick_check(src[i], srcs[i]) == 0;

    /* a new file is built beside it and appears only when complete: a
     * refused, failed or interrupted merge leaves no file behind */
    if (ok && merge_stop) {
        fprintf(stderr, "%s: interrupted by a signal\n", into);
        ok = 0;
    }
    struct stat st;
    int created = stat(into, &st) != 0 && errno == ENOENT;
    if (ok && !created) { /* one to add to: checked as a source is, before it is written */
        int version;
        ResultsRefusal why;
        sqlite3 *d = results_open_readonly(into, &version, &why);
        if (!d) {
            fprintf(stderr, "HINT: --into names a cnnrun results database to add the runs to, "
                            "or a file to create\n");
            ok = 0;
            refused = 1;
        }
        sqlite3_close(d);
    }
    char *tmp = ok && created ? merge_temp(into) : NULL;
    const char *target = tmp ? tmp : into;
    ok = ok && (!created || tmp);

    ResultsDb *r = ok ? results_open(target) : NULL; /* creates or migrates; quick_check */
    ok = ok && r;
    results_close(r);
    sqlite3 *dst = NULL;
    if (ok && sqlite3_open_v2(target, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open the database (%s)\n", into, sqlite3_errmsg(dst));
        ok = 0;
    }
    if (ok) {
        sqlite3_busy_timeout(dst, results_busy_ms());
        ok = sqlite3_exec(dst, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) == SQLITE_OK &&
             keys_create(dst) == 0;
        if (!ok) fprintf(stderr, "%s: cannot read its runs (%s)\n", into, sqlite3_errmsg(dst));
    }
    /* every duplicate refused before anything is written */
    for (int i = 0; i < n && ok; i++) ok = check_duplicates(src[i], dst, i, srcs) == 0;
    NewIds ids = {0};
    int total = 0;
    for (int i = 0; i < n && ok; i++) {
        int c = copy_source(src[i], dst, srcs[i], into, &ids);
        ok = c >= 0;
        if (ok) fprintf(stderr, "%s: %d run%s\n", srcs[i], c, c == 1 ? "" : "s");
        total += ok ? c : 0;
    }
    if (ok && merge_stop) {
        fprintf(stderr, "%s: interrupted by a signal\n", into);
        ok = 0;
    }
    if (!ok && dst && !tmp) undo_copies(dst, into, &ids);
    if (dst && sqlite3_close(dst) != SQLITE_OK) { /* the WAL goes into the file here */
        fprintf(stderr, "%s: cannot close the database (%s)\n", into, sqlite3_errmsg(dst));
        sqlite3_close_v2(dst);
        ok = 0;
    }
    if (ok && tmp) ok = publish(tmp, into) == 0;
    if (tmp) remove_database(tmp); /* published (linked away) or failed */
    if (ok) fprintf(stderr, "%s: %d run%s merged\n", into, total, total == 1 ? "" : "s");
    else if (ids.n > 0 || merge_stop) fprintf(stderr, "%s: nothing was merged\n", into);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(ids.id);
    free(tmp);
    for (int i = 0; i < n; i++) sqlite3_close(src[i]);
    free(src);
    return ok ? total : refused ? -2 : -1;
}
