/* sql_math.h — sqrt() for SQL where the SQLite library was built without its
 * math functions (the `run_groups` view's standard deviations need it; the
 * sqlite3 shell has them since 3.35). Shared by db.c and the report's
 * read-only connection. */
#ifndef CNNRUN_RESULTS_SQL_MATH_H
#define CNNRUN_RESULTS_SQL_MATH_H

#include <math.h>
#include <sqlite3.h>

static void results_sql_sqrt(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(c);
        return;
    }
    double x = sqlite3_value_double(argv[0]);
    if (x < 0) sqlite3_result_null(c); /* as SQLite's own sqrt */
    else sqlite3_result_double(c, sqrt(x));
}

/* Registers sqrt(X) on db unless the library has it. */
static inline void results_ensure_sqrt(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sqrt(4.0)", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_create_function(db, "sqrt", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            results_sql_sqrt, NULL, NULL);
}

#endif
