/* cifar10.c — loading CIFAR-10 in the binary layout (see data.h).
 *
 * A data directory holds data_batch_1..5.bin (training) and test_batch.bin
 * (test); each file is a sequence of 3073-byte records (label byte, then
 * 3072 pixel bytes: R, G, B planes of 32x32). Real CIFAR-10 files hold exactly
 * 10,000 records. Every check happens before any data is used: a missing
 * directory, each missing file, a file of the wrong size and a label > 9 are
 * reported with the path (and record index, 0-based) and the load fails.
 *
 * Sample manifest: a directory containing `cnnrun-sample.txt` (the embedded
 * sample in data/sample) may hold fewer records. The manifest is plain text,
 * one file per line:
 *
 *     # comment
 *     data_batch_1.bin 500
 *     ...
 *     test_batch.bin 1000
 *
 * i.e. a file name, whitespace, a record count in 1..10000. Blank lines and
 * lines starting with '#' are ignored. A file not listed must hold 10,000
 * records; unknown file names, duplicates and bad counts are errors reported
 * as `<dir>/cnnrun-sample.txt:<line>: ...`.
 */
#include "cnnrun/data.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cifar_files.h"
#include "cnnrun/decimal.h"
#include "cnnrun/files.h"
#include "cnnrun/util.h"

#ifndef CNNRUN_SAMPLE_DIR
#define CNNRUN_SAMPLE_DIR "data/sample"
#endif

#define CIFAR_NFILES 6
#define CIFAR_TRAIN_FILES 5
#define MANIFEST_NAME "cnnrun-sample.txt"

static const char *const file_names[CIFAR_NFILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
    "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin",
};

static void print_download_hint(void)
{
    fprintf(stderr,
            "HINT: get CIFAR-10 by downloading cifar-10-binary.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html, extract it (tar xzf "
            "cifar-10-binary.tar.gz gives cifar-10-batches-bin/), then pass "
            "--data DIR or set CNNRUN_DATA=DIR\n");
}

int cifar_join_path(char *buf, size_t size, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
    int n = snprintf(buf, size, "%s%s%s", dir, sep, name);
    return n >= 0 && (size_t)n < size;
}

static int file_index(const ManifestFiles *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(name, m->names[i]) == 0) return i;
    return -1;
}

int cifar_read_manifest(const char *dir, const ManifestFiles *m, int *counts, int *listed)
{
    char path[PATH_MAX];
    if (!cifar_join_path(path, sizeof path, dir, MANIFEST_NAME)) {
        fprintf(stderr, "%s: data directory path too long\n", dir);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "%s: cannot read sample manifest: %s\n", path, strerror(errno));
        return -1;
    }
    char *text = read_text_file(path, NULL);
    if (!text) {
        fprintf(stderr, "%s: cannot read sample manifest: %s\n", path, cn_strerror(errno));
        return -1;
    }
    int seen[CIFAR_MANIFEST_MAX_FILES] = {0};
    int ok = 1, lineno = 0;
    char *p = text; /* walk lines by hand so that line numbers stay right */
    while (*p) {
        char *line = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (*s == '\0' || *s == '#') continue;
        char name[64], number[32];
        long count = 0;
        char extra[2];
        /* the count as text, read by the strict parser: %ld would give a
         * count of 20 nines as LONG_MAX, and take "0x10" or "12abc" */
        int got = sscanf(s, "%63s %31s %1s", name, number, extra);
        if (got != 2) {
            fprintf(stderr, "%s:%d: expected `FILE COUNT` (e.g. `data_batch_1.bin 500`)\n",
                    path, lineno);
            ok = 0;
            continue;
        }
        int fi = file_index(m, name);
        if (fi < 0) {
            fprintf(stderr, "%s:%d: unknown file `%s` (expected %s)\n", path, lineno, name,
                    m->expected);
            ok = 0;
            continue;
        }
        if (seen[fi]) {
            fprintf(stderr, "%s:%d: `%s` listed twice\n", path, lineno, name);
            ok = 0;
            continue;
        }
        int rc = decimal_long(number, &count);
        if (rc == DECIMAL_BAD) {
            fprintf(stderr, "%s:%d: the record count of `%s` is not a decimal integer: `%s`\n",
                    path, lineno, name, number);
            ok = 0;
            continue;
        }
        if (rc == DECIMAL_RANGE || count < 1 || count > m->max_records[fi]) {
            fprintf(stderr, "%s:%d: record count %s for `%s` is not in 1..%d\n", path, lineno,
                    number, name, m->max_records[fi]);
            ok = 0;
            continue;
        }
        seen[fi] = 1;
        listed[fi] = 1;
        counts[fi] = (int)count;
    }
    free(text);
    return ok ? 1 : -1;
}

