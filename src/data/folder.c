/* folder.c — `[data] dataset = folder`: people's own pictures, one folder per
 * class.
 *
 *     DIR/train/CLASS/NAME.png (.jpg, .jpeg, .ppm; any case of the extension)
 *     DIR/test/CLASS/...                   (or none: [data] validation = N)
 *
 * The classes are the folders of DIR/train in sorted (byte) order: label 0 is
 * the first. Each image is decoded once (image.c: PNG of any bit depth, grey
 * or palette; JPEG; PPM; grey-scale becomes R = G = B, an alpha channel is
 * composited over white, a CMYK JPEG is refused) and resized to 32x32 (area
 * average when shrinking, bilinear when enlarging), kept in memory in
 * CIFAR-10's layout. Within a class the files are taken in sorted order, and
 * the split interleaves the classes (the first image of each class, then the
 * second, ...): `train_subset` and `validation` then take from every class,
 * as they do from CIFAR-10's shuffled files. Hidden files (a leading dot) are
 * skipped; other files and sub-folders in a class folder are counted and
 * named once. An image that cannot be decoded is an error naming it, unless
 * skip_bad_images (then it is left out and counted). A class folder without
 * images, a single class, more than 256 classes, a test class train/ lacks
 * and a class name with a control character are errors. Without DIR/test
 * the last validation / classes images of each class of train/ are the test
 * split. Loading that takes more than a few seconds says how far it is. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cifar_files.h"
#include "cnnrun/image.h"
#include "cnnrun/util.h"

#define SHOW_ERRORS 10 /* decoding errors printed one by one; the rest counted */

typedef struct {
    char *name;
    int n;
    char **files; /* paths */
} ClassDir;

typedef struct {
    int n;
    ClassDir *c;
    int ignored;          /* files that are not pictures, sub-folders */
    char *first_ignored;  /* the first of them */
} SplitDir;

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int slash = la > 0 && a[la - 1] == '/';
    char *p = xmalloc(la + lb + 2);
    memcpy(p, a, la);
    if (!slash) p[la++] = '/';
    memcpy(p + la, b, lb + 1);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_picture(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".ppm"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcasecmp(dot, ext[i]) == 0) return 1;
    return 0;
}

