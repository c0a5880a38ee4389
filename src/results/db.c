/* db.c — the SQLite results database (results.h): opening/creating the file
 * and its schema (schema.sql.h, version in PRAGMA user_version), and one short
 * autocommit transaction per write so a killed run keeps every finished epoch.
 * WAL journal + a wait for the write lock (wait.c) let several cnnrun
 * processes share one file; a damaged file is refused before a write.
 * All values are bound to prepared statements; errors print `DBPATH: message`. */
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "errmsg.h"
#include "schema.sql.h"
#include "sql_math.h"
#include "wait.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct ResultsDb {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *insert_run;
    sqlite3_stmt *insert_epoch;
    sqlite3_stmt *finish_run;
    sqlite3_stmt *insert_lr_find;
    sqlite3_stmt *final_eval;
    ResultsWait wait; /* the patient wait for the write lock (wait.h) */
};

static void db_error(const char *path, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- opening ----------------------------------------------------------- */

/* Directory part of `path` ("." when there is none); caller frees. */
static char *parent_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        free(dir);
        return xstrdup(".");
    }
    while (slash > dir && slash[-1] == '/') slash--;  /* "a//b" -> "a" */
    if (slash == dir) slash[1] = '\0';                /* "/x.db" -> "/" */
    else *slash = '\0';
    return dir;
}

/* Makes sure the database's directory exists (creating one level) and is
 * writable: SQLite creates PATH-wal and PATH-shm next to the database. */
