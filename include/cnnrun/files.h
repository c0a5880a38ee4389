/* files.h — files cnnrun reads and writes given by a user: an input is
 * opened only when it is a regular file (a FIFO, device or directory is
 * refused before anything blocks or reads for ever) and read up to a cap;
 * an output is replaced only when it is a regular file or absent. */
#ifndef CNNRUN_FILES_H
#define CNNRUN_FILES_H

#include <stddef.h>

struct stat;

/* The most read_text_file reads: experiment files and the sample manifest
 * are a few kB; 8 MiB holds ~100,000 layer sections. */
#define CN_TEXT_FILE_MAX ((size_t)8 << 20)

/* errno values beyond the system's, set by the functions below; cn_strerror
 * names them (and every other errno, as strerror does). */
enum {
    CN_ENOTREG = 0x4e520001, /* not a regular file (FIFO, device, socket) */
    CN_ETOOBIG = 0x4e520002  /* larger than the cap of read_file_max */
};
const char *cn_strerror(int err);

/* Opens path read-only if it is a regular file (never opening anything
 * else, and with O_NONBLOCK so that a file swapped for a FIFO meanwhile
 * cannot block either); st filled when not NULL. Returns the descriptor
 * (blocking mode, close-on-exec), or -1 with errno set: the open's, EISDIR,
 * or CN_ENOTREG. */
int open_regular(const char *path, struct stat *st);

/* open_regular, then the whole file into a NUL-terminated buffer (caller
 * frees) when it holds at most max bytes; NULL with errno set otherwise
 * (CN_ETOOBIG above max, EIO for a read error). */
char *read_file_max(const char *path, size_t max, size_t *len_out);

/* 0 when write_file_atomic may replace path: not empty, and absent or a
 * regular file (lstat: a symbolic link, directory, FIFO or device is
 * refused, as replacing it would destroy what it is). Otherwise prints
 * `path: cannot write WHAT: why` and returns -1. */
int output_target_ok(const char *path, const char *what);

/* 1 when both paths name the same existing file (device and inode). */
int same_file(const char *a, const char *b);

#endif
