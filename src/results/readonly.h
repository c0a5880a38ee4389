/* readonly.h — opening a results database only to read it (readonly.c),
 * for the report and `cnnrun merge`'s sources: private to src/results and
 * src/report, which read the tables themselves. */
#ifndef CNNRUN_RESULTS_READONLY_H
#define CNNRUN_RESULTS_READONLY_H

#include <sqlite3.h>

/* Why a file was refused. */
typedef enum {
    RESULTS_RO_MISSING = 1, /* no such file, or not a regular file */
    RESULTS_RO_UNREADABLE,  /* cannot be opened, or is not SQLite */
    RESULTS_RO_FOREIGN,     /* SQLite, but not a cnnrun results database */
    RESULTS_RO_NEWER,       /* a schema version newer than this cnnrun's */
} ResultsRefusal;

/* Opens path read-only (10 s busy timeout, the sqrt function the run_groups
 * view needs) if it is a cnnrun results database of a schema version this
 * program reads: *version is it. Else prints `PATH: why` and returns NULL
 * with *why set (the caller may add a hint). */
sqlite3 *results_open_readonly(const char *path, int *version, ResultsRefusal *why);

/* The first column of sql's first row into *out: 0, or -1 (no row, an error). */
int results_query_int64(sqlite3 *db, const char *sql, sqlite3_int64 *out);

#endif
