/* cmd_predict.c — `cnnrun predict FILE.ini --weights PATH [--tta ...] [--json]
 * IMAGE...`: each image decoded (src/data/image.c), resized to 32x32, made
 * into a batch exactly as a test image is (cifar_make_batch with the file's
 * normalisation), its logits with the views of --tta (tta_logits, as eval),
 * and the top-3 classes with their softmax probabilities. An image that
 * cannot be read is named once with the reason (among the answers; with
 * --json on stderr too) and the others are answered; the exit status is then 1. Names are printed escaped (escape.h): --json is
 * valid JSON whatever the file names hold, and a probability that is not a
 * number (weights that give NaN) is null. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/escape.h"
#include "cnnrun/image.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

#define TOP 3

typedef struct {
    const char *path;
    char error[256]; /* "" when decoded */
    int w, h;
    int top[TOP];
    double prob[TOP];
} Answer;

static void top_classes(const float *z, int k, Answer *a)
{
    double p[DATA_MAX_CLASSES], zmax = z[0], sum = 0;
    for (int j = 1; j < k; j++) zmax = z[j] > zmax ? z[j] : zmax;
    for (int j = 0; j < k; j++) sum += p[j] = exp((double)z[j] - zmax);
    int used[DATA_MAX_CLASSES] = {0};
    for (int r = 0; r < TOP && r < k; r++) {
        int best = -1;
        for (int j = 0; j < k; j++)
            if (!used[j] && (best < 0 || p[j] > p[best])) best = j;
        used[best] = 1;
        a->top[r] = best;
        a->prob[r] = p[best] / sum;
    }
}

static const char *tta_name(TtaMode t)
{
    return t == TTA_MIRROR_TRANSLATE ? "mirror_translate" : t == TTA_MIRROR ? "mirror" : "none";
}

int cmd_predict(CliOptions *o)
{
    Trained t;
    int rc = cli_load_trained(o, "predict", true, &t);
    if (rc != 0) return rc;
    const int n_img = o->n_files - 1, B = t.batch, K = t.m.classes;
    Answer *ans = xcalloc((size_t)n_img, sizeof *ans);
    /* the decoded images, in CIFAR-10's layout, as a split of their own */
    CifarSplit s = {.n = 0, .pixels = xmalloc((size_t)n_img * CIFAR_PIXELS),
                    .labels = xcalloc((size_t)n_img, 1)};
    int *where = xmalloc(sizeof(int) * (size_t)n_img); /* s's image i is answer where[i] */
    int status = CN_EXIT_OK;
    for (int i = 0; i < n_img; i++) {
        Answer *a = &ans[i];
        a->path = o->files[i + 1];
        Image img;
        if (image_load(a->path, &img, a->error, sizeof a->error) != 0) {
            if (!a->error[0]) str_copy(a->error, sizeof a->error, "cannot be decoded");
            if (o->json) { /* the text's answers name it (stdout); JSON's, for programs */
                fprintf(stderr, "cnnrun predict: ");
                text_put_name(stderr, a->path);
                fprintf(stderr, ": %s\n", a->error);
            }
            status = CN_EXIT_FAIL;
            continue;
        }
        a->w = img.w;
        a->h = img.h;
        image_resize_planes(&img, CIFAR_SIDE, s.pixels + (size_t)s.n * CIFAR_PIXELS);
        image_free(&img);
        where[s.n++] = i;
    }
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = t.e.normalize != NORM_NONE,
                     .mean = t.e.normalize == NORM_DATASET ? t.e.norm_mean : NULL,
                     .std = t.e.normalize == NORM_DATASET ? t.e.norm_std : NULL};
    const char *const *names = (const char *const *)t.data.names; /* the run's classes */
    float *x = alloc_floats((size_t)B * CIFAR_PIXELS);
    float *view = o->tta != TTA_NONE ? alloc_floats((size_t)B * CIFAR_PIXELS) : NULL;
    float *logits = alloc_floats((size_t)B * K);
    int *idx = xmalloc(sizeof(int) * (size_t)B);
    for (int start = 0; start < s.n; start += B) {
        int n = s.n - start < B ? s.n - start : B;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        cifar_make_batch(&s, idx, n, &plain, NULL, x, NULL);
        tta_logits(&t.m, x, n, o->tta, view, logits);
        for (int i = 0; i < n; i++) top_classes(logits + (size_t)i * K, K, &ans[where[start + i]]);
    }
    if (o->json) {
        printf("{\"experiment\": ");
        json_put_string(stdout, t.e.name);
        printf(", \"weights\": ");
        json_put_string(stdout, o->weights);
        printf(", \"tta\": \"%s\", \"resize\": \"area average (shrink), bilinear (enlarge) to "
               "32x32\", \"images\": [", tta_name(o->tta));
        for (int i = 0; i < n_img; i++) {
            const Answer *a = &ans[i];
            printf("%s\n  {\"image\": ", i ? "," : "");
            json_put_string(stdout, a->path);
            if (a->error[0]) {
                printf(", \"error\": ");
                json_put_string(stdout, a->error);
                printf("}");
                continue;
            }
            printf(", \"width\": %d, \"height\": %d, \"top\": [", a->w, a->h);
            /* weights that give NaN logits: null (JSON has no NaN) */
            for (int r = 0; r < TOP && r < K; r++) {
                printf("%s{\"class\": ", r ? ", " : "");
                json_put_string(stdout, names[a->top[r]]);
                printf(", \"probability\": ");
                if (isfinite(a->prob[r])) printf("%.6f}", a->prob[r]);
                else printf("null}");
            }
            printf("]}");
        }
        printf("\n]}\n");
    } else { /* a name with a control character (a newline) in quotes, C-escaped */
        text_put_name(stdout, o->files[0]);
        printf(": weights ");
        text_put_name(stdout, o->weights);
        printf(", tta %s, %d image%s (resized to 32x32: area average when shrinking, bilinear "
               "when enlarging)\n", tta_name(o->tta), n_img, n_img == 1 ? "" : "s");
        for (int i = 0; i < n_img; i++) {
            const Answer *a = &ans[i];
            text_put_name(stdout, a->path);
            if (a->error[0]) {
                printf(": cannot read: %s\n", a->error);
                continue;
            }
            printf(" (%dx%d):", a->w, a->h);
            for (int r = 0; r < TOP && r < K; r++)
                printf("  %s %.4f", names[a->top[r]], a->prob[r]);
            printf("\n");
        }
    }
    free(x);
    free(view);
    free(logits);
    free(idx);
    free(where);
    free(ans);
    cifar_free(&s);
    cli_free_trained(&t);
    return status;
}