static const CifarLayout cifar10_layout = {1, {CIFAR_CLASSES}, {""}, "CIFAR-10", ""};

int cifar_open_file(const char *path, int records, const CifarLayout *l, int listed, FILE **out,
                    int *missing)
{
    struct stat st; /* a FIFO or device is refused before it is opened: none blocks */
    int fd = open_regular(path, &st);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    *out = f;
    if (!f) {
        int err = errno;
        if (fd >= 0) close(fd);
        fprintf(stderr, "%s: cannot open: %s\n", path, cn_strerror(err));
        *missing += err == ENOENT;
        return 0;
    }
    const int record = l->n_labels + CIFAR_PIXELS;
    long long expected = (long long)records * record;
    if ((long long)st.st_size != expected) {
        fprintf(stderr, "%s: truncated or wrong size: %lld bytes, expected %lld (%d records "
                        "of %d bytes%s%s)\n", path, (long long)st.st_size, expected, records,
                record, l->record_text, listed ? ", as listed in " MANIFEST_NAME : "");
        return 0;
    }
    return 1;
}

int cifar_read_records(FILE *f, const char *path, int records, const CifarLayout *l, int keep,
                       uint8_t *pixels, uint8_t *labels)
{
    enum { CHUNK = 256 };
    const size_t size = (size_t)l->n_labels + CIFAR_PIXELS;
    uint8_t *buf = xmalloc(CHUNK * size);
    int done = 0, ok = 1;
    while (done < records && ok) {
        int want = records - done < CHUNK ? records - done : CHUNK;
        size_t got = fread(buf, size, (size_t)want, f);
        if (got != (size_t)want) {
            if (ferror(f))
                fprintf(stderr, "%s: read error: %s\n", path, strerror(errno ? errno : EIO));
            else
                fprintf(stderr, "%s: unexpected end of file at record %d (file changed while "
                                "reading?)\n", path, done + (int)got);
            ok = 0;
            break;
        }
        for (int r = 0; r < want && ok; r++) {
            const uint8_t *rec = buf + (size_t)r * size;
            for (int k = 0; k < l->n_labels && ok; k++)
                if (rec[k] >= l->classes[k]) {
                    fprintf(stderr, "%s: record %d: %slabel %d is not in 0..%d (not a %s "
                                    "binary file?)\n", path, done + r, l->label_names[k],
                            rec[k], l->classes[k] - 1, l->set);
                    ok = 0;
                }
            labels[done + r] = rec[keep];
            memcpy(pixels + (size_t)(done + r) * CIFAR_PIXELS, rec + l->n_labels, CIFAR_PIXELS);
        }
        done += want;
    }
    free(buf);
    return ok;
}

void cifar_split_alloc(CifarSplit *s, int n)
{
    s->n = n;
    s->pixels = xmalloc((size_t)n * CIFAR_PIXELS);
    s->labels = xmalloc((size_t)n);
}

int cifar_load(const char *dir, CifarSplit *train, CifarSplit *test)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);

    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open data directory: %s\n", dir, strerror(errno));
        print_download_hint();
        return -1;
    }
    closedir(d);

    if (!cifar_dir_has(dir, "data_batch_1.bin") && cifar_dir_has(dir, "train.bin")) {
        fprintf(stderr, "%s: no data_batch_1.bin, but train.bin: CIFAR-100's layout; set [data] "
                        "dataset = cifar100\n", dir);
        return -1;
    }
    int counts[CIFAR_NFILES], listed[CIFAR_NFILES] = {0};
    for (int i = 0; i < CIFAR_NFILES; i++) counts[i] = CIFAR_FILE_RECORDS;
    static const int max_records[CIFAR_NFILES] = {
        CIFAR_FILE_RECORDS, CIFAR_FILE_RECORDS, CIFAR_FILE_RECORDS,
        CIFAR_FILE_RECORDS, CIFAR_FILE_RECORDS, CIFAR_FILE_RECORDS};
    const ManifestFiles mf = {file_names, max_records, CIFAR_NFILES,
                              "data_batch_1..5.bin or test_batch.bin"};
    int manifest = cifar_read_manifest(dir, &mf, counts, listed);
    if (manifest < 0) return -1;

    /* Open and size-check every file first so that all problems are reported. */
    FILE *files[CIFAR_NFILES] = {0};
    char paths[CIFAR_NFILES][PATH_MAX];
    int ok = 1, missing = 0, wrong_size = 0;
    for (int i = 0; i < CIFAR_NFILES; i++) {
        if (!cifar_join_path(paths[i], sizeof paths[i], dir, file_names[i])) {
            fprintf(stderr, "%s: data directory path too long\n", dir);
            ok = 0;
            break;
        }
        int sized = cifar_open_file(paths[i], counts[i], &cifar10_layout, listed[i], &files[i],
                                    &missing);
        if (!files[i] || !sized) ok = 0;
        wrong_size += files[i] && !sized;
    }
    if (missing) {
        fprintf(stderr, "HINT: a CIFAR-10 directory holds data_batch_1.bin .. data_batch_5.bin "
                        "and test_batch.bin (the binary version)\n");
        print_download_hint();
    } else if (wrong_size && manifest) {
        fprintf(stderr, "HINT: this sample directory is damaged; restore it from the cnnrun "
                        "repository (scripts/make_sample.sh rebuilds data/sample)\n");
    } else if (wrong_size) {
        fprintf(stderr, "HINT: the download or extraction may be incomplete; extract "
                        "cifar-10-binary.tar.gz again\n");
    }

    if (ok) {
        int ntrain = 0;
        for (int i = 0; i < CIFAR_TRAIN_FILES; i++) ntrain += counts[i];
        cifar_split_alloc(train, ntrain);
        cifar_split_alloc(test, counts[CIFAR_NFILES - 1]);
        int at = 0;
        for (int i = 0; i < CIFAR_NFILES && ok; i++) {
            CifarSplit *s = i < CIFAR_TRAIN_FILES ? train : test;
            int base = i < CIFAR_TRAIN_FILES ? at : 0;
            ok = cifar_read_records(files[i], paths[i], counts[i], &cifar10_layout, 0,
                                    s->pixels + (size_t)base * CIFAR_PIXELS, s->labels + base);
            if (i < CIFAR_TRAIN_FILES) at += counts[i];
        }
    }
    for (int i = 0; i < CIFAR_NFILES; i++)
        if (files[i]) fclose(files[i]);
    if (!ok) {
        cifar_free(train);
        cifar_free(test);
        return -1;
    }
    return 0;
}

