/* util.h — small checked wrappers shared by every part: allocation, exit codes,
 * string helpers. Allocation failures print what failed and exit(1). */
#ifndef CNNRUN_UTIL_H
#define CNNRUN_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* reading and writing files (read_text_file, write_file_atomic, ...): every
 * user of util.h had them here before they moved to files.h */
#include "cnnrun/files.h"

/* Exit status contract of every cnnrun command (README.md, "Exit status";
 * `cnnrun --help`): */
enum {
    CN_EXIT_OK = 0,    /* success */
    CN_EXIT_FAIL = 1,  /* the run failed: I/O error, diverged, interrupted */
    CN_EXIT_USAGE = 2, /* the command line or an experiment file is wrong */
    CN_EXIT_SKIPPED = 3 /* run --skip-invalid: every run succeeded, but files that do not
                         * check were left out */
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
/* Monotonic wall clock in seconds. */
double now_seconds(void);

#endif
