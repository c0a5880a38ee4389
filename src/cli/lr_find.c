/* lr_find.c — `cnnrun lr-find FILE.ini [--min 1e-5] [--max 10] [--steps 100]`:
 * runs the learning-rate range test (src/train/lr_find.c), records its curve
 * in the results database (table lr_find) and prints the suggested range and
 * a ready-to-paste [schedule] section. Leaves no weights anywhere. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
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
    Model shapes;
    if (model_build(&e, 0, &shapes) != 0) {
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    model_free(&shapes);
    int threads = cli_setup_threads(o->threads);
    const char *origin;
    const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
    CifarSplit train, test;
    if (cifar_load(dir, &train, &test) != 0) {
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    cifar_free(&test);
    if (e.train_subset && e.train_subset < train.n) cifar_truncate(&train, e.train_subset);
    if (train_check_data(&e, train.n) != 0) { /* drop_last: no full batch */
        cifar_free(&train);
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    ResultsDb *db = results_open(o->db);
    if (!db) {
        cifar_free(&train);
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char data_desc[CN_PATH_MAX + 64];
    snprintf(data_desc, sizeof data_desc, "%s (%s)", dir, origin);
    TrainOptions opt = {.db = db, .threads = threads, .data_dir = data_desc,
                        .stop = (volatile int *)&stop_requested};
    fprintf(stderr, "%s: lr-find  lr %g -> %g over %d steps of %d images, %d threads, data %s\n",
            o->files[0], lo.lr_min, lo.lr_max, lo.steps, e.batch_size, threads, data_desc);
    LrFindResult r;
    int rc = lr_find(&e, &train, &lo, &opt, &r);
    if (rc == CN_EXIT_OK) {
        printf("%s: lr-find run %lld: %d steps%s\n", o->files[0], (long long)r.run_id,
               r.steps_done,
               r.stopped_early ? " (stopped early: the smoothed loss exceeded 4x its minimum)"
                               : "");
        if (r.lr_at_best <= 0) {
            printf("the loss never fell; lower --min\n");
        } else {
            printf("minimum smoothed loss %.4f at lr %.4g; steepest descent at lr %.4g\n",
                   r.best_loss, r.lr_at_best, r.lr_steepest);
            if (!r.stopped_early)
                printf("note: the loss had not exploded by --max %g; a larger --max may show "
                       "more of the curve\n", lo.lr_max);
            double cycle = e.schedule == SCHED_ONE_CYCLE ? e.cycle_epochs : 0.8 * e.epochs;
            printf("suggested range: lr_max = %.3g (lr at the minimum loss / 10), lr_start = "
                   "%.3g (lr_max / 15)\n\n", r.suggested_max, r.suggested_start);
            printf("[schedule]\ntype = one_cycle\nlr_start = %.3g\nlr_max = %.3g\n"
                   "cycle_epochs = %g\nlr_end = %.3g\n\n",
                   r.suggested_start, r.suggested_max, cycle, r.suggested_start / 10);
            printf("curve: sqlite3 -csv %s 'select lr, loss from lr_find where run_id = %lld "
                   "order by step'\n", o->db, (long long)r.run_id);
        }
    }
    results_close(db);
    cifar_free(&train);
    experiment_free(&e);
    return rc;
}
