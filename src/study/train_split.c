/* train_split.c — the training images a command trains on
 * (study_training_split): the file's `train_subset` first, then `[data]
 * validation` held out (cifar_hold_out: the last N/classes of each class). `run`
 * evaluates the held-out images; `lr-find` uses the same split and drops
 * them, so neither ever trains on an image the run would validate on. Also
 * the test images `run` and `eval` evaluate (study_test_split: test_subset).
 * A subset larger than the data says so (a warning) and uses all of it. */
#include <stdio.h>

#include "cnnrun/study.h"
#include "cnnrun/data.h"
#include "cnnrun/dist.h"

/* The first `want` images of s (a [data] subset, 0 = all); a warning when s
 * has fewer. */
static void cut_to_subset(const Experiment *e, const char *key, int want, int line,
                          const char *which, CifarSplit *s)
{
    if (want <= 0) return;
    if (want < s->n) {
        cifar_truncate(s, want);
        return;
    }
    if (want == s->n || dist_rank() != 0) return;
    char at[32] = "";
    if (line > 0) snprintf(at, sizeof at, ":%d", line);
    fprintf(stderr, "%s%s: warning: %s = %d, but the data has only %d %s images: using all %d\n",
            e->path, at, key, want, s->n, which, s->n);
}

void study_test_split(const Experiment *e, CifarSplit *test)
{
    cut_to_subset(e, "test_subset", e->test_subset, e->test_subset_line, "test", test);
}

int study_training_split(const Experiment *e, CifarSplit *train, CifarSplit *val, bool held_out)
{
    cut_to_subset(e, "train_subset", e->train_subset, e->train_subset_line, "training", train);
    if (e->validation <= 0 || held_out) return 0;
    const int classes = e->classes > 0 ? e->classes : CIFAR_CLASSES;
    char line[32] = "";
    if (e->validation_line > 0) snprintf(line, sizeof line, ":%d", e->validation_line);
    if (e->validation % classes != 0 || classes > DATA_MAX_CLASSES) {
        fprintf(stderr, "%s%s: 'validation' (%d) must be a multiple of %d, the data's classes: "
                        "it holds out validation / %d images of each class\n", e->path, line,
                e->validation, classes, classes);
        return -1;
    }
    int c = e->validation < train->n ? cifar_hold_out(train, classes, e->validation, val) : -2;
    if (c == -1) return 0;
    if (c == -2)
        fprintf(stderr, "%s%s: 'validation' (%d) holds out all %d training images; keep "
                        "some to train on\n", e->path, line, e->validation, train->n);
    else
        fprintf(stderr, "%s%s: 'validation' (%d) needs %d images of each class; class %d "
                        "has fewer among the %d training images\n", e->path, line, e->validation,
                e->validation / classes, c, train->n);
    return -1;
}
