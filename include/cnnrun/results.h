/* results.h — the SQLite results database: tables `runs`, `epochs`, `lr_find`
 * as in docs/results.md. Every write is its own transaction so a killed run
 * keeps every finished epoch; several processes may share one file (WAL mode,
 * and a run waits as long as another process holds the write lock: wait.c).
 * A damaged file is refused on opening. Errors print `DBPATH: message` on
 * stderr and return -1. */
#ifndef CNNRUN_RESULTS_H
#define CNNRUN_RESULTS_H

#include <stdint.h>

#include "cnnrun/epoch.h" /* EpochRecord: one row of `epochs` */

typedef struct ResultsDb ResultsDb;

typedef struct {
    const char *experiment;
    const char *config_path;
    const char *config;        /* resolved configuration text */
    uint64_t seed;
    int threads;               /* per rank */
    int ranks;                 /* MPI processes of a data-parallel run (0: 1) */
    int64_t params;
    double flops_per_image;    /* forward FLOPs (2 per multiply-add) */
    int epochs_planned;
    const char *version;
    const char *data_dir;
    const char *blas_core;     /* the OpenBLAS core that ran it (blas_core_name) */
    const char *engine;        /* the engine's settings (engine_settings_text) */
    const char *precision;     /* "fp32", "bf16" ([experiment] precision) */
    const char *data;          /* the data set's identity (data_identity) */
    int64_t study_id;          /* the study it belongs to (studies.id; 0: none, NULL) */
} RunInfo;

/* Opens (creating the file, its parent directory and the schema if needed). */
ResultsDb *results_open(const char *path);
void results_close(ResultsDb *db);

/* Inserts a `runs` row with status 'running' and started_at = now; returns its
 * id (> 0) or -1. */
int64_t results_begin_run(ResultsDb *db, const RunInfo *info);
int results_add_epoch(ResultsDb *db, int64_t run_id, const EpochRecord *e);
/* status: "finished" | "failed" | "interrupted" | "diverged"; error may be NULL.
 * Fills finished_at, final/best test accuracy (from the epochs table) and
 * train_seconds. */
int results_finish_run(ResultsDb *db, int64_t run_id, const char *status, double train_seconds,
                       const char *error);
/* The same end, from a connection of its own (the MPI fault watch's thread,
 * or a rank that is not the run's writer), and only if the run is still
 * running (or, over_interrupted, marked interrupted); waits at most wait_ms
 * for the file's lock. 1: marked, 0: it was not running, -1: error (printed). */
int results_mark_stopped(const char *path, int64_t run_id, const char *status,
                         double train_seconds, const char *error, int over_interrupted,
                         int wait_ms);
int results_add_lr_find(ResultsDb *db, int64_t run_id, int step, double lr, double loss);
/* The final evaluation with test-time augmentation over `views` views:
 * runs.final_test_acc and runs.final_views (results_finish_run keeps them). */
int results_final_eval(ResultsDb *db, int64_t run_id, double test_acc, int views);
/* [experiment] target_accuracy reached after `epoch` epochs and `seconds` of
 * the run's time (training + evaluation): runs.epochs_to_target and
 * runs.seconds_to_target, the time to accuracy. */
int results_reached_target(ResultsDb *db, int64_t run_id, int epoch, double seconds);
/* runs.stop_reason: why a finished run stopped before its last epoch
 * ("patience", "target"); NULL: it did not. */
int results_stop_reason(ResultsDb *db, int64_t run_id, const char *reason);

/* ==== issue 7: the per-layer table ========================================= */
#include "cnnrun/model.h"

/* Records the model table (one `layers` row per section, as `cnnrun check`
 * prints it) for a run, in one transaction. Call right after results_begin_run. */
int results_add_layers(ResultsDb *db, int64_t run_id, const Model *m);

/* ==== issue 4: resuming a run ============================================== */

/* The newest run of `experiment` that can be resumed: status `running`,
 * `interrupted` or `failed` (not `finished`, and not `diverged`: it would
 * diverge again). Returns its id, 0 if there is none, -1 on error. When
 * config is not NULL and a run is found, *config gets a copy of runs.config
 * (caller frees; NULL if the row has none). */
int64_t results_find_resumable(ResultsDb *db, const char *experiment, char **config);
/* runs.engine of run_id into buf ("" for a run recorded before it: NULL).
 * 0, or -1 (printed). */
int results_run_engine(ResultsDb *db, int64_t run_id, char *buf, size_t size);
/* runs.data of run_id (the data set's identity) into buf, as runs.engine. */
int results_run_data(ResultsDb *db, int64_t run_id, char *buf, size_t size);
/* The experiment name and status of a run into the buffers, its thread count
 * into *threads and a copy of runs.config into *config (caller frees; NULL if
 * none) when those are not NULL; 0, or -1 (no such run: message printed). */
