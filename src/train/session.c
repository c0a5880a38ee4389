/* session.c — a training session (train.h): the setup that `cnnrun run`,
 * `lr-find` and `bench` share (network, its convolutions' algorithms
 * measured, initial parameters, optimizer, buffers, data order and RNG
 * streams) and the parts of one training step over it. Data-parallel over
 * MPI ranks (dist.h), every rank makes the whole batch (the same order and
 * augmentation: the same RNG streams) and trains on its slice of it, batch
 * norm's statistics and the gradients summed over the ranks; with one rank
 * the slice is the batch. */
#include <stdlib.h>

#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* The ranks measure their convolutions alone and may pick differently:
 * rank 0's choice for all, or they would not compute the same. */
static void share_conv_algos(Model *m)
{
    int n = model_conv_algos(m, NULL, 0);
    if (n == 0) return;
    int *algos = xmalloc(sizeof(int) * (size_t)n);
    model_conv_algos(m, algos, n);
    dist_bcast(algos, sizeof(int) * (size_t)n);
    ConvAlgoSource from = m->conv_from;
    model_set_conv_algos(m, algos, n, "rank 0");
    m->conv_from = from;
    free(algos);
}

int session_shard(const Session *s, int n, int *first)
{
    int lo = (int)((long)n * s->rank / s->ranks), hi = (int)((long)n * (s->rank + 1) / s->ranks);
    *first = lo;
    return hi - lo;
}

int session_open(Session *s, const Experiment *e, int batch, int n_train)
{
    *s = (Session){.e = e, .batch = batch, .n_train = n_train,
                   .steps_per_epoch = n_train > 0 ? train_steps_per_epoch(e, n_train) : 0,
                   .best_acc = -1, .rank = dist_rank(), .ranks = dist_size()};
    /* the memory is planned for this rank's slice of a full batch */
    if (model_build(e, (batch + s->ranks - 1) / s->ranks, &s->model) != 0) return CN_EXIT_USAGE;
    const char *was = xalloc_hint(model_memory_hint);
    model_tune_convs(&s->model, NULL); /* unless the engine settings chose them already */
    if (s->ranks > 1) share_conv_algos(&s->model);
    s->bn_sync = dist_bn_sync_new();
    s->model.bn_sync = s->bn_sync;
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
        xalloc_hint(was);
        return CN_EXIT_USAGE;
    }
    s->images = alloc_floats((size_t)batch * CIFAR_PIXELS);
    s->labels = xmalloc(sizeof(int) * (size_t)batch);
    s->order = xmalloc(sizeof(int) * (size_t)n_train);
    train_augment_init(&s->aug, e, n_train);
    rng_seed(&s->shuffle_rng, e->seed, RNG_STREAM_SHUFFLE);
    rng_seed(&s->aug_rng, e->seed, RNG_STREAM_AUGMENT);
    xalloc_hint(was);
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
    Augment plain = {.normalize = s->aug.normalize, .mean = s->aug.mean,
                     .std = s->aug.std}; /* no crop, no flip */
    cifar_make_batch(train, idx, n, &plain, NULL, images, NULL);
    int rc = model_init_from_data(&s->model, images, n);
    free(idx);
    free(images);
    return rc == 0 ? CN_EXIT_OK : CN_EXIT_FAIL;
}

void session_close(Session *s)
{
    model_free(&s->model);
    dist_bn_sync_free(s->bn_sync);
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
    int lo, k = session_shard(s, n, &lo);
    if (s->ranks > 1) { /* dropout draws one process's masks for this slice */
        m->shard_lo = lo;
        m->shard_total = n;
    }
    model_forward(m, s->images + (size_t)lo * CIFAR_PIXELS, k, true);
    int ok = 0;
    /* the gradient of the whole batch's mean: the ranks' parts are summed */
    double loss = softmax_xent_smooth(k, m->classes, model_logits(m), s->labels + lo,
                                      model_dlogits(m), s->e->loss_sum ? 1.0f : 1.0f / (float)n,
                                      correct ? &ok : NULL, s->e->label_smoothing);
    if (s->ranks > 1) {
        double v[2] = {loss, ok};
        dist_sum_doubles(v, 2);
        loss = v[0];
        ok = (int)v[1];
    }
    if (correct) *correct += ok;
    return loss;
}

void session_backward(Session *s, const float *x, int k)
{
    Model *m = &s->model;
    if (s->ranks == 1) {
        model_backward(m, x, k);
        return;
    }
    dist_grads_begin(m->grads, m->n_params);
    model_backward_notify(m, x, k, dist_grads_ready);
    dist_grads_end();
}

void session_update(Session *s, int n, float lr)
{
    int lo, k = session_shard(s, n, &lo);
    model_zero_grad(&s->model);
    session_backward(s, s->images + (size_t)lo * CIFAR_PIXELS, k);
    optimizer_step(&s->opt, s->model.params, s->model.grads, lr);
}
