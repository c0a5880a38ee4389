/* wait.h — how long cnnrun waits for a results database another process is
 * writing (wait.c): the busy timeout of every connection, and the patient
 * wait of a run's own connection, which never gives up a finished epoch.
 * Private to src/results. */
#ifndef CNNRUN_RESULTS_WAIT_H
#define CNNRUN_RESULTS_WAIT_H

#include <sqlite3.h>

/* The busy timeout in ms: 10 s, or CNNRUN_DB_BUSY_MS (hidden; the tests
 * make it short so that a held lock outlasts it in a second). */
int results_busy_ms(void);

/* A connection's patient wait for the write lock: no limit; after each
 * busy timeout (doubling: 10 s, 20 s, 40 s, ...) one line on stderr saying
 * what it waits for, and when it got the lock one more (results_wait_done). */
typedef struct {
    const char *path;  /* for the messages */
    double since;      /* when the current wait began (monotonic seconds) */
    double next_say;   /* seconds of waiting at which the next line is due */
    int said;          /* a line was printed during this wait */
} ResultsWait;

/* Installs the patient wait on db (w lives as long as the connection). */
void results_wait_install(sqlite3 *db, ResultsWait *w, const char *path);
/* After a write that may have waited: says that it got the lock. */
void results_wait_done(ResultsWait *w);

/* PRAGMA quick_check on a file about to be written: 0 when it is sound,
 * else prints `PATH: the results database is damaged (...)` with a hint
 * and returns -1. */
int results_quick_check(sqlite3 *db, const char *path);

#endif
