/* run_record.h — one recorded training run of `cnnrun run` (run_record.c):
 * private to src/study. */
#ifndef CNNRUN_RUN_RECORD_H
#define CNNRUN_RUN_RECORD_H

#include <signal.h>
#include <stdint.h>

#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/results.h"

/* What a `cnnrun run --jobs` worker tells the parent about its run (jobs.c);
 * each call may be NULL. */
typedef struct {
    void *ctx;
    /* the runs row exists (new, or the resumed one put back to running),
     * before anything more is written: a process watching this one marks the
     * row if it dies from here on; run_seconds as for opened */
    void (*row)(void *ctx, int64_t run_id, double run_seconds);
    /* the runs row is open (new, or the resumed one): training starts at
     * first_epoch; run_seconds: the time of the epochs before it (resumed) */
    void (*opened)(void *ctx, int64_t run_id, int first_epoch, int epochs, double run_seconds);
    /* an epoch's row is recorded: its test accuracy (NaN: not evaluated) and the run's time */
    void (*epoch)(void *ctx, int epoch, double test_acc, double run_seconds);
    /* the final evaluation with test-time augmentation */
    void (*final)(void *ctx, double test_acc);
    /* the run ended after `epoch`: its status as recorded ("finished",
     * "failed", ...), or for a run that stopped before its last epoch how:
     * "paused" (--until-epoch; recorded `interrupted`), "pruned", "target",
     * "patience" (recorded `finished`); and its time */
    void (*ended)(void *ctx, const char *how, int epoch, double train_seconds);
} RunObserver;

typedef struct {
    ResultsDb *db;                /* may be NULL (no recording; a rank other than 0) */
    int64_t study_id;             /* the study its row belongs to (study.c; 0: none) */
    /* the command that continues it (StudyOptions.resume_command), for the hints;
     * NULL: `cnnrun run FILE --resume` */
    const char *resume_hint;
    const char *db_path;          /* its file, on every rank: the MPI fault watch marks it */
    int threads;                  /* per rank */
    int ranks;                    /* MPI processes sharing each batch (dist.h); 0: 1 */
    const char *data_dir;         /* as recorded in runs.data_dir */
    volatile sig_atomic_t *stop;  /* set by SIGINT/SIGTERM: finish the step, mark interrupted */
    /* checkpoints (include/cnnrun/checkpoint.h): DIR/<experiment>-<run_id>-{last,best}.ckpt
     * written after each epoch's row is committed; NULL or "": none */
    const char *checkpoint_dir;
    int64_t resume_run_id;        /* > 0: continue this runs row instead of starting one */
    /* the run lock of resume_run_id, taken when the run was claimed before
     * anything was loaded (resume.h; RUN_LOCK_NONE on a rank without the
     * database): recorded_run keeps it for the run and closes it */
    int resume_lock;
    const char *resume_path;      /* the checkpoint to continue from; NULL: from epoch 1 */
    /* the values the run was given (--set, a sweep's point): its run_params rows */
    const ConfigOverride *params;
    int n_params;
    /* [data] validation: the held-out images (evaluated with test, the best
     * epoch and stopping judged on them); NULL: none */
    const CifarSplit *val;
    /* a --jobs worker: no model table, no progress display; the run's events
     * go to observer (NULL: none) */
    int quiet;
    const RunObserver *observer;
    /* [sweep] prune: stop the run after an epoch where it is below the
     * earlier runs of its experiment in db (NULL or PRUNE_NONE: never) */
    const PruneRule *prune;
    /* > 0: run --until-epoch: pause the run after this epoch (TRAIN_PAUSED) */
    int until_epoch;
    /* the data: its identity (runs.data), its text for the checkpoints
     * (data_info_text), its classes (NULL: none of them recorded) */
    const char *data_identity;
    const char *data_text;
    const DataInfo *data_info;
} RecordOptions;

/* Trains e on train, evaluating on test every epoch, recorded as opt says.
 * Returns CN_EXIT_OK; CN_EXIT_USAGE (the network cannot be built, the
 * checkpoint does not fit, another process runs the run); or CN_EXIT_FAIL
 * (diverged, interrupted, I/O error) with the run marked so. */
int recorded_run(const Experiment *e, const CifarSplit *train, const CifarSplit *test,
                 const RecordOptions *opt);

#endif
