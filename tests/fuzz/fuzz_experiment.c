/* fuzz_experiment.c — libFuzzer harness over the experiment-file parser,
 * its [sweep] section and the model builder: any byte string is written as
 * an .ini file, parsed, and when it parses, built into a graph (shapes and
 * counts only); its sweep is read, and its first and last grid points are
 * loaded and built too. It must never crash, hang or trip ASan/UBSan;
 * errors are the expected outcome. Build and run: see tests/fuzz/README.md. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cnnrun/config.h"
#include "cnnrun/model.h"

static char path[64];
static int null_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/cnnrun_fuzz_%d.ini", (int)getpid());
    null_fd = open("/dev/null", O_WRONLY);
    return 0;
}

static void load_and_build(const ConfigOverride *ov, int n)
{
    Experiment e;
    if (experiment_load(path, ov, n, &e) == 0) {
        Model m;
        if (model_build(&e, 0, &m) == 0) model_free(&m);
        experiment_free(&e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    /* error messages are the normal outcome: keep them off libFuzzer's stderr */
    fflush(stderr);
    int saved = dup(2);
    dup2(null_fd, 2);
    load_and_build(NULL, 0);
    Sweep sw;
    if (sweep_load(path, NULL, 0, NULL, 0, &sw) == 0 && sw.n_keys > 0) {
        ConfigOverride ov[CN_SWEEP_MAX_KEYS];
        sweep_point(&sw, 0, ov);
        load_and_build(ov, sw.n_keys);
        sweep_point(&sw, sw.n_points - 1, ov);
        load_and_build(ov, sw.n_keys);
        char text[512];
        sweep_point_text(&sw, sw.n_points - 1, text, sizeof text);
    }
    char rule[256]; /* [sweep] prune and its keys */
    prune_rule_text(&sw.prune, rule, sizeof rule);
    sweep_free(&sw);
    sweep_unapplied(path, NULL, 0, &sw);
    sweep_free(&sw);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return 0;
}
