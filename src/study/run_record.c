/* run_record.c — one recorded training run of `cnnrun run`: everything
 * around the training loop (src/train/trainer.c) that makes a run one you
 * can find and continue. It owns the run's row in the results database (a
 * new one with its `layers` and `run_params`, or the resumed one put back to
 * running), the run lock that keeps
 * a second process off it (a resumed run's is taken when the run is claimed,
 * before anything is loaded: resume.c), and the run's checkpoints: continuing from one,
 * their names, and which are written when (`last` and, when the judged
 * accuracy — validation, else test — improved, `best` after each epoch's
 * row is committed; `last` with the partial epoch when a signal stops the
 * run), and the run's early stop and time to accuracy in its row, and
 * [sweep] prune's reading of the earlier runs' accuracies. The loop reports
 * to it through TrainCallbacks. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "cnnrun/study.h"
#include "run_record.h"

typedef struct {
    const Experiment *e;
    const RecordOptions *opt;
    Session *s;
    int64_t run_id;   /* its runs row; -1 before it has one (or without a database) */
    int lock_fd;      /* run_lock: this run is alive here, refuses a second --resume */
    WatchedRun watch; /* what a dead rank or mpirun's stop marks (study.h) */
} Record;

/* The command that continues the run (RecordOptions.resume_hint). */
static const char *resume_hint(const Record *r)
{
    static char fallback[CN_PATH_MAX + 32];
    if (r->opt->resume_hint) return r->opt->resume_hint;
    snprintf(fallback, sizeof fallback, "cnnrun run %s --resume", r->e->path);
    return fallback;
}

static int has_checkpoints(const Record *r)
{
    return r->opt->checkpoint_dir && r->opt->checkpoint_dir[0];
}

/* ---- continuing from a checkpoint ---------------------------------------- */

/* A checkpoint's position must fit this run (s->run: its epochs, the last
 * maybe partial): a file from a run over other data (another step count)
 * or a damaged-but-checksummed one is refused. */
static int check_resume_point(const char *path, const CheckpointMeta *mt, const Session *s)
{
    const int steps = s->steps_per_epoch, epochs = s->run.epochs;
    /* the steps of the epoch it stopped in (none after the last) */
    int next = mt->epoch >= 0 && mt->epoch < epochs
                   ? train_epoch_steps(&s->run, steps, mt->epoch + 1) : 0;
    long want = (long)mt->epoch * steps + mt->steps_in_epoch;
    if (mt->epoch < 0 || mt->epoch > epochs || mt->steps_in_epoch < 0 ||
        mt->steps_in_epoch > next || mt->global_step != want || mt->part_seen < 0 ||
        mt->part_seen > s->n_train || mt->part_correct < 0 ||
        mt->part_correct > mt->part_seen) {
        fprintf(stderr, "%s: the checkpoint's position (epoch %d, step %d of the next epoch, %lld "
                        "steps in all) does not fit this run (%ld steps in %d epochs of %d); "
                        "resume with the data and batch size it was trained with\n",
                path, mt->epoch, mt->steps_in_epoch, (long long)mt->global_step, s->run.steps,
                epochs, steps);
        return -1;
    }
    return 0;
}

/* Loads opt->resume_path into the session and *pos. Returns 0 or the exit
 * status (message printed). */
static int resume_from_checkpoint(Record *r, TrainPosition *pos)
{
    const char *path = r->opt->resume_path;
    Session *s = r->s;
    CheckpointMeta meta;
    int rc = checkpoint_load(path, &s->model, &s->opt, &meta);
    if (rc == 0 && r->opt->resume_run_id > 0 && meta.run_id != r->opt->resume_run_id) {
        fprintf(stderr, "%s: the checkpoint belongs to run %lld, not to run %lld\n", path,
                (long long)meta.run_id, (long long)r->opt->resume_run_id);
        rc = CN_EXIT_USAGE;
    }
    if (rc == 0 && check_resume_point(path, &meta, s))
        rc = CN_EXIT_USAGE;
    if (rc != 0) return rc;
    *pos = (TrainPosition){.epoch = meta.epoch, .step = (long)meta.global_step,
                           .train_seconds = meta.train_seconds,
                           .steps_in_epoch = meta.steps_in_epoch,
                           .part_loss_sum = meta.part_loss_sum,
                           .part_correct = (int)meta.part_correct,
                           .part_seen = (int)meta.part_seen, .part_seconds = meta.part_seconds};
    s->shuffle_rng = meta.shuffle_rng;
    s->aug_rng = meta.aug_rng;
    s->best_acc = meta.best_acc; /* patience goes on counting from the best epoch */
    s->best_epoch = meta.best_epoch;
    return 0;
}

