/* eval.c — `cnnrun eval FILE.ini --weights PATH [--tta flip]`: loads a
 * checkpoint's weights (and BN statistics) into the network of FILE.ini and
 * prints test loss, accuracy, per-class accuracy and the confusion matrix.
 * With --tta flip each image's prediction is the mean of the softmax
 * probabilities of the image and its mirror image (loss = -log of that mean
 * at the true class). Writes nothing. Last line: test_acc=<fraction>. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"

static const char *const class_names[CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

/* Mirrors n NHWC images left-right in place. */
static void mirror(float *x, int n)
{
    const int W = CIFAR_SIDE, C = CIFAR_CHANNELS;
    for (int i = 0; i < n * CIFAR_SIDE; i++) {
        float *row = x + (size_t)i * W * C;
        for (int a = 0, b = W - 1; a < b; a++, b--)
            for (int c = 0; c < C; c++) {
                float t = row[a * C + c];
                row[a * C + c] = row[b * C + c];
                row[b * C + c] = t;
            }
    }
}

/* Softmax of each row of (n, k) logits added into probs. */
static void add_softmax(const float *z, int n, int k, double *probs)
{
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * k;
        float mx = r[0];
        for (int j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
        double sum = 0;
        for (int j = 0; j < k; j++) sum += exp((double)(r[j] - mx));
        for (int j = 0; j < k; j++) probs[(size_t)i * k + j] += exp((double)(r[j] - mx)) / sum;
    }
}

int cmd_eval(CliOptions *o)
{
    if (!o->weights) {
        fprintf(stderr, "cnnrun eval: --weights PATH is required (a .ckpt file written by "
                        "`cnnrun run`, e.g. results/checkpoints/NAME-ID-best.ckpt)\n");
        return CN_EXIT_USAGE;
    }
    if (o->n_files != 1) {
        fprintf(stderr, "cnnrun eval: give exactly one experiment file\n");
        return CN_EXIT_USAGE;
    }
    Experiment e;
    if (experiment_load(o->files[0], o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    /* memory is planned as for training: batches of at most batch_size */
    const int B = e.test_batch_size < e.batch_size ? e.test_batch_size : e.batch_size;
    int threads = cli_setup_threads(o->threads); /* before model_build: it plans per thread */
    Model m;
    if (model_build(&e, B, &m) != 0) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    if (m.classes != CIFAR_CLASSES) {
        fprintf(stderr, "%s: the network has %d outputs; eval needs %d (CIFAR-10 classes)\n",
                o->files[0], m.classes, CIFAR_CLASSES);
        model_free(&m);
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    CheckpointMeta meta;
    int rc = checkpoint_load(o->weights, &m, NULL, &meta);
    if (rc != 0) {
        model_free(&m);
        experiment_free(&e);
        return rc;
    }
    const char *origin;
    const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
    CifarSplit train, test;
    if (cifar_load(dir, &train, &test) != 0) {
        model_free(&m);
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    cifar_free(&train);
    if (e.test_subset && e.test_subset < test.n) cifar_truncate(&test, e.test_subset);

    const int K = CIFAR_CLASSES;
    Augment plain = {.crop_pad = 0, .flip = false, .normalize = e.normalize};
    float *x = alloc_floats((size_t)B * CIFAR_PIXELS);
    int *labels = xmalloc(sizeof(int) * (size_t)B);
    int *idx = xmalloc(sizeof(int) * (size_t)B);
    double *probs = xmalloc(sizeof(double) * (size_t)B * K);
    long confusion[CIFAR_CLASSES][CIFAR_CLASSES];
    memset(confusion, 0, sizeof confusion);
    double loss = 0;
    int correct = 0;
    const int views = o->tta_flip ? 2 : 1;
    for (int start = 0; start < test.n; start += B) {
        int n = test.n - start < B ? test.n - start : B;
        for (int i = 0; i < n; i++) idx[i] = start + i;
        cifar_make_batch(&test, idx, n, &plain, NULL, x, labels);
        memset(probs, 0, sizeof(double) * (size_t)n * K);
        for (int v = 0; v < views; v++) {
            if (v == 1) mirror(x, n);
            model_forward(&m, x, n, false);
            add_softmax(model_logits(&m), n, K, probs);
        }
        for (int i = 0; i < n; i++) {
            double *p = probs + (size_t)i * K;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (p[j] > p[best]) best = j;
            double pt = p[labels[i]] / views;
            loss += -log(pt > 1e-300 ? pt : 1e-300);
            correct += best == labels[i];
            confusion[labels[i]][best]++;
        }
    }
    double acc = test.n ? (double)correct / test.n : 0;
    printf("%s: weights %s (experiment %s, run %lld, epoch %d), %d test images from %s (%s), "
           "tta %s, %d threads\n",
           o->files[0], o->weights, meta.experiment, (long long)meta.run_id, meta.epoch, test.n,
           dir, origin, o->tta_flip ? "flip (mean softmax of image and mirror)" : "none",
           threads);
    printf("test loss %.4f  accuracy %.4f (%d/%d)\n\n", test.n ? loss / test.n : 0, acc, correct,
           test.n);
    printf("%-12s %8s %7s\n", "class", "accuracy", "images");
    for (int c = 0; c < K; c++) {
        long row = 0;
        for (int j = 0; j < K; j++) row += confusion[c][j];
        printf("%-12s %8.4f %7ld\n", class_names[c], row ? (double)confusion[c][c] / row : 0.0,
               row);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
    for (int j = 0; j < K; j++) printf(" %5.5s", class_names[j]);
    printf("\n");
    for (int c = 0; c < K; c++) {
        printf("%-12s", class_names[c]);
        for (int j = 0; j < K; j++) printf(" %5ld", confusion[c][j]);
        printf("\n");
    }
    printf("test_acc=%.4f\n", acc);
    free(x);
    free(labels);
    free(idx);
    free(probs);
    cifar_free(&test);
    model_free(&m);
    experiment_free(&e);
    return CN_EXIT_OK;
}
