/* trained.c — a trained network for the commands that use one (eval,
 * export, predict): the experiment file, its network built for batches of
 * min(test_batch_size, batch_size) images (predict: no more than its
 * images), and the checkpoint's weights and batch-norm statistics loaded
 * into it, with the run's data the checkpoint records (its class names,
 * the statistics of normalize = dataset); each problem printed once, with
 * the exit status it calls for. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/util.h"

/* The run's data as the checkpoint at path records it (a checkpoint from
 * before: CIFAR-10) into *info, and from it e's classes and, with normalize
 * = dataset, its statistics. 0 or the exit status (printed). */
static int run_data(const char *path, Experiment *e, DataInfo *info)
{
    char *text = NULL;
    int rc = checkpoint_read_data(path, &text);
    if (rc != 0) return rc;
    float mean[3], std[3];
    int have_stats = 0;
    if (!text) {
        data_info_cifar10(info);
    } else if (data_info_parse(text, info, mean, std, &have_stats) != 0) {
        fprintf(stderr, "%s: the checkpoint's record of its data is unreadable\n", path);
        free(text);
        return CN_EXIT_FAIL;
    }
    free(text);
    if (e->normalize == NORM_DATASET && !have_stats) {
        fprintf(stderr, "%s: the checkpoint records no training-image statistics, which %s's "
                        "normalize = dataset needs; use the experiment file it was trained "
                        "with\n", path, e->path);
        data_info_free(info);
        return CN_EXIT_USAGE;
    }
    if (e->classes > 0 && e->classes != info->classes) {
        fprintf(stderr, "%s: the checkpoint was trained on %s data with %d classes; %s's [data] "
                        "(dataset = %s%s) has %d; use the experiment file it was trained with\n",
                path, info->dataset, info->classes, e->path, e->dataset,
                !strcmp(e->dataset, "cifar100") ? (e->label_coarse ? ", label = coarse"
                                                                  : ", label = fine") : "",
                e->classes);
        data_info_free(info);
        return CN_EXIT_USAGE;
    }
    if (e->normalize == NORM_DATASET) {
        memcpy(e->norm_mean, mean, sizeof mean);
        memcpy(e->norm_std, std, sizeof std);
    }
    e->classes = info->classes;
    return 0;
}

/* The values of n floats at v that are NaN or infinite. */
static size_t count_not_finite(const float *v, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += !isfinite(v[i]);
    return bad;
}

/* A checkpoint whose weights or batch-norm statistics hold NaN or infinity
 * (a run that diverged between two evaluations wrote it) answers nothing:
 * every logit, every exported weight is NaN. CN_EXIT_FAIL after saying so,
 * naming the file; else 0. */
static int finite_weights(const char *path, const char *command, const Model *m)
{
    size_t bad = count_not_finite(m->params, m->n_params),
           bad_state = count_not_finite(m->state, m->n_state);
    if (bad == 0 && bad_state == 0) return 0;
    fprintf(stderr, "%s: the checkpoint's weights are not finite: %zu of its %zu parameters and "
                    "%zu of its %zu batch-norm statistics are NaN or infinite (the run diverged "
                    "before it was written): every answer of cnnrun %s would be NaN\n",
            path, bad, m->n_params, bad_state, m->n_state, command);
    fprintf(stderr, "HINT: use an earlier checkpoint of the run (its -best.ckpt), or train again "
                    "with a lower learning rate\n");
    return CN_EXIT_FAIL;
}

int cli_load_trained(const CliOptions *o, const char *command, bool images, Trained *t)
{
    memset(t, 0, sizeof *t);
    if (!o->weights) {
        fprintf(stderr, "cnnrun %s: --weights PATH is required (a .ckpt file written by "
                        "`cnnrun run`, e.g. results/checkpoints/NAME-ID-best.ckpt)\n", command);
        return CN_EXIT_USAGE;
    }
    if (!images && o->n_files != 1) {
        fprintf(stderr, "cnnrun %s: give exactly one experiment file\n", command);
        return CN_EXIT_USAGE;
    }
    if (images && o->n_files < 2) {
        fprintf(stderr, "cnnrun %s: give the experiment file, then at least one image\n",
                command);
        return CN_EXIT_USAGE;
    }
    if (access(o->weights, R_OK) != 0) { /* a wrong path: the command line's fault */
        fprintf(stderr, "%s: cannot read the checkpoint: %s\n", o->weights, strerror(errno));
        return CN_EXIT_USAGE;
    }
    if (experiment_load(o->files[0], o->sets, o->n_sets, &t->e) != 0) return CN_EXIT_USAGE;
    t->e.engine = o->engine;
    grid_note_unswept(o->files[0], o->sets, o->n_sets, command);
    int rc = run_data(o->weights, &t->e, &t->data);
    if (rc != 0) {
        experiment_free(&t->e);
        return rc;
    }
    /* memory is planned as for training: batches of at most batch_size; a
     * few images to predict need no more than their number (the flagship's
     * batch of 2000 took ~3 s to set up for one picture) */
    t->batch = t->e.test_batch_size < t->e.batch_size ? t->e.test_batch_size : t->e.batch_size;
    if (images && o->n_files - 1 < t->batch) t->batch = o->n_files - 1;
    t->threads = study_setup_threads(o->threads); /* before model_build: it plans per thread */
    /* eval and predict run the network's products (export writes its weights) */
    if (strcmp(command, "export") != 0 &&
        study_address_space_fits(o->files[0], &t->e, t->batch, t->threads) != 0) {
        experiment_free(&t->e); /* out of memory under ulimit -v: said */
        return CN_EXIT_FAIL;
    }
    if (model_build(&t->e, t->batch, &t->m) != 0) { /* one output per class of the run's data */
        experiment_free(&t->e);
        data_info_free(&t->data);
        return CN_EXIT_USAGE;
    }
    rc = checkpoint_load(o->weights, &t->m, NULL, &t->meta);
    if (rc == 0) rc = finite_weights(o->weights, command, &t->m);
    if (rc != 0) {
        cli_free_trained(t);
        return rc;
    }
    return CN_EXIT_OK;
}

void cli_free_trained(Trained *t)
{
    model_free(&t->m);
    experiment_free(&t->e);
    data_info_free(&t->data);
}
