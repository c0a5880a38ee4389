/* dataset.c — `[data] dataset`: the loader each data set name chooses
 * (cifar10.c, cifar100.c, folder.c), what was loaded (DataInfo: the classes
 * and the data's identity), the identity as text (runs.data) and the check
 * that a resumed run has the same data, the per-channel statistics of
 * `normalize = dataset`, and the run's data as its checkpoints keep it (the
 * identity, the statistics and the class names: what eval, export and
 * predict name the classes with). See data.h. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cifar_files.h"
#include "cnnrun/util.h"

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}
#define FNV_START 1469598103934665603ULL

static char **copy_names(const char *const *names, int n)
{
    char **out = xcalloc((size_t)n, sizeof *out);
    for (int c = 0; c < n; c++) out[c] = xstrdup(names[c]);
    return out;
}

static uint64_t hash_names(const DataInfo *info)
{
    uint64_t h = FNV_START;
    for (int c = 0; c < info->classes; c++)
        h = fnv1a(h, info->names[c], strlen(info->names[c]) + 1);
    return h;
}

static void hash_info(DataInfo *info, const CifarSplit *train, const CifarSplit *test)
{
    info->names_hash = hash_names(info);
    uint64_t h = fnv1a(FNV_START, train->labels, (size_t)train->n);
    info->labels_hash = fnv1a(h, test->labels, (size_t)test->n);
}

int data_load(const DataSpec *spec, CifarSplit *train, CifarSplit *test, DataInfo *info)
{
    memset(info, 0, sizeof *info);
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    str_copy(info->dataset, sizeof info->dataset, spec->dataset);
    char real[PATH_MAX];
    str_copy(info->dir, sizeof info->dir, realpath(spec->dir, real) ? real : spec->dir);
    int rc;
    if (strcmp(spec->dataset, "cifar100") == 0) {
        str_copy(info->label, sizeof info->label, spec->coarse ? "coarse" : "fine");
        info->classes = spec->coarse ? 20 : 100;
        rc = cifar100_load(spec->dir, spec->coarse, train, test, &info->names);
    } else if (strcmp(spec->dataset, "folder") == 0) {
        rc = folder_load(spec, train, test, info);
    } else if (strcmp(spec->dataset, "cifar10") == 0) {
        rc = cifar_load(spec->dir, train, test);
        if (rc == 0) {
            info->classes = CIFAR_CLASSES;
            info->names = copy_names(cifar_class_names, CIFAR_CLASSES);
        }
    } else {
        fprintf(stderr, "dataset '%s': not one of cifar10, cifar100, folder\n", spec->dataset);
        rc = -1;
    }
    if (rc != 0) {
        data_info_free(info);
        return -1;
    }
    info->n_train = train->n;
    info->n_test = test->n;
    hash_info(info, train, test);
    return 0;
}

int data_peek_classes(const DataSpec *spec, int *classes)
{
    if (strcmp(spec->dataset, "folder") == 0) return folder_peek_classes(spec->dir, classes);
    *classes = strcmp(spec->dataset, "cifar100") == 0 ? (spec->coarse ? 20 : 100)
                                                      : CIFAR_CLASSES;
    return 0;
}

void data_info_free(DataInfo *info)
{
    if (info->names)
        for (int c = 0; c < info->classes; c++) free(info->names[c]);
    free(info->names);
    info->names = NULL;
    info->classes = 0;
}

void data_info_cifar10(DataInfo *info)
{
    memset(info, 0, sizeof *info);
    str_copy(info->dataset, sizeof info->dataset, "cifar10");
    info->classes = CIFAR_CLASSES;
    info->names = copy_names(cifar_class_names, CIFAR_CLASSES);
    info->names_hash = hash_names(info);
}

/* ---- identity ---------------------------------------------------------- */

void data_identity(const DataInfo *info, char *buf, size_t size)
{
    char label[32] = "";
    if (info->label[0]) snprintf(label, sizeof label, " label=%s", info->label);
    /* dir last: it may hold spaces, and runs to the end of the line */
    snprintf(buf, size, "dataset=%s%s train=%d test=%d classes=%d names=%016" PRIx64
             " labels=%016" PRIx64 " dir=%s", info->dataset, label, info->n_train, info->n_test,
             info->classes, info->names_hash, info->labels_hash, info->dir);
}

/* The value of key in an identity line into buf ("" when absent). */
static void identity_get(const char *id, const char *key, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = id; p && *p;) {
        while (*p == ' ') p++;
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = strcmp(key, "dir") == 0 ? strlen(v) : strcspn(v, " ");
            if (n >= size) n = size - 1;
            memcpy(buf, v, n);
            buf[n] = '\0';
            return;
        }
        if (strncmp(p, "dir=", 4) == 0) return; /* the rest is the directory */
        p = strchr(p, ' ');
    }
}