static int prepare_directory(const char *path)
{
    char *dir = parent_dir(path);
    struct stat st;
    int ok = 0;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT) {
            db_error(path, "cannot access directory '%s': %s", dir, strerror(errno));
        } else if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            db_error(path, "cannot create directory '%s': %s", dir, strerror(err));
            if (err == ENOENT)
                fprintf(stderr, "HINT: only one directory level is created; create its parent first\n");
        } else {
            ok = 1;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        db_error(path, "cannot use '%s' as the database directory: it is not a directory", dir);
    } else if (access(dir, W_OK | X_OK) != 0) {
        db_error(path, "directory '%s' is not writable (%s); the results database needs to "
                       "create files there", dir, strerror(errno));
        fprintf(stderr, "HINT: choose another location with --db PATH\n");
    } else {
        ok = 1;
    }
    free(dir);
    if (!ok) return -1;

    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            db_error(path, "is a directory, not a database file");
            return -1;
        }
        if (!S_ISREG(st.st_mode)) { /* /dev/null: SQLite would make null-journal in /dev */
            db_error(path, "not a regular file (a device or FIFO cannot hold a database)");
            return -1;
        }
        if (access(path, R_OK | W_OK) != 0) {
            db_error(path, "cannot open the database for writing: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Runs a one-value integer PRAGMA (or query); -1 on error (message printed). */
static int query_int(ResultsDb *r, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK) {
        int primary = rc & 0xff;
        const char *msg = results_errmsg(r->db);
        if (primary == SQLITE_NOTADB)
            db_error(r->path, "not an SQLite database (%s)", msg);
        else if (primary == SQLITE_CORRUPT)
            db_error(r->path, "the SQLite database is damaged (%s)", msg);
        else
            db_error(r->path, "cannot read the database (%s)", msg);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -1;
}

static int exec_sql(ResultsDb *r, const char *sql, const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(r->db, sql, NULL, NULL, &msg);
    results_wait_done(&r->wait);
    if (rc != SQLITE_OK) {
        db_error(r->path, "%s: %s", what, msg ? msg : results_errmsg(r->db));
        sqlite3_free(msg);
        /* a failed COMMIT leaves the transaction open: later writes would pile
         * into it and be lost with it */
        if (!sqlite3_get_autocommit(r->db)) sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int refuse_version(ResultsDb *r, sqlite3_int64 version)
{
    db_error(r->path, "results database schema version %lld is newer than this cnnrun "
                      "(version %s) supports (%d)",
             (long long)version, CN_VERSION, RESULTS_SCHEMA_VERSION);
    fprintf(stderr, "HINT: upgrade cnnrun, or pass another --db PATH\n");
    return -1;
}

static int migrate_schema(ResultsDb *r, int from_version);  /* issue 7 block below */

/* Checks the schema version; creates the schema in a fresh file and migrates
 * an older one. Both run under BEGIN IMMEDIATE so two processes opening the
 * file don't race. */
static int ensure_schema(ResultsDb *r)
{
    sqlite3_int64 version = 0, app_id = 0, tables = 0;
    if (query_int(r, "PRAGMA user_version", &version) != 0) return -1;
    if (version > RESULTS_SCHEMA_VERSION) return refuse_version(r, version);
    if (query_int(r, "PRAGMA application_id", &app_id) != 0) return -1;
    if (app_id != 0 && app_id != RESULTS_APPLICATION_ID) {
        db_error(r->path, "not a cnnrun results database (it belongs to another application, "
                          "application_id %lld)", (long long)app_id);
        return -1;
    }
    /* a damaged file is refused before anything is written to it */
    if (results_quick_check(r->db, r->path) != 0) return -1;
    if (version == RESULTS_SCHEMA_VERSION) return 0;

    if (exec_sql(r, "BEGIN IMMEDIATE", "cannot lock the database to create the schema") != 0)
        return -1;
    int ok = query_int(r, "PRAGMA user_version", &version) == 0;
    if (ok && version == 0) {
        ok = query_int(r, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables) == 0;
        if (ok && tables > 0) {
            db_error(r->path, "not a cnnrun results database (it has %lld table%s but no cnnrun "
                              "schema version)", (long long)tables, tables == 1 ? "" : "s");
            fprintf(stderr, "HINT: pass another --db PATH\n");
            ok = 0;
        }
        ok = ok && exec_sql(r, RESULTS_SCHEMA_SQL, "cannot create the schema") == 0;
        version = 1;  /* the version-1 tables; migrate_schema adds the rest */
    } else if (ok && version > RESULTS_SCHEMA_VERSION) {
        refuse_version(r, version);
        ok = 0;
    }
    ok = ok && migrate_schema(r, (int)version) == 0;
    if (!ok) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec_sql(r, "COMMIT", "cannot commit the schema");
}

static int prepare(ResultsDb *r, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot prepare statement (%s)", results_errmsg(r->db));
        return -1;
    }
    return 0;
}

/* How a run ends in its row: ?1 the run, ?2 status, ?3 train_seconds, ?4 error. */
#define FINISH_SET                                                                              \
    "status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "                       \
    "train_seconds = ?3, error = ?4, "                                                          \
    "final_test_acc = CASE WHEN final_views IS NOT NULL THEN final_test_acc ELSE "              \
    "  (SELECT test_acc FROM epochs WHERE run_id = ?1 ORDER BY epoch DESC LIMIT 1) END, "        \
    /* the test accuracy of the best epoch: on validation when the run has one \
     * (run_summary's best_test_acc) */                                                         \
    "best_test_acc = (SELECT test_acc FROM epochs WHERE run_id = ?1 "                          \
    "  ORDER BY coalesce(val_acc, test_acc) DESC, epoch LIMIT 1) "

ResultsDb *results_open(const char *path)
{
    if (!path || !*path) {
        fprintf(stderr, "cnnrun: the results database path is empty\n");
        return NULL;
    }
    if (prepare_directory(path) != 0) return NULL;

    ResultsDb *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    int rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        db_error(path, "cannot open the database (%s)",
                 r->db ? results_errmsg(r->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(r->db, 1);
    /* a run waits as long as another process (a merge) holds the write
     * lock, rather than lose a finished epoch (wait.c) */
    results_wait_install(r->db, &r->wait, r->path);
    results_ensure_sqrt(r->db); /* the run_groups view */

    if (ensure_schema(r) != 0) goto fail;

    /* WAL: readers never block the writer; NORMAL sync is still durable across
     * a killed process (only a power loss may drop the last commits). */
    /* Two processes opening a fresh file switch it at the same moment, and
     * SQLite answers one of them SQLITE_BUSY at once, without its busy
     * handler (the switch needs the file to itself): it tries again, for as
     * long as a write waits for a lock, until the other has switched it. */
    sqlite3_stmt *st = NULL;
    int wal = SQLITE_BUSY;
    for (int waited_ms = 0; wal == SQLITE_BUSY; waited_ms += 20) {
        sqlite3_finalize(st);
        st = NULL;
        wal = sqlite3_prepare_v2(r->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (wal == SQLITE_OK) wal = sqlite3_step(st);
        if ((wal & 0xff) == SQLITE_BUSY && waited_ms < results_busy_ms()) {
            wal = SQLITE_BUSY;
            sqlite3_sleep(20);
        } else if ((wal & 0xff) == SQLITE_BUSY) {
            break;
        }
    }
    if (wal != SQLITE_ROW) {
        db_error(path, "cannot switch to WAL journal mode (%s)", results_errmsg(r->db));
        sqlite3_finalize(st);
        goto fail;
    }
    /* A file system without shared memory (some network mounts) stays in
     * rollback mode; the busy timeout still serialises writers. */
    sqlite3_finalize(st);
    if (exec_sql(r, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                 "cannot configure the database") != 0)
        goto fail;

    if (prepare(r,
                "INSERT INTO runs (experiment, config_path, config, status, started_at, seed, "
                "threads, params, flops_per_image, epochs_planned, version, data_dir, hostname, ranks, "
                "blas_core, engine, precision, data, study_id) "
                "VALUES (?1, ?2, ?3, 'running', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?4, ?5, "
                "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                &r->insert_run) != 0 ||
        prepare(r,
                "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, test_loss, "
                "test_acc, seconds, images_per_sec, steps, images, val_loss, val_acc) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                &r->insert_epoch) != 0 ||
        prepare(r,
                "UPDATE runs SET " FINISH_SET " WHERE id = ?1",
                &r->finish_run) != 0 ||
        prepare(r, "INSERT INTO lr_find (run_id, step, lr, loss) VALUES (?1, ?2, ?3, ?4)",
                &r->insert_lr_find) != 0 ||
        prepare(r, "UPDATE runs SET final_test_acc = ?2, final_views = ?3 WHERE id = ?1",
                &r->final_eval) != 0)
        goto fail;
    return r;

fail:
    results_close(r);
    return NULL;
}

void results_close(ResultsDb *r)
{
    if (!r) return;
    sqlite3_finalize(r->insert_run);
    sqlite3_finalize(r->insert_epoch);
    sqlite3_finalize(r->finish_run);
    sqlite3_finalize(r->final_eval);
    sqlite3_finalize(r->insert_lr_find);
    if (r->db && sqlite3_close(r->db) != SQLITE_OK) {
        db_error(r->path, "error closing the database (%s)", results_errmsg(r->db));
        sqlite3_close_v2(r->db);
    }
    free(r->path);
    free(r);
}

/* ---- writes ------------------------------------------------------------ */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* Steps a bound write statement (one autocommit transaction), then resets it.
 * Returns the SQLite result code (SQLITE_DONE on success); on failure the
 * message is copied into msg. */
static int step_write(ResultsDb *r, sqlite3_stmt *st, char *msg, size_t msg_size)
{
    int rc = sqlite3_step(st);
    results_wait_done(&r->wait);
    if (rc != SQLITE_DONE) str_copy(msg, msg_size, results_errmsg(r->db));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int64_t results_begin_run(ResultsDb *r, const RunInfo *info)
{
    if (!r || !info) return -1;
    if (!info->experiment) {
        db_error(r->path, "cannot record a run without an experiment name");
        return -1;
    }
    char host[256];
    int have_host = gethostname(host, sizeof host) == 0;
    host[sizeof host - 1] = '\0';

    sqlite3_stmt *st = r->insert_run;
    sqlite3_bind_text(st, 1, info->experiment, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, info->config_path);
    bind_text_or_null(st, 3, info->config);
    /* SQLite integers are signed 64-bit; experiment files only accept seeds
     * in [0, 2^63 - 1], so the value is stored as it is. */
    sqlite3_bind_int64(st, 4, (sqlite3_int64)info->seed);
    sqlite3_bind_int(st, 5, info->threads);
    sqlite3_bind_int64(st, 6, info->params);
    sqlite3_bind_double(st, 7, info->flops_per_image);
    sqlite3_bind_int(st, 8, info->epochs_planned);
    bind_text_or_null(st, 9, info->version);
    bind_text_or_null(st, 10, info->data_dir);
    bind_text_or_null(st, 11, have_host ? host : NULL);
    sqlite3_bind_int(st, 12, info->ranks > 0 ? info->ranks : 1);
    bind_text_or_null(st, 13, info->blas_core);
    bind_text_or_null(st, 14, info->engine);
    bind_text_or_null(st, 15, info->precision ? info->precision : "fp32");
    bind_text_or_null(st, 16, info->data);
    if (info->study_id > 0) sqlite3_bind_int64(st, 17, info->study_id);
    else sqlite3_bind_null(st, 17);

    char msg[256];
    if (step_write(r, st, msg, sizeof msg) != SQLITE_DONE) {
        db_error(r->path, "cannot record the run of '%s' (%s)", info->experiment, msg);
        return -1;
    }
    return sqlite3_last_insert_rowid(r->db);
}

int results_add_epoch(ResultsDb *r, int64_t run_id, const EpochRecord *e)
{
    if (!r || !e) return -1;
    sqlite3_stmt *st = r->insert_epoch;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, e->epoch);
    sqlite3_bind_double(st, 3, e->lr);           /* NaN is stored as NULL */
    sqlite3_bind_double(st, 4, e->train_loss);
    sqlite3_bind_double(st, 5, e->train_acc);
    sqlite3_bind_double(st, 6, e->test_loss);
    sqlite3_bind_double(st, 7, e->test_acc);
    sqlite3_bind_double(st, 8, e->seconds);
    sqlite3_bind_double(st, 9, e->images_per_sec);
    if (e->steps > 0) { /* 0: not known (stored as NULL) */
        sqlite3_bind_int(st, 10, e->steps);
        sqlite3_bind_int(st, 11, e->images);
    } else {
        sqlite3_bind_null(st, 10);
        sqlite3_bind_null(st, 11);
    }

    if (e->validated) { /* [data] validation */
        sqlite3_bind_double(st, 12, e->val_loss);
        sqlite3_bind_double(st, 13, e->val_acc);
    } else {
        sqlite3_bind_null(st, 12);
        sqlite3_bind_null(st, 13);
    }

    char msg[256];
    int rc = step_write(r, st, msg, sizeof msg);
    if (rc == SQLITE_DONE) return 0;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        db_error(r->path, "run %lld already has a row for epoch %d", (long long)run_id, e->epoch);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        db_error(r->path, "cannot record epoch %d: there is no run with id %lld", e->epoch,
                 (long long)run_id);
    else
        db_error(r->path, "cannot record epoch %d of run %lld (%s)", e->epoch, (long long)run_id,
                 msg);
    return -1;
}

int results_mark_stopped(const char *path, int64_t run_id, const char *status,
                         double train_seconds, const char *error, int over_interrupted,
                         int wait_ms)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, wait_ms);
        rc = sqlite3_prepare_v2(db, "UPDATE runs SET " FINISH_SET " WHERE id = ?1 AND "
                                    "(status = 'running' OR (?5 AND status = 'interrupted'))",
                                -1, &st, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, train_seconds);
        bind_text_or_null(st, 4, error);
        sqlite3_bind_int(st, 5, over_interrupted != 0);
        rc = sqlite3_step(st);
    }
    int changed = rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
    if (changed < 0)
        db_error(path, "cannot mark run %lld %s (%s)", (long long)run_id, status,
                 db ? results_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return changed;
}

int results_finish_run(ResultsDb *r, int64_t run_id, const char *status, double train_seconds,
                       const char *error)
{
    if (!r) return -1;
    static const char *const allowed[] = {"finished", "failed", "interrupted", "diverged"};
    int valid = 0;
    for (size_t i = 0; status && i < sizeof allowed / sizeof allowed[0]; i++)
        valid |= strcmp(status, allowed[i]) == 0;
    if (!valid) {
        db_error(r->path, "invalid final status '%s' for run %lld (expected finished, failed, "
                          "interrupted or diverged)", status ? status : "(null)", (long long)run_id);
        return -1;
    }
    sqlite3_stmt *st = r->finish_run;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, train_seconds);
    bind_text_or_null(st, 4, error);

    char msg[256];
    if (step_write(r, st, msg, sizeof msg) != SQLITE_DONE) {
        db_error(r->path, "cannot finish run %lld (%s)", (long long)run_id, msg);
        return -1;
    }
    if (sqlite3_changes(r->db) != 1) {
        db_error(r->path, "cannot finish run %lld: there is no such run", (long long)run_id);
        return -1;
    }
    return 0;
}

int results_final_eval(ResultsDb *r, int64_t run_id, double test_acc, int views)
{
    if (!r) return -1;
    sqlite3_stmt *st = r->final_eval;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_double(st, 2, test_acc);
    sqlite3_bind_int(st, 3, views);
    char msg[256];
    if (step_write(r, st, msg, sizeof msg) != SQLITE_DONE) {
        db_error(r->path, "cannot record the final evaluation of run %lld (%s)", (long long)run_id,
                 msg);
        return -1;
    }
    return 0;
}

/* One UPDATE of runs row run_id binding ?2 (text or NULL), ?3 and ?4 (doubles). */
static int update_run(ResultsDb *r, int64_t run_id, const char *sql, const char *text, double a,
                      double b, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot record %s of run %lld (%s)", what, (long long)run_id,
                 results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 2) bind_text_or_null(st, 2, text);
    if (n >= 4) {
        sqlite3_bind_double(st, 3, a);
        sqlite3_bind_double(st, 4, b);
    }
    char msg[256];
    int rc = step_write(r, st, msg, sizeof msg);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_error(r->path, "cannot record %s of run %lld (%s)", what, (long long)run_id, msg);
        return -1;
    }
    return 0;
}

int results_reached_target(ResultsDb *r, int64_t run_id, int epoch, double seconds)
{
    if (!r) return -1;
    return update_run(r, run_id,
                      "UPDATE runs SET epochs_to_target = ?3, seconds_to_target = ?4 "
                      "WHERE id = ?1 AND ?2 IS NULL", /* ?2: unused */
                      NULL, epoch, seconds, "the time to the target accuracy");
}

int results_stop_reason(ResultsDb *r, int64_t run_id, const char *reason)
{
    if (!r) return -1;
    return update_run(r, run_id, "UPDATE runs SET stop_reason = ?2 WHERE id = ?1",
                      reason, 0, 0, "why it stopped");
}

int results_add_lr_find(ResultsDb *r, int64_t run_id, int step, double lr, double loss)
{
    if (!r) return -1;
    sqlite3_stmt *st = r->insert_lr_find;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, step);
    sqlite3_bind_double(st, 3, lr);
    sqlite3_bind_double(st, 4, loss);

    char msg[256];
    int rc = step_write(r, st, msg, sizeof msg);
    if (rc == SQLITE_DONE) return 0;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        db_error(r->path, "run %lld already has an lr_find row for step %d", (long long)run_id, step);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        db_error(r->path, "cannot record lr_find step %d: there is no run with id %lld", step,
                 (long long)run_id);
    else
        db_error(r->path, "cannot record lr_find step %d of run %lld (%s)", step,
                 (long long)run_id, msg);
    return -1;
}

/* ==== issue 7: schema migration and the per-layer table ==================== */

/* Runs RESULTS_MIGRATIONS from `from_version` up to RESULTS_SCHEMA_VERSION and
 * records the version; the caller holds the write transaction. */
static int migrate_schema(ResultsDb *r, int from_version)
{
    for (int v = from_version; v < RESULTS_SCHEMA_VERSION; v++) {
        char what[96];
        snprintf(what, sizeof what, "cannot upgrade the schema from version %d to %d", v, v + 1);
        if (exec_sql(r, RESULTS_MIGRATIONS[v - 1], what) != 0) return -1;
    }
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA user_version = %d; PRAGMA application_id = %d;",
             RESULTS_SCHEMA_VERSION, RESULTS_APPLICATION_ID);
    return exec_sql(r, pragmas, "cannot set the schema version");
}

int results_add_layers(ResultsDb *r, int64_t run_id, const Model *m)
{
    if (!r || !m) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO layers (run_id, idx, name, type, input_shape, output_shape, "
                           "params, mflops, conv_algo) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot prepare the layers insert (%s)", results_errmsg(r->db));
        return -1;
    }
    /* one transaction for all rows: a run has its whole table or none of it */
    if (exec_sql(r, "BEGIN IMMEDIATE", "cannot lock the database to record the layers") != 0) {
        sqlite3_finalize(st);
        return -1;
    }
    int n = model_section_count(m);
    char msg[256] = "";
    int rc = SQLITE_DONE;
    for (int s = 0; s < n && rc == SQLITE_DONE; s++) {
        ModelSection sec;
        model_section(m, s, &sec);
        char in[48], out[48];
        snprintf(in, sizeof in, "%dx%dx%d", sec.in_c, sec.in_h, sec.in_w);
        snprintf(out, sizeof out, "%dx%dx%d", sec.out_c, sec.out_h, sec.out_w);
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int(st, 2, s);
        sqlite3_bind_text(st, 3, sec.name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, sec.type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, in, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, out, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 7, sec.params);
        sqlite3_bind_double(st, 8, sec.flops / 1e6);
        bind_text_or_null(st, 9, sec.conv_algo[0] ? sec.conv_algo : NULL);
        rc = step_write(r, st, msg, sizeof msg);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            db_error(r->path, "run %lld already has its layers recorded", (long long)run_id);
        else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            db_error(r->path, "cannot record the layers: there is no run with id %lld",
                     (long long)run_id);
        else
            db_error(r->path, "cannot record the layers of run %lld (%s)", (long long)run_id, msg);
        return -1;
    }
    return exec_sql(r, "COMMIT", "cannot commit the layers");
}

