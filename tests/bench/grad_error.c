/* grad_error.c — how far bf16's gradients are from fp32's, layer by layer
 * (docs/seed-study.md, issue 35): one batch of real training images, one
 * set of weights (the experiment's initialisation from a seed, or a
 * checkpoint's), forward and backward once in fp32 and once in bf16 with each
 * convolution algorithm forced in turn (and as the tuner's wisdom file has
 * them). Prints, per layer with parameters, ||g_bf16 - g_fp32|| / ||g_fp32||
 * of its weight gradient, and the loss of each. What a training curve cannot
 * show: which layer's products lose what. tests/bench/grad_error_torch.py
 * prints the same for PyTorch's bf16 autocast.
 *   build/tests/grad_error EXPERIMENT.ini DATA_DIR [N] [SEED] [CHECKPOINT] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

typedef struct {
    Experiment e;
    Model m;
    double loss;
} Net;

/* builds path's network in `precision` ("fp32", "bf16") with the
 * convolutions forced to algo (CONV_AUTO: the tuner's wisdom, measured if
 * missing); -1 where the experiment or the model cannot be built */
static int build(Net *n, const char *path, const char *precision, int algo, int batch)
{
    ConfigOverride o = {.section = "experiment", .key = "precision", .value = precision};
    if (experiment_load(path, &o, 1, &n->e) != 0) return -1;
    if (algo != CONV_AUTO) {
        n->e.engine.conv = CONV_CHOICE_FORCED;
        n->e.engine.conv_forced = algo;
    } else {
        n->e.engine.conv = CONV_CHOICE_TUNE;
    }
    if (model_build(&n->e, batch, &n->m) != 0) return -1;
    if (algo == CONV_AUTO) model_tune_convs(&n->m, NULL);
    return 0;
}

static void step(Net *n, const float *x, const int *labels, int batch)
{
    model_forward(&n->m, x, batch, true);
    n->loss = softmax_xent(batch, n->m.classes, model_logits(&n->m), labels, model_dlogits(&n->m),
                           1.0f / batch, NULL);
    model_zero_grad(&n->m);
    model_backward(&n->m, x, batch);
}

static double rel_err(const float *a, const float *ref, size_t len)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < len; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: grad_error EXPERIMENT.ini DATA_DIR [N] [SEED] [CHECKPOINT]\n");
        return 2;
    }
    const char *path = argv[1], *dir = argv[2], *ckpt = argc > 5 ? argv[5] : NULL;
    const int batch = argc > 3 ? atoi(argv[3]) : 128;
    const uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    engine_set_threads(2);
    CifarSplit train, test;
    if (cifar_load(dir, &train, &test) != 0 || train.n < batch) return 1;
    float *x = alloc_floats((size_t)batch * 3072);
    int *labels = xcalloc((size_t)batch, sizeof *labels), *idx = xcalloc((size_t)batch, sizeof *idx);
    for (int i = 0; i < batch; i++) idx[i] = i;
    Augment aug = {.normalize = true};
    Rng r;
    rng_seed(&r, seed, 0);
    cifar_make_batch(&train, idx, batch, &aug, &r, x, labels);

    Net ref;
    if (build(&ref, path, "fp32", CONV_IM2COL, batch) != 0) return 1;
    model_init_params(&ref.m, seed);
    if (ckpt) { /* its weights only: the algorithms it records may be bf16's */
        Net load;
        if (build(&load, path, "fp32", CONV_IM2COL, 1) != 0 ||
            checkpoint_load(ckpt, &load.m, NULL, NULL) != 0)
            return 1;
        memcpy(ref.m.params, load.m.params, sizeof(float) * ref.m.n_params);
        memcpy(ref.m.state, load.m.state, sizeof(float) * ref.m.n_state);
        model_free(&load.m);
        experiment_free(&load.e);
    }
    step(&ref, x, labels, batch);

    /* the last: fp32 on another algorithm, what fp32's own rounding moves */
    static const int algos[] = {CONV_AUTO, CONV_IM2COL, CONV_WINOGRAD, CONV_WINOGRAD4, CONV_ONEDNN,
                                CONV_WINOGRAD};
    enum { N_ALGOS = sizeof algos / sizeof algos[0] };
    Net nets[N_ALGOS];
    for (int a = 0; a < N_ALGOS; a++) {
        if (build(&nets[a], path, a == N_ALGOS - 1 ? "fp32" : "bf16", algos[a], batch) != 0)
            return 1;
        memcpy(nets[a].m.params, ref.m.params, sizeof(float) * ref.m.n_params);
        memcpy(nets[a].m.state, ref.m.state, sizeof(float) * ref.m.n_state);
        step(&nets[a], x, labels, batch);
    }
    printf("%s, batch %d of training images, %s; bf16 weight gradients' relative error "
           "||g - g_fp32|| / ||g_fp32||, by the convolutions' algorithm\n",
           path, batch, ckpt ? ckpt : "initial weights");
    printf("%-22s %-8s", "layer", "params");
    for (int a = 0; a < N_ALGOS; a++)
        printf(" %10s", a == N_ALGOS - 1 ? "fp32 wino"
                        : algos[a] == CONV_AUTO ? "tuned" : conv_algo_name(algos[a]));
    printf("\n%-22s %-8s", "loss (fp32)", "");
    printf(" %10.6f\n%-22s %-8s", ref.loss / batch, "loss - fp32's", "");
    for (int a = 0; a < N_ALGOS; a++) printf(" %+10.2e", (nets[a].loss - ref.loss) / batch);
    printf("\n");
    double worst[N_ALGOS] = {0};
    for (int i = 0; i < ref.m.n_nodes; i++) {
        const Node *n = &ref.m.nodes[i];
        if (!n->w_len) continue;
        printf("%-22s %-8zu", n->name, n->w_len);
        for (int a = 0; a < N_ALGOS; a++) {
            const Node *b = &nets[a].m.nodes[i];
            double e = rel_err(nets[a].m.grads + n->w_off, ref.m.grads + n->w_off, n->w_len);
            if (e > worst[a]) worst[a] = e;
            printf(" %9.2e%s", e,
                   n->op == OP_CONV ? (b->algo == CONV_ONEDNN    ? "o"
                                       : b->algo == CONV_WINOGRAD ? "w"
                                       : b->algo == CONV_WINOGRAD4 ? "4"
                                                                   : "i")
                                    : " ");
        }
        printf("\n");
    }
    printf("%-22s %-8s", "worst", "");
    for (int a = 0; a < N_ALGOS; a++) printf(" %9.2e ", worst[a]);
    printf("\n%-22s %-8s", "all parameters", "");
    for (int a = 0; a < N_ALGOS; a++)
        printf(" %9.2e ", rel_err(nets[a].m.grads, ref.m.grads, ref.m.n_params));
    printf("\n(after each: the algorithm that conv ran: i im2col, w winograd F(2x2), 4 winograd "
           "F(4x4), o oneDNN; where one is not eligible, another ran)\n");
    for (int a = 0; a < N_ALGOS; a++) model_free(&nets[a].m), experiment_free(&nets[a].e);
    model_free(&ref.m), experiment_free(&ref.e);
    cifar_free(&train), cifar_free(&test);
    free(x), free(labels), free(idx);
    return 0;
}
