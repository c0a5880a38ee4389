/* cmd_lr_find.c — `cnnrun lr-find FILE.ini [--min 1e-5] [--max 10] [--steps 100]`:
 * runs the learning-rate range test (src/train/lr_find.c) on a fresh session,
 * records its curve in the results database (a runs row of its own, table
 * lr_find) and prints the suggested range and a ready-to-paste [schedule]
 * section. Trains on the images `run` trains on: [data] validation's are
 * left out (study_training_split). Leaves no weights anywhere. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/results.h"
#include "cnnrun/train.h"
#include "cnnrun/dist.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"

/* Fewer steps than this: a curve too short to show a steepest descent (an
 * lr-find whose loss exploded after its first few steps). */
#define LR_FIND_FEW_STEPS 10

/* The curve's runs row: experiment "<name>/lr-find", the resolved
 * configuration with the range appended. Returns its id or -1. */
static int64_t begin_lr_find_run(ResultsDb *db, const Experiment *e, const LrFindOptions *lo,
                                 const Model *m, int threads, const char *data_desc)
{
    if (!db) return 0; /* a rank other than 0 */
    char name[160], *cfg = NULL;
    size_t cfg_len = 0;
    snprintf(name, sizeof name, "%s/lr-find", e->name);
    FILE *mem = open_memstream(&cfg, &cfg_len);
    experiment_print(e, mem);
    fprintf(mem, "\n; lr-find: lr %g -> %g over %d steps\n", lo->lr_min, lo->lr_max, lo->steps);
    fclose(mem);
    char engine[128];
    engine_settings_text(&e->engine, engine, sizeof engine);
    RunInfo info = {.experiment = name, .config_path = e->path, .config = cfg, .seed = e->seed,
                    .threads = threads, .ranks = dist_size(), .params = (int64_t)m->n_params,
                    .flops_per_image = model_flops_per_image(m), .epochs_planned = 0,
                    .version = CN_VERSION, .data_dir = data_desc,
                    .blas_core = blas_core_name(), .engine = engine,
                    .precision = e->precision == PRECISION_BF16 ? "bf16" : "fp32"};
    int64_t id = results_begin_run(db, &info);
    free(cfg);
    return id;
}

typedef struct {
    ResultsDb *db;
    int64_t run_id;
} CurveRecord;

/* TrainCallbacks.step: one row of `lr_find`. */
static const char *record_step(void *ctx, const TrainStep *st)
{
    const CurveRecord *c = ctx;
    if (c->db && results_add_lr_find(c->db, c->run_id, (int)st->global_step, st->lr, st->loss) != 0)
        return "could not record an lr_find step";
    return NULL;
}

/* TrainCallbacks.stop: SIGINT or SIGTERM arrived. */
static int stop_poll(void *ctx)
{
    (void)ctx;
    return study_stop_requested != 0;
}

/* Runs the test on a fresh session and records it. CN_EXIT_OK with *r
 * filled and *run_id its runs row, or the exit status. */
static int find_and_record(const Experiment *e, const CifarSplit *train, const LrFindOptions *lo,
                           ResultsDb *db, const char *db_path, int threads,
                           const char *data_desc, LrFindResult *r, int64_t *run_id)
{
    Session s;
    if (dist_max_int(study_address_space_fits(e->path, e, (e->batch_size + dist_size() - 1) /
                                                            dist_size(), threads)))
        return CN_EXIT_FAIL; /* out of memory under ulimit -v: said */
    if (session_open(&s, e, e->batch_size, train->n) != CN_EXIT_OK) return CN_EXIT_USAGE;
    if (session_init_from_data(&s, train) != CN_EXIT_OK) { /* a fresh network, as a run's */
        session_close(&s);
        return CN_EXIT_FAIL;
    }
    double t0 = now_seconds();
    CurveRecord curve = {.db = db,
                         .run_id = begin_lr_find_run(db, e, lo, &s.model, threads, data_desc)};
    *run_id = curve.run_id;
    if (dist_max_int(curve.run_id < 0)) {
        session_close(&s);
        return CN_EXIT_FAIL;
    }
    WatchedRun watch = {.db_path = db_path}; /* a dead rank or mpirun's stop marks the row */
    study_watch_start(&watch, curve.run_id);
    TrainCallbacks cb = {.ctx = &curve, .step = record_step, .stop = stop_poll};
    const char *why;
    TrainEnd end = lr_find(&s, train, lo, &cb, r, &why);
    if (end == TRAIN_INTERRUPTED) why = "interrupted by a signal";
    int rc = end == TRAIN_FINISHED ? CN_EXIT_OK : CN_EXIT_FAIL;
    if (db && results_finish_run(db, curve.run_id, train_end_name(end), now_seconds() - t0, why) != 0)
        rc = CN_EXIT_FAIL;
    study_watch_stop();
    session_close(&s);
    return rc;
}

