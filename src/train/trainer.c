/* trainer.c — one training run: builds the model, then per epoch shuffles,
 * augments, runs forward/backward/update with the scheduled learning rate,
 * evaluates on the test split and commits the epoch to the results database,
 * then writes the `last` (and, when the test accuracy improved, `best`)
 * checkpoint. Resumes from a checkpoint in the same runs row. Stops with
 * status `diverged` on a non-finite loss and `interrupted` when asked to stop. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "progress.h"

static int finish(const TrainOptions *opt, int64_t run_id, const char *status, double secs,
                  const char *error)
{
    if (opt->db && run_id > 0 && results_finish_run(opt->db, run_id, status, secs, error) != 0)
        return CN_EXIT_FAIL;
    return strcmp(status, "finished") == 0 ? CN_EXIT_OK : CN_EXIT_FAIL;
}

/* Names meta with the experiment and writes it as checkpoint `which` ("last"
 * or "best") of its run; path receives the file's name. Returns 0 or -1. */
static int save_checkpoint(const TrainOptions *opt, const Experiment *e, const Model *m,
                           const Optimizer *o, CheckpointMeta *meta, const char *which,
                           char *path, size_t size)
{
    str_copy(meta->experiment, sizeof meta->experiment, e->name);
    checkpoint_path(path, size, opt->checkpoint_dir, e->name, meta->run_id, which);
    return checkpoint_save(path, m, o, meta);
}

/* A checkpoint's position must fit this run: a file from a run over other
 * data (another step count) or a damaged-but-checksummed one is refused. */
static int check_resume_point(const char *path, const CheckpointMeta *mt, int epochs, int steps,
                              int n_train)
{
    long want = (long)mt->epoch * steps + mt->steps_in_epoch;
    if (mt->epoch < 0 || mt->epoch > epochs || mt->steps_in_epoch < 0 ||
        mt->steps_in_epoch > steps || mt->global_step != want || mt->part_seen < 0 ||
        mt->part_seen > n_train || mt->part_correct < 0 || mt->part_correct > mt->part_seen) {
        fprintf(stderr, "%s: the checkpoint's position (epoch %d, step %d of the next epoch, %lld "
                        "steps in all) does not fit this run (%d epochs of %d steps); resume with "
                        "the data and batch size it was trained with\n",
                path, mt->epoch, mt->steps_in_epoch, (long long)mt->global_step, epochs, steps);
        return -1;
    }
    return 0;
}

