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
 * leaves the destination as it was, and no new file (one that was killed
 * leaves its temporary file: the next merge into it removes it). A run the
 * destination has already (merged before) is skipped when its copy there is
 * the same, and brought up to date when that copy was merged unfinished
 * ('running' or 'interrupted': its study was still writing it) and the
 * source now has more of it. */
#include "cnnrun/files.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "cnnrun/results_read.h"
#include "errmsg.h"
#include "schema.sql.h"
#include "wait.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, results_errmsg(src));
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
                    results_errmsg(sqlite3_errcode(dst) != SQLITE_OK ? dst : src));
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

/* A run's state: its status and how many epochs it has recorded. */
typedef struct {
    char status[16];
    int epochs;
} RunState;

/* A source's runs that the destination has already (merged before): each
 * skipped (its copy there is the same: to = 0) or brought up to date (to:
 * the destination's run, replaced by the source's later state), in the
 * source's id order. */
typedef struct {
    sqlite3_int64 from, to;
    RunState was; /* the destination's state of it */
} Known;

typedef struct {
    Known *k;
    int n, cap, replaced, skipped;
} KnownRuns;

static void known_add(KnownRuns *kr, sqlite3_int64 from, sqlite3_int64 to, const RunState *was)
{
    if (kr->n == kr->cap) {
        kr->cap = kr->cap ? 2 * kr->cap : 64;
        kr->k = xrealloc(kr->k, sizeof *kr->k * (size_t)kr->cap);
    }
    kr->k[kr->n++] = (Known){from, to, *was};
    if (to) kr->replaced++;
    else kr->skipped++;
}

static int run_state(sqlite3_stmt *st, sqlite3_int64 id, RunState *out)
{
    sqlite3_bind_int64(st, 1, id);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out->status, sizeof out->status, "%s", t ? (const char *)t : "");
        out->epochs = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    return ok ? 0 : -1;
}

/* ", 1 brought up to date, 3 already there" into buf, or "". */
static const char *known_words(const KnownRuns *kr, char *buf, size_t size)
{
    int k = 0;
    buf[0] = '\0';
    if (kr->replaced)
        k = snprintf(buf, size, ", %d brought up to date", kr->replaced);
    if (kr->skipped && k >= 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, ", %d already there", kr->skipped);
    return buf;
}

#define STATE_SQL                                                                               \
    "SELECT status, (SELECT count(*) FROM epochs WHERE run_id = ?1) FROM runs WHERE id = ?1"

/* What a merge does with a run the destination already has: the same state
 * there, nothing (0); the destination's copy unfinished (it was merged while
 * its study was still writing it: 'running', or stopped 'interrupted') and
 * the source's further on (more epochs, or as many and another status), it
 * is brought up to date (1); anything else is a conflict (-1). */
static int known_action(const RunState *have, const RunState *now)
{
    if (!strcmp(have->status, now->status) && have->epochs == now->epochs) return 0;
    int unfinished = !strcmp(have->status, "running") || !strcmp(have->status, "interrupted");
    if (unfinished && (now->epochs > have->epochs ||
                       (now->epochs == have->epochs && strcmp(have->status, now->status))))
        return 1;
    return -1;
}

/* Checks the runs of source i (srcs[i]) against the destination and the
 * earlier sources (runs of one file are not compared with each other: two
 * runs of one file started in the same second are two runs). A run already
 * in the destination goes in *known (skipped, or brought up to date); one
 * in an earlier source, or in the destination in a state this one does not
 * follow from, refuses the merge. 0, or -1 (message printed). */
