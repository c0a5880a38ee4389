/* cmd_eval.c — `cnnrun eval FILE.ini --weights PATH [--tta flip]`: loads a
 * checkpoint's weights (and BN statistics) into the network of FILE.ini and
 * prints test loss, accuracy, per-class accuracy and the confusion matrix.
 * With --tta mirror (or flip) / mirror_translate each image's prediction is
 * the weighted mean of its views' logits, exactly as the trainer's final
 * evaluation with [experiment] tta computes it (tta_logits). --logits FILE
 * writes every test image's label and logits (what tests/onnx_check.py
 * compares an exported model with); nothing else is written.
 * Last line: test_acc=<fraction>. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* the confusion matrix is printed for at most this many classes */
#define CONFUSION_MAX 20

int cmd_eval(CliOptions *o)
{
    Trained t;
    int rc = cli_load_trained(o, "eval", false, &t);
    if (rc != 0) return rc;
    const Experiment *e = &t.e;
    Model *m = &t.m;
    const CheckpointMeta *meta = &t.meta;
    const int B = t.batch, threads = t.threads;
    const char *origin;
    const char *dir = cifar_resolve_dir(o->data, e->dir, &origin);
    if (!dir) { /* CNNRUN_DATA set but empty: printed */
        cli_free_trained(&t);
        return CN_EXIT_USAGE;
    }
    if (o->logits &&
        (rc = cli_check_output(o, o->logits, FILE_LOGITS, "the logits", dir)) != 0) {
        cli_free_trained(&t); /* found now, not after the whole evaluation */
        return rc;
    }
    /* the test images of the file's data set, with the run's classes and
     * statistics (t.e has them from the checkpoint: loaded into a copy) */
    Experiment le = t.e;
    LoadedData d;
    if ((rc = study_load_data(o->data, &le, &d)) != 0) {
        study_free_data(&d);
        cli_free_trained(&t);
        return rc;
    }
    const DataInfo *run = &t.data;
    if (strcmp(d.info.dataset, run->dataset) != 0 || d.info.classes != run->classes ||
        d.info.names_hash != run->names_hash) {
        fprintf(stderr, "%s: the checkpoint was trained on %s data with %d classes (%s, ...); %s "
                        "holds %s data with %d classes (%s, ...): its labels would not be the "
                        "network's; evaluate on the data it was trained on\n",
                o->weights, run->dataset, run->classes, run->names[0], dir, d.info.dataset,
                d.info.classes, d.info.names[0]);
        study_free_data(&d);
        cli_free_trained(&t);
        return CN_EXIT_USAGE;
    }
    cifar_free(&d.train);
    CifarSplit test = d.test;
    study_test_split(e, &test);

    const int K = m->classes;
    const char *const *names = (const char *const *)run->names;
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = e->normalize != NORM_NONE,
                     .mean = e->normalize == NORM_DATASET ? e->norm_mean : NULL,
                     .std = e->normalize == NORM_DATASET ? e->norm_std : NULL};
    float *x = alloc_floats((size_t)B * CIFAR_PIXELS);
    int *labels = xmalloc(sizeof(int) * (size_t)B);
    int *idx = xmalloc(sizeof(int) * (size_t)B);
    float *view = o->tta != TTA_NONE ? alloc_floats((size_t)B * CIFAR_PIXELS) : NULL;
    float *logits = alloc_floats((size_t)B * K);
    /* --logits FILE: one line per test image, its label and logits (%.9g: the
     * floats exactly), written at the end, atomically */
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *df = o->logits ? open_memstream(&dump, &dump_len) : NULL;
    if (o->logits && !df) { /* else the file asked for would silently not be written */
        fprintf(stderr, "cnnrun eval: --logits %s: %s\n", o->logits, strerror(errno));
        free(x), free(labels), free(idx), free(view), free(logits);
        study_free_data(&d);
        cli_free_trained(&t);
        return CN_EXIT_FAIL;
    }
    if (df) fprintf(df, CN_LOGITS_SIGNATURE "%s --weights %s: label, then the %d logits of each "
                    "test image\n", o->files[0], o->weights, K);
    long *confusion = xcalloc((size_t)K * K, sizeof *confusion); /* [true][predicted] */
    double loss = 0;
    int correct = 0;
    for (int start = 0; start < test.n; start += B) {
        int n = test.n - start < B ? test.n - start : B;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        cifar_make_batch(&test, idx, n, &plain, NULL, x, labels);
        tta_logits(m, x, n, o->tta, view, logits);
        for (int i = 0; i < n; i++) {
            const float *z = logits + (size_t)i * K;
            if (df) {
                fprintf(df, "%d", labels[i]);
                for (int j = 0; j < K; j++) fprintf(df, " %.9g", z[j]);
                fputc('\n', df);
            }
            int best = 0;
            for (int j = 1; j < K; j++)
                if (z[j] > z[best]) best = j;
            double sum = 0; /* cross-entropy of the combined logits, as the trainer's */
            for (int j = 0; j < K; j++) sum += exp((double)z[j] - z[best]);
            loss += log(sum) - ((double)z[labels[i]] - z[best]);
            correct += best == labels[i];
            confusion[(size_t)labels[i] * K + best]++;
        }
    }
    int status = CN_EXIT_OK;
    if (df) {
        if (fclose(df) != 0) {
            fprintf(stderr, "cnnrun eval: --logits %s: %s\n", o->logits, strerror(errno));
            status = CN_EXIT_FAIL;
        } else {
            int w = write_file_atomic(o->logits, FILE_LOGITS, dump, dump_len, "the logits");
            if (w) status = w == -1 ? CN_EXIT_USAGE : CN_EXIT_FAIL; /* a wrong path; I/O */
        }
        free(dump);
    }
    double acc = test.n ? (double)correct / test.n : 0;
    printf("%s: weights %s (experiment %s, run %lld, epoch %d), %d test images from %s (%s), "
           "tta %s, %d threads\n",
           o->files[0], o->weights, meta->experiment, (long long)meta->run_id, meta->epoch, test.n,
           dir, origin, o->tta == TTA_MIRROR_TRANSLATE ? "mirror_translate (6 views, weighted mean of logits)"
           : o->tta == TTA_MIRROR         ? "mirror (2 views, mean of logits)"
                                          : "none",
           threads);
    printf("test loss %.4f  accuracy %.4f (%d/%d)\n\n", test.n ? loss / test.n : 0, acc, correct,
           test.n);
    printf("%-12s %8s %7s\n", "class", "accuracy", "images");
    for (int c = 0; c < K; c++) {
        long row = 0;
        for (int j = 0; j < K; j++) row += confusion[(size_t)c * K + j];
        printf("%-12s %8.4f %7ld\n", names[c],
               row ? (double)confusion[(size_t)c * K + c] / row : 0.0, row);
    }
    if (K <= CONFUSION_MAX) {
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
        for (int j = 0; j < K; j++) printf(" %5.5s", names[j]);
        printf("\n");
        for (int c = 0; c < K; c++) {
            printf("%-12.12s", names[c]);
            for (int j = 0; j < K; j++) printf(" %5ld", confusion[(size_t)c * K + j]);
            printf("\n");
        }
    } else {
        printf("\n(no confusion matrix: %d classes are too many columns for a terminal; "
               "--logits FILE has every test image's label and logits)\n", K);
    }
    printf("test_acc=%.4f\n", acc);
    free(x);
    free(labels);
    free(idx);
    free(view);
    free(logits);
    free(confusion);
    study_free_data(&d);
    cli_free_trained(&t);
    return status;
}