int results_run_status(ResultsDb *db, int64_t run_id, char *experiment, size_t exp_size,
                       char *status, size_t status_size, int *threads, char **config);
/* The highest recorded epoch of a run, 0 if none, -1 on error. */
int results_last_epoch(ResultsDb *db, int64_t run_id);
/* Puts a run back to `running` (clears finished_at and error) and deletes its
 * epochs after keep_epochs (rows the checkpoint does not cover: they are
 * trained again, with the same numbers), in one transaction; refused (-1,
 * nothing changed) when the run is `finished`, as another process may have
 * made it since it was looked at. */
int results_resume_run(ResultsDb *db, int64_t run_id, int keep_epochs);

/* ==== issue 15: sweeps and groups ========================================== */

/* Records the values a run was given, one `run_params` row per override
 * ("schedule.lr_max" -> "0.1"; a later one of a key replaces an earlier), in
 * one transaction. Call right after results_begin_run. */
int results_add_params(ResultsDb *db, int64_t run_id, const ConfigOverride *ov, int n);

typedef struct {
    int64_t id;
    char status[16];
    char *config;      /* runs.config (owned; NULL if none) */
} ResultsRunRef;

/* The runs of `experiment` with id > after_id, newest first, into *out (free
 * with results_free_run_refs); returns how many, or -1 (message printed). */
int results_runs_after(ResultsDb *db, const char *experiment, int64_t after_id,
                       ResultsRunRef **out);
void results_free_run_refs(ResultsRunRef *refs, int n);

/* ==== issue 24: stopping hopeless runs of a sweep early ([sweep] prune) ==== */

/* The judged accuracy (validation: epochs.val_acc, else test_acc) at `epoch`
 * of every run of `experiment` in study study_id (0: the runs of no study)
 * started before run_id (a smaller id) that has one there, in run order,
 * into *out (free it; NULL for none); returns how many, or -1 (message
 * printed). Another study's runs are never compared against. */
int results_peer_metrics(ResultsDb *db, const char *experiment, int64_t study_id, int64_t run_id,
                         int epoch,
                         int validation, double **out);
/* run_id's own judged accuracy at epoch into *out: 0; 1: none recorded; -1
 * (message printed). */
int results_epoch_metric(ResultsDb *db, int64_t run_id, int epoch, int validation, double *out);

/* ==== issue 16: many machines, one database (merge.c) ===================== */

/* Copies every run of the results databases srcs[0..n) into the database
 * `into` (created or migrated as results_open does), renumbered after the
 * runs already there, in their order, each with its epochs, layers, lr_find
 * and run_params rows — of a source of an older schema version, the columns
 * it has. Sources are opened read-only. Every duplicate is found first;
 * the copy goes in short transactions, and a failure or SIGINT/SIGTERM
 * deletes the runs already copied: on any refusal nothing is written, and a
 * new `into` appears only complete. A run is the same run as one `into`
 * (or an earlier source) has when they share experiment, started_at,
 * hostname, seed and resolved configuration: one in an earlier source is
 * refused as a duplicate; one in `into` is skipped when its copy there is
 * in the same state (status, epochs), brought up to date (replaced, keeping
 * its id) when that copy is 'running' or 'interrupted' and the source's has
 * more epochs or another status, and refused otherwise. Temporary files of
 * earlier merges into `into` that were killed are removed. Returns the runs
 * copied; -2: a source or `into` is not a cnnrun results database of a
 * version this program reads (or a source is `into` itself); -1: a
 * duplicate, a damaged file, a signal or an SQLite error (messages
 * printed). */
int results_merge(const char *into, const char *const *srcs, int n);

/* ==== issue 36: studies (one `cnnrun run` invocation) ======================== */

/* Inserts a `studies` row (status running, started_at now) named `name`
 * with the command line that started it; its id, or -1 (printed). */
int64_t results_begin_study(ResultsDb *db, const char *name, const char *command);
/* The newest study named `name` (0: none), or -1 (printed): what a
 * `--resume` goes on in. */
int64_t results_find_study(ResultsDb *db, const char *name);
/* studies.status: "running" (again: finished_at cleared) or how it ended,
 * "finished" | "failed" | "interrupted" (finished_at now; "finished" is
 * recorded as interrupted while a run of it is unfinished: paused by
 * --until-epoch). 0 or -1. */
int results_study_status(ResultsDb *db, int64_t study_id, const char *status);

#endif