static int check_duplicates(sqlite3 *src, sqlite3 *dst, int i, const char *const *srcs,
                            KnownRuns *known)
{
    sqlite3_stmt *s = NULL, *probe = NULL, *add = NULL, *sst = NULL, *dstate = NULL;
    int ok = sqlite3_prepare_v2(src, "SELECT " RUN_KEY ", id FROM runs ORDER BY id", -1, &s,
                                NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(src, STATE_SQL, -1, &sst, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "SELECT src, id FROM temp.merge_keys WHERE experiment = ?1 "
                                     "AND started_at = ?2 AND hostname IS ?3 AND seed IS ?4 AND "
                                     "config IS ?5 AND src <> ?6 ORDER BY src DESC LIMIT 1", -1,
                                &probe, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "INSERT INTO temp.merge_keys VALUES (?1, ?2, ?3, ?4, ?5, "
                                     "?6, ?7)", -1, &add, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(dst, "SELECT status, (SELECT count(*) FROM main.epochs WHERE "
                                     "run_id = ?1) FROM main.runs WHERE id = ?1", -1, &dstate,
                                NULL) == SQLITE_OK;
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        bind_row(probe, 1, s, 5);
        sqlite3_bind_int(probe, 6, i);
        const sqlite3_int64 id = sqlite3_column_int64(s, 5);
        if (sqlite3_step(probe) == SQLITE_ROW) {
            int other = sqlite3_column_int(probe, 0);
            sqlite3_int64 same = sqlite3_column_int64(probe, 1);
            RunState have = {"", 0}, now = {"", 0};
            int action = -1;
            if (other < 0 && run_state(dstate, same, &have) == 0 &&
                run_state(sst, id, &now) == 0)
                action = known_action(&have, &now);
            if (action < 0) {
                char where[4096 + 128];
                if (other >= 0)
                    snprintf(where, sizeof where, "is the same run as run %lld of %s",
                             (long long)same, srcs[other]);
                else
                    snprintf(where, sizeof where, "is already in the destination as run %lld (%s, "
                                                  "%d epoch%s), a state this copy (%s, %d epoch%s) "
                                                  "does not follow from", (long long)same,
                             have.status, have.epochs, have.epochs == 1 ? "" : "s", now.status,
                             now.epochs, now.epochs == 1 ? "" : "s");
                fprintf(stderr, "%s: run %lld (%s, started %s) %s; nothing was merged\n",
                        srcs[i], (long long)id, (const char *)sqlite3_column_text(s, 0),
                        (const char *)sqlite3_column_text(s, 1), where);
                ok = 0;
            } else {
                known_add(known, id, action ? same : 0, &have);
            }
        }
        sqlite3_reset(probe);
        if (!ok) break;
        bind_row(add, 1, s, 5);
        sqlite3_bind_int(add, 6, i);
        sqlite3_bind_int64(add, 7, id);
        ok = sqlite3_step(add) == SQLITE_DONE;
        sqlite3_reset(add);
        if (!ok) fprintf(stderr, "%s: cannot compare its runs (%s)\n", srcs[i],
                         results_errmsg(dst));
    }
    if (ok && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", srcs[i], results_errmsg(src));
        ok = 0;
    }
    sqlite3_finalize(s);
    sqlite3_finalize(sst);
    sqlite3_finalize(probe);
    sqlite3_finalize(add);
    sqlite3_finalize(dstate);
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
    fprintf(stderr, "%s: cannot commit the merge (%s)\n", into, results_errmsg(dst));
    return -1;
}

/* Says that run id of path is still being written there ('running'), so
 * that a later merge is known to bring it up to date. */
static void note_running(sqlite3 *src, const char *path, sqlite3_int64 id)
{
    sqlite3_stmt *st = NULL;
    RunState now;
    if (sqlite3_prepare_v2(src, STATE_SQL, -1, &st, NULL) == SQLITE_OK &&
        run_state(st, id, &now) == 0 && !strcmp(now.status, "running"))
        fprintf(stderr, "%s: note: run %lld is still 'running' there (%d epoch%s so far); "
                        "merge %s again when it has ended to bring its copy up to date\n",
                path, (long long)id, now.epochs, now.epochs == 1 ? "" : "s", path);
    sqlite3_finalize(st);
}

/* The destination's run `to` replaced by the source's state of it, with
 * the same id: its rows deleted (their children go with them: ON DELETE
 * CASCADE), the source's inserted and given that id, then its children. */
static int replace_run(SourceCopy *c, sqlite3 *src, sqlite3 *dst, sqlite3_int64 from,
                       sqlite3_int64 to)
{
    sqlite3_stmt *del = NULL, *renum = NULL;
    int ok = sqlite3_prepare_v2(dst, "DELETE FROM runs WHERE id = ?1", -1, &del, NULL) ==
                 SQLITE_OK &&
             sqlite3_prepare_v2(dst, "UPDATE runs SET id = ?1 WHERE id = ?2", -1, &renum,
                                NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(del, 1, to);
        ok = sqlite3_step(del) == SQLITE_DONE;
    }
    for (int k = 0; ok && k < c->n_runs_cols; k++)
        sqlite3_bind_value(c->ins, k + 1, sqlite3_column_value(c->sel, 6 + k));
    ok = ok && sqlite3_step(c->ins) == SQLITE_DONE;
    sqlite3_reset(c->ins);
    if (ok) {
        sqlite3_bind_int64(renum, 1, to);
        sqlite3_bind_int64(renum, 2, sqlite3_last_insert_rowid(dst));
        ok = sqlite3_step(renum) == SQLITE_DONE;
    }
    if (!ok)
        fprintf(stderr, "%s: cannot bring run %lld up to date from its run %lld (%s)\n", c->path,
                (long long)to, (long long)from, results_errmsg(dst));
    sqlite3_finalize(del);
    sqlite3_finalize(renum);
    return ok ? copy_children(c, src, dst, from, to) : -1;
}

/* Says what replace_run did, once it is committed. */
static void tell_replaced(sqlite3 *src, const char *path, const char *into, const Known *k)
{
    sqlite3_stmt *st = NULL;
    RunState now = {"?", 0};
    if (sqlite3_prepare_v2(src, STATE_SQL, -1, &st, NULL) == SQLITE_OK) run_state(st, k->from, &now);
    sqlite3_finalize(st);
    fprintf(stderr, "%s: run %lld brought up to date as run %lld of %s: %s, %d epoch%s (it was "
                    "%s, %d epoch%s)\n", path, (long long)k->from, (long long)k->to, into,
            now.status, now.epochs, now.epochs == 1 ? "" : "s", k->was.status, k->was.epochs,
            k->was.epochs == 1 ? "" : "s");
}

/* Copies the runs of one source that the destination does not have,
 * MERGE_BATCH runs per transaction so that a training run writing to the
 * destination never waits long for the lock; with `update`, instead, the
 * known runs to bring up to date, in the transaction the caller holds
 * open. Returns the runs copied (or brought up to date) or -1 (message
 * printed; the open transaction is left to the caller to roll back). */
static int copy_source(sqlite3 *src, sqlite3 *dst, const char *path, const char *into,
                       const KnownRuns *known, int update, NewIds *ids)
{
    SourceCopy c;
    if (source_copy_prepare(&c, src, dst, path) != 0) return -1;
    int copied = 0, ok = 1, rc, next = 0; /* next: the first of *known not passed yet */
    while (ok && (rc = sqlite3_step(c.sel)) == SQLITE_ROW) {
        if (merge_stop) {
            fprintf(stderr, "%s: interrupted by a signal\n", into);
            ok = 0;
            break;
        }
        sqlite3_int64 old_id = sqlite3_column_int64(c.sel, 5);
        while (next < known->n && known->k[next].from < old_id) next++;
        const Known *k = next < known->n && known->k[next].from == old_id ? &known->k[next] : NULL;
        if (update) {
            if (!k || !k->to) continue;
            ok = replace_run(&c, src, dst, old_id, k->to) == 0;
            if (ok) note_running(src, path, old_id);
            copied += ok;
            continue;
        }
        if (k) continue; /* the destination has it: as it is, or brought up to date later */
        if (sqlite3_get_autocommit(dst) &&
            sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "%s: cannot lock the database (%s)\n", into, results_errmsg(dst));
            ok = 0;
            break;
        }
        for (int j = 0; j < c.n_runs_cols; j++)
            sqlite3_bind_value(c.ins, j + 1, sqlite3_column_value(c.sel, 6 + j));
        ok = sqlite3_step(c.ins) == SQLITE_DONE;
        sqlite3_reset(c.ins);
        if (!ok) {
            fprintf(stderr, "%s: cannot copy run %lld (%s)\n", path, (long long)old_id,
                    results_errmsg(dst));
            break;
        }
        sqlite3_int64 new_id = sqlite3_last_insert_rowid(dst);
        if (ids->n == ids->cap) {
            ids->cap = ids->cap ? 2 * ids->cap : 256;
            ids->id = xrealloc(ids->id, sizeof *ids->id * (size_t)ids->cap);
        }
        ids->id[ids->n++] = new_id;
        ok = copy_children(&c, src, dst, old_id, new_id) == 0;
        if (ok) note_running(src, path, old_id);
        copied += ok;
        if (ok && copied % MERGE_BATCH == 0) ok = commit(dst, into) == 0;
    }
    if (ok && rc != SQLITE_DONE) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", path, results_errmsg(src));
        ok = 0;
    }
    if (ok && !update && !sqlite3_get_autocommit(dst)) ok = commit(dst, into) == 0;
    source_copy_free(&c);
    return ok ? copied : -1;
}

