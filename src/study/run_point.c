/* run_point.c — one run of a study: grid point `point` of a file loaded,
 * its data loaded and split, trained and recorded (run_record.c); with
 * --resume, the recorded run it continues found and claimed first (the run
 * of a checkpoint given, the unfinished run of an experiment, a sweep
 * point's: resume.c), its engine settings and data checked against the
 * run's. And the results database a study opens (run_db_open). The same
 * for the one-at-a-time loop (study.c), a --jobs worker (jobs.c) and a
 * --ranks-per-run group (rank_groups.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/study.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/data.h"
#include "cnnrun/dist.h"
#include "cnnrun/model.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "resume.h"
#include "run_point.h"
#include "run_record.h"

/* The checkpoint to continue run id from into ckpt: its `last` one; without
 * it (its first checkpoint was never written: the disk filled, the process
 * was killed between committing an epoch and renaming the file; or the file
 * was removed) its `best` one, whose epoch's row is committed too; without
 * either "": the run starts again at epoch 1 in its row, from the seed, and
 * the epoch rows it has are trained again with the same numbers
 * (docs/training.md). 0 or the exit status (message printed). */
static int last_checkpoint(const char *path, const Experiment *e, ResultsDb *db,
                           const char *ckdir, int64_t id, char *ckpt, size_t size)
{
    checkpoint_path(ckpt, size, ckdir, e->name, id, "last");
    if (access(ckpt, F_OK) == 0) return 0;
    int last = results_last_epoch(db, id);
    if (last < 0) return CN_EXIT_FAIL;
    char best[CN_PATH_MAX + 256];
    checkpoint_path(best, sizeof best, ckdir, e->name, id, "best");
    CheckpointMeta meta;
    if (last > 0 && access(best, F_OK) == 0) {
        int rc = checkpoint_read_meta(best, &meta);
        if (rc != 0) return rc;
        fprintf(stderr, "%s: run %lld has %d finished epoch(s) but no checkpoint %s; continuing "
                        "from its best one (epoch %d); the epochs after it are trained again\n",
                path, (long long)id, last, ckpt, meta.epoch);
        str_copy(ckpt, size, best);
        return 0;
    }
    if (last > 0)
        fprintf(stderr, "%s: run %lld has %d finished epoch(s) but no checkpoint %s; starting it "
                        "again at epoch 1 in its row (the same seed gives the same epochs)\n",
                path, (long long)id, last, ckpt);
    ckpt[0] = '\0';
    return 0;
}

static void warn_threads(const char *path, int64_t id, int run_threads, int threads)
{
    if (run_threads > 0 && run_threads != threads)
        fprintf(stderr, "%s: warning: run %lld used %d threads, this process %d; the curve may "
                        "differ in the last bits from an uninterrupted run (use --threads %d)\n",
                path, (long long)id, run_threads, threads, run_threads);
}

/* Claims run id (resume.h) for find_resume: refused (exit status 2,
 * printed) while another process runs it, or when it is finished now. 0
 * with *c, or the exit status. */
static int claim_run(const char *path, const Experiment *e, ResultsDb *db, const char *ckdir,
                     int64_t id, ResumeClaim *c)
{
    long holder;
    int got = resume_claim(db, ckdir, e->name, id, 1, c, &holder);
    if (got < 0) return CN_EXIT_FAIL;
    if (got == 0) return CN_EXIT_USAGE; /* "still running (process N)": printed */
    if (strcmp(c->status, "finished") != 0) return 0;
    fprintf(stderr, "%s: run %lld is already finished; nothing to resume\n", path, (long long)id);
    resume_release(c);
    return CN_EXIT_USAGE;
}

/* --resume: finds the run and checkpoint to continue, and claims the run
 * (its lock into *lock). Returns 0 with *run_id and ckpt ("" = no checkpoint
 * yet: start at epoch 1 in the same row), or an exit status after printing
 * what is wrong and what to do. */
