/* train_split.c — the training images a command trains on
 * (cli_training_split): the file's `train_subset` first, then `[data]
 * validation` held out (cifar_hold_out: the last N/10 of each class). `run`
 * evaluates the held-out images; `lr-find` uses the same split and drops
 * them, so neither ever trains on an image the run would validate on. */
#include <stdio.h>

#include "cli.h"
#include "cnnrun/data.h"

int cli_training_split(const Experiment *e, CifarSplit *train, CifarSplit *val)
{
    if (e->train_subset && e->train_subset < train->n) cifar_truncate(train, e->train_subset);
    if (e->validation <= 0) return 0;
    int c = e->validation < train->n ? cifar_hold_out(train, e->validation, val) : -2;
    if (c == -1) return 0;
    char line[32] = "";
    if (e->validation_line > 0) snprintf(line, sizeof line, ":%d", e->validation_line);
    if (c == -2)
        fprintf(stderr, "%s%s: 'validation' (%d) holds out all %d training images; keep "
                        "some to train on\n", e->path, line, e->validation, train->n);
    else
        fprintf(stderr, "%s%s: 'validation' (%d) needs %d images of each class; class %d "
                        "has fewer among the %d training images\n", e->path, line, e->validation,
                e->validation / CIFAR_CLASSES, c, train->n);
    return -1;
}