void cifar_free(CifarSplit *s)
{
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    s->pixels = NULL;
    s->labels = NULL;
    s->n = 0;
}

void cifar_truncate(CifarSplit *s, int n)
{
    if (n < 0) n = 0;
    if (n < s->n) s->n = n; /* the buffers keep their size; cifar_free frees them */
}

int cifar_hold_out(CifarSplit *s, int classes, int n, CifarSplit *val)
{
    const int per_class = n / classes;
    int count[DATA_MAX_CLASSES] = {0};
    for (int i = 0; i < s->n; i++) count[s->labels[i]]++;
    for (int c = 0; c < classes; c++)
        if (count[c] < per_class) return c;
    /* from the end: the last per_class of each class are held out */
    uint8_t *held = xcalloc((size_t)s->n, 1);
    int taken[DATA_MAX_CLASSES] = {0};
    for (int i = s->n - 1; i >= 0; i--)
        if (taken[s->labels[i]] < per_class) {
            taken[s->labels[i]]++;
            held[i] = 1;
        }
    cifar_split_alloc(val, n);
    int kept = 0, out = 0;
    for (int i = 0; i < s->n; i++) {
        CifarSplit *to = held[i] ? val : s;
        int j = held[i] ? out++ : kept++;
        memmove(to->pixels + (size_t)j * CIFAR_PIXELS, s->pixels + (size_t)i * CIFAR_PIXELS,
                CIFAR_PIXELS);
        to->labels[j] = s->labels[i];
    }
    s->n = kept;
    free(held);
    return -1;
}

int cifar_dir_has(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    return cifar_join_path(path, sizeof path, dir, name) && stat(path, &st) == 0 &&
           S_ISREG(st.st_mode);
}

const char *cifar_sample_dir(void)
{
    return CNNRUN_SAMPLE_DIR;
}

const char *cifar_resolve_dir(const char *cli_dir, const char *config_dir, const char **origin)
{
    const char *env = getenv("CNNRUN_DATA");
    const char *dir, *from;
    if (cli_dir) {
        dir = cli_dir;
        from = "--data";
    } else if (config_dir && *config_dir) {
        dir = config_dir;
        from = "[data] dir";
    } else if (env) {
        dir = env;
        from = "$CNNRUN_DATA";
    } else {
        dir = cifar_sample_dir();
        from = "embedded sample";
    }
    if (origin) *origin = from;
    if (!*dir) {
        /* an empty value is a mistake (an unset shell variable), not a wish
         * for the sample: training on it without a word would hide that */
        if (cli_dir)
            fprintf(stderr, "cnnrun: --data is empty; give a CIFAR-10 directory, or leave "
                            "--data out to use [data] dir, $CNNRUN_DATA or the embedded "
                            "sample\n");
        else
            fprintf(stderr, "cnnrun: CNNRUN_DATA is set but empty; set it to a CIFAR-10 "
                            "directory, or unset it (unset CNNRUN_DATA) to use the embedded "
                            "sample\n");
        return NULL;
    }
    return dir;
}