int cmd_lr_find(CliOptions *o)
{
    if (o->n_files != 1) {
        fprintf(stderr, "cnnrun lr-find: give exactly one experiment file\n");
        return CN_EXIT_USAGE;
    }
    LrFindOptions lo = {.lr_min = o->lr_min > 0 ? o->lr_min : 1e-5,
                        .lr_max = o->lr_max > 0 ? o->lr_max : 10,
                        .steps = o->steps ? o->steps : 100};
    if (lo.lr_min >= lo.lr_max) {
        fprintf(stderr, "cnnrun lr-find: --min (%g) must be below --max (%g)\n", lo.lr_min,
                lo.lr_max);
        return CN_EXIT_USAGE;
    }
    if (lo.steps < 2) {
        fprintf(stderr, "cnnrun lr-find: --steps must be at least 2\n");
        return CN_EXIT_USAGE;
    }
    Experiment e;
    if (experiment_load(o->files[0], o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    e.engine = o->engine;
    grid_note_unswept(o->files[0], o->sets, o->n_sets, "lr-find");
    Model shapes;
    if (study_count_classes(o->data, &e) != 0 || model_build(&e, 0, &shapes) != 0) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    int fits = study_memory_fits(o->files[0], &shapes, MEM_CHECK_REFUSE) == 0; /* as run's */
    model_free(&shapes);
    if (!fits) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    int threads = study_setup_threads(o->threads);
    LoadedData d;
    int lrc = study_load_data(o->data, &e, &d);
    if (lrc != 0) {
        study_free_data(&d);
        experiment_free(&e);
        return lrc;
    }
    cifar_free(&d.test);
    const char *dir = d.dir, *origin = d.origin;
    CifarSplit train = d.train; /* owned here from now on */
    d.train = (CifarSplit){0};
    data_info_free(&d.info);
    /* [data] validation: the held-out images are never trained on, here either */
    CifarSplit val = {0};
    int bad = study_training_split(&e, &train, &val, d.info.test_held_out) != 0 ||
              train_check_data(&e, train.n) != 0 || /* drop_last: no full batch */
              train_check_ranks(&e, train.n, dist_size()) != 0;
    int held_out = val.n;
    cifar_free(&val);
    if (bad) {
        cifar_free(&train);
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    ResultsDb *db = dist_rank() == 0 ? results_open(o->db) : NULL; /* rank 0 records */
    if (dist_max_int(dist_rank() == 0 && !db)) {
        results_close(db);
        cifar_free(&train);
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    study_catch_stop_signals();
    char data_desc[CN_PATH_MAX + 64];
    snprintf(data_desc, sizeof data_desc, "%s (%s)", dir, origin);
    fprintf(stderr, "%s: lr-find  lr %g -> %g over %d steps of %d images, %d threads, data %s\n",
            o->files[0], lo.lr_min, lo.lr_max, lo.steps, e.batch_size, threads, data_desc);
    if (held_out > 0)
        fprintf(stderr, "%s: training on %d images (%d held out for validation, never trained "
                        "on)\n", o->files[0], train.n, held_out);
    LrFindResult r;
    int64_t run_id = 0;
    int rc = find_and_record(&e, &train, &lo, db, o->db, threads, data_desc, &r, &run_id);
    if (rc == CN_EXIT_OK) {
        printf("%s: lr-find run %lld: %d steps%s\n", o->files[0], (long long)run_id,
               r.steps_done,
               r.stopped_early ? " (stopped early: the smoothed loss exceeded 4x its minimum)"
                               : "");
        if (r.lr_at_best > 0 && r.lr_steepest > 0)
            printf("minimum smoothed loss %.4f at lr %.4g (after the first tenth of the steps); "
                   "steepest descent at lr %.4g\n", r.best_loss, r.lr_at_best, r.lr_steepest);
        else if (r.lr_at_best > 0 && r.steps_done < LR_FIND_FEW_STEPS)
            printf("minimum smoothed loss %.4f at lr %.4g; no steepest descent: %d step%s, "
                   "too few to find one\n", r.best_loss, r.lr_at_best, r.steps_done,
                   r.steps_done == 1 ? "" : "s");
        else if (r.lr_at_best > 0) /* no step before the minimum lowered the loss */
            printf("minimum smoothed loss %.4f at lr %.4g (after the first tenth of the steps); "
                   "no steepest descent: the loss did not fall before it\n", r.best_loss,
                   r.lr_at_best);
        if (r.no_suggestion) {
            printf("no suggested range: %s\n", r.no_suggestion);
        } else {
            if (!r.stopped_early)
                printf("note: the loss had not exploded by --max %g; a larger --max may show "
                       "more of the curve\n", lo.lr_max);
            double end = train_run_length(&e, train_steps_per_epoch(&e, train.n)).end;
            double cycle = e.schedule == SCHED_ONE_CYCLE ? e.cycle_epochs : 0.8 * end;
            printf("suggested range: lr_max = %.3g (lr at the minimum loss / 10), lr_start = "
                   "%.3g (lr_max / 15)\n\n", r.suggested_max, r.suggested_start);
            printf("[schedule]\ntype = one_cycle\nlr_start = %.3g\nlr_max = %.3g\n"
                   "cycle_epochs = %g\nlr_end = %.3g\n\n",
                   r.suggested_start, r.suggested_max, cycle, r.suggested_start / 10);
            printf("curve: sqlite3 -csv %s 'select lr, loss from lr_find where run_id = %lld "
                   "order by step'\n", o->db, (long long)run_id);
        }
    }
    results_close(db);
    cifar_free(&train);
    experiment_free(&e);
    return rc;
}
