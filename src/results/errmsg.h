/* errmsg.h — an SQLite error in words that say what happened (errmsg.c):
 * a full disk, a quota or the file size limit (ulimit -f) named as such,
 * where SQLite says "disk I/O error" or "database or disk is full". Private
 * to src/results. */
#ifndef CNNRUN_RESULTS_ERRMSG_H
#define CNNRUN_RESULTS_ERRMSG_H

#include <sqlite3.h>

/* What the last error of db was: for an I/O error whose cause the system
 * told (sqlite3_system_errno: ENOSPC, EDQUOT, EFBIG), or its files show (a
 * file system without space, a file at the size limit), that cause in
 * words; else sqlite3_errmsg(db) (valid until db's next call). */
const char *results_errmsg(sqlite3 *db);

/* The same from an SQLite result code and the errno of its cause (0: none
 * known): a constant string for the causes above, else NULL. */
const char *results_io_cause(int sqlite_code, int sys_errno);

#endif
