/* lr_find.c — the learning-rate range test (train.h): trains a throwaway
 * model for a few hundred steps with an exponentially growing learning rate,
 * records the smoothed loss per step and derives the suggested one-cycle
 * range. The rule: lr_max = (lr at the minimum smoothed loss) / 10, where the
 * loss still falls steadily; lr_start = lr_max / 15 (the seed's 0.008 / 0.12);
 * lr_end = lr_start / 10. The steepest-descent lr is reported for reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

#define SMOOTH_BETA 0.98
#define EXPLODE_FACTOR 4.0

int lr_find(const Experiment *e, const CifarSplit *train, const LrFindOptions *lo,
            const TrainOptions *opt, LrFindResult *out)
{
    memset(out, 0, sizeof *out);
    const int B = e->batch_size;
    Model m;
    if (model_build(e, B, &m) != 0) return CN_EXIT_USAGE;
    model_init_params(&m, e->seed);
    Optimizer o;
    optimizer_init(&o, e, m.n_params);
    if (e->no_decay_bn_bias) optimizer_exclude_decay(&o, &m);
    float *images = alloc_floats((size_t)B * CIFAR_PIXELS);
    int *labels = xmalloc(sizeof(int) * (size_t)B);
    int *order = xmalloc(sizeof(int) * (size_t)train->n);
    double *lrs = xmalloc(sizeof(double) * (size_t)lo->steps);
    double *sm = xmalloc(sizeof(double) * (size_t)lo->steps);
    Augment aug;
    train_augment_init(&aug, e, train->n);
    Rng shuffle_rng, aug_rng;
    rng_seed(&shuffle_rng, e->seed, 2);
    rng_seed(&aug_rng, e->seed, 3);
    const int per_epoch = train_steps_per_epoch(e, train->n);
    if (per_epoch == 0) { /* drop_last with fewer images than a batch */
        int bad = train_check_data(e, train->n);
        model_free(&m);
        optimizer_free(&o);
        free(images);
        free(labels);
        free(order);
        free(lrs);
        free(sm);
        train_augment_free(&aug);
        return bad;
    }

    int rc = CN_EXIT_OK;
    int64_t run_id = 0;
    double t0 = now_seconds();
    if (opt->db) {
        char name[160], *cfg = NULL;
        size_t cfg_len = 0;
        snprintf(name, sizeof name, "%s/lr-find", e->name);
        FILE *mem = open_memstream(&cfg, &cfg_len);
        experiment_print(e, mem);
        fprintf(mem, "\n; lr-find: lr %g -> %g over %d steps\n", lo->lr_min, lo->lr_max,
                lo->steps);
        fclose(mem);
        RunInfo info = {.experiment = name, .config_path = e->path, .config = cfg,
                        .seed = e->seed, .threads = opt->threads, .params = (int64_t)m.n_params,
                        .flops_per_image = model_flops_per_image(&m), .epochs_planned = 0,
                        .version = CN_VERSION, .data_dir = opt->data_dir};
        run_id = results_begin_run(opt->db, &info);
        free(cfg);
        if (run_id < 0) rc = CN_EXIT_FAIL;
    }
    double avg = 0, best = INFINITY;
    int n_done = 0;
    const char *status = "finished", *error = NULL;
    for (int k = 0; rc == CN_EXIT_OK && k < lo->steps; k++) {
        int s = k % per_epoch;
        if (s == 0) {
            aug.epoch = k / per_epoch + 1;
            for (int i = 0; i < train->n; i++) order[i] = i;
            rng_shuffle(&shuffle_rng, order, train->n);
        }
        double f = lo->steps > 1 ? (double)k / (lo->steps - 1) : 0;
        double lr = lo->lr_min * pow(lo->lr_max / lo->lr_min, f);
        int start = s * B, n = train->n - start < B ? train->n - start : B;
        cifar_make_batch(train, order + start, n, &aug, &aug_rng, images, labels);
        model_forward(&m, images, n, true);
        double loss = softmax_xent_smooth(n, m.classes, model_logits(&m), labels,
                                          model_dlogits(&m), 1.0f / (float)n, NULL,
                                          e->label_smoothing) / n;
        avg = SMOOTH_BETA * avg + (1 - SMOOTH_BETA) * loss;
        double smoothed = avg / (1 - pow(SMOOTH_BETA, k + 1));
        lrs[k] = lr;
        sm[k] = smoothed;
        n_done = k + 1;
        if (opt->db && results_add_lr_find(opt->db, run_id, k + 1, lr, smoothed) != 0) {
            rc = CN_EXIT_FAIL;
            status = "failed";
            error = "could not record an lr_find step";
            break;
        }
        if (!isfinite(smoothed) || (k > 0 && smoothed > EXPLODE_FACTOR * best)) {
            out->stopped_early = 1;
            break;
        }
        if (smoothed < best) {
            best = smoothed;
            out->best_loss = smoothed;
            out->lr_at_best = lr;
        }
        if (opt->stop && *opt->stop) {
            status = "interrupted";
            error = "interrupted by a signal";
            rc = CN_EXIT_FAIL;
            break;
        }
        model_zero_grad(&m);
        model_backward(&m, images, n);
        optimizer_step(&o, m.params, m.grads, (float)lr);
    }
    /* steepest descent of the smoothed loss over log(lr), up to the minimum;
     * the first tenth of the steps is skipped (the smoothing is still settling) */
    double steepest = 0;
    for (int k = n_done / 10 + 1; k < n_done && lrs[k - 1] < out->lr_at_best; k++) {
        double slope = (sm[k] - sm[k - 1]) / (log(lrs[k]) - log(lrs[k - 1]));
        if (slope < steepest) {
            steepest = slope;
            out->lr_steepest = lrs[k];
        }
    }
    out->steps_done = n_done;
    out->run_id = run_id > 0 ? run_id : 0;
    out->suggested_max = out->lr_at_best / 10;
    out->suggested_start = out->suggested_max / 15;
    if (opt->db && run_id > 0 &&
        results_finish_run(opt->db, run_id, status, now_seconds() - t0, error) != 0)
        rc = CN_EXIT_FAIL;
    model_free(&m);
    optimizer_free(&o);
    free(images);
    free(labels);
    free(order);
    free(lrs);
    free(sm);
    train_augment_free(&aug);
    return rc;
}
