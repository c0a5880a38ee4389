/* study.c — a study: what one `cnnrun run` invocation trains (study.h).
 * Validates every experiment (every grid point of a sweep: grid.c) before
 * any training, opens the results database and the study's row (`studies`:
 * a new one, or with --resume the study of the name, going on), trains each
 * run in turn (run_point.c), N at a time in worker processes (--jobs:
 * jobs.c) or shared among groups of MPI ranks (--ranks-per-run:
 * rank_groups.c), and ends the study: its status, and the summary of its
 * points (report.h). One failing run is reported and the study goes on; the
 * exit status says whether all succeeded. SIGINT/SIGTERM finish the current
 * step and mark the run `interrupted`, and no later run starts. A file
 * given twice is refused. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cnnrun/data.h"
#include "cnnrun/dist.h"
#include "cnnrun/report.h"
#include "cnnrun/results.h"
#include "cnnrun/study.h"
#include "cnnrun/util.h"
#include "estimate.h"
#include "jobs.h"
#include "rank_groups.h"
#include "resume.h"
#include "run_point.h"

/* Parse + build every file (every point of its sweep) first: a typo in the
 * 5th file should not wait for 4 trainings to be noticed. Also checks that
 * each experiment's data directory exists, before the database is created:
 * a wrong --data must not leave an empty results file behind (the loader
 * checks the files themselves when each experiment starts). Returns the
 * number of bad files; counts experiments without a data directory into
 * *no_data. grids[i] is left open for each file; misfit[i] says whether file i
 * does not check. */
static int validate_all(StudyOptions *o, Grid *grids, int *misfit, int *no_data)
{
    int bad = 0;
    *no_data = 0;
    for (int i = 0; i < o->n_files; i++) {
        Experiment e;
        if (grid_open(&grids[i], o->files[i], o) != 0) {
            bad++;
            misfit[i] = 1;
            continue;
        }
        grids[i].memory = MEM_CHECK_REFUSE; /* not a run that cannot get its memory */
        if (grid_check(&grids[i], &e) != 0) {
            bad++;
            misfit[i] = 1;
            continue;
        }
        if (dist_world_rank() == 0) grid_warn_prune(&grids[i], &e); /* once, before training */
        const char *origin;
        const char *dir = cifar_resolve_dir(o->data, e.dir, &origin);
        struct stat st;
        if (!dir) { /* CNNRUN_DATA set but empty: printed (not the file's fault) */
            bad++;
        } else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            LoadedData d; /* let the loader say what is wrong, with its hint */
            if (study_load_data(o->data, &e, &d) == 0)
                study_free_data(&d);
            else
                (*no_data)++;
        }
        experiment_free(&e);
    }
    return bad;
}

/* One file given twice (by one path or two, or through a directory) would
 * train its runs twice, and a --resume of the two would take each other's
 * runs: refused, naming it. 0, or the exit status. */
static int same_file_twice(const StudyOptions *o)
{
    struct stat *st = xcalloc((size_t)(o->n_files ? o->n_files : 1), sizeof *st);
    int rc = CN_EXIT_OK;
    for (int i = 0; i < o->n_files && rc == CN_EXIT_OK; i++) {
        if (stat(o->files[i], &st[i]) != 0) continue; /* validate_all says why */
        for (int j = 0; j < i && rc == CN_EXIT_OK; j++) {
            if (st[j].st_dev != st[i].st_dev || st[j].st_ino != st[i].st_ino) continue;
            if (!strcmp(o->files[j], o->files[i]))
                fprintf(stderr, "cnnrun run: %s is given twice; its runs would train twice: give "
                                "it once\n", o->files[i]);
            else
                fprintf(stderr, "cnnrun run: %s and %s are the same file; its runs would train "
                                "twice: give it once\n", o->files[j], o->files[i]);
            rc = CN_EXIT_USAGE;
        }
    }
    free(st);
    return rc;
}

/* --resume (without a checkpoint path): every sweep has a run to continue
 * (resume.c), before anything trains. 0, or the exit status. */
static int check_sweeps_resume(const StudyOptions *o, Grid *grids, ResultsDb *db)
{
    int rc = CN_EXIT_OK;
    for (int i = 0; i < o->n_files; i++) {
        if (grids[i].sweep.n_keys == 0) continue;
        int r = resume_check_sweep(&grids[i], db, o->db);
        if (r > rc) rc = r;
    }
    return rc;
}