/* Brings the known runs of every source up to date, in one transaction
 * (after the new runs are copied: a failure rolls it back, and the caller
 * takes the copies back, so the destination holds what it held). The runs
 * brought up to date, or -1 (message printed). */
static int update_known(sqlite3 **src, sqlite3 *dst, const char *const *srcs, int n,
                        const char *into, const KnownRuns *known)
{
    int any = 0, total = 0;
    for (int i = 0; i < n; i++) any += known[i].replaced;
    if (!any) return 0;
    if (sqlite3_exec(dst, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot lock the database (%s)\n", into, results_errmsg(dst));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!known[i].replaced) continue;
        int c = copy_source(src[i], dst, srcs[i], into, &known[i], 1, NULL);
        if (c < 0) return -1;
        total += c;
    }
    if (commit(dst, into) != 0) return -1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < known[i].n; j++)
            if (known[i].k[j].to) tell_replaced(src[i], srcs[i], into, &known[i].k[j]);
    return total;
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
                results_errmsg(dst), (long long)ids->id[0], (long long)ids->id[ids->n - 1]);
    }
}

/* Removes a database file and its -wal, -shm and -journal. */
static void remove_database(const char *path)
{
    unlink(path);
    for (const char *suffix = "-wal\0-shm\0-journal\0"; *suffix; suffix += strlen(suffix) + 1) {
        char side[4096 + 16];
        snprintf(side, sizeof side, "%s%s", path, suffix);
        unlink(side);
    }
}

