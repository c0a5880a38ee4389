/* file_kind.c — what a file holds, from its first bytes (files.h
 * file_kind): the kinds of file cnnrun writes, and the ones an output must
 * never replace (a database, a checkpoint, an experiment file). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/files.h"

/* The most of a file that is read to tell its kind. */
#define HEAD_BYTES 4096

static const char *const kind_names[] = {
    [FILE_ABSENT] = "no file",
    [FILE_EMPTY] = "an empty file",
    [FILE_UNREADABLE] = "a file this process cannot read (what it holds is unknown)",
    [FILE_OTHER] = "a file of another kind",
    [FILE_SQLITE] = "an SQLite database",
    [FILE_CHECKPOINT] = "a cnnrun checkpoint",
    [FILE_EXPERIMENT] = "an experiment file (INI)",
    [FILE_ONNX] = "an ONNX model",
    [FILE_LOGITS] = "a logits file of cnnrun eval",
    [FILE_REPORT] = "the page of a cnnrun report",
    [FILE_SVG] = "an SVG picture",
    [FILE_KIND_COUNT] = NULL,
};
_Static_assert(sizeof kind_names / sizeof *kind_names == FILE_KIND_COUNT + 1,
               "one name per file kind");

const char *file_kind_name(FileKind kind)
{
    return (unsigned)kind < FILE_KIND_COUNT ? kind_names[kind] : "?";
}

static int starts(const unsigned char *b, size_t n, const char *prefix, size_t len)
{
    return n >= len && memcmp(b, prefix, len) == 0;
}

/* A protobuf varint at *p (before end): 0 when it does not end there. */
static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 1;
    }
    return 0;
}

/* An ONNX ModelProto: ir_version (field 1) first, as every serialiser
 * writes the fields in their order, then only ModelProto's fields with
 * their wire types, as far as the head shows them. */
static int is_onnx(const unsigned char *b, size_t n)
{
    const unsigned char *p = b, *end = b + n;
    int fields = 0;
    while (p < end) {
        uint64_t key, v;
        if (!varint(&p, end, &key)) return 0;
        unsigned field = (unsigned)(key >> 3), wire = (unsigned)(key & 7);
        if (fields == 0 && key != (1 << 3)) return 0; /* ir_version, a varint */
        int is_int = field == 1 || field == 5; /* ir_version, model_version */
        int is_bytes = (field >= 2 && field <= 4) || (field >= 6 && field <= 8) ||
                       field == 14 || field == 20 || field == 25;
        if (!(is_int && wire == 0) && !(is_bytes && wire == 2)) return 0;
        if (!varint(&p, end, &v)) return 0;
        if (fields == 0 && (v < 1 || v > 64)) return 0; /* IR versions: 1 to 11 so far */
        fields++;
        if (wire == 2) {
            if (v > (uint64_t)(end - p)) break; /* runs past the head: as far as it shows */
            p += v;
        }
    }
    return fields >= 2;
}

/* <?xml ...?> (or nothing) and comments, then <svg */
static int is_svg(const unsigned char *b, size_t n)
{
    char text[HEAD_BYTES + 1];
    memcpy(text, b, n);
    text[n] = '\0';
    if (strlen(text) != n) return 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, " \t\r\n");
        const char *close = !strncmp(p, "<?xml", 5) ? "?>" : !strncmp(p, "<!--", 4) ? "-->"
                            : !strncmp(p, "<!DOCTYPE svg", 13) ? ">" : NULL;
        if (!close) break;
        p = strstr(p, close);
        if (!p) return 0;
        p += strlen(close);
    }
    return !strncmp(p, "<svg", 4) && (p[4] == ' ' || p[4] == '\n' || p[4] == '\t' ||
                                      p[4] == '\r' || p[4] == '>');
}

/* Text whose first line that is not blank or a comment (';' or '#') is a
 * section line: an INI file, as experiment files are. */
static int is_ini(const unsigned char *b, size_t n)
{
    if (memchr(b, '\0', n)) return 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r')) i++;
        if (i < n && b[i] == '\n') {
            i++;
            continue;
        }
        if (i < n && (b[i] == '#' || b[i] == ';')) {
            const unsigned char *nl = memchr(b + i, '\n', n - i);
            if (!nl) return 0;
            i = (size_t)(nl - b) + 1;
            continue;
        }
        if (i >= n || b[i] != '[') return 0;
        const unsigned char *nl = memchr(b + i, '\n', n - i);
        const unsigned char *close = memchr(b + i, ']', (nl ? (size_t)(nl - b) : n) - i);
        return close != NULL;
    }
    return 0;
}

FileKind file_kind(const char *path)
{
    int fd = open_regular(path, NULL);
    if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? FILE_ABSENT : FILE_UNREADABLE;
    unsigned char b[HEAD_BYTES];
    size_t n = 0;
    while (n < sizeof b) {
        ssize_t k = read(fd, b + n, sizeof b - n);
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    static const char sqlite[] = "SQLite format 3"; /* and its NUL */
    if (n == 0) return FILE_EMPTY;
    if (starts(b, n, sqlite, sizeof sqlite)) return FILE_SQLITE;
    if (starts(b, n, CN_CHECKPOINT_MAGIC, strlen(CN_CHECKPOINT_MAGIC))) return FILE_CHECKPOINT;
    if (starts(b, n, CN_LOGITS_SIGNATURE, strlen(CN_LOGITS_SIGNATURE))) return FILE_LOGITS;
    if (starts(b, n, CN_REPORT_SIGNATURE, strlen(CN_REPORT_SIGNATURE))) return FILE_REPORT;
    if (is_onnx(b, n)) return FILE_ONNX;
    if (is_svg(b, n)) return FILE_SVG;
    if (is_ini(b, n)) return FILE_EXPERIMENT;
    return FILE_OTHER;
}