/* The study's name without --study: the directory's or the experiment
 * file's name ("runs/" -> "runs", "exp/quick.ini" -> "quick"). */
static void default_study_name(const char *arg, char *out, size_t size)
{
    char buf[CN_PATH_MAX];
    str_copy(buf, sizeof buf, arg ? arg : "study");
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
    const char *base = strrchr(buf, '/');
    base = base && base[1] ? base + 1 : buf;
    str_copy(out, size, base);
    n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".ini")) out[n - 4] = '\0';
}

/* The study this invocation records its runs in (o->study_id, on every
 * rank): a new `studies` row, or with --resume the newest study of the
 * name, running again (a sweep resumed goes on in its study). Rank 0
 * writes; 0 or the exit status. */
static char study_name[256]; /* the study's, for its summary */

static int open_study(StudyOptions *o, ResultsDb *db)
{
    int64_t id = 0;
    if (dist_world_rank() == 0) {
        char *name = study_name;
        const size_t size = sizeof study_name;
        if (o->name) str_copy(name, size, o->name);
        else default_study_name(o->first_arg, name, size);
        id = o->resume ? results_find_study(db, name) : 0;
        if (id > 0 && results_study_status(db, id, "running") != 0) id = -1;
        if (id == 0) id = results_begin_study(db, name, o->command_line);
        if (id > 0 && o->resume)
            fprintf(stderr, "cnnrun: study %lld (%s)\n", (long long)id, name);
    }
    /* ids past 2^31 do not happen in one file: the ranks learn it as an int */
    int shared = dist_world_max_int(id > 0 && id < 0x7fffffff ? (int)id : -1);
    if (shared < 0) return CN_EXIT_FAIL;
    o->study_id = shared;
    return CN_EXIT_OK;
}

/* How the study ended, in its row: interrupted, finished (every run
 * succeeded) or failed. db: open (rank 0), or NULL to open o->db for it. */
static void close_study(const StudyOptions *o, ResultsDb *db, int worst, int stopped)
{
    if (dist_world_rank() != 0 || o->study_id <= 0) return;
    ResultsDb *mine = db ? db : results_open(o->db);
    if (!mine) return;
    results_study_status(mine, o->study_id, stopped ? "interrupted"
                                            : worst == CN_EXIT_OK ? "finished" : "failed");
    if (!db) results_close(mine);
}

/* The end of a study of several runs (a sweep, a random search, a
 * directory, --jobs): on stdout, its best point with its values and the
 * points best first (report.h; the objective: the best validation accuracy
 * where a run has [data] validation, else the best test accuracy, said). */
static void print_study_end(const StudyOptions *o, long total)
{
    if (dist_world_rank() != 0 || o->study_id <= 0 || total < 2) return;
    ReportPoints pts;
    if (report_load_points(o->db, o->study_id, &pts) == 0 && pts.n > 0) {
        fflush(stderr);
        printf("study %lld (%s): %d run%s\n", (long long)o->study_id, study_name, pts.n,
               pts.n == 1 ? "" : "s");
        report_print_points(&pts, 10, o->db, stdout);
        fflush(stdout);
    }
    report_free_points(&pts);
}

/* The files that do not check (misfit[i]), each named once more after
 * their problems: without skip_invalid the study is refused (2), nothing
 * trained; with it they are left out — o->files becomes the rest (*kept,
 * freed by the caller) and grids the rest's, the misfits' closed — and
 * *skipped counts them. 0, or the exit status. */
