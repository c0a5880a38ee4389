/* fuzz_experiment.c — libFuzzer harness over the experiment-file parser,
 * its [sweep] section, the model builder and the checkpoint reader: any byte
 * string is written as an .ini file, parsed, and when it parses, built into a
 * graph (shapes and counts only); its sweep is read (a random search's points
 * drawn), and its first and last grid points are loaded and built too. The
 * same bytes are then read as a checkpoint (header first, then the rest:
 * checkpoint_read_meta, and checkpoint_load into the network of TINY, whose
 * real checkpoint is tests/fuzz/seeds/tiny.ckpt). It must never crash, hang
 * or trip ASan/UBSan; errors are the expected outcome. Build and run: see
 * tests/fuzz/README.md. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/config.h"
#include "cnnrun/files.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"

static char path[64], ckpt_path[64];
static int null_fd = -1;

/* The network tests/fuzz/seeds/tiny.ckpt holds (1 epoch on the sample). */
static const char TINY[] =
    "[experiment]\nname = fz\nepochs = 1\n[data]\nbatch_size = 50\ntrain_subset = 100\n"
    "test_subset = 50\n[optimizer]\ntype = sgd\nmomentum = 0.9\n[schedule]\ntype = constant\n"
    "lr = 0.01\n[layer.c1]\ntype = conv\nfilters = 4\nstride = 4\nbatchnorm = true\n"
    "activation = relu\n[layer.gp]\ntype = global_avgpool\n[layer.fc]\ntype = linear\n"
    "outputs = 10\n";
static Experiment tiny_e;
static Model tiny_m;
static Optimizer tiny_o;
static int have_tiny;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/cnnrun_fuzz_%d.ini", (int)getpid());
    snprintf(ckpt_path, sizeof ckpt_path, "/tmp/cnnrun_fuzz_%d.ckpt", (int)getpid());
    null_fd = open("/dev/null", O_WRONLY);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(TINY, f) < 0 || fclose(f) != 0) abort();
    have_tiny = experiment_load(path, NULL, 0, &tiny_e) == 0 && model_build(&tiny_e, 1, &tiny_m) == 0;
    if (!have_tiny) abort();
    optimizer_init(&tiny_o, &tiny_e, tiny_m.n_params);
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
    /* the bytes as a checkpoint: read by its header first (a size it does not
     * allow is refused before anything is read), then the rest */
    f = fopen(ckpt_path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    CheckpointMeta meta;
    checkpoint_read_meta(ckpt_path, &meta);
    checkpoint_load(ckpt_path, &tiny_m, &tiny_o, &meta);
    file_kind_name(file_kind(ckpt_path)); /* what an output check makes of the bytes */
    /* the bytes as the engine settings a run recorded (runs.engine) */
    char text[300];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    EngineSettings es = {0};
    engine_settings_parse(text, &es);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return 0;
}
