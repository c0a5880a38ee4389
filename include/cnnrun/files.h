/* files.h — files cnnrun reads and writes given by a user: an input is
 * opened only when it is a regular file (a FIFO, device or directory is
 * refused before anything blocks or reads for ever) and read up to a cap;
 * an output is replaced only when it is absent, or a regular file that is
 * empty or an earlier output of its kind. */
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

/* Reads a whole regular file of at most CN_TEXT_FILE_MAX bytes into a
 * NUL-terminated buffer; NULL (errno set; name it with cn_strerror) on
 * failure: read_file_max. */
char *read_text_file(const char *path, size_t *len_out);

/* What a file holds, read from its first bytes (file_kind.c): the kinds of
 * file cnnrun writes, so that an output replaces only an earlier output of
 * its own kind — never a results database, a checkpoint, an experiment file
 * or anything else a user keeps there. */
typedef enum {
    FILE_ABSENT,     /* no such file */
    FILE_EMPTY,      /* 0 bytes: nothing that replacing it loses */
    FILE_UNREADABLE, /* there, but not opened and read (no permission; not a regular file) */
    FILE_OTHER,      /* none of the kinds below */
    FILE_SQLITE,     /* begins "SQLite format 3\0": a results database, or another program's */
    FILE_CHECKPOINT, /* begins CN_CHECKPOINT_MAGIC */
    FILE_EXPERIMENT, /* text whose first line that is not blank or a comment is [a section]:
                        an experiment file (or another INI file) */
    FILE_ONNX,       /* a protobuf ModelProto: ir_version first, then ModelProto's fields */
    FILE_LOGITS,     /* begins CN_LOGITS_SIGNATURE (cnnrun eval --logits) */
    FILE_REPORT,     /* begins CN_REPORT_SIGNATURE (cnnrun report's index.html) */
    FILE_SVG,        /* an SVG picture (the report's plots) */
    FILE_KIND_COUNT
} FileKind;

/* What the outputs begin with: their writers put these first. */
#define CN_CHECKPOINT_MAGIC "CNNRCKPT"
#define CN_LOGITS_SIGNATURE "# cnnrun eval "
#define CN_REPORT_SIGNATURE "<!DOCTYPE html>\n<!-- written by cnnrun report"

FileKind file_kind(const char *path);
/* The kind in words, with its article: "an SQLite database". */
const char *file_kind_name(FileKind kind);

/* file_write.c: 0 when an output of `kind` (described as `what`, e.g. "the logits") may
 * replace path: the path is not empty, and it is absent, or a regular file
 * (lstat: a symbolic link, directory, FIFO or device is refused, as
 * replacing it would destroy what it is) that is empty or holds an earlier
 * output of that kind (file_kind). Otherwise prints `path: cannot write
 * WHAT...: why` (with what to do) and returns -1: a wrong path (exit status 2). */
int output_target_ok(const char *path, FileKind kind, const char *what);

/* file_write.c: */
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

/* 1 when both paths name the same existing file (device and inode). */
int same_file(const char *a, const char *b);

#endif
