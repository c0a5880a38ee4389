/* run.c — `cnnrun run FILE|DIR ...`: validates every experiment before any
 * training, opens the results database, trains each in turn (one recorded
 * run each: run_record.c). One failing experiment is reported and the batch
 * goes on; the exit status says whether all succeeded. SIGINT/SIGTERM
 * finish the current step and mark the run `interrupted`. `--resume
 * [PATH.ckpt]` continues an interrupted run in its own runs row from its
 * last checkpoint (docs/training.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/data.h"
#include "cnnrun/model.h"
#include "cnnrun/results.h"
#include "cnnrun/util.h"
#include "run_record.h"

/* Two resolved configurations are the same run's when they agree on every
 * line but comments (the first comment names the path the file was read by,
 * which may differ: ./x.ini, an absolute path, another working directory). */
static int same_config(const char *a, const char *b)
{
    for (;;) {
        while (*a == ';') a = strchr(a, '\n') ? strchr(a, '\n') + 1 : a + strlen(a);
        while (*b == ';') b = strchr(b, '\n') ? strchr(b, '\n') + 1 : b + strlen(b);
        if (!*a || !*b) return !*a && !*b;
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
        if (la != lb || memcmp(a, b, la) != 0) return 0;
        a += la + (ea != NULL);
        b += lb + (eb != NULL);
    }
}


/* Parse + build every file first: a typo in the 5th file should not wait
 * for 4 trainings to be noticed. Also checks that each experiment's data
 * directory exists, before the database is created: a wrong --data must not
 * leave an empty results file behind (the loader checks the files themselves
 * when each experiment starts). Returns the number of bad files; counts
 * experiments without a data directory into *no_data. */
static int validate_all(CliOptions *o, int *no_data)
{
    int bad = 0;
    *no_data = 0;
    for (int i = 0; i < o->n_files; i++) {
        Experiment e;
        if (experiment_load(o->files[i], o->sets, o->n_sets, &e) != 0) {
            bad++;
            continue;
        }
        Model m;
        if (model_build(&e, 0, &m) != 0) {
            bad++; /* shapes only, no memory */
        } else {
            if (optimizer_check_groups(&m) != 0) bad++; /* [group.*] over this network */
            model_free(&m);
        }
        const char *origin;
        const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            CifarSplit train, test; /* let the loader say what is wrong, with its hint */
            if (cifar_load(dir, &train, &test) == 0) {
                cifar_free(&train);
                cifar_free(&test);
            } else {
                (*no_data)++;
            }
        }
        experiment_free(&e);
    }
    return bad;
}

/* First differing line of two configuration texts, for the message. */
static void print_config_difference(const char *now, const char *then)
{
    int line = 1;
    while (*now || *then) {
        size_t a = strcspn(now, "\n"), b = strcspn(then, "\n");
        if (a != b || strncmp(now, then, a) != 0) {
            fprintf(stderr, "  first difference, line %d:\n    now:  %.*s\n    then: %.*s\n", line,
                    (int)a, now, (int)b, then);
            return;
        }
        now += a + (now[a] ? 1 : 0);
        then += b + (then[b] ? 1 : 0);
        line++;
    }
}

/* --resume: finds the run and checkpoint to continue. Returns 0 with *run_id
 * and ckpt ("" = no checkpoint yet: start at epoch 1 in the same row), or an
 * exit status after printing what is wrong and what to do. */
