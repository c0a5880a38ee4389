/* files.c — opening a user's input only when it is a regular file, reading
 * it with a cap (files.h; what a file holds: file_kind.c; writing an output:
 * file_write.c). */
#include "cnnrun/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/util.h"

const char *cn_strerror(int err)
{
    if (err == CN_ENOTREG) return "not a regular file";
    if (err == CN_ETOOBIG) return "too large (cnnrun reads text files of at most 8 MiB)";
    return strerror(err);
}

static int refuse_kind(const struct stat *st)
{
    if (S_ISREG(st->st_mode)) return 0;
    errno = S_ISDIR(st->st_mode) ? EISDIR : CN_ENOTREG;
    return -1;
}

int open_regular(const char *path, struct stat *st_out)
{
    struct stat st;
    if (stat(path, &st) != 0 || refuse_kind(&st) != 0) return -1; /* not even opened */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || refuse_kind(&st) != 0) { /* replaced since the stat */
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (st_out) *st_out = st;
    return fd;
}

char *read_file_max(const char *path, size_t max, size_t *len_out)
{
    struct stat st;
    int fd = open_regular(path, &st);
    if (fd < 0) return NULL;
    if (st.st_size > 0 && (unsigned long long)st.st_size > max) {
        close(fd);
        errno = CN_ETOOBIG;
        return NULL;
    }
    /* st_size is a hint (files in /proc say 0; a file may grow): read to
     * the end, and at most max + 1 bytes */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    int err = 0;
    for (;;) {
        if (len == cap) {
            if (cap > max) break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) err = EIO;
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    if (!err && len > max) err = CN_ETOOBIG;
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

char *read_text_file(const char *path, size_t *len_out)
{
    return read_file_max(path, CN_TEXT_FILE_MAX, len_out);
}

int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