static int find_resume(const char *path, const Experiment *e, StudyOptions *o, ResultsDb *db,
                       const char *ckdir, int threads, int64_t *run_id, char *ckpt, size_t size,
                       int *lock)
{
    char *config = NULL, exp_name[128], status[32];
    int run_threads = 0;
    ResumeClaim claim = {.lock_fd = RUN_LOCK_NONE};
    ckpt[0] = '\0';
    if (o->resume_path) {
        CheckpointMeta meta;
        int rc = checkpoint_read_meta(o->resume_path, &meta);
        if (rc != 0) return rc;
        if (strcmp(meta.experiment, e->name) != 0) {
            fprintf(stderr, "%s: the checkpoint is of experiment '%s', not '%s' (%s)\n",
                    o->resume_path, meta.experiment, e->name, path);
            return CN_EXIT_USAGE;
        }
        if (meta.run_id <= 0 ||
            results_run_status(db, meta.run_id, exp_name, sizeof exp_name, status, sizeof status,
                               &run_threads, &config) != 0) {
            fprintf(stderr, "%s: run %lld of the checkpoint is not in %s; pass the --db it was "
                            "trained with\n", o->resume_path, (long long)meta.run_id, o->db);
            return CN_EXIT_USAGE;
        }
        if (!strcmp(status, "finished")) {
            fprintf(stderr, "%s: run %lld is already finished; nothing to resume\n",
                    o->resume_path, (long long)meta.run_id);
            free(config);
            return CN_EXIT_USAGE;
        }
        rc = claim_run(o->resume_path, e, db, ckdir, meta.run_id, &claim);
        if (rc != 0) {
            free(config);
            return rc;
        }
        *run_id = meta.run_id;
        str_copy(ckpt, size, o->resume_path);
    } else {
        int64_t id = results_find_resumable(db, e->name, &config);
        if (id < 0) return CN_EXIT_FAIL;
        if (id == 0) {
            fprintf(stderr, "%s: no unfinished run of experiment '%s' in %s to resume; run it "
                            "without --resume\n", path, e->name, o->db);
            return CN_EXIT_USAGE;
        }
        int rc = claim_run(path, e, db, ckdir, id, &claim);
        if (rc != 0) {
            free(config);
            return rc;
        }
        *run_id = id;
        results_run_status(db, id, exp_name, sizeof exp_name, status, sizeof status,
                           &run_threads, NULL);
        rc = last_checkpoint(path, e, db, ckdir, id, ckpt, size);
        if (rc != 0) {
            resume_release(&claim);
            free(config);
            return rc;
        }
    }
    /* the same resolved configuration, or the curve would not be the same run's */
    char *now = experiment_text(e);
    char why[512];
    int same = !config || experiment_text_same_run(now, config, why, sizeof why);
    if (!same)
        fprintf(stderr, "%s: the resolved configuration differs from the one run %lld started "
                        "with (%s); resuming would not continue the same run. Restore the file "
                        "(and --set options), or start a new run without --resume\n",
                path, (long long)*run_id, why);
    free(now);
    free(config);
    if (!same) {
        resume_release(&claim);
        return CN_EXIT_USAGE;
    }
    warn_threads(path, *run_id, run_threads, threads);
    *lock = claim.lock_fd;
    return 0;
}

/* --resume of a sweep's grid point: the run it continues, claimed, and
 * *after moved on (resume.c). Ended (finished, diverged): *skip (it ran);
 * unfinished: *run_id, its lock in *lock and ckpt as find_resume gives
 * them; none: a new run (*run_id 0). 0 or the exit status. */