/* ==== issue 4: resuming a run ============================================== */

int64_t results_find_resumable(ResultsDb *r, const char *experiment, char **config)
{
    if (!r || !experiment) return -1;
    if (config) *config = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, config FROM runs WHERE experiment = ?1 AND status IN "
                           "('running', 'interrupted', 'failed') ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot look for a run to resume (%s)", results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, experiment, -1, SQLITE_TRANSIENT);
    int64_t id = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        const unsigned char *c = sqlite3_column_text(st, 1);
        if (config && c) *config = xstrdup((const char *)c);
    } else if (rc != SQLITE_DONE) {
        db_error(r->path, "cannot look for a run to resume (%s)", results_errmsg(r->db));
        id = -1;
    }
    sqlite3_finalize(st);
    return id;
}

int results_run_status(ResultsDb *r, int64_t run_id, char *experiment, size_t exp_size,
                       char *status, size_t status_size, int *threads, char **config)
{
    if (!r) return -1;
    if (config) *config = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT experiment, status, threads, config FROM runs "
                                  "WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read run %lld (%s)", (long long)run_id, results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st), ok = -1;
    if (rc == SQLITE_ROW) {
        str_copy(experiment, exp_size, (const char *)sqlite3_column_text(st, 0));
        const unsigned char *s = sqlite3_column_text(st, 1);
        str_copy(status, status_size, s ? (const char *)s : "");
        if (threads) *threads = sqlite3_column_int(st, 2);
        const unsigned char *c = sqlite3_column_text(st, 3);
        if (config && c) *config = xstrdup((const char *)c);
        ok = 0;
    } else if (rc == SQLITE_DONE) {
        db_error(r->path, "there is no run with id %lld", (long long)run_id);
    } else {
        db_error(r->path, "cannot read run %lld (%s)", (long long)run_id, results_errmsg(r->db));
    }
    sqlite3_finalize(st);
    return ok;
}

