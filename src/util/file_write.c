/* file_write.c — writing a user's output: the check that it may replace what
 * is there (output_target_ok: what a file holds, file_kind.c) and the atomic
 * write through a temporary file beside it (files.h). */
#include "cnnrun/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/util.h"

int output_target_ok(const char *path, FileKind kind, const char *what)
{
    if (!path[0]) {
        fprintf(stderr, "cnnrun: cannot write %s: the path is empty\n", what);
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) != 0) return 0; /* absent (or unreachable: the write says why) */
    const char *not_regular = S_ISREG(st.st_mode)    ? NULL
                              : S_ISDIR(st.st_mode)  ? "it is a directory"
                              : S_ISLNK(st.st_mode)  ? "it is a symbolic link (give the file it "
                                                       "points to)"
                              : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file"
                              : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                                  ? "it is a device, not a regular file"
                                  : "it is not a regular file";
    if (!not_regular) {
        FileKind there = file_kind(path);
        if (there == FILE_ABSENT || there == FILE_EMPTY || there == kind) return 0;
        fprintf(stderr, "%s: cannot write %s there: it is %s, not %s, and would be lost; it "
                        "is left as it is: remove it first if it is no longer needed, or choose "
                        "another path\n",
                path, what, file_kind_name(there), file_kind_name(kind));
        return -1;
    }
    fprintf(stderr, "%s: cannot write %s: %s\n", path, what, not_regular);
    return -1;
}

int temp_beside(const char *path, char **tmp)
{
    size_t plen = strlen(path);
    *tmp = xmalloc(plen + 16);
    snprintf(*tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        errno = e;
        return -1;
    }
    /* mkstemp makes it 0600; give it what open(..., 0666) would under the
     * umask (read by setting it back: nothing else runs meanwhile). On
     * failure (some file systems refuse it) it stays 0600: still valid. */
    mode_t mask = umask(022);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    return fd;
}

int commit_beside(const char *tmp, const char *path)
{
    if (rename(tmp, path) != 0) return -1;
    char *dir = xstrdup(path); /* make the rename itself durable */
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int dfd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    return 0;
}

int write_file_atomic(const char *path, FileKind kind, const void *data, size_t len,
                      const char *what)
{
    if (output_target_ok(path, kind, what) != 0) return -1; /* a device, a database, ... */
    char *tmp;
    int fd = temp_beside(path, &tmp);
    if (fd < 0) { /* no such directory, no permission: the path is wrong */
        fprintf(stderr, "%s: cannot write %s: %s\n", path, what, strerror(errno));
        return -1;
    }
    int err = 0;
    const char *p = data;
    for (size_t done = 0; !err && done < len;) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) err = k < 0 ? errno : EIO;
        else done += (size_t)k;
    }
    if (!err && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && !err) err = errno;
    if (!err && commit_beside(tmp, path) != 0) err = errno;
    if (err) {
        fprintf(stderr, "%s: cannot write %s: %s\n", path, what, strerror(err));
        unlink(tmp);
    }
    free(tmp);
    return err ? -2 : 0;
}