static int leave_out(StudyOptions *o, Grid *grids, const int *misfit, char ***kept, int *skipped)
{
    int n = 0;
    for (int i = 0; i < o->n_files; i++) n += misfit[i];
    *skipped = 0;
    if (n == 0) return CN_EXIT_OK;
    if (dist_world_rank() == 0) {
        fprintf(stderr, "cnnrun run: %d of %d experiment file%s do%s not check:", n, o->n_files,
                o->n_files == 1 ? "" : "s", n == 1 ? "es" : "");
        for (int i = 0; i < o->n_files; i++)
            if (misfit[i]) fprintf(stderr, " %s", o->files[i]);
        if (o->skip_invalid) fprintf(stderr, "; left out (--skip-invalid)\n");
        else if (n == o->n_files) fprintf(stderr, "; nothing trained\n"); /* none would */
        else if (o->command_line)
            fprintf(stderr, "; nothing trained (`%s --skip-invalid` trains the others)\n",
                    o->command_line);
        else fprintf(stderr, "; nothing trained (--skip-invalid trains the others)\n");
    }
    if (!o->skip_invalid) return CN_EXIT_USAGE;
    if (n == o->n_files) {
        if (dist_world_rank() == 0) fprintf(stderr, "cnnrun run: nothing left to train\n");
        return CN_EXIT_USAGE;
    }
    *kept = xcalloc((size_t)o->n_files, sizeof **kept);
    int k = 0;
    for (int i = 0; i < o->n_files; i++) {
        if (misfit[i]) {
            if (dist_world_rank() == 0)
                fprintf(stderr, "cnnrun run: %s: skipped (it does not check)\n", o->files[i]);
            grid_close(&grids[i]);
            continue;
        }
        grids[k] = grids[i];
        (*kept)[k++] = o->files[i];
    }
    o->files = *kept;
    o->n_files = k;
    *skipped = n;
    return CN_EXIT_OK;
}

static int train_study(StudyOptions *o, Grid *grids, int bad, int no_data);

/* The study's cost before it starts (estimate.c): each run with the threads
 * it will have, as many at a time as train at once. */
static void print_estimate(const StudyOptions *o, Grid *grids, long total)
{
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN), parallel = 1;
    if (dist_groups() > 1) parallel = dist_groups();
    else if (o->jobs > 1) parallel = o->jobs;
    if (parallel > total) parallel = (int)total;
    int threads = o->threads > 0 ? o->threads : o->jobs > 1 ? cores / parallel : cores;
    study_estimate(o, grids, total, threads < 1 ? 1 : threads, parallel, o->db);
}

int study_run(StudyOptions *s)
{
    if (same_file_twice(s) != CN_EXIT_OK) return CN_EXIT_USAGE;
    /* groups of ranks first: each file is checked as the group trains it */
    if (s->ranks_per_run > 0) dist_split(s->ranks_per_run);
    int no_data, skipped = 0;
    const int n = s->n_files ? s->n_files : 1;
    Grid *grids = xcalloc((size_t)n, sizeof *grids);
    int *misfit = xcalloc((size_t)n, sizeof *misfit);
    int bad = validate_all(s, grids, misfit, &no_data);
    StudyOptions o = *s; /* with --skip-invalid, the files that check */
    char **kept = NULL;
    int left = leave_out(&o, grids, misfit, &kept, &skipped);
    int misfits = 0;
    for (int i = 0; i < s->n_files; i++) misfits += misfit[i];
    if (left != CN_EXIT_OK) bad += !bad;
    else if (skipped) bad -= misfits; /* left out: not a refusal */
    int rc = train_study(&o, grids, bad, no_data);
    s->study_id = o.study_id;
    if (skipped && dist_world_rank() == 0)
        fprintf(stderr, "cnnrun run: %d experiment file%s skipped (--skip-invalid)%s\n", skipped,
                skipped == 1 ? "" : "s",
                rc == CN_EXIT_OK ? "; exit status 3" : "");
    if (skipped && rc == CN_EXIT_OK) rc = CN_EXIT_SKIPPED;
    free(kept);
    free(misfit);
    return rc;
}

/* The study of o's files (grids[i] each one's, open; bad: files refused,
 * no_data: without their data directory): the database and the study's
 * row, the runs, the end. Closes the grids and frees grids. */