/* A text column of run_id's row into buf ("" for NULL). */
static int run_text(ResultsDb *r, int64_t run_id, const char *sql, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!r) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read run %lld (%s)", (long long)run_id, sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int ok = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        str_copy(buf, size, t ? (const char *)t : "");
        ok = 0;
    }
    sqlite3_finalize(st);
    return ok;
}

int results_run_engine(ResultsDb *r, int64_t run_id, char *buf, size_t size)
{
    return run_text(r, run_id, "SELECT engine FROM runs WHERE id = ?1", buf, size);
}

int results_run_data(ResultsDb *r, int64_t run_id, char *buf, size_t size)
{
    return run_text(r, run_id, "SELECT data FROM runs WHERE id = ?1", buf, size);
}

int results_last_epoch(ResultsDb *r, int64_t run_id)
{
    if (!r) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT coalesce(max(epoch), 0) FROM epochs WHERE run_id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read the epochs of run %lld (%s)", (long long)run_id,
                 results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    int last = -1;
    if (sqlite3_step(st) == SQLITE_ROW) last = sqlite3_column_int(st, 0);
    else db_error(r->path, "cannot read the epochs of run %lld (%s)", (long long)run_id,
                  results_errmsg(r->db));
    sqlite3_finalize(st);
    return last;
}