int data_identity_same(const char *then, const char *now, char *why, size_t size)
{
    static const struct {
        const char *key, *what;
    } keys[] = {{"dataset", "dataset"},          {"label", "label"},
                {"dir", "directory"},            {"train", "training images"},
                {"test", "test images"},         {"classes", "classes"},
                {"names", "class names (hash)"}, {"labels", "labels (hash)"}};
    int same = 1;
    if (why && size) why[0] = '\0';
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        char a[DATA_DIR_MAX], b[DATA_DIR_MAX];
        identity_get(then, keys[k].key, a, sizeof a);
        identity_get(now, keys[k].key, b, sizeof b);
        if (strcmp(a, b) == 0) continue;
        if (why && size) {
            size_t at = strlen(why);
            snprintf(why + at, size - at, "%s%s %s -> %s", same ? "" : ", ", keys[k].what,
                     a[0] ? a : "(none)", b[0] ? b : "(none)");
        }
        same = 0;
    }
    return same;
}

/* ---- normalize = dataset ------------------------------------------------ */

void data_channel_stats(const CifarSplit *s, float mean[3], float std[3])
{
    const int plane = CIFAR_SIDE * CIFAR_SIDE;
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        uint64_t sum = 0, sq = 0;
        for (int i = 0; i < s->n; i++) {
            const uint8_t *p = s->pixels + (size_t)i * CIFAR_PIXELS + (size_t)c * plane;
            for (int j = 0; j < plane; j++) {
                sum += p[j];
                sq += (uint64_t)p[j] * p[j];
            }
        }
        const double n = (double)s->n * plane;
        double m = n > 0 ? (double)sum / n : 0;
        /* exact integers to here: sq * n - sum^2 in 128 bits */
        unsigned __int128 num = (unsigned __int128)sq * (uint64_t)((uint64_t)s->n * plane) -
                                (unsigned __int128)sum * sum;
        double var = n > 0 ? (double)num / (n * n) : 0;
        double sd = sqrt(var) / 255.0;
        mean[c] = (float)(m / 255.0);
        /* a channel without variation (every picture one colour): divided by 1 */
        std[c] = sd > 1e-6 ? (float)sd : 1.0f;
    }
}

/* ---- the checkpoint's text ------------------------------------------------ */

char *data_info_text(const DataInfo *info, const float *mean, const float *std)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        fprintf(stderr, "out of memory\n");
        exit(CN_EXIT_FAIL);
    }
    char id[DATA_DIR_MAX + 256];
    data_identity(info, id, sizeof id);
    fprintf(f, "identity %s\n", id);
    if (mean && std)
        fprintf(f, "mean %.9g %.9g %.9g\nstd %.9g %.9g %.9g\n", mean[0], mean[1], mean[2], std[0],
                std[1], std[2]);
    for (int c = 0; c < info->classes; c++) fprintf(f, "class %s\n", info->names[c]);
    fclose(f);
    return buf;
}

int data_info_parse(const char *text, DataInfo *info, float mean[3], float std[3],
                    int *have_stats)
{
    memset(info, 0, sizeof *info);
    *have_stats = 0;
    char *copy = xstrdup(text), *save = NULL;
    int ok = 1, got = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && ok;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "identity ", 9) == 0) {
            const char *id = line + 9;
            char v[DATA_DIR_MAX];
            identity_get(id, "dataset", info->dataset, sizeof info->dataset);
            identity_get(id, "label", info->label, sizeof info->label);
            identity_get(id, "dir", info->dir, sizeof info->dir);
            identity_get(id, "train", v, sizeof v);
            info->n_train = atoi(v);
            identity_get(id, "test", v, sizeof v);
            info->n_test = atoi(v);
            identity_get(id, "classes", v, sizeof v);
            info->classes = atoi(v);
            identity_get(id, "names", v, sizeof v);
            info->names_hash = strtoull(v, NULL, 16);
            identity_get(id, "labels", v, sizeof v);
            info->labels_hash = strtoull(v, NULL, 16);
            if (info->classes < 2 || info->classes > DATA_MAX_CLASSES) ok = 0;
            else info->names = xcalloc((size_t)info->classes, sizeof *info->names);
        } else if (sscanf(line, "mean %g %g %g", &mean[0], &mean[1], &mean[2]) == 3) {
            *have_stats |= 1;
        } else if (sscanf(line, "std %g %g %g", &std[0], &std[1], &std[2]) == 3) {
            *have_stats |= 2;
        } else if (strncmp(line, "class ", 6) == 0 && info->names && got < info->classes) {
            info->names[got++] = xstrdup(line + 6);
        } else {
            ok = 0;
        }
    }
    free(copy);
    *have_stats = *have_stats == 3;
    if (!ok || !info->names || got != info->classes) {
        if (info->names)
            for (int c = 0; c < got; c++) free(info->names[c]);
        free(info->names);
        info->names = NULL;
        info->classes = 0;
        return -1;
    }
    return 0;
}
