/* session.c — a training session (train.h): the setup that `cnnrun run`,
 * `lr-find` and `bench` share (network, its convolutions' algorithms
 * measured, initial parameters, optimizer, buffers, data order and RNG
 * streams) and the parts of one training step over it. */
#include <stdlib.h>

#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

int session_open(Session *s, const Experiment *e, int batch, int n_train)
{
    *s = (Session){.e = e, .batch = batch, .n_train = n_train,
                   .steps_per_epoch = n_train > 0 ? train_steps_per_epoch(e, n_train) : 0,
                   .best_acc = -1};
    if (model_build(e, batch, &s->model) != 0) return CN_EXIT_USAGE;
    model_tune_convs(&s->model); /* unless CNNRUN_CONV chose them already */
    model_init_params(&s->model, e->seed);
    optimizer_init(&s->opt, e, s->model.n_params);
    /* [group.*] and no_decay_bn_bias over this network; epochs of a group in
     * steps (bench, without data: those of the full training set) */
    int spe = s->steps_per_epoch > 0 ? s->steps_per_epoch
                                     : train_steps_per_epoch(e, 5 * CIFAR_FILE_RECORDS);
    s->run = train_run_length(e, spe);
    if (optimizer_bind(&s->opt, &s->model, spe) != 0) {
        optimizer_free(&s->opt);
        model_free(&s->model);
        return CN_EXIT_USAGE;
    }
    s->images = alloc_floats((size_t)batch * CIFAR_PIXELS);
    s->labels = xmalloc(sizeof(int) * (size_t)batch);
    s->order = xmalloc(sizeof(int) * (size_t)n_train);
    train_augment_init(&s->aug, e, n_train);
    rng_seed(&s->shuffle_rng, e->seed, RNG_STREAM_SHUFFLE);
    rng_seed(&s->aug_rng, e->seed, RNG_STREAM_AUGMENT);
    return CN_EXIT_OK;
}

int session_init_from_data(Session *s, const CifarSplit *train)
{
    int n = model_init_images(&s->model);
    if (n == 0) return CN_EXIT_OK; /* no layer needs data */
    if (n > train->n) n = train->n;
    float *images = alloc_floats((size_t)n * CIFAR_PIXELS);
    int *idx = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) idx[i] = i;
    Augment plain = {.normalize = s->aug.normalize}; /* no crop, no flip */
    cifar_make_batch(train, idx, n, &plain, NULL, images, NULL);
    int rc = model_init_from_data(&s->model, images, n);
    free(idx);
    free(images);
    return rc == 0 ? CN_EXIT_OK : CN_EXIT_FAIL;
}

void session_close(Session *s)
{
    model_free(&s->model);
    optimizer_free(&s->opt);
    free(s->images);
    free(s->labels);
    free(s->order);
    train_augment_free(&s->aug);
    *s = (Session){0};
}

void session_shuffle(Session *s)
{
    for (int i = 0; i < s->n_train; i++) s->order[i] = i;
    rng_shuffle(&s->shuffle_rng, s->order, s->n_train);
}

int session_batch(Session *s, const CifarSplit *train, int step)
{
    int start = step * s->batch, n = train->n - start < s->batch ? train->n - start : s->batch;
    cifar_make_batch(train, s->order + start, n, &s->aug, &s->aug_rng, s->images, s->labels);
    return n;
}

double session_forward(Session *s, int n, int *correct)
{
    Model *m = &s->model;
    model_forward(m, s->images, n, true);
    return softmax_xent_smooth(n, m->classes, model_logits(m), s->labels, model_dlogits(m),
                               s->e->loss_sum ? 1.0f : 1.0f / (float)n, correct,
                               s->e->label_smoothing);
}

void session_update(Session *s, int n, float lr)
{
    model_zero_grad(&s->model);
    model_backward(&s->model, s->images, n);
    optimizer_step(&s->opt, s->model.params, s->model.grads, lr);
}
