/* data_source.c — the data a command trains or evaluates on: the
 * directory (--data, [data] dir, $CNNRUN_DATA, the embedded sample) and the
 * data set `[data] dataset` names, loaded (data_load) with what follows from
 * it for the experiment — the number of classes its network must give, and
 * with `normalize = dataset` the training images' statistics; and, for
 * `check` and the check before a run, a folder's classes counted without
 * decoding a picture. */
#include <stdio.h>
#include <string.h>

#include "cnnrun/study.h"
#include "cnnrun/data.h"
#include "cnnrun/util.h"

static DataSpec spec_of(const Experiment *e, const char *dir)
{
    return (DataSpec){.dataset = e->dataset, .dir = dir, .coarse = e->label_coarse,
                      .skip_bad_images = e->skip_bad_images, .validation = e->validation,
                      .max_bytes = study_available_bytes()};
}

int study_load_data(const char *data_opt, Experiment *e, LoadedData *d)
{
    memset(d, 0, sizeof *d);
    d->dir = cifar_resolve_dir(data_opt, e->dir, &d->origin);
    if (!d->dir) return CN_EXIT_USAGE; /* an empty --data or CNNRUN_DATA: printed */
    DataSpec spec = spec_of(e, d->dir);
    if (data_load(&spec, &d->train, &d->test, &d->info) != 0) return CN_EXIT_FAIL;
    e->classes = d->info.classes;
    if (e->normalize == NORM_DATASET) data_channel_stats(&d->train, e->norm_mean, e->norm_std);
    return 0;
}

void study_free_data(LoadedData *d)
{
    cifar_free(&d->train);
    cifar_free(&d->test);
    data_info_free(&d->info);
}

int study_count_classes(const char *data_opt, Experiment *e)
{
    if (strcmp(e->dataset, "folder") != 0) return 0;
    const char *origin;
    const char *dir = cifar_resolve_dir(data_opt, e->dir, &origin);
    if (!dir) return -1;
    DataSpec spec = spec_of(e, dir);
    int classes = 0;
    if (data_peek_classes(&spec, &classes) != 0) return -1;
    e->classes = classes;
    if (e->validation % classes != 0) {
        char line[32] = "";
        if (e->validation_line > 0) snprintf(line, sizeof line, ":%d", e->validation_line);
        fprintf(stderr, "%s%s: 'validation' (%d) must be a multiple of %d, the classes of %s: it "
                        "holds out validation / %d images of each class\n", e->path, line,
                e->validation, classes, dir, classes);
        return -1;
    }
    return 0;
}