int results_resume_run(ResultsDb *r, int64_t run_id, int keep_epochs)
{
    if (!r) return -1;
    if (exec_sql(r, "BEGIN IMMEDIATE", "cannot lock the database to resume the run") != 0)
        return -1;
    sqlite3_stmt *del = NULL, *upd = NULL;
    int ok = sqlite3_prepare_v2(r->db, "DELETE FROM epochs WHERE run_id = ?1 AND epoch > ?2", -1,
                                &del, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(r->db,
                                "UPDATE runs SET status = 'running', finished_at = NULL, "
                                "error = NULL, stop_reason = NULL, epochs_to_target = NULL, "
                                "seconds_to_target = NULL WHERE id = ?1 AND "
                                "status <> 'finished'",
                                -1, &upd, NULL) == SQLITE_OK;
    int done = 0; /* the row is there, but finished: another process ended it */
    if (ok) {
        sqlite3_bind_int64(del, 1, run_id);
        sqlite3_bind_int(del, 2, keep_epochs);
        sqlite3_bind_int64(upd, 1, run_id);
        ok = sqlite3_step(del) == SQLITE_DONE && sqlite3_step(upd) == SQLITE_DONE;
        done = ok && sqlite3_changes(r->db) != 1;
        ok = ok && !done;
    }
    if (done) db_error(r->path, "cannot resume run %lld: there is no such run, or another "
                                "process has finished it", (long long)run_id);
    else if (!ok) db_error(r->path, "cannot resume run %lld (%s)", (long long)run_id,
                           results_errmsg(r->db));
    sqlite3_finalize(del);
    sqlite3_finalize(upd);
    if (!ok) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec_sql(r, "COMMIT", "cannot commit the resumed run");
}

/* ==== issue 15: sweeps and groups ========================================== */

int results_add_params(ResultsDb *r, int64_t run_id, const ConfigOverride *ov, int n)
{
    if (!r) return -1;
    if (n <= 0) return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "INSERT OR REPLACE INTO run_params (run_id, key, value) "
                                  "VALUES (?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot prepare the run_params insert (%s)", results_errmsg(r->db));
        return -1;
    }
    if (exec_sql(r, "BEGIN IMMEDIATE", "cannot lock the database to record the run's values") !=
        0) {
        sqlite3_finalize(st);
        return -1;
    }
    char msg[256] = "";
    int rc = SQLITE_DONE;
    for (int i = 0; i < n && rc == SQLITE_DONE; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s.%s", ov[i].section, ov[i].key);
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, ov[i].value, -1, SQLITE_TRANSIENT);
        rc = step_write(r, st, msg, sizeof msg);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        db_error(r->path, "cannot record the values of run %lld (%s)", (long long)run_id, msg);
        return -1;
    }
    return exec_sql(r, "COMMIT", "cannot commit the run's values");
}

