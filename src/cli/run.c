/* run.c — `cnnrun run FILE|DIR ...`: validates every experiment before any
 * training, opens the results database, trains each in turn. One failing
 * experiment is reported and the batch goes on; the exit status says whether
 * all succeeded. SIGINT/SIGTERM finish the current step and mark the run
 * `interrupted`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Parse + build every file first: a typo in the 5th file should not wait
 * for 4 trainings to be noticed. */
static int validate_all(CliOptions *o)
{
    int bad = 0;
    for (int i = 0; i < o->n_files; i++) {
        Experiment e;
        if (experiment_load(o->files[i], o->sets, o->n_sets, &e) != 0) {
            bad++;
            continue;
        }
        Model m;
        if (model_build(&e, 0, &m) != 0) bad++; /* shapes only, no memory */
        else model_free(&m);
        experiment_free(&e);
    }
    return bad;
}

static int run_one(const char *path, CliOptions *o, ResultsDb *db, int threads)
{
    Experiment e;
    if (experiment_load(path, o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    const char *origin;
    const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
    CifarSplit train, test;
    if (cifar_load(dir, &train, &test) != 0) {
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    if (e.train_subset && e.train_subset < train.n) cifar_truncate(&train, e.train_subset);
    if (e.test_subset && e.test_subset < test.n) cifar_truncate(&test, e.test_subset);
    char data_desc[CN_PATH_MAX + 64];
    snprintf(data_desc, sizeof data_desc, "%s (%s)", dir, origin);
    TrainOptions opt = {.db = db, .threads = threads, .data_dir = data_desc,
                        .stop = (volatile int *)&stop_requested};
    int rc = train_run(&e, &train, &test, &opt);
    cifar_free(&train);
    cifar_free(&test);
    experiment_free(&e);
    return rc;
}

int cmd_run(CliOptions *o)
{
    if (validate_all(o) != 0) return CN_EXIT_USAGE;
    int threads = cli_setup_threads(o->threads);
    ResultsDb *db = results_open(o->db);
    if (!db) return CN_EXIT_FAIL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int failed = 0, worst = CN_EXIT_OK;
    for (int i = 0; i < o->n_files && !stop_requested; i++) {
        int rc = run_one(o->files[i], o, db, threads);
        if (rc != CN_EXIT_OK) {
            failed++;
            if (rc > worst) worst = rc;
            if (o->n_files > 1)
                fprintf(stderr, "cnnrun: %s failed (exit %d); continuing with the next\n",
                        o->files[i], rc);
        }
    }
    results_close(db);
    if (o->n_files > 1)
        fprintf(stderr, "cnnrun: %d of %d experiments succeeded (results in %s)\n",
                o->n_files - failed, o->n_files, o->db);
    return worst;
}