/* The entries of path (no hidden ones), sorted; NULL after printing why. */
static char **list_dir(const char *path, int *n)
{
    DIR *d = opendir(path);
    *n = 0;
    if (!d) {
        fprintf(stderr, "%s: cannot open the folder: %s\n", path, strerror(errno));
        return NULL;
    }
    int cap = 16;
    char **names = xmalloc(sizeof *names * (size_t)cap);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (*n == cap) names = xrealloc(names, sizeof *names * (size_t)(cap *= 2));
        names[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static void split_dir_free(SplitDir *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->c[i].name);
        free_names(s->c[i].files, s->c[i].n);
    }
    free(s->c);
    free(s->first_ignored);
    memset(s, 0, sizeof *s);
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* The class folders of root (DIR/train or DIR/test) and their pictures.
 * -1 after printing what is wrong. */
static int scan_split(const char *root, SplitDir *s)
{
    memset(s, 0, sizeof *s);
    int n;
    char **entries = list_dir(root, &n);
    if (!entries) return -1;
    int ok = 1, loose = 0;
    s->c = xcalloc((size_t)(n ? n : 1), sizeof *s->c);
    for (int i = 0; i < n && ok; i++) {
        char *path = join(root, entries[i]);
        if (!is_dir(path)) { /* a picture or another file straight in train/: no class */
            loose += is_picture(entries[i]);
            s->ignored++;
            if (!s->first_ignored) s->first_ignored = xstrdup(path);
            free(path);
            continue;
        }
        if (has_control(entries[i])) {
            fprintf(stderr, "%s: a class folder's name holds a control character (a newline?); "
                            "rename it\n", root);
            free(path);
            ok = 0;
            break;
        }
        ClassDir *c = &s->c[s->n++];
        c->name = xstrdup(entries[i]);
        int m;
        char **files = list_dir(path, &m);
        if (!files) {
            free(path);
            ok = 0;
            break;
        }
        c->files = xmalloc(sizeof *c->files * (size_t)(m ? m : 1));
        for (int j = 0; j < m; j++) {
            char *f = join(path, files[j]);
            if (is_picture(files[j]) && !is_dir(f)) {
                c->files[c->n++] = f;
                continue;
            }
            s->ignored++;
            if (!s->first_ignored) s->first_ignored = xstrdup(f);
            free(f);
        }
        free_names(files, m);
        if (c->n == 0) {
            fprintf(stderr, "%s: an empty class: no pictures (.png, .jpg, .jpeg, .ppm) in it; "
                            "remove the folder or add pictures\n", path);
            ok = 0;
        }
        free(path);
    }
    free_names(entries, n);
    if (ok && s->n == 0) {
        fprintf(stderr, "%s: no class folders%s; put each class's pictures in a folder of its "
                        "own (%s/CLASS/*.png), the folder's name is the class\n", root,
                loose ? " (pictures straight in it have no class)" : "", root);
        ok = 0;
    }
    if (!ok) split_dir_free(s);
    return ok ? 0 : -1;
}

/* The classes of DIR/train, checked: 2 .. DATA_MAX_CLASSES. */
static int check_class_count(const char *root, const SplitDir *s)
{
    if (s->n == 1) {
        fprintf(stderr, "%s: one class folder (%s): a classifier needs at least two classes\n",
                root, s->c[0].name);
        return -1;
    }
    if (s->n > DATA_MAX_CLASSES) {
        fprintf(stderr, "%s: %d class folders; cnnrun takes at most %d classes\n", root, s->n,
                DATA_MAX_CLASSES);
        return -1;
    }
    return 0;
}

int folder_peek_classes(const char *dir, int *classes)
{
    char *root = join(dir, "train");
    int n, rc = -1;
    if (!is_dir(root)) {
        fprintf(stderr, "%s: no such folder; dataset = folder reads %s/train/CLASS/*.png (and "
                        "test/CLASS/...)\n", root, dir);
        free(root);
        return -1;
    }
    char **entries = list_dir(root, &n);
    if (entries) {
        int k = 0;
        const char *first = NULL;
        for (int i = 0; i < n; i++) {
            char *p = join(root, entries[i]);
            if (is_dir(p)) {
                if (!first) first = entries[i];
                k++;
            }
            free(p);
        }
        if (k == 0)
            fprintf(stderr, "%s: no class folders; put each class's pictures in a folder of its "
                            "own (%s/CLASS/*.png), the folder's name is the class\n", root, root);
        else if (k == 1)
            fprintf(stderr, "%s: one class folder (%s): a classifier needs at least two "
                            "classes\n", root, first);
        else if (k > DATA_MAX_CLASSES)
            fprintf(stderr, "%s: %d class folders; cnnrun takes at most %d classes\n", root, k,
                    DATA_MAX_CLASSES);
        else {
            *classes = k;
            rc = 0;
        }
        free_names(entries, n);
    }
    free(root);
    return rc;
}

/* Progress of decoding, on stderr, once loading has taken a few seconds. */
typedef struct {
    const char *dir;
    double start, last;
    long done, total;
} Progress;

static void progress_step(Progress *p)
{
    p->done++;
    double t = now_seconds();
    if (t - p->start < 3.0 || t - p->last < 2.0) return;
    p->last = t;
    fprintf(stderr, "%s: decoding pictures: %ld of %ld (%.0f%%)\n", p->dir, p->done, p->total,
            100.0 * p->done / p->total);
}

/* Decodes the pictures of s into split (interleaving the classes; labels are
 * the classes' indices in train, map[i] for s's class i). Bad pictures: an
 * error, or left out and counted in *skipped. */
static int decode_split(const SplitDir *s, const int *map, bool skip, CifarSplit *split,
                        int *skipped, Progress *pg)
{
    int total = 0, most = 0;
    for (int i = 0; i < s->n; i++) {
        total += s->c[i].n;
        if (s->c[i].n > most) most = s->c[i].n;
    }
    cifar_split_alloc(split, total);
    split->n = 0;
    int *kept = xcalloc((size_t)s->n, sizeof *kept);
    int bad = 0;
    for (int j = 0; j < most; j++)
        for (int i = 0; i < s->n; i++) {
            if (j >= s->c[i].n) continue;
            const char *path = s->c[i].files[j];
            Image img;
            char err[256] = "";
            progress_step(pg);
            if (image_load(path, &img, err, sizeof err) != 0) {
                if (++bad <= SHOW_ERRORS)
                    fprintf(stderr, "%s: %s: %s\n", path,
                            skip ? "warning: cannot decode, left out" : "cannot decode",
                            err[0] ? err : "unreadable");
                continue;
            }
            image_resize_planes(&img, CIFAR_SIDE, split->pixels + (size_t)split->n * CIFAR_PIXELS);
            image_free(&img);
            split->labels[split->n++] = (uint8_t)map[i];
            kept[i]++;
        }
    int ok = 1;
    if (bad > SHOW_ERRORS)
        fprintf(stderr, "... and %d more picture%s that cannot be decoded\n", bad - SHOW_ERRORS,
                bad - SHOW_ERRORS == 1 ? "" : "s");
    if (bad && !skip) {
        fprintf(stderr, "HINT: remove or fix %s, or set [data] skip_bad_images = true to train "
                        "without %s\n", bad == 1 ? "the picture" : "those pictures",
                bad == 1 ? "it" : "them");
        ok = 0;
    }
    for (int i = 0; i < s->n && ok; i++)
        if (kept[i] == 0) {
            fprintf(stderr, "%s: no picture of class '%s' could be decoded\n",
                    s->c[i].files[0], s->c[i].name);
            ok = 0;
        }
    *skipped += bad;
    free(kept);
    if (!ok) cifar_free(split);
    return ok ? 0 : -1;
}

static void note_ignored(const char *root, const SplitDir *s)
{
    if (s->ignored)
        fprintf(stderr, "%s: note: %d entr%s left aside, not a .png, .jpg, .jpeg or .ppm picture "
                        "in a class folder (the first: %s)\n", root, s->ignored,
                s->ignored == 1 ? "y" : "ies", s->first_ignored);
}

int folder_load(const DataSpec *spec, CifarSplit *train, CifarSplit *test, DataInfo *info)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    struct stat st;
    int se = stat(spec->dir, &st) != 0 ? errno : 0;
    if (se || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: cannot open data directory: %s\n", spec->dir,
                se ? strerror(se) : "not a directory");
        return -1;
    }
    char *troot = join(spec->dir, "train"), *sroot = join(spec->dir, "test");
    SplitDir tr = {0}, te = {0};
    int ok = 1;
    if (!is_dir(troot)) {
        fprintf(stderr, "%s: no such folder; dataset = folder reads %s/train/CLASS/*.png (and "
                        "test/CLASS/...)\n", troot, spec->dir);
        ok = 0;
    }
    ok = ok && scan_split(troot, &tr) == 0 && check_class_count(troot, &tr) == 0;
    const int has_test = is_dir(sroot);
    int *map = NULL;
    if (ok && has_test) {
        ok = scan_split(sroot, &te) == 0;
        map = xcalloc((size_t)(te.n ? te.n : 1), sizeof *map);
        for (int i = 0; i < te.n && ok; i++) {
            const char *k = te.c[i].name;
            int found = -1;
            for (int c = 0; c < tr.n && found < 0; c++)
                if (strcmp(tr.c[c].name, k) == 0) found = c;
            if (found < 0) {
                fprintf(stderr, "%s/%s: a test class that %s does not have (the classes are "
                                "train's folders)\n", sroot, k, troot);
                ok = 0;
            }
            map[i] = found;
        }
    } else if (ok && spec->validation <= 0) {
        fprintf(stderr, "%s: no such folder; add the test pictures as %s/CLASS/*.png, or set "
                        "[data] validation = N to hold out N of the training pictures (N / "
                        "classes of each) as the test split\n", sroot, sroot);
        ok = 0;
    } else if (ok && spec->validation % tr.n != 0) {
        fprintf(stderr, "%s: no test folder: [data] validation = %d holds out the test split, "
                        "validation / classes of each class; make it a multiple of the %d "
                        "classes\n", spec->dir, spec->validation, tr.n);
        ok = 0;
    }
    Progress pg = {.dir = spec->dir, .start = now_seconds()};
    if (ok) {
        note_ignored(troot, &tr);
        if (has_test) note_ignored(sroot, &te);
        for (int i = 0; i < tr.n; i++) pg.total += tr.c[i].n;
        for (int i = 0; i < te.n; i++) pg.total += te.c[i].n;
        pg.last = pg.start;
        /* held as bytes at 32 x 32, as CIFAR-10: planned before any decoding */
        double need = (double)pg.total * CIFAR_PIXELS;
        if (spec->max_bytes > 0 && need > spec->max_bytes) {
            fprintf(stderr, "%s: %ld pictures take %.1f MiB in memory decoded at 32x32 (3 KiB "
                            "each), more than the %.1f MiB available: use a smaller folder, or "
                            "free memory\n", spec->dir, pg.total, need / 1048576.0,
                    spec->max_bytes / 1048576.0);
            ok = 0;
        }
    }
    if (ok) {
        int *ident = xmalloc(sizeof *ident * (size_t)tr.n);
        for (int i = 0; i < tr.n; i++) ident[i] = i;
        ok = decode_split(&tr, ident, spec->skip_bad_images, train, &info->skipped, &pg) == 0;
        free(ident);
        if (ok && has_test) {
            ok = decode_split(&te, map, spec->skip_bad_images, test, &info->skipped, &pg) == 0;
            if (!ok) cifar_free(train);
        }
        if (ok && pg.done > 0 && now_seconds() - pg.start >= 3.0)
            fprintf(stderr, "%s: decoded %ld pictures in %.1f s\n", spec->dir, pg.done,
                    now_seconds() - pg.start);
        if (ok && info->skipped)
            fprintf(stderr, "%s: warning: %d picture%s that could not be decoded left out "
                            "(skip_bad_images = true)\n", spec->dir, info->skipped,
                    info->skipped == 1 ? "" : "s");
    }
    if (ok && !has_test) { /* the test split: validation / classes of each class */
        int c = spec->validation < train->n ? cifar_hold_out(train, tr.n, spec->validation, test)
                                            : -2;
        if (c != -1) {
            if (c == -2)
                fprintf(stderr, "%s: no test folder: [data] validation = %d holds out all %d "
                                "training pictures; keep some to train on\n", spec->dir,
                        spec->validation, train->n);
            else
                fprintf(stderr, "%s: no test folder: [data] validation = %d needs %d pictures "
                                "of each class as the test split; class '%s' has fewer\n",
                        spec->dir, spec->validation, spec->validation / tr.n, tr.c[c].name);
            cifar_free(train);
            ok = 0;
        }
        info->test_held_out = true;
    }
    if (ok) {
        info->classes = tr.n;
        info->names = xcalloc((size_t)tr.n, sizeof *info->names);
        for (int i = 0; i < tr.n; i++) {
            info->names[i] = tr.c[i].name;
            tr.c[i].name = NULL;
        }
    }
    free(map);
    split_dir_free(&tr);
    split_dir_free(&te);
    free(troot);
    free(sroot);
    return ok ? 0 : -1;
}