int results_runs_after(ResultsDb *r, const char *experiment, int64_t after_id,
                       ResultsRunRef **out)
{
    *out = NULL;
    if (!r || !experiment) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT id, status, config FROM runs WHERE experiment = ?1 "
                                  "AND id > ?2 ORDER BY id DESC", -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read the runs of '%s' (%s)", experiment, results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, experiment, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, after_id);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = xrealloc(*out, sizeof **out * (size_t)(n + 1));
        ResultsRunRef *ref = &(*out)[n++];
        ref->id = sqlite3_column_int64(st, 0);
        const unsigned char *s = sqlite3_column_text(st, 1);
        str_copy(ref->status, sizeof ref->status, s ? (const char *)s : "");
        const unsigned char *c = sqlite3_column_text(st, 2);
        ref->config = c ? xstrdup((const char *)c) : NULL;
    }
    if (rc != SQLITE_DONE) {
        db_error(r->path, "cannot read the runs of '%s' (%s)", experiment, results_errmsg(r->db));
        results_free_run_refs(*out, n);
        *out = NULL;
        n = -1;
    }
    sqlite3_finalize(st);
    return n;
}

void results_free_run_refs(ResultsRunRef *refs, int n)
{
    for (int i = 0; i < n; i++) free(refs[i].config);
    free(refs);
}