/* Whether name is `base`.tmp.XXXXXX (mkstemp's six letters and digits),
 * bare or with -wal, -shm or -journal after it (in *side: "" when bare). */
static int temp_name_of(const char *name, const char *base, const char **side)
{
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0) return 0;
    const char *x = name + n + 5;
    for (int k = 0; k < 6; k++)
        if (!isalnum((unsigned char)x[k])) return 0;
    *side = x + 6;
    return !**side || !strcmp(*side, "-wal") || !strcmp(*side, "-shm") ||
           !strcmp(*side, "-journal");
}

/* The temporary files that merges into `into` killed on the way (SIGKILL,
 * the OOM killer, a power cut) left beside it: INTO.tmp.XXXXXX and its
 * -wal, -shm and -journal. A merge holds an flock on the one it builds for
 * as long as it runs (merge_temp), so one that can be locked is nobody's:
 * removed, with its side files; so is a side file whose database is gone. */
static void remove_stale_temps(const char *into)
{
    char *dir = xstrdup(into);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? into + (slash - dir) + 1 : into;
    if (slash == dir) slash[1] = '\0'; /* "/x.db" */
    else if (slash) *slash = '\0';
    DIR *d = opendir(slash ? dir : ".");
    struct dirent *ent;
    while (d && (ent = readdir(d))) {
        const char *side;
        if (!temp_name_of(ent->d_name, base, &side)) continue;
        char path[4096];
        int len = snprintf(path, sizeof path, "%s%s%s", slash ? dir : "",
                           slash && slash != dir ? "/" : "", ent->d_name);
        if (len < 0 || (size_t)len >= sizeof path) continue;
        struct stat a, b;
        if (*side) { /* decided with its database, unless that is gone */
            path[len - strlen(side)] = '\0';
            if (lstat(path, &a) != 0 && errno == ENOENT) {
                path[len - strlen(side)] = side[0];
                unlink(path);
            }
            continue;
        }
        int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            remove_database(path);
            fprintf(stderr, "%s: removed %s (and its -wal, -shm), left by a merge into it that "
                            "was killed\n", into, path);
        }
        close(fd);
    }
    if (d) closedir(d);
    free(dir);
}

/* INTO.tmp.XXXXXX beside `into` (created empty, as util.h's temp_beside
 * makes it: SQLite makes it a database), where a merge into a new file is
 * built, locked (flock, *lock_fd: keep it open until the file is published
 * or removed) so that no other merge takes it for a killed one's; NULL
 * after printing why not. The directory is created (one level) as
 * results_open would. */
