/* util.h — small checked wrappers shared by every part: allocation, exit codes,
 * string helpers. Allocation failures print what failed and exit(1). */
#ifndef CNNRUN_UTIL_H
#define CNNRUN_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "cnnrun/files.h"

/* Exit status contract of every cnnrun command (README.md, "Exit status";
 * `cnnrun --help`): */
enum {
    CN_EXIT_OK = 0,    /* success */
    CN_EXIT_FAIL = 1,  /* the run failed: I/O error, diverged, interrupted */
    CN_EXIT_USAGE = 2  /* the command line or an experiment file is wrong */
};

#define CN_VERSION "0.1.0"

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* 64-byte aligned, zero-filled float buffer; free with free(). */
float *alloc_floats(size_t n);
/* The allocations above exit with "out of memory" (status 1); hint, when not
 * NULL, is printed after it as what to do (the caller knows the cause: the
 * network's buffers, a file read whole). Returns the previous hint. */
const char *xalloc_hint(const char *hint);

/* Copies at most dst_size-1 bytes and always terminates. Returns 1 if it fit. */
int str_copy(char *dst, size_t dst_size, const char *src);
/* Levenshtein distance (for "did you mean" suggestions). */
int edit_distance(const char *a, const char *b);
/* Reads a whole regular file of at most CN_TEXT_FILE_MAX bytes into a
 * NUL-terminated buffer; NULL (errno set; name it with cn_strerror) on
 * failure: files.h read_file_max. */
char *read_text_file(const char *path, size_t *len_out);
/* Writes len bytes to path, an output of `kind`, atomically (a path that
 * is not absent, or an empty file or an earlier output of that kind, is
 * refused first: files.h output_target_ok): a temporary file in the same directory
 * (path.tmp.XXXXXX, mode 0666 under the umask), fsync, rename over path; so
 * path is either untouched or complete. Returns 0; or, after printing
 * `path: cannot write WHAT: reason` (the temporary file removed), -1 when
 * nothing could be created there (no such directory, no permission: the
 * command line's path is wrong) and -2 when writing failed (disk full, I/O). */
int write_file_atomic(const char *path, FileKind kind, const void *data, size_t len,
                      const char *what);
/* The two ends of such a write, for writers that stream: temp_beside opens
 * path.tmp.XXXXXX (mode 0666 under the umask; *tmp its malloc'd name) and
 * returns its descriptor, or -1 with errno set; commit_beside renames it
 * over path and fsyncs path's directory, so that the rename is durable too
 * (0, or -1 with errno set; the caller has written, fsynced and closed it). */
int temp_beside(const char *path, char **tmp);
int commit_beside(const char *tmp, const char *path);

/* Monotonic wall clock in seconds. */
double now_seconds(void);

#endif