/* ---- issue 24: the earlier runs' accuracies for [sweep] prune ------------- */

int results_peer_metrics(ResultsDb *r, const char *experiment, int64_t study_id,
                         int64_t run_id, int epoch, int validation, double **out)
{
    *out = NULL;
    if (!r || !experiment) return -1;
    sqlite3_stmt *st = NULL;
    const char *sql = validation
        ? "SELECT e.val_acc FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.experiment = ?1 "
          "AND r.id < ?2 AND e.epoch = ?3 AND e.val_acc IS NOT NULL AND r.study_id IS ?4 "
          "ORDER BY r.id"
        : "SELECT e.test_acc FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.experiment = "
          "?1 AND r.id < ?2 AND e.epoch = ?3 AND e.test_acc IS NOT NULL AND r.study_id IS ?4 "
          "ORDER BY r.id";
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read the earlier runs of '%s' (%s)", experiment,
                 results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, experiment, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, run_id);
    sqlite3_bind_int(st, 3, epoch);
    if (study_id > 0) sqlite3_bind_int64(st, 4, study_id); /* else NULL: runs before studies */
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = xrealloc(*out, sizeof **out * (size_t)(n + 1));
        (*out)[n++] = sqlite3_column_double(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_error(r->path, "cannot read the earlier runs of '%s' (%s)", experiment,
                 results_errmsg(r->db));
        free(*out);
        *out = NULL;
        return -1;
    }
    return n;
}