static char *merge_temp(const char *into, int *lock_fd)
{
    const char *slash = strrchr(into, '/');
    if (slash && slash != into) {
        char *dir = xstrdup(into);
        dir[slash - into] = '\0';
        mkdir(dir, 0777); /* an error shows in temp_beside's */
        free(dir);
    }
    for (int tries = 0; tries < 100; tries++) {
        char *tmp;
        int fd = temp_beside(into, &tmp);
        if (fd < 0) {
            fprintf(stderr, "%s: cannot create the database (%s)\n", into, strerror(errno));
            return NULL;
        }
        /* another merge may have found it unlocked in the moment between
         * its creation and the lock, and removed it: then make another */
        struct stat a, b;
        int locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
        if (!locked && errno != EWOULDBLOCK && errno != EINTR) locked = 1; /* no flock here */
        if (locked && fstat(fd, &a) == 0 && stat(tmp, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            *lock_fd = fd;
            return tmp;
        }
        close(fd);
        free(tmp);
    }
    fprintf(stderr, "%s: cannot create the database (its temporary file kept disappearing)\n",
            into);
    return NULL;
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
    if (ok) remove_stale_temps(into);
    int lock_fd = -1;
    char *tmp = ok && created ? merge_temp(into, &lock_fd) : NULL;
    const char *target = tmp ? tmp : into;
    ok = ok && (!created || tmp);

    ResultsDb *r = ok ? results_open(target) : NULL; /* creates or migrates; quick_check */
    ok = ok && r;
    results_close(r);
    sqlite3 *dst = NULL;
    if (ok && sqlite3_open_v2(target, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open the database (%s)\n", into, results_errmsg(dst));
        ok = 0;
    }
    if (ok) {
        sqlite3_busy_timeout(dst, results_busy_ms());
        ok = sqlite3_exec(dst, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) == SQLITE_OK &&
             keys_create(dst) == 0;
        if (!ok) fprintf(stderr, "%s: cannot read its runs (%s)\n", into, results_errmsg(dst));
    }
    /* every duplicate refused before anything is written; the runs merged
     * before found, to skip or to bring up to date */
    KnownRuns *known = xcalloc((size_t)(n > 0 ? n : 1), sizeof *known);
    /* one read transaction for all the lookups (one each: 10x slower) */
    int reading = ok && sqlite3_exec(dst, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (int i = 0; i < n && ok; i++) ok = check_duplicates(src[i], dst, i, srcs, &known[i]) == 0;
    if (reading && sqlite3_exec(dst, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
        ok) {
        fprintf(stderr, "%s: cannot read its runs (%s)\n", into, results_errmsg(dst));
        ok = 0;
    }
    NewIds ids = {0};
    int total = 0, updated = 0, there = 0;
    char words[96];
    for (int i = 0; i < n && ok; i++) {
        int c = copy_source(src[i], dst, srcs[i], into, &known[i], 0, &ids);
        ok = c >= 0;
        if (ok) fprintf(stderr, "%s: %d run%s%s\n", srcs[i], c, c == 1 ? "" : "s",
                        known_words(&known[i], words, sizeof words));
        total += ok ? c : 0;
        updated += known[i].replaced;
        there += known[i].skipped;
    }
    if (ok && !merge_stop) ok = update_known(src, dst, srcs, n, into, known) >= 0;
    if (ok && merge_stop) {
        fprintf(stderr, "%s: interrupted by a signal\n", into);
        ok = 0;
    }
    if (!ok && dst && !tmp) undo_copies(dst, into, &ids);
    if (dst && sqlite3_close(dst) != SQLITE_OK) { /* the WAL goes into the file here */
        fprintf(stderr, "%s: cannot close the database (%s)\n", into, results_errmsg(dst));
        sqlite3_close_v2(dst);
        ok = 0;
    }
    if (ok && tmp) ok = publish(tmp, into) == 0;
    if (tmp) remove_database(tmp); /* published (linked away) or failed */
    if (lock_fd >= 0) close(lock_fd); /* after SQLite closed it: its locks are not ours to drop */
    if (ok) {
        KnownRuns all = {.replaced = updated, .skipped = there};
        fprintf(stderr, "%s: %d run%s merged%s\n", into, total, total == 1 ? "" : "s",
                known_words(&all, words, sizeof words));
    } else if (ids.n > 0 || updated > 0 || merge_stop) {
        fprintf(stderr, "%s: nothing was merged\n", into);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(ids.id);
    for (int i = 0; i < n; i++) free(known[i].k);
    free(known);
    free(tmp);
    for (int i = 0; i < n; i++) sqlite3_close(src[i]);
    free(src);
    return ok ? total : refused ? -2 : -1;
}
