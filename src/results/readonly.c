/* readonly.c — a results database opened only to be read (results_read.h): the
 * checks the report and `cnnrun merge` make of a file before they read it —
 * there, SQLite, cnnrun's (application_id and a runs table), and a schema
 * version this program knows; and the run_summary query of each version. */
#include "cnnrun/results_read.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "errmsg.h"
#include "schema.sql.h"
#include "sql_math.h"
#include "wait.h"

int results_query_int64(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int ok = rc == SQLITE_ROW;
    if (ok) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

sqlite3 *results_open_readonly(const char *path, int *version, ResultsRefusal *why)
{
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: no results database here (%s)\n", path,
                exists ? "not a regular file" : strerror(errno));
        *why = RESULTS_RO_MISSING;
        return NULL;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: cannot open the results database (%s)\n", path,
                db ? results_errmsg(db) : "out of memory");
        sqlite3_close(db);
        *why = RESULTS_RO_UNREADABLE;
        return NULL;
    }
    sqlite3_busy_timeout(db, results_busy_ms());
    sqlite3_int64 v = 0, app_id = 0, runs = 0;
    if (results_query_int64(db, "PRAGMA user_version", &v) != 0 ||
        results_query_int64(db, "PRAGMA application_id", &app_id) != 0) {
        /* another file than SQLite's, or one that cannot be read now (a
         * full disk where its -shm file is made, an I/O error) */
        if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOTADB)
            fprintf(stderr, "%s: not an SQLite database (%s)\n", path, results_errmsg(db));
        else
            fprintf(stderr, "%s: cannot read the results database (%s)\n", path,
                    results_errmsg(db));
        *why = RESULTS_RO_UNREADABLE;
    } else if (app_id != RESULTS_APPLICATION_ID || v < 1 ||
               results_query_int64(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                       "AND name = 'runs'", &runs) != 0 || runs != 1) {
        fprintf(stderr, "%s: not a cnnrun results database (application_id %lld, schema "
                        "version %lld)\n", path, (long long)app_id, (long long)v);
        *why = RESULTS_RO_FOREIGN;
    } else if (v > RESULTS_SCHEMA_VERSION) {
        fprintf(stderr, "%s: results database schema version %lld is newer than this cnnrun "
                        "(version %s) supports (%d)\n", path, (long long)v, CN_VERSION,
                RESULTS_SCHEMA_VERSION);
        *why = RESULTS_RO_NEWER;
    } else {
        results_ensure_sqrt(db); /* the run_groups view */
        *version = (int)v;
        return db;
    }
    sqlite3_close(db);
    return NULL;
}

const char *results_run_summary_select(int version)
{
    return version >= 7 ? RESULTS_RUN_SUMMARY_SELECT : RESULTS_RUN_SUMMARY_SELECT_V2;
}