static int find_resume(const char *path, const Experiment *e, CliOptions *o, ResultsDb *db,
                       const char *ckdir, int threads, int64_t *run_id, char *ckpt, size_t size)
{
    char *config = NULL, exp_name[128], status[32];
    int run_threads = 0;
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
        *run_id = id;
        results_run_status(db, id, exp_name, sizeof exp_name, status, sizeof status,
                           &run_threads, NULL);
        checkpoint_path(ckpt, size, ckdir, e->name, id, "last");
        if (access(ckpt, F_OK) != 0) {
            int last = results_last_epoch(db, id);
            if (last != 0) {
                fprintf(stderr, "%s: run %lld has %d finished epoch(s) but no checkpoint %s; "
                                "give the checkpoint with --resume PATH.ckpt, or start a new run "
                                "without --resume\n", path, (long long)id, last, ckpt);
                free(config);
                return last < 0 ? CN_EXIT_FAIL : CN_EXIT_USAGE;
            }
            ckpt[0] = '\0'; /* killed during epoch 1: start again in the same row */
        }
    }
    /* the same resolved configuration, or the curve would not be the same run's */
    char *now = experiment_text(e);
    int same = !config || same_config(now, config);
    if (!same) {
        fprintf(stderr, "%s: the resolved configuration differs from the one run %lld started "
                        "with; resuming would not continue the same run. Restore the file (and "
                        "--set options), or start a new run without --resume\n",
                path, (long long)*run_id);
        print_config_difference(now, config);
    }
    free(now);
    free(config);
    if (!same) return CN_EXIT_USAGE;
    if (run_threads > 0 && run_threads != threads)
        fprintf(stderr, "%s: warning: run %lld used %d threads, this process %d; the curve may "
                        "differ in the last bits from an uninterrupted run (use --threads %d)\n",
                path, (long long)*run_id, run_threads, threads, run_threads);
    return 0;
}

static int run_one(const char *path, CliOptions *o, ResultsDb *db, int threads)
{
    Experiment e;
    if (experiment_load(path, o->sets, o->n_sets, &e) != 0) return CN_EXIT_USAGE;
    char ckdir[CN_PATH_MAX], ckpt[CN_PATH_MAX + 256];
    checkpoint_default_dir(ckdir, sizeof ckdir, o->db);
    int64_t resume_id = 0;
    if (o->resume) {
        int rc = find_resume(path, &e, o, db, ckdir, threads, &resume_id, ckpt, sizeof ckpt);
        if (rc != 0) {
            experiment_free(&e);
            return rc;
        }
    }
    const char *origin;
    const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
    CifarSplit train, test;
    if (cifar_load(dir, &train, &test) != 0) {
        experiment_free(&e);
        return CN_EXIT_FAIL;
    }
    if (e.train_subset && e.train_subset < train.n) cifar_truncate(&train, e.train_subset);
    if (e.test_subset && e.test_subset < test.n) cifar_truncate(&test, e.test_subset);
    if (train_check_data(&e, train.n) != 0) { /* drop_last: no full batch */
        cifar_free(&train);
        cifar_free(&test);
        experiment_free(&e);
        return CN_EXIT_USAGE;
    }
    char data_desc[CN_PATH_MAX + 64];
    snprintf(data_desc, sizeof data_desc, "%s (%s)", dir, origin);
    RecordOptions opt = {.db = db, .threads = threads, .data_dir = data_desc,
                         .stop = &cli_stop_requested, .checkpoint_dir = ckdir,
                         .resume_run_id = resume_id,
                         .resume_path = resume_id > 0 && ckpt[0] ? ckpt : NULL};
    int rc = recorded_run(&e, &train, &test, &opt);
    cifar_free(&train);
    cifar_free(&test);
    experiment_free(&e);
    return rc;
}

int cmd_run(CliOptions *o)
{
    int no_data;
    if (validate_all(o, &no_data) != 0) return CN_EXIT_USAGE;
    if (no_data) return CN_EXIT_FAIL;
    int threads = cli_setup_threads(o->threads);
    ResultsDb *db = results_open(o->db);
    if (!db) return CN_EXIT_FAIL;
    cli_catch_stop_signals();
    int failed = 0, worst = CN_EXIT_OK, started = 0;
    for (int i = 0; i < o->n_files && !cli_stop_requested; i++) {
        started++;
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
    if (cli_stop_requested && started < o->n_files) {
        for (int i = started; i < o->n_files; i++)
            fprintf(stderr, "cnnrun: %s: not run (interrupted)\n", o->files[i]);
        failed += o->n_files - started;
        if (worst < CN_EXIT_FAIL) worst = CN_EXIT_FAIL;
    }
    if (o->n_files > 1)
        fprintf(stderr, "cnnrun: %d of %d experiments succeeded (results in %s)\n",
                o->n_files - failed, o->n_files, o->db);
    return worst;
}