int results_epoch_metric(ResultsDb *r, int64_t run_id, int epoch, int validation, double *out)
{
    if (!r) return -1;
    sqlite3_stmt *st = NULL;
    const char *sql = validation ? "SELECT val_acc FROM epochs WHERE run_id = ?1 AND epoch = ?2"
                                 : "SELECT test_acc FROM epochs WHERE run_id = ?1 AND epoch = ?2";
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot read run %lld's epoch %d (%s)", (long long)run_id, epoch,
                 results_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, epoch);
    int rc = sqlite3_step(st), found = 1;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *out = sqlite3_column_double(st, 0);
        found = 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_error(r->path, "cannot read run %lld's epoch %d (%s)", (long long)run_id, epoch,
                 results_errmsg(r->db));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

/* ---- issue 36: studies ---------------------------------------------------- */

int64_t results_begin_study(ResultsDb *r, const char *name, const char *command)
{
    if (!r || !name) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "INSERT INTO studies (name, command, started_at) VALUES "
                                  "(?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", -1, &st,
                           NULL) != SQLITE_OK) {
        db_error(r->path, "cannot record the study '%s' (%s)", name, sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, command);
    char msg[256];
    if (step_write(r, st, msg, sizeof msg) != SQLITE_DONE) {
        db_error(r->path, "cannot record the study '%s' (%s)", name, msg);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return sqlite3_last_insert_rowid(r->db);
}

int64_t results_find_study(ResultsDb *r, const char *name)
{
    if (!r || !name) return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT max(id) FROM studies WHERE name = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        db_error(r->path, "cannot read the studies (%s)", sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (id < 0) db_error(r->path, "cannot read the studies (%s)", sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return id;
}

int results_study_status(ResultsDb *r, int64_t study_id, const char *status)
{
    if (!r || study_id <= 0) return -1;
    sqlite3_stmt *st = NULL;
    /* "finished" while a run of it is not (paused by --until-epoch): interrupted */
    const char *sql = strcmp(status, "running") == 0
        ? "UPDATE studies SET status = ?2, finished_at = NULL WHERE id = ?1"
        : "UPDATE studies SET status = CASE WHEN ?2 = 'finished' AND EXISTS (SELECT 1 FROM runs "
          "WHERE study_id = ?1 AND status IN ('running', 'interrupted')) THEN 'interrupted' "
          "ELSE ?2 END, finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?1";
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_error(r->path, "cannot update study %lld (%s)", (long long)study_id,
                 sqlite3_errmsg(r->db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, study_id);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    char msg[256];
    int rc = step_write(r, st, msg, sizeof msg) == SQLITE_DONE ? 0 : -1;
    if (rc != 0) db_error(r->path, "cannot update study %lld (%s)", (long long)study_id, msg);
    sqlite3_finalize(st);
    return rc;
}