int train_run(const Experiment *e, const CifarSplit *train, const CifarSplit *test,
              const TrainOptions *opt)
{
    const int B = e->batch_size;
    /* Memory is planned for the training batch; evaluation runs in chunks of
     * at most that size (test_batch_size larger than batch_size is clamped). */
    const int max_batch = B;
    const int eval_batch = e->test_batch_size < B ? e->test_batch_size : B;
    Model m;
    if (model_build(e, max_batch, &m) != 0) return CN_EXIT_USAGE;
    model_init_params(&m, e->seed);
    Optimizer o;
    optimizer_init(&o, e, m.n_params);
    if (e->no_decay_bn_bias) optimizer_exclude_decay(&o, &m);

    const int steps = train_steps_per_epoch(e, train->n); /* [data] drop_last: floor */
    float *images = alloc_floats((size_t)max_batch * CIFAR_PIXELS);
    int *labels = xmalloc(sizeof(int) * (size_t)max_batch);
    int *order = xmalloc(sizeof(int) * (size_t)train->n);
    Augment aug; /* owns the alternating flip's bits: train_augment_free */
    train_augment_init(&aug, e, train->n);
    Rng shuffle_rng, aug_rng;
    rng_seed(&shuffle_rng, e->seed, 2);
    rng_seed(&aug_rng, e->seed, 3);
    int first_epoch = 1;
    long step = 0;
    double train_secs = 0, best_acc = -1;
    CheckpointMeta resume = {0}; /* where a resumed run picks up inside its first epoch */
    if (opt->resume_path) {
        CheckpointMeta meta;
        int lrc = checkpoint_load(opt->resume_path, &m, &o, &meta);
        if (lrc == 0 && opt->resume_run_id > 0 && meta.run_id != opt->resume_run_id) {
            fprintf(stderr, "%s: the checkpoint belongs to run %lld, not to run %lld\n",
                    opt->resume_path, (long long)meta.run_id, (long long)opt->resume_run_id);
            lrc = CN_EXIT_USAGE;
        }
        if (lrc != 0) {
            model_free(&m);
            optimizer_free(&o);
            train_augment_free(&aug);
            return lrc;
        }
        if (check_resume_point(opt->resume_path, &meta, e->epochs, steps, train->n) != 0) {
            model_free(&m);
            optimizer_free(&o);
            train_augment_free(&aug);
            return CN_EXIT_USAGE;
        }
        first_epoch = meta.epoch + 1;
        step = (long)meta.global_step;
        train_secs = meta.train_seconds;
        best_acc = meta.best_acc;
        shuffle_rng = meta.shuffle_rng;
        aug_rng = meta.aug_rng;
        resume = meta;
    }

    fprintf(stderr, "%s: %s  %d train / %d test images from %s  batch %d  %d steps/epoch  %d "
                    "threads\n", e->path, e->name, train->n, test->n, opt->data_dir, B, steps,
            opt->threads);
    model_print_table(&m, stderr);
    if (e->schedule == SCHED_ONE_CYCLE && e->cycle_epochs > (float)e->epochs)
        fprintf(stderr, "%s: note: cycle_epochs (%g) is more than epochs (%d): the run stops at "
                        "lr %.5g on the way and never reaches lr_end (fine for a short parity "
                        "run with --set experiment.epochs=N)\n",
                e->path, e->cycle_epochs, e->epochs, schedule_lr(e, (double)e->epochs));
    int64_t run_id = -1;
    int lock_fd = -1; /* this run is alive here (run_lock): refuses a second --resume */
    const int checkpoints = opt->checkpoint_dir && opt->checkpoint_dir[0];
    if (opt->db && opt->resume_run_id > 0) {
        run_id = opt->resume_run_id;
        if (checkpoints) lock_fd = run_lock(opt->checkpoint_dir, e->name, run_id);
        if (lock_fd < -1 || results_resume_run(opt->db, run_id, first_epoch - 1) != 0) {
            model_free(&m);
            optimizer_free(&o);
            free(images); free(labels); free(order);
            train_augment_free(&aug);
            if (lock_fd >= 0) close(lock_fd);
            return lock_fd < -1 ? -lock_fd : CN_EXIT_FAIL;
        }
        fprintf(stderr, "%s: resuming run %lld at epoch %d of %d\n", e->path, (long long)run_id,
                first_epoch, e->epochs);
    } else if (opt->db) {
        char *cfg = NULL;
        size_t cfg_len = 0;
        FILE *mem = open_memstream(&cfg, &cfg_len);
        experiment_print(e, mem);
        fclose(mem);
        RunInfo info = {.experiment = e->name, .config_path = e->path, .config = cfg,
                        .seed = e->seed, .threads = opt->threads, .params = (int64_t)m.n_params,
                        .flops_per_image = model_flops_per_image(&m), .epochs_planned = e->epochs,
                        .version = CN_VERSION, .data_dir = opt->data_dir};
        run_id = results_begin_run(opt->db, &info);
        if (run_id > 0 && checkpoints) lock_fd = run_lock(opt->checkpoint_dir, e->name, run_id);
        if (run_id > 0) results_add_layers(opt->db, run_id, &m); /* `layers`; failure is only reported */
        free(cfg);
        if (run_id < 0) {
            model_free(&m);
            optimizer_free(&o);
            free(images); free(labels); free(order);
            train_augment_free(&aug);
            return CN_EXIT_FAIL;
        }
    }

    Progress prog;
    progress_init(&prog, e->epochs, steps);
    const char *status = "finished";
    const char *error = NULL;
    for (int epoch = first_epoch; epoch <= e->epochs; epoch++) {
        const int part = epoch == first_epoch; /* resumed inside this epoch? */
        double t0 = now_seconds() - (part ? resume.part_seconds : 0);
        const Rng epoch_shuffle = shuffle_rng;
        aug.epoch = epoch; /* flip_alternating: mirrored relative to the bits in even epochs */
        for (int i = 0; i < train->n; i++) order[i] = i;
        rng_shuffle(&shuffle_rng, order, train->n);
        double loss_sum = part ? resume.part_loss_sum : 0;
        int correct = part ? (int)resume.part_correct : 0, seen = part ? (int)resume.part_seen : 0;
        /* the lr of the last step done (recorded with the epoch) */
        double lr = part && resume.steps_in_epoch > 0 ? schedule_lr(e, (double)(step - 1) / steps) : 0;
        int s = part ? resume.steps_in_epoch : 0;
        for (; s < steps; s++, step++) {
            int start = s * B, n = train->n - start < B ? train->n - start : B;
            cifar_make_batch(train, order + start, n, &aug, &aug_rng, images, labels);
            model_forward(&m, images, n, true);
            double loss = softmax_xent_smooth(n, m.classes, model_logits(&m), labels,
                                              model_dlogits(&m), 1.0f / (float)n, &correct,
                                              e->label_smoothing);
            if (!isfinite(loss)) {
                status = "diverged";
                error = "the training loss became NaN or infinite; lower the learning rate";
                break;
            }
            loss_sum += loss;
            seen += n;
            model_zero_grad(&m);
            model_backward(&m, images, n);
            lr = schedule_lr(e, (double)step / steps);
            optimizer_step(&o, m.params, m.grads, (float)lr);
            double now = now_seconds(), el = now - t0;
            double rate = seen / (el > 0 ? el : 1e-9);
            double eta = (double)(steps - s - 1) * B / rate +
                         (double)(e->epochs - epoch) * train->n / rate;
            progress_step(&prog, epoch, s + 1, loss_sum / seen, (double)correct / seen, rate, eta,
                          now);
            if (opt->stop && *opt->stop) {
                status = "interrupted";
                error = "interrupted by a signal";
                s++, step++;
                break;
            }
        }
        double train_time = now_seconds() - t0;
        if (strcmp(status, "interrupted") == 0 && checkpoints) {
            /* Keep the steps done in this epoch: resume picks up after them. */
            CheckpointMeta meta = {.run_id = run_id > 0 ? run_id : 0, .epoch = epoch - 1,
                                   .global_step = step, .best_acc = best_acc,
                                   .train_seconds = train_secs, .shuffle_rng = epoch_shuffle,
                                   .aug_rng = aug_rng, .steps_in_epoch = s,
                                   .part_loss_sum = loss_sum, .part_correct = correct,
                                   .part_seen = seen, .part_seconds = train_time};
            char path[CN_PATH_MAX + 256];
            if (save_checkpoint(opt, e, &m, &o, &meta, "last", path, sizeof path) == 0)
                fprintf(stderr, "%s: stopped after step %d of %d in epoch %d; saved to %s; "
                                "continue with `cnnrun run --resume`\n",
                        e->path, s, steps, epoch, path);
            else
                error = "interrupted by a signal; the partial epoch could not be saved (the "
                        "previous checkpoint is kept)";
        }
        if (strcmp(status, "finished") != 0) break;
        EvalResult ev = evaluate(&m, test, &aug, eval_batch, images, labels);
        double secs = now_seconds() - t0;
        train_secs += secs; /* runs.train_seconds: finished epochs, training + evaluation */
        EpochRecord rec = {.epoch = epoch, .lr = lr, .train_loss = loss_sum / seen,
                           .train_acc = (double)correct / seen, .test_loss = ev.loss,
                           .test_acc = ev.acc, .seconds = secs,
                           .images_per_sec = seen / train_time};
        progress_epoch(&prog, epoch, lr, rec.train_loss, rec.train_acc, ev.loss, ev.acc, secs,
                       rec.images_per_sec);
        if (opt->db && results_add_epoch(opt->db, run_id, &rec) != 0) {
            status = "failed";
            error = "could not record the epoch in the results database";
            break;
        }
        if (!isfinite(ev.loss)) {
            status = "diverged";
            error = "the test loss became NaN or infinite; lower the learning rate";
            break;
        }
        if (checkpoints) {
            CheckpointMeta meta = {.run_id = run_id > 0 ? run_id : 0, .epoch = epoch,
                                   .global_step = step, .best_acc = best_acc,
                                   .train_seconds = train_secs, .shuffle_rng = shuffle_rng,
                                   .aug_rng = aug_rng};
            char path[CN_PATH_MAX + 256];
            int ok = 1;
            if (ev.acc > best_acc) {
                meta.best_acc = best_acc = ev.acc;
                ok = save_checkpoint(opt, e, &m, &o, &meta, "best", path, sizeof path) == 0;
            }
            if (!ok || save_checkpoint(opt, e, &m, &o, &meta, "last", path, sizeof path) != 0) {
                status = "failed";
                error = "could not write the checkpoint; free disk space or fix the directory's "
                        "permissions, then continue with `cnnrun run --resume`";
                break;
            }
        }
    }
    if (error) fprintf(stderr, "%s: %s: %s\n", e->path, status, error);
    int rc = finish(opt, run_id, status, train_secs, error);
    if (lock_fd >= 0) close(lock_fd); /* after the status is final */
    model_free(&m);
    optimizer_free(&o);
    free(images);
    free(labels);
    free(order);
    train_augment_free(&aug);
    return rc;
}
