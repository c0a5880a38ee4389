/* results_read.h — the read side of the results database (src/results/
 * readonly.c), for the readers outside src/results (the report, src/report)
 * and `cnnrun merge`'s sources: a file opened only to be read, after the
 * checks every reader makes, and the query of the comparison columns as the
 * `run_summary` view has them. The readers read the tables themselves with
 * SQLite (docs/results.md has every column); results.h is the writing side. */
#ifndef CNNRUN_RESULTS_READ_H
#define CNNRUN_RESULTS_READ_H

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

/* The `run_summary` view's SELECT (one row per run, aliased `r`; a caller
 * appends WHERE / ORDER BY) for a file of schema version `version`: from
 * version 7 the best epoch is chosen on validation accuracy where there is
 * one; before, on test accuracy. It reads the base tables only, so it works
 * on a version-1 file (which has no view) too. */
const char *results_run_summary_select(int version);

#endif