static int train_study(StudyOptions *o, Grid *grids, int bad, int no_data)
{
    long total = 0; /* runs: a file's grid points */
    int sweeps = 0;
    for (int i = 0; i < o->n_files; i++) {
        total += grids[i].sweep.n_points ? grids[i].sweep.n_points : 1;
        sweeps += grids[i].sweep.n_keys > 0;
    }
    if (!bad && !no_data && sweeps && o->resume_path) {
        fprintf(stderr, "cnnrun run: --resume PATH.ckpt continues one run; a sweep is continued "
                        "with --resume alone (its finished points are skipped)\n");
        bad = 1;
    }
    int rc = bad ? CN_EXIT_USAGE : no_data ? CN_EXIT_FAIL : CN_EXIT_OK;
    /* the database is rank 0's alone (rank 0 writes the checkpoints too);
     * the ranks go on (or stop) together */
    ResultsDb *db = NULL;
    if (rc == CN_EXIT_OK && dist_world_rank() == 0) rc = run_db_open(o->db, &db);
    if (rc == CN_EXIT_OK && dist_world_rank() == 0 && o->resume && !o->resume_path)
        rc = check_sweeps_resume(o, grids, db);
    rc = dist_world_max_int(rc);
    if (rc == CN_EXIT_OK) {
        /* the study's row may wait for the write lock (a merge): the first
         * Ctrl-C there stops the study, the second quits at once */
        study_catch_stop_signals();
        rc = open_study(o, db);
    }
    if (rc != CN_EXIT_OK && db) {
        results_close(db);
        db = NULL;
    }
    if (rc == CN_EXIT_OK && total > 1 && !o->resume && dist_world_rank() == 0)
        print_estimate(o, grids, total);
    if (rc == CN_EXIT_OK && dist_groups() > 1) { /* --ranks-per-run: rank_groups.c */
        rc = rank_groups_run(o, grids, total, db);
        close_study(o, NULL, rc, dist_world_max_int(study_stop_requested));
        print_study_end(o, total);
        for (int i = 0; i < o->n_files; i++) grid_close(&grids[i]);
        free(grids);
        return rc;
    }
    if (rc == CN_EXIT_OK && o->jobs > 1 && total > 1) { /* N at a time, in workers: jobs.c */
        results_close(db);
        rc = jobs_run(o, grids, total);
        close_study(o, NULL, rc, study_stop_requested);
        print_study_end(o, total);
    }
    if (rc != CN_EXIT_OK || (o->jobs > 1 && total > 1)) {
        for (int i = 0; i < o->n_files; i++) grid_close(&grids[i]);
        free(grids);
        return rc;
    }
    int threads = study_setup_threads(o->threads);
    study_catch_stop_signals();
    long failed = 0;
    int worst = CN_EXIT_OK;
    for (int i = 0; i < o->n_files; i++) {
        Grid *g = &grids[i];
        int64_t after = 0; /* --resume of a sweep: the previous point's run */
        for (long p = 0; p < g->sweep.n_points; p++) {
            /* a signal to one rank stops them all (its run stopped them already) */
            study_stop_requested = dist_max_int(study_stop_requested);
            if (study_stop_requested) {
                if (g->sweep.n_keys)
                    fprintf(stderr, "cnnrun: %s: grid point %ld of %ld not run (interrupted)\n",
                            o->files[i], p + 1, g->sweep.n_points);
                else
                    fprintf(stderr, "cnnrun: %s: not run (interrupted)\n", o->files[i]);
                failed++;
                if (worst < CN_EXIT_FAIL) worst = CN_EXIT_FAIL;
                continue;
            }
            int prc = run_point(g, p, o, db, threads, &after, NULL);
            if (prc == CN_EXIT_OK) continue;
            failed++;
            if (prc > worst) worst = prc;
            if (total > 1 && !study_stop_requested)
                fprintf(stderr, "cnnrun: %s%s failed (exit %d); continuing with the next\n",
                        o->files[i], g->sweep.n_keys ? " (a grid point)" : "", prc);
        }
    }
    close_study(o, db, worst, study_stop_requested);
    results_close(db);
    if (study_stop_requested && sweeps)
        fprintf(stderr, "cnnrun: interrupted; `%s` continues where it stopped\n",
                o->resume_command);
    if (total > 1 && !sweeps)
        fprintf(stderr, "cnnrun: %ld of %d experiments succeeded (results in %s)\n",
                o->n_files - failed, o->n_files, o->db);
    else if (total > 1)
        fprintf(stderr, "cnnrun: %ld of %ld runs succeeded (results in %s)\n", total - failed,
                total, o->db);
    print_study_end(o, total);
    for (int i = 0; i < o->n_files; i++) grid_close(&grids[i]);
    free(grids);
    return worst;
}