static int find_point_resume(Grid *g, long point, const Experiment *e, ResultsDb *db,
                             const char *ckdir, int threads, int64_t *after, int64_t *run_id,
                             int *skip, char *ckpt, size_t size, int *lock)
{
    *run_id = 0;
    *skip = 0;
    ckpt[0] = '\0';
    ResumeClaim c;
    int rc = resume_point(g, point, e->name, db, ckdir, after, &c, skip);
    if (rc != 0 || !c.run_id) return rc;
    if (*skip) {
        fprintf(stderr, "%s: already run (run %lld, %s); not run again\n", g->path,
                (long long)c.run_id, c.status);
        return 0;
    }
    rc = last_checkpoint(g->path, e, db, ckdir, c.run_id, ckpt, size);
    if (rc != 0) {
        resume_release(&c);
        return rc;
    }
    *run_id = c.run_id;
    *lock = c.lock_fd;
    char name[128], status[32];
    int run_threads = 0;
    if (results_run_status(db, c.run_id, name, sizeof name, status, sizeof status, &run_threads,
                           NULL) == 0)
        warn_threads(g->path, c.run_id, run_threads, threads);
    return 0;
}

/* A resumed run computes with the engine settings it was recorded with
 * (runs.engine; a run recorded before them: this process's), whatever the
 * environment says now; a difference is noted. */
static void restore_engine(const char *path, int64_t id, const char *recorded, EngineSettings *es)
{
    EngineSettings then = *es;
    if (id <= 0 || !recorded[0]) return;
    if (engine_settings_parse(recorded, &then) != 0) {
        fprintf(stderr, "%s: note: run %lld's engine settings '%s' are not this cnnrun's; it "
                        "continues with this process's\n", path, (long long)id, recorded);
        return;
    }
    char now[128];
    engine_settings_text(es, now, sizeof now);
    if (strcmp(now, recorded) != 0)
        fprintf(stderr, "%s: note: run %lld continues with the engine settings it was recorded "
                        "with (%s), not the environment's (%s)\n", path, (long long)id, recorded,
                now);
    *es = then;
}

/* --resume: the data loaded now must be the data run id trained on
 * (runs.data; a run recorded before it: not checked). Rank 0 looks; 0, or
 * -1 after naming what changed. */
static int check_resume_data(const char *path, ResultsDb *db, int64_t id, const char *now)
{
    if (id <= 0 || !db || dist_rank() != 0) return 0;
    char then[DATA_DIR_MAX + 256], why[2 * DATA_DIR_MAX + 256];
    if (results_run_data(db, id, then, sizeof then) != 0) return -1;
    if (!then[0] || data_identity_same(then, now, why, sizeof why)) return 0;
    fprintf(stderr, "%s: the data changed since run %lld started (%s); resuming would not "
                    "continue the same run. Give it the data it was trained on (--data, [data] "
                    "dir), or start a new run without --resume\n", path, (long long)id, why);
    return -1;
}

