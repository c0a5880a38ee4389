/* cifar100.c — loading CIFAR-100 in the binary layout (cifar-100-binary.tar.gz:
 * train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt).
 *
 * Each file is a sequence of 3074-byte records: the coarse label byte
 * (0..19), the fine label byte (0..99), then 3072 pixel bytes (R, G, B planes
 * of 32x32) as in CIFAR-10. The real files hold 50,000 and 10,000 records; a
 * directory with a `cnnrun-sample.txt` manifest may hold fewer, the counts
 * listed there (as for CIFAR-10: cifar10.c). Every file is size-checked
 * before any is read; a missing file, a wrong size and a label out of range
 * are reported with the path (and record index, 0-based). Class names come
 * from fine_label_names.txt / coarse_label_names.txt (one per line, blank
 * lines ignored) when the directory has it; else they are the label numbers.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cifar_files.h"
#include "cnnrun/files.h"
#include "cnnrun/util.h"

#define C100_FINE 100
#define C100_COARSE 20

static const char *const c100_files[2] = {"train.bin", "test.bin"};
static const int c100_records[2] = {50000, 10000};

static const CifarLayout c100_layout = {2, {C100_COARSE, C100_FINE}, {"coarse ", "fine "},
                                        "CIFAR-100",
                                        ": a coarse and a fine label byte, 3072 pixel bytes"};

/* The class names: from dir/NAME when it is there (exactly n non-blank
 * lines), else "0".."n-1". NULL after printing what is wrong. */
static char **read_names(const char *dir, const char *name, int n)
{
    char path[PATH_MAX];
    char **names = xcalloc((size_t)n, sizeof *names);
    if (!cifar_join_path(path, sizeof path, dir, name) || !cifar_dir_has(dir, name)) {
        for (int c = 0; c < n; c++) {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            names[c] = xstrdup(num);
        }
        return names;
    }
    char *text = read_text_file(path, NULL);
    if (!text) {
        fprintf(stderr, "%s: cannot read the class names: %s\n", path, cn_strerror(errno));
        free(names);
        return NULL;
    }
    int got = 0, bad = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len == 0) continue;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)line[i] < 0x20) bad = 1;
        if (got < n) names[got] = xstrdup(line);
        got++;
    }
    free(text);
    if (got != n || bad) {
        if (bad)
            fprintf(stderr, "%s: a class name holds a control character\n", path);
        else
            fprintf(stderr, "%s: %d class name%s, expected %d (one per line)\n", path, got,
                    got == 1 ? "" : "s", n);
        for (int c = 0; c < n; c++) free(names[c]);
        free(names);
        return NULL;
    }
    return names;
}

int cifar100_load(const char *dir, bool coarse, CifarSplit *train, CifarSplit *test,
                  char ***names_out)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    *names_out = NULL;
    struct stat dst;
    if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        fprintf(stderr, "%s: cannot open data directory: %s\n", dir,
                stat(dir, &dst) != 0 ? strerror(errno) : strerror(ENOTDIR));
        fprintf(stderr, "HINT: get CIFAR-100 by downloading cifar-100-binary.tar.gz from "
                        "https://www.cs.toronto.edu/~kriz/cifar.html and extracting it (tar xzf "
                        "gives cifar-100-binary/), then pass --data DIR or set [data] dir\n");
        return -1;
    }
    if (!cifar_dir_has(dir, "train.bin") && cifar_dir_has(dir, "data_batch_1.bin")) {
        fprintf(stderr, "%s: no train.bin, but data_batch_1.bin: CIFAR-10's layout; set [data] "
                        "dataset = cifar10\n", dir);
        return -1;
    }
    int counts[2] = {c100_records[0], c100_records[1]}, listed[2] = {0};
    const ManifestFiles mf = {c100_files, c100_records, 2, "train.bin or test.bin"};
    int manifest = cifar_read_manifest(dir, &mf, counts, listed);
    if (manifest < 0) return -1;

    FILE *files[2] = {0};
    char paths[2][PATH_MAX];
    int ok = 1, missing = 0;
    for (int i = 0; i < 2; i++) {
        if (!cifar_join_path(paths[i], sizeof paths[i], dir, c100_files[i])) {
            fprintf(stderr, "%s: data directory path too long\n", dir);
            ok = 0;
            break;
        }
        if (!cifar_open_file(paths[i], counts[i], &c100_layout, listed[i], &files[i], &missing))
            ok = 0;
    }
    if (missing)
        fprintf(stderr, "HINT: a CIFAR-100 directory holds train.bin and test.bin (the binary "
                        "version, cifar-100-binary.tar.gz)\n");
    char **names = NULL;
    const int classes = coarse ? C100_COARSE : C100_FINE;
    if (ok) {
        names = read_names(dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
                           classes);
        ok = names != NULL;
    }
    if (ok) {
        cifar_split_alloc(train, counts[0]);
        cifar_split_alloc(test, counts[1]);
        int keep = coarse ? 0 : 1; /* the coarse label's byte comes first */
        ok = cifar_read_records(files[0], paths[0], counts[0], &c100_layout, keep, train->pixels,
                                train->labels) &&
             cifar_read_records(files[1], paths[1], counts[1], &c100_layout, keep, test->pixels,
                                test->labels);
    }
    for (int i = 0; i < 2; i++)
        if (files[i]) fclose(files[i]);
    if (!ok) {
        cifar_free(train);
        cifar_free(test);
        if (names)
            for (int c = 0; c < classes; c++) free(names[c]);
        free(names);
        return -1;
    }
    *names_out = names;
    return 0;
}