/* ---- writing checkpoints --------------------------------------------------- */

/* Writes (s, pos) as checkpoint `which` ("last" or "best") of the run; path
 * receives the file's name. Returns 0 or -1 (message printed). */
static int save_checkpoint(const Record *r, const Session *s, const TrainPosition *pos,
                           const char *which, char *path, size_t size)
{
    CheckpointMeta meta = {.run_id = r->run_id > 0 ? r->run_id : 0, .epoch = pos->epoch,
                           .global_step = pos->step, .best_acc = s->best_acc,
                           .best_epoch = s->best_epoch,
                           .train_seconds = pos->train_seconds, .shuffle_rng = s->shuffle_rng,
                           .aug_rng = s->aug_rng, .steps_in_epoch = pos->steps_in_epoch,
                           .part_loss_sum = pos->part_loss_sum,
                           .part_correct = pos->part_correct, .part_seen = pos->part_seen,
                           .part_seconds = pos->part_seconds, .data = r->opt->data_text};
    str_copy(meta.experiment, sizeof meta.experiment, r->e->name);
    checkpoint_path(path, size, r->opt->checkpoint_dir, r->e->name, meta.run_id, which);
    return checkpoint_save(path, &s->model, &s->opt, &meta);
}

/* TrainCallbacks.checkpoint: `best` when the judged accuracy (validation,
 * else test) improved, then `last`. */
static const char *save_epoch_checkpoints(void *ctx, const Session *s, const TrainPosition *pos,
                                          const EpochRecord *rec)
{
    Record *r = ctx;
    char path[CN_PATH_MAX + 256];
    int ok = 1;
    if (rec->improved) {
        ok = save_checkpoint(r, s, pos, "best", path, sizeof path) == 0;
    }
    if (!ok || save_checkpoint(r, s, pos, "last", path, sizeof path) != 0) {
        fprintf(stderr, "%s: continue with `%s` once the checkpoint can be written\n",
                r->e->path, resume_hint(r));
        return "could not write the checkpoint; free disk space (or raise `ulimit -f`) or fix "
               "the directory's permissions, then continue with `cnnrun run --resume` (the same "
               "files and options)";
    }
    return NULL;
}

/* After a signal: keeps the steps done in the epoch as `last`, so that a
 * resume picks up after them. Returns the run's error message. */
static const char *save_partial_epoch(const Record *r, const TrainPosition *pos)
{
    if (!has_checkpoints(r)) return "interrupted by a signal";
    char path[CN_PATH_MAX + 256];
    if (save_checkpoint(r, r->s, pos, "last", path, sizeof path) != 0)
        return "interrupted by a signal; the partial epoch could not be saved (the previous "
               "checkpoint is kept)";
    fprintf(stderr, "%s: stopped after step %d of %d in epoch %d; saved to %s; continue with "
                    "`%s`\n",
            r->e->path, pos->steps_in_epoch,
            train_epoch_steps(&r->s->run, r->s->steps_per_epoch, pos->epoch + 1), pos->epoch + 1,
            path, resume_hint(r));
    return "interrupted by a signal";
}

/* A finished run keeps the checkpoints [experiment] keep_checkpoints names
 * (best, last: both); the others are removed. An unfinished run keeps them
 * all: --resume continues from `last`. */