int run_point(Grid *g, long point, StudyOptions *o, ResultsDb *db, int threads, int64_t *after,
              const RunObserver *observer)
{
    const char *path = g->path;
    Experiment e;
    if (grid_load(g, point, &e) != 0) return CN_EXIT_USAGE;
    if (g->sweep.n_keys > 0 && !observer) {
        char text[1024];
        sweep_point_text(&g->sweep, point, text, sizeof text);
        fprintf(stderr, "%s: grid point %ld of %ld: %s\n", path, point + 1, g->sweep.n_points,
                text);
    }
    char ckdir[CN_PATH_MAX], ckpt[CN_PATH_MAX + 256];
    checkpoint_default_dir(ckdir, sizeof ckdir, o->db);
    int64_t resume_id = 0;
    int lock = RUN_LOCK_NONE; /* the resumed run's, taken when it was claimed (rank 0) */
    if (o->resume) {
        /* rank 0 looks in the database; the other ranks continue from the
         * same run and checkpoint file (a path every rank can read) */
        struct {
            int rc, skip;
            int64_t id;
            char ckpt[sizeof ckpt];
            char engine[128]; /* the run's engine settings (runs.engine) */
        } found = {0};
        if (dist_rank() == 0)
            found.rc = g->sweep.n_keys == 0
                           ? find_resume(path, &e, o, db, ckdir, threads, &found.id, found.ckpt,
                                         sizeof found.ckpt, &lock)
                           : find_point_resume(g, point, &e, db, ckdir, threads, after,
                                               &found.id, &found.skip, found.ckpt,
                                               sizeof found.ckpt, &lock);
        if (dist_rank() == 0 && found.rc == 0 && !found.skip && found.id > 0)
            results_run_engine(db, found.id, found.engine, sizeof found.engine);
        dist_bcast(&found, sizeof found);
        restore_engine(path, found.id, found.engine, &e.engine);
        resume_id = found.id;
        memcpy(ckpt, found.ckpt, sizeof ckpt);
        if (found.rc != 0 || found.skip) {
            experiment_free(&e);
            return found.rc;
        }
    }
    LoadedData d;
    int lrc = dist_max_int(study_load_data(o->data, &e, &d)); /* on every rank's machine */
    if (lrc != 0) {
        if (lock >= 0) run_unlock(ckdir, e.name, resume_id, lock); /* not run: it goes */
        study_free_data(&d);
        experiment_free(&e);
        return lrc;
    }
    char identity[DATA_DIR_MAX + 256];
    data_identity(&d.info, identity, sizeof identity);
    CifarSplit *train = &d.train, *test = &d.test;
    study_test_split(&e, test);
    CifarSplit val = {0};
    int bad = check_resume_data(path, db, resume_id, identity) != 0 ||
              study_training_split(&e, train, &val, d.info.test_held_out) != 0 ||
              train_check_data(&e, train->n) != 0 || /* drop_last: no full batch */
              train_check_ranks(&e, train->n, dist_size()) != 0;
    if (dist_max_int(bad)) {
        if (lock >= 0) run_unlock(ckdir, e.name, resume_id, lock); /* not run: it goes */
        study_free_data(&d);
        cifar_free(&val);
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    char *data_text = data_info_text(&d.info, e.normalize == NORM_DATASET ? e.norm_mean : NULL,
                                     e.normalize == NORM_DATASET ? e.norm_std : NULL);
    char data_desc[CN_PATH_MAX + 64];
    snprintf(data_desc, sizeof data_desc, "%s (%s)", d.dir, d.origin);
    int n_params;
    const ConfigOverride *params = grid_point(g, point, &n_params);
    RecordOptions opt = {.db = db, .study_id = o->study_id, .resume_hint = o->resume_command,
                         .db_path = o->db, .threads = threads, .ranks = dist_size(),
                         .data_dir = data_desc, .stop = &study_stop_requested,
                         .checkpoint_dir = dist_rank() == 0 ? ckdir : NULL, /* rank 0 writes */
                         .resume_run_id = resume_id, .resume_lock = lock,
                         .resume_path = resume_id > 0 && ckpt[0] ? ckpt : NULL,
                         .params = params, .n_params = n_params,
                         .val = e.validation > 0 && !d.info.test_held_out ? &val : NULL,
                         .quiet = observer != NULL, .observer = observer,
                         .prune = &g->sweep.prune, .until_epoch = o->until_epoch,
                         .data_identity = identity, .data_text = data_text,
                         .data_info = &d.info};
    int rc = recorded_run(&e, train, test, &opt);
    free(data_text);
    cifar_free(&val);
    study_free_data(&d);
    experiment_free(&e);
    return rc;
}

int run_db_open(const char *path, ResultsDb **db)
{
    /* the checkpoint directory is checked before anything trains: before a
     * new database is created, so that a refusal leaves no file; after an
     * existing one is opened, so that a database that cannot be written is
     * reported as that */
    char ckdir[CN_PATH_MAX];
    checkpoint_default_dir(ckdir, sizeof ckdir, path);
    struct stat st;
    const int existed = stat(path, &st) == 0;
    *db = NULL;
    if (!existed && checkpoint_dir_check(ckdir) != 0) return CN_EXIT_USAGE;
    *db = results_open(path);
    if (!*db) return CN_EXIT_FAIL;
    if (existed && checkpoint_dir_check(ckdir) != 0) {
        results_close(*db);
        *db = NULL;
        return CN_EXIT_USAGE;
    }
    return CN_EXIT_OK;
}

