/* wait.c — waiting for a results database another process is writing
 * (wait.h) and the damage check before writing one. A `cnnrun merge` or a
 * sqlite3 shell may hold the write lock for a while; every connection waits
 * the busy timeout for it, and a run's own connection (db.c) waits as long
 * as it takes, saying so, so that a finished epoch is never lost to a busy
 * file (docs/results.md). */
#include "wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/util.h"
#include "errmsg.h"

#define BUSY_TIMEOUT_MS 10000

int results_busy_ms(void)
{
    const char *s = getenv("CNNRUN_DB_BUSY_MS");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (!*end && v > 0 && v <= 3600000) return (int)v;
    }
    return BUSY_TIMEOUT_MS;
}

/* sqlite3_busy_handler: called again and again while another connection
 * holds the lock (count 0 on the first call of each wait); never gives up. */
static int wait_for_lock(void *ctx, int count)
{
    ResultsWait *w = ctx;
    double t = now_seconds();
    if (count == 0) {
        w->since = t;
        w->next_say = results_busy_ms() / 1000.0;
    }
    double waited = t - w->since;
    if (waited >= w->next_say) {
        fprintf(stderr, "%s: another process holds the database's write lock (a `cnnrun merge`, "
                        "or a sqlite3 shell in a transaction); waited %.0f s, still waiting: "
                        "nothing this run finished is dropped (Ctrl-C twice quits at once)\n",
                w->path, waited);
        w->next_say *= 2;
        w->said = 1;
    }
    /* short sleeps first, then 100 ms between tries */
    sqlite3_sleep(count < 10 ? 5 : count < 30 ? 20 : 100);
    return 1;
}

void results_wait_install(sqlite3 *db, ResultsWait *w, const char *path)
{
    *w = (ResultsWait){.path = path};
    sqlite3_busy_handler(db, wait_for_lock, w);
}

void results_wait_done(ResultsWait *w)
{
    if (!w || !w->said) return;
    fprintf(stderr, "%s: got the write lock after %.1f s; going on\n", w->path,
            now_seconds() - w->since);
    w->said = 0;
}

int results_quick_check(sqlite3 *db, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
    const char *what = NULL;
    char first[256] = "";
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            snprintf(first, sizeof first, "%s", t ? (const char *)t : "?");
            if (strcmp(first, "ok") != 0) what = first;
            rc = SQLITE_OK;
        }
    }
    int primary = rc & 0xff;
    if (rc != SQLITE_OK && primary != SQLITE_CORRUPT && primary != SQLITE_NOTADB) {
        /* not a damaged file: one that cannot be read now (a full disk
         * where the -shm file is made, an I/O error, a lock) */
        fprintf(stderr, "%s: cannot read the results database (%s); nothing was written to "
                        "it\n", path, results_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    if (rc != SQLITE_OK) what = sqlite3_errmsg(db);
    if (what)
        fprintf(stderr, "%s: the results database is damaged (%s); nothing was written to it\n"
                        "HINT: restore it from a backup, or copy what is readable into a new file "
                        "(sqlite3 %s .recover | sqlite3 NEW.db) and pass --db NEW.db; a new "
                        "--db PATH starts an empty one\n", path, what, path);
    sqlite3_finalize(st);
    return what ? -1 : 0;
}