static void drop_checkpoints(const Record *r)
{
    if (!has_checkpoints(r) || r->run_id <= 0) return;
    const KeepCheckpoints keep = r->e->keep_checkpoints;
    const char *which[2] = {keep == KEEP_LAST || keep == KEEP_NONE ? "best" : NULL,
                            keep == KEEP_BEST || keep == KEEP_NONE ? "last" : NULL};
    for (int i = 0; i < 2; i++) {
        if (!which[i]) continue;
        char path[CN_PATH_MAX + 256];
        checkpoint_path(path, sizeof path, r->opt->checkpoint_dir, r->e->name, r->run_id,
                        which[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "%s: warning: cannot remove %s (keep_checkpoints): %s\n",
                    r->e->path, path, strerror(errno));
    }
}

/* ---- the runs row ---------------------------------------------------------- */

/* n with a comma between thousands: 45,000. */
static const char *thousands(char *buf, size_t size, int n)
{
    if (n >= 1000) snprintf(buf, size, "%d,%03d", n / 1000, n % 1000);
    else snprintf(buf, size, "%d", n);
    return buf;
}

/* What the run is about to do, on stderr. */
static void announce(const Record *r, int n_test)
{
    const Experiment *e = r->e;
    const Session *s = r->s;
    fprintf(stderr, "%s: %s  %d train / %d test images from %s  batch %d  %d step%s/epoch  %d "
                    "thread%s\n", e->path, e->name, s->n_train, n_test, r->opt->data_dir, s->batch,
            s->steps_per_epoch, s->steps_per_epoch == 1 ? "" : "s", r->opt->threads,
            r->opt->threads == 1 ? "" : "s");
    fprintf(stderr, "%s: OpenBLAS core %s (%s kernels) on a CPU with %s\n", e->path,
            blas_core_name(), isa_level_name(blas_core_level(blas_core_name())),
            isa_level_name(cpu_isa_level()));
    if (e->precision == PRECISION_BF16) {
        char warn[320];
        fprintf(stderr, "%s: precision bf16: the matrix products' inputs rounded to bfloat16, "
                        "fp32 sums (%s)\n", e->path, bf16_path_name(bf16_path()));
        if (bf16_path_warning(warn, sizeof warn)) fprintf(stderr, "%s: warning: %s\n", e->path, warn);
    }
    if (s->ranks > 1)
        fprintf(stderr, "%s: data-parallel over %d MPI ranks of %d thread%s: %d images of "
                        "each batch per rank, batch norm and gradients summed over the ranks\n",
                e->path, s->ranks, r->opt->threads, r->opt->threads == 1 ? "" : "s",
                s->model.max_batch);
    /* measured on 16 cores (docs/distributed.md): 8 ranks x 2 threads 274
     * img/s, 2 x 8 326, 1 x 16 313 */
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (s->ranks > 1 && local && atoi(local) > 2)
        fprintf(stderr, "%s: note: %d ranks share this machine: on one machine threads beat "
                        "ranks (ResNet-18 on 16 cores: 8 ranks x 2 threads 274 img/s, 2 x 8 326, "
                        "1 x 16 313; docs/distributed.md); ranks pay across machines\n",
                e->path, atoi(local));
    if (s->val) {
        char a[32], b[32];
        fprintf(stderr, "%s: training on %s images (%s held out for validation: the last %d of "
                        "each class)\n", e->path, thousands(a, sizeof a, s->n_train),
                thousands(b, sizeof b, s->val->n), s->val->n / s->model.classes);
    }
    const DataInfo *di = r->opt->data_info;
    if (di && strcmp(di->dataset, "cifar10") != 0) {
        fprintf(stderr, "%s: data: %s%s%s, %d classes (%s, %s, ...)%s\n", e->path, di->dataset,
                di->label[0] ? ", label = " : "", di->label, di->classes, di->names[0],
                di->names[1], di->test_held_out ? "; no test folder: the test split is the "
                                                  "validation images held out of train/" : "");
    }
    if (di && e->normalize == NORM_DATASET)
        fprintf(stderr, "%s: normalize = dataset: mean %.4f %.4f %.4f, std %.4f %.4f %.4f (of "
                        "the %d training images)\n", e->path, e->norm_mean[0], e->norm_mean[1],
                e->norm_mean[2], e->norm_std[0], e->norm_std[1], e->norm_std[2], di->n_train);
    const RunLength *run = &s->run;
    const int partial = run->last_steps != s->steps_per_epoch;
    if (run->epochs == 1 && (partial || e->steps > 0))
        fprintf(stderr, "%s: %ld step%s: 1 epoch%s\n", e->path, run->steps,
                run->steps == 1 ? "" : "s", partial ? " (a partial one)" : "");
    else if (partial || e->steps > 0)
        fprintf(stderr, "%s: %ld steps: %d epochs, the last one of %d step%s\n", e->path,
                run->steps, run->epochs, run->last_steps, run->last_steps == 1 ? "" : "s");
    model_print_table(&s->model, stderr);
    if (e->schedule == SCHED_ONE_CYCLE && e->cycle_epochs > run->end)
        fprintf(stderr, "%s: note: cycle_epochs (%g) is more than the run's %g epochs: the run "
                        "stops at lr %.5g on the way and never reaches lr_end (fine for a short "
                        "parity run with --set experiment.epochs=N)\n",
                e->path, e->cycle_epochs, run->end, schedule_lr(e, run->end, run->end));
}

/* A run with checkpoints and no lock: its directory went bad after the
 * check before training (checkpoint_dir_check); it does not go on without
 * the lock that keeps a second process off it. Says so. */
static int lock_failed(const Record *r)
{
    if (!has_checkpoints(r) || r->lock_fd >= 0) return 0;
    int err = errno;
    fprintf(stderr, "%s: cannot create the run lock in %s: %s\n", r->e->path,
            r->opt->checkpoint_dir, strerror(err));
    return 1;
}

/* Before anything trains: the files the run's checkpoints go to are absent
 * or checkpoints (a file of another kind there is refused and left as it
 * is: files.h output_target_ok, as checkpoint_save does after an epoch).
 * 0, or -1 after saying so. */
static int checkpoint_files_ok(const Record *r)
{
    static const char *const which[] = {"last", "best"};
    for (int i = 0; has_checkpoints(r) && i < 2; i++) {
        char path[CN_PATH_MAX + 256];
        checkpoint_path(path, sizeof path, r->opt->checkpoint_dir, r->e->name, r->run_id,
                        which[i]);
        if (output_target_ok(path, FILE_CHECKPOINT, "the checkpoint") != 0) return -1;
    }
    return 0;
}

/* RunObserver.row: r's row exists. */
static void tell_row(const Record *r, double run_seconds)
{
    const RunObserver *obs = r->opt->observer;
    if (obs && obs->row) obs->row(obs->ctx, r->run_id, run_seconds);
}

/* Puts the resumed run (its lock held since it was claimed) back to running
 * from first_epoch on (run_seconds trained before it), or starts a new runs
 * row (with its `layers`) and takes its run lock. 0 or the exit status. */
static int open_runs_row(Record *r, int first_epoch, double run_seconds)
{
    const Experiment *e = r->e;
    const RecordOptions *opt = r->opt;
    if (!opt->db) return 0;
    if (opt->resume_run_id > 0) {
        r->run_id = opt->resume_run_id; /* its lock: taken when it was claimed (r->lock_fd) */
        if (checkpoint_files_ok(r) != 0) return CN_EXIT_USAGE;
        if (has_checkpoints(r)) checkpoint_remove_stale(opt->checkpoint_dir, e->name, r->run_id);
        if (results_resume_run(opt->db, r->run_id, first_epoch - 1) != 0) return CN_EXIT_FAIL;
        tell_row(r, run_seconds);
        fprintf(stderr, "%s: resuming run %lld at epoch %d of %d\n", e->path,
                (long long)r->run_id, first_epoch, r->s->run.epochs);
        return 0;
    }
    char *cfg = experiment_text(e), engine[128];
    engine_settings_text(&e->engine, engine, sizeof engine);
    const Model *m = &r->s->model;
    RunInfo info = {.experiment = e->name, .config_path = e->path, .config = cfg,
                    .seed = e->seed, .threads = opt->threads, .ranks = opt->ranks,
                    .params = (int64_t)m->n_params,
                    .flops_per_image = model_flops_per_image(m),
                    .epochs_planned = r->s->run.epochs,
                    .version = CN_VERSION, .data_dir = opt->data_dir,
                    .blas_core = blas_core_name(), .engine = engine,
                    .precision = e->precision == PRECISION_BF16 ? "bf16" : "fp32",
                    .data = opt->data_identity, .study_id = opt->study_id};
    r->run_id = results_begin_run(opt->db, &info);
    free(cfg);
    if (r->run_id < 0) return CN_EXIT_FAIL;
    tell_row(r, 0);
    if (has_checkpoints(r)) r->lock_fd = run_lock(opt->checkpoint_dir, e->name, r->run_id);
    if (lock_failed(r)) {
        results_finish_run(opt->db, r->run_id, "failed", 0, "could not create the run lock");
        return CN_EXIT_FAIL;
    }
    if (checkpoint_files_ok(r) != 0) {
        results_finish_run(opt->db, r->run_id, "failed", 0,
                           "a file of another kind is where its checkpoint goes");
        return CN_EXIT_USAGE;
    }
    results_add_layers(opt->db, r->run_id, m); /* `layers`; a failure is only reported */
    results_add_params(opt->db, r->run_id, opt->params, opt->n_params); /* `run_params`: too */
    return 0;
}

/* TrainCallbacks.epoch: the epoch's row. */
static const char *record_epoch(void *ctx, const EpochRecord *rec)
{
    Record *r = ctx;
    if (r->opt->db && results_add_epoch(r->opt->db, r->run_id, rec) != 0)
        return "could not record the epoch in the results database";
    const RunObserver *obs = r->opt->observer;
    if (obs && obs->epoch)
        obs->epoch(obs->ctx, rec->epoch, rec->evaluated ? rec->test_acc : NAN, rec->run_seconds);
    atomic_store(&r->watch.train_seconds, rec->run_seconds);
    /* the time to accuracy: the run's time up to this epoch's end, with evaluation */
    if (r->opt->db && rec->reached_target &&
        results_reached_target(r->opt->db, r->run_id, rec->epoch, rec->run_seconds) != 0)
        return "could not record the time to the target accuracy in the results database";
    return NULL;
}

/* TrainCallbacks.final: the test-time-augmented accuracy is the run's final one. */
static const char *record_final(void *ctx, const EvalResult *ev, int views)
{
    Record *r = ctx;
    if (r->opt->db && results_final_eval(r->opt->db, r->run_id, ev->acc, views) != 0)
        return "could not record the final evaluation in the results database";
    if (r->opt->observer && r->opt->observer->final)
        r->opt->observer->final(r->opt->observer->ctx, ev->acc);
    return NULL;
}

/* TrainCallbacks.stop: SIGINT or SIGTERM arrived. */
static int stop_requested(void *ctx)
{
    const Record *r = ctx;
    return r->opt->stop && *r->opt->stop;
}

/* TrainCallbacks.prune: the run's accuracy at epoch (NaN: its recorded
 * one) against the earlier runs of its experiment in its study there
 * (prune.c): another study's runs are not its peers. A
 * database that cannot be read is reported, and the run goes on. */
static int prune_epoch(void *ctx, int epoch, double metric)
{
    Record *r = ctx;
    const PruneRule *rule = r->opt->prune;
    ResultsDb *db = r->opt->db;
    if (!db || r->run_id <= 0 || !prune_decides_at(rule, epoch)) return 0;
    const int val = r->s->val != NULL;
    if (isnan(metric) && results_epoch_metric(db, r->run_id, epoch, val, &metric) != 0) return 0;
    double *others;
    int n = results_peer_metrics(db, r->e->name, r->opt->study_id, r->run_id, epoch, val,
                                 &others);
    if (n < 0) return 0;
    PruneVerdict v = prune_decide(rule, epoch, metric, others, n);
    free(others);
    if (v == PRUNE_STOP)
        fprintf(stderr, "%s: run %lld pruned after epoch %d: %s accuracy %.2f%% is below the %s "
                        "of the %d earlier run%s there\n", r->e->path, (long long)r->run_id, epoch,
                val ? "validation" : "test", 100 * metric,
                rule->kind == PRUNE_MEDIAN ? "median" : "top 1/eta", n, n == 1 ? "" : "s");
    return v == PRUNE_STOP;
}

/* Marks the runs row with how the run ended. */
static int finish_runs_row(const Record *r, TrainEnd end, double train_seconds,
                           const char *error)
{
    if (r->opt->db && r->run_id > 0 &&
        results_finish_run(r->opt->db, r->run_id, train_end_name(end), train_seconds, error) != 0)
        return CN_EXIT_FAIL;
    if (r->opt->db && r->run_id > 0 && end == TRAIN_FINISHED && r->s->stop_reason &&
        results_stop_reason(r->opt->db, r->run_id, r->s->stop_reason) != 0)
        return CN_EXIT_FAIL;
    return end == TRAIN_FINISHED || end == TRAIN_PAUSED ? CN_EXIT_OK : CN_EXIT_FAIL;
}

/* ---- the run --------------------------------------------------------------- */

static int train_and_record(Record *r, const CifarSplit *train, const CifarSplit *test,
                            TrainPosition *pos)
{
    TrainCallbacks cb = {.ctx = r, .epoch = record_epoch,
                         .checkpoint = has_checkpoints(r) ? save_epoch_checkpoints : NULL,
                         .stop = stop_requested, .final = record_final,
                         .prune = r->opt->prune && r->opt->prune->kind != PRUNE_NONE
                                      ? prune_epoch : NULL};
    cb.until_epoch = r->opt->until_epoch;
    const char *why;
    char paused[96];
    TrainEnd end = train_loop(r->s, train, test, pos, &cb, &why);
    if (end == TRAIN_INTERRUPTED) why = save_partial_epoch(r, pos);
    if (end == TRAIN_PAUSED) { /* its epoch's `last` checkpoint is written */
        snprintf(paused, sizeof paused, "paused after epoch %d of %d (--until-epoch)", pos->epoch,
                 r->s->run.epochs);
        why = paused;
        if (!r->opt->quiet)
            fprintf(stderr, "%s: %s; continue with `%s`\n", r->e->path, why, resume_hint(r));
    } else if (why) {
        fprintf(stderr, "%s: %s: %s\n", r->e->path, train_end_name(end), why);
    }
    int rc = finish_runs_row(r, end, pos->train_seconds, why);
    if (end == TRAIN_FINISHED && rc == CN_EXIT_OK) drop_checkpoints(r);
    const RunObserver *obs = r->opt->observer;
    /* the observer's word for the end: the status, or how the run stopped early */
    const char *how = end == TRAIN_PAUSED ? "paused"
                      : end == TRAIN_FINISHED && r->s->stop_reason ? r->s->stop_reason
                                                                    : train_end_name(end);
    if (obs && obs->ended) obs->ended(obs->ctx, how, pos->epoch, pos->train_seconds);
    return rc;
}

/* --until-epoch N --resume of a run already paused at (or after) the end of
 * epoch N: nothing to train, nothing to write; says so (its row and
 * checkpoints stay as they are). 1 then, else 0. */
static int paused_already(const Record *r, const TrainPosition *pos)
{
    const int until = r->opt->until_epoch;
    if (until <= 0 || pos->epoch < until || pos->steps_in_epoch != 0 ||
        pos->epoch >= r->s->run.epochs)
        return 0;
    if (dist_rank() == 0)
        fprintf(stderr, "%s: run %lld is already paused after epoch %d of %d (--until-epoch %d): "
                        "nothing to train; continue it with a later --until-epoch, or without "
                        "one\n", r->e->path, (long long)r->opt->resume_run_id, pos->epoch,
                r->s->run.epochs, until);
    return 1;
}

int recorded_run(const Experiment *e, const CifarSplit *train, const CifarSplit *test,
                 const RecordOptions *opt)
{
    const int lock = opt->resume_run_id > 0 ? opt->resume_lock : RUN_LOCK_NONE;
    Session s;
    const int rank_batch = (e->batch_size + dist_size() - 1) / dist_size();
    if (dist_max_int(study_address_space_fits(e->path, e, rank_batch, opt->threads))) {
        if (lock >= 0) close(lock);
        return CN_EXIT_FAIL; /* out of memory under ulimit -v: said */
    }
    if (session_open(&s, e, e->batch_size, train->n) != CN_EXIT_OK) {
        if (lock >= 0) close(lock);
        return CN_EXIT_USAGE;
    }
    s.val = opt->val;
    Record r = {.e = e, .opt = opt, .s = &s, .run_id = -1, .lock_fd = lock};
    TrainPosition pos = {0};
    /* weights from the checkpoint, or (a fresh run) the initialisation from data */
    int rc = opt->resume_path ? resume_from_checkpoint(&r, &pos)
                              : session_init_from_data(&s, train);
    rc = dist_max_int(rc); /* every rank read the checkpoint, or none trains */
    s.quiet = opt->quiet;
    if (rc == 0 && opt->resume_path && paused_already(&r, &pos)) {
        session_close(&s);
        return CN_EXIT_OK;
    }
    if (rc == 0) {
        if (!opt->quiet) announce(&r, test->n);
        /* rank 0's row and lock */
        rc = dist_max_int(open_runs_row(&r, pos.epoch + 1, pos.train_seconds));
    }
    const RunObserver *obs = opt->observer;
    if (rc == 0 && obs && obs->opened) obs->opened(obs->ctx, r.run_id, pos.epoch + 1, s.run.epochs,
                     pos.train_seconds);
    if (rc == 0) { /* every rank can mark the row: rank 0 may be the one that dies */
        r.watch.db_path = opt->db_path;
        r.watch.config_path = e->path;
        atomic_store(&r.watch.train_seconds, pos.train_seconds);
        study_watch_start(&r.watch, r.run_id);
        rc = train_and_record(&r, train, test, &pos);
        study_watch_stop();
    }
    /* after the status is final: the lock file goes with the run (a file
     * left behind names a killed run) */
    if (r.lock_fd >= 0 && opt->checkpoint_dir && r.run_id > 0)
        run_unlock(opt->checkpoint_dir, e->name, r.run_id, r.lock_fd);
    else if (r.lock_fd >= 0)
        close(r.lock_fd);
    session_close(&s);
    return rc;
}
