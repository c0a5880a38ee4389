/* checkpoint.h — saving and restoring the whole state of a training run so
 * that a resumed run continues bit for bit: parameters, batch-norm running
 * statistics (Model.state), optimizer moments and step, epoch, global step,
 * the trainer's RNGs and Model.dropout_rng, best accuracy. Files carry a magic
 * number, a format version, the network's shape signature and a checksum;
 * they are written atomically (temp file in the same directory, fsync,
 * rename). Format: src/train/checkpoint.c; user view: docs/training.md. */
#ifndef CNNRUN_CHECKPOINT_H
#define CNNRUN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "cnnrun/files.h"
#include "cnnrun/model.h"
#include "cnnrun/rng.h"
#include "cnnrun/train.h"

#define CKPT_MAGIC CN_CHECKPOINT_MAGIC /* files.h: what each output begins with */
/* 2: the partial-epoch fields; 3: the convolutions' algorithms; 4: best_epoch
 * ([experiment] patience); 5: the run's data (data_info_text: its identity,
 * normalisation and class names). Versions 1 to 4 still load (their
 * convolutions get the algorithms of a build without measuring: the shape
 * rule, or CNNRUN_CONV's; their best epoch is taken as their last one; their
 * data is CIFAR-10). */
#define CKPT_VERSION 5
/* the most a checkpoint's data text may take (256 class names and more) */
#define CKPT_DATA_MAX ((size_t)1 << 20)

typedef struct {
    char experiment[128];  /* Experiment.name */
    int64_t run_id;        /* runs.id, 0 when not recorded */
    int epoch;             /* last finished epoch (1-based); training goes on at epoch + 1 */
    int64_t global_step;   /* optimizer steps done */
    double best_acc;       /* best evaluated accuracy so far (validation, else test) */
    int best_epoch;        /* its epoch (version 4; older files: `epoch`, patience
                              counts from there) */
    double train_seconds;  /* wall time of the finished epochs */
    Rng shuffle_rng;       /* the trainer's, before epoch + 1 shuffles */
    Rng aug_rng;           /* the trainer's, after global_step steps */
    /* An interrupted run stops inside epoch + 1: steps_in_epoch of its steps
     * are done (0: at the epoch boundary), with these running sums. */
    int steps_in_epoch;
    double part_loss_sum;  /* sum of the batch losses so far */
    int64_t part_correct, part_seen; /* correct predictions / images so far */
    double part_seconds;   /* training time spent in the partial epoch */
    /* checkpoint_save: the run's data as text (data_info_text), at most
     * CKPT_DATA_MAX bytes; NULL: none. Reading leaves it NULL: the text is
     * checkpoint_read_data's. */
    const char *data;
} CheckpointMeta;

/* The network's shape signature: one line per node (name, op, output shape,
 * parameter and state counts). Caller frees. */
char *model_signature(const Model *m);

/* Writes m (and o, may be NULL) with meta to path atomically; a file there
 * that is not empty or a checkpoint is left as it is and refused (files.h
 * output_target_ok). Creates the directory (one level) if needed. Returns
 * 0, or -1 after printing `path: message`. */
int checkpoint_save(const char *path, const Model *m, const Optimizer *o,
                    const CheckpointMeta *meta);

/* Restores params, state, dropout_rng and the convolutions' algorithms
 * (model_set_conv_algos: a resumed run computes as the interrupted one,
 * whatever CNNRUN_CONV says now) into m (built from the same network),
 * optimizer state into o when not NULL (its type must match), and meta when
 * not NULL. Nothing is modified unless the whole file is valid.
 * Returns 0, or prints `path: message` (with what to do) and returns
 * CN_EXIT_USAGE (not a checkpoint, newer format, different network or
 * optimizer) or CN_EXIT_FAIL (unreadable, truncated, damaged). */
int checkpoint_load(const char *path, Model *m, Optimizer *o, CheckpointMeta *meta);

/* Validates the file (magic, version, checksum) and reads only meta: which
 * run and epoch it holds. Same return values as checkpoint_load. */
int checkpoint_read_meta(const char *path, CheckpointMeta *meta);

/* The run's data the file records (version 5) into *text (caller frees),
 * NULL for an older file or one saved without it. Same return values as
 * checkpoint_load. */
int checkpoint_read_data(const char *path, char **text);

/* DIR/<experiment>-<run_id>-<which>.ckpt, which = "last" | "best". */
void checkpoint_path(char *buf, size_t size, const char *dir, const char *experiment,
                     int64_t run_id, const char *which);

/* Marks run run_id as alive in this process: an exclusive flock on
 * DIR/<experiment>-<run_id>.lock (created with the directory if needed),
 * holding this process's pid. The kernel drops it when the process ends,
 * however it ends, so a killed run is free to resume. Returns the lock's fd
 * (keep it open for the run), RUN_LOCK_NONE when no lock could be taken for
 * lack of a usable directory (nothing else can hold one then either), or
 * RUN_LOCK_HELD after printing who holds it when another live process runs
 * that run. */
enum { RUN_LOCK_NONE = -1, RUN_LOCK_HELD = -2 };
int run_lock(const char *dir, const char *experiment, int64_t run_id);
/* run_lock that prints nothing when the lock is held: RUN_LOCK_HELD, and
 * the holder's pid in *holder (0: not known). */
int run_lock_try(const char *dir, const char *experiment, int64_t run_id, long *holder);
/* The run has ended (its row is final): its lock file removed, then the
 * lock fd closed (fd < 0: nothing). A file left behind means a run that was
 * killed (run_lock_dead_pid). */
void run_unlock(const char *dir, const char *experiment, int64_t run_id, int fd);
/* The pid in run run_id's lock file when no such process exists any more
 * (on this machine): the run ended without marking its row (SIGKILL, the
 * OOM killer, a power cut). 0 when there is no lock file or the process may
 * be alive (a pid in use again is taken for alive). Takes no lock. */
long run_lock_dead_pid(const char *dir, const char *experiment, int64_t run_id);

/* Before anything trains: DIR is, or is made (one level), a directory this
 * process can create files in (a probe file is created and removed), so
 * that a checkpoint is not found unwritable after a whole epoch. 0, or -1
 * after saying what is wrong (a file in its place, no permission, a
 * read-only file system). A DIR whose parent does not exist yet passes
 * (the database's directory is created with the database). */
int checkpoint_dir_check(const char *dir);

/* Removes the temporary files a process killed while writing one of run
 * run_id's checkpoints left (DIR/<experiment>-<run_id>-*.ckpt.tmp.*): call
 * it holding the run's lock, when no other process can be writing them. */
void checkpoint_remove_stale(const char *dir, const char *experiment, int64_t run_id);

/* Default checkpoint directory for a results database, next to it and its
 * own, so that two databases in one directory never share checkpoint names:
 * results/results.db -> results/checkpoints, results/ablation.db ->
 * results/ablation-checkpoints. */
void checkpoint_default_dir(char *buf, size_t size, const char *db_path);

#endif
