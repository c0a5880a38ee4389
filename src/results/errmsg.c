/* errmsg.c — an SQLite error in words that say what happened (errmsg.h).
 * SQLite keeps the errno of a failed write on the file, not on the
 * connection: sqlite3_system_errno gives the errno of the moment it asks,
 * often 0 (3.40: "disk I/O error", errno 0, for a WAL write past ulimit -f).
 * So the cause is also read from where the files are: a file system with
 * (almost) no space left, or a file at the file size limit. */
#include "errmsg.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define DISK_FULL "the disk is full (no space left on the device)"
#define FILE_LIMIT "the file size limit is reached (ulimit -f: File too large)"
/* Less free space than this, or a file this close to the size limit: that
 * is why a write failed (a page, a WAL frame, a checkpoint's pages). */
#define NEAR_BYTES (1024.0 * 1024.0)

const char *results_io_cause(int sqlite_code, int sys_errno)
{
    int primary = sqlite_code & 0xff;
    /* SQLite reports ENOSPC on a write as SQLITE_FULL, but as an I/O error
     * where it grows the -shm file, and EFBIG always as an I/O error */
    if (primary != SQLITE_IOERR && primary != SQLITE_FULL && primary != SQLITE_CANTOPEN)
        return NULL;
    if (sys_errno == ENOSPC || (primary == SQLITE_FULL && sys_errno == 0)) return DISK_FULL;
    if (sys_errno == EDQUOT) return "the disk quota is used up";
    if (sys_errno == EFBIG) return FILE_LIMIT;
    return NULL;
}

/* The cause of an I/O error on database `path` as its files show it. */
static const char *cause_of_files(const char *path)
{
    if (!path || !*path) return NULL;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0 && (double)vs.f_bavail * (double)vs.f_frsize < NEAR_BYTES)
        return DISK_FULL;
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return NULL;
    for (const char *suffix = "\0-wal\0-shm\0-journal\0"; ; suffix += strlen(suffix) + 1) {
        char file[4096 + 16];
        struct stat st;
        snprintf(file, sizeof file, "%s%s", path, suffix);
        if (stat(file, &st) == 0 && (double)st.st_size + NEAR_BYTES >= (double)lim.rlim_cur)
            return FILE_LIMIT;
        if (!strcmp(suffix, "-journal")) break;
    }
    /* a limit below a -shm file's first 32 KiB: it could not be made */
    return lim.rlim_cur < 32768 ? FILE_LIMIT : NULL;
}

const char *results_errmsg(sqlite3 *db)
{
    if (!db) return "out of memory";
    const int code = sqlite3_extended_errcode(db);
    const char *cause = results_io_cause(code, sqlite3_system_errno(db));
    const int primary = code & 0xff;
    if (!cause && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN))
        cause = cause_of_files(sqlite3_db_filename(db, "main"));
    return cause ? cause : sqlite3_errmsg(db);
}
