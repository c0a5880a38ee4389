/* cmd_tune.c — `cnnrun tune FILE.ini ...`: each convolution's algorithm
 * chosen ahead of training, as a run would choose it (the same batch,
 * threads and engine settings), and said: one line per convolution with the
 * times of its algorithms and the choice, measured now or kept in the
 * machine's wisdom file from before. A later run, sweep point, --jobs worker
 * or resume on this machine then takes the choice from the file without
 * timing. CNNRUN_CONV=retune measures again. */
#include <stdio.h>
#include <string.h>

#include "cnnrun/model.h"
#include "cnnrun/util.h"
#include "cli.h"

static int tune_file(CliOptions *o, const char *path, int threads)
{
    Experiment e;
    if (experiment_load(path, o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    e.engine = o->engine;
    Model m;
    if (model_build(&e, e.batch_size, &m) != 0) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    printf("%s: %s, batch %d, %d thread%s\n", path, e.name, e.batch_size, threads,
           threads == 1 ? "" : "s");
    printf("  %-14s %-31s %-48s %-10s %s\n", "convolution", "shape (C_in x HxW -> C_out)",
           "forward + backward, ms (best of 5)", "algorithm", "");
    model_tune_convs(&m, stdout);
    model_print_conv_choice(&m, stdout);
    model_free(&m);
    experiment_free(&e);
    return CN_EXIT_OK;
}

int cmd_tune(CliOptions *o)
{
    if (o->engine.conv != CONV_CHOICE_TUNE && o->engine.conv != CONV_CHOICE_RETUNE) {
        char text[128];
        engine_settings_text(&o->engine, text, sizeof text);
        fprintf(stderr, "cnnrun tune: the environment asks not to measure (%s: CNNRUN_CONV is "
                        "set); unset it, or CNNRUN_CONV=retune to measure again\n", text);
        return CN_EXIT_USAGE;
    }
    int threads = study_setup_threads(o->threads);
    for (int i = 0; i < o->n_files; i++) {
        int rc = tune_file(o, o->files[i], threads);
        if (rc != CN_EXIT_OK) return rc;
    }
    return CN_EXIT_OK;
}
