/* resume.c — `cnnrun run --resume`: which recorded run a run of the study
 * continues, and claiming it, so that no two processes continue one run
 * (docs/training.md, "Resuming").
 *
 * - Claiming: the run's lock (checkpoint.h: an flock the kernel drops when
 *   its process ends, however it ends) is taken before anything of the run
 *   is read or loaded, and the row's status is read again under it: a run
 *   another live process trains is not taken, and one it has finished
 *   meanwhile is not trained again. The lock is the run's until it ends
 *   (run_record.c), and results_resume_run refuses a `finished` row all the
 *   same.
 * - A sweep's grid point: its newest unfinished run (running, interrupted,
 *   failed) with the point's resolved configuration that no other process
 *   holds is continued, wherever it is in the database: two studies of one
 *   file (two `run sw.ini --jobs 2` at once, both stopped, both resumed)
 *   each take one of a point's two runs, and a later resume takes what is
 *   left, so no run stays unfinished. With none, the study's chain decides:
 *   the newest run of the point after the run the previous point took
 *   (`after`) has ended (finished, diverged: not run again), and no such
 *   run means the point has not run in this study (an older study's runs
 *   come before its first point's): it runs now.
 * - A point with no run while later points have theirs (a --jobs worker
 *   killed before it made its row) gets its run at a resume, after theirs:
 *   such a run does not move the chain on (made_late), or a later resume
 *   would find no run of the later points after it and train them again.
 * - Before anything trains: a sweep none of whose points has a run in the
 *   database was never started, or its file or options changed since: it is
 *   refused, naming what differs from the nearest recorded run of its
 *   experiment, as a single run's resume names its change. */
#include "resume.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/checkpoint.h"
#include "cnnrun/util.h"

/* the most recorded runs of an experiment compared with every grid point
 * for the nearest one (the newest; each comparison parses two texts) */
#define NEAREST_RUNS 256

int resume_claim(ResultsDb *db, const char *ckdir, const char *experiment, int64_t id, int say,
                 ResumeClaim *c, long *holder)
{
    *c = (ResumeClaim){.lock_fd = RUN_LOCK_NONE};
    *holder = 0;
    int fd = say ? run_lock(ckdir, experiment, id) : run_lock_try(ckdir, experiment, id, holder);
    if (fd == RUN_LOCK_HELD) return 0;
    if (fd < 0) {
        fprintf(stderr, "cnnrun: cannot create the lock of run %lld in %s: %s\n", (long long)id,
                ckdir, strerror(errno));
        return -1;
    }
    char name[128];
    if (results_run_status(db, id, name, sizeof name, c->status, sizeof c->status, NULL, NULL)) {
        close(fd);
        return -1;
    }
    c->run_id = id;
    c->lock_fd = fd;
    c->ckdir = ckdir;
    c->experiment = experiment;
    return 1;
}

void resume_release(ResumeClaim *c)
{
    if (c->lock_fd >= 0 && c->ckdir && c->experiment)
        run_unlock(c->ckdir, c->experiment, c->run_id, c->lock_fd);
    else if (c->lock_fd >= 0)
        close(c->lock_fd);
    *c = (ResumeClaim){.lock_fd = RUN_LOCK_NONE};
}

static int has_ended(const char *status)
{
    return !strcmp(status, "finished") || !strcmp(status, "diverged");
}

/* Whether run `found` of point p came after runs of the sweep's later
 * points: made at a resume because p had no run then. The runs between
 * `after` and it (refs: newest first), oldest first: the first one of a
 * later point says so; the first of p's own (mine[k]) says not — an older
 * study's run of p comes before its later points'. */
static int made_late(Grid *g, long p, const ResultsRunRef *refs, int n, const char *mine,
                     int64_t after, int64_t found)
{
    for (int k = n - 1; k >= 0; k--) {
        if (refs[k].id <= after) continue;
        if (refs[k].id >= found) break;
        if (mine[k]) return 0;
        for (long q = p + 1; refs[k].config && q < g->sweep.n_points; q++) {
            const char *t = grid_point_text(g, q);
            if (t && experiment_text_same_run(t, refs[k].config, NULL, 0)) return 1;
        }
    }
    return 0;
}

int resume_point(Grid *g, long point, const char *experiment, ResultsDb *db, const char *ckdir,
                 int64_t *after, ResumeClaim *c, int *ended)
{
    *c = (ResumeClaim){.lock_fd = RUN_LOCK_NONE};
    *ended = 0;
    const char *now = grid_point_text(g, point);
    if (!now) return CN_EXIT_USAGE;
    ResultsRunRef *refs;
    int n = results_runs_after(db, experiment, 0, &refs);
    if (n < 0) return CN_EXIT_FAIL;
    /* 1: a run of this point; 2: one another process trains */
    char *mine = xcalloc((size_t)(n ? n : 1), 1);
    for (int k = 0; k < n; k++)
        mine[k] = refs[k].config && experiment_text_same_run(now, refs[k].config, NULL, 0);
    int rc = 0;
    int64_t held = 0;
    long held_by = 0;
    /* its newest unfinished run that no other process holds */
    for (int k = 0; k < n && rc == 0 && !c->run_id; k++) {
        if (!mine[k] || has_ended(refs[k].status)) continue;
        long holder;
        int got = resume_claim(db, ckdir, experiment, refs[k].id, 0, c, &holder);
        if (got < 0) {
            rc = CN_EXIT_FAIL;
        } else if (got == 0) {
            mine[k] = 2;
            if (!held) held = refs[k].id, held_by = holder;
        } else if (has_ended(c->status)) { /* ended while this process looked */
            str_copy(refs[k].status, sizeof refs[k].status, c->status);
            resume_release(c);
        }
    }
    /* none: whether the point has run in this study (its newest run after
     * the previous point's, every unfinished one being held) */
    for (int k = 0; k < n && rc == 0 && !c->run_id; k++)
        if (mine[k] == 1 && refs[k].id > *after) {
            c->run_id = refs[k].id;
            str_copy(c->status, sizeof c->status, refs[k].status);
            *ended = 1;
        }
    if (rc == 0 && c->run_id > *after && !made_late(g, point, refs, n, mine, *after, c->run_id))
        *after = c->run_id;
    if (rc == 0 && !c->run_id && held)
        fprintf(stderr, "%s: note: run %lld of this grid point is being trained by another "
                        "process (%ld); the point runs in a new run\n", g->path,
                (long long)held, held_by);
    free(mine);
    results_free_run_refs(refs, n);
    return rc;
}

/* ---- before anything trains ------------------------------------------------ */

/* The runs of one experiment name of the sweep's points (newest first). */
typedef struct {
    char name[128];
    ResultsRunRef *refs;
    int n;
} NameRuns;

int resume_check_sweep(Grid *g, ResultsDb *db, const char *db_path)
{
    const long points = g->sweep.n_points;
    NameRuns *names = NULL; /* one per experiment name the points have (one unless swept) */
    int n_names = 0, rc = CN_EXIT_USAGE, runs = 0;
    int *name_of = xcalloc((size_t)points, sizeof *name_of);
    long seen = 0; /* the points looked at */
    /* a run of any point: there is something to resume */
    for (long p = 0; p < points && rc == CN_EXIT_USAGE; p++) {
        Experiment e;
        const char *now = grid_point_text(g, p);
        if (!now || grid_load(g, p, &e) != 0) break; /* not reached: grid_check loaded it */
        int at = 0;
        while (at < n_names && strcmp(names[at].name, e.name) != 0) at++;
        if (at == n_names) {
            names = xrealloc(names, sizeof *names * (size_t)(n_names + 1));
            str_copy(names[at].name, sizeof names[at].name, e.name);
            names[at].n = results_runs_after(db, e.name, 0, &names[at].refs);
            n_names++;
            if (names[at].n < 0) {
                names[at].n = 0;
                rc = CN_EXIT_FAIL;
            }
            runs += names[at].n;
        }
        experiment_free(&e);
        name_of[seen++] = at;
        const NameRuns *nr = &names[at];
        for (int k = 0; k < nr->n && rc == CN_EXIT_USAGE; k++)
            if (nr->refs[k].config && experiment_text_same_run(now, nr->refs[k].config, NULL, 0))
                rc = CN_EXIT_OK;
    }
    /* none: the nearest recorded run to any point, and how it differs */
    int best = -1;
    long best_point = 0;
    int64_t best_id = 0;
    char why[512] = "", w[512];
    if (rc == CN_EXIT_USAGE && runs > 0) {
        for (long p = 0; p < seen; p++) {
            const NameRuns *nr = &names[name_of[p]];
            for (int k = 0; k < nr->n && k < NEAREST_RUNS; k++) {
                if (!nr->refs[k].config) continue;
                int d = experiment_text_differences(grid_point_text(g, p), nr->refs[k].config, w,
                                                    sizeof w);
                if (best >= 0 && d >= best) continue;
                best = d;
                best_point = p;
                best_id = nr->refs[k].id;
                str_copy(why, sizeof why, w);
            }
        }
    }
    if (rc == CN_EXIT_USAGE && best < 0) {
        fprintf(stderr, "%s: no run of experiment '%s' in %s to resume; run it without "
                        "--resume\n", g->path, n_names ? names[0].name : "?", db_path);
    } else if (rc == CN_EXIT_USAGE) {
        char more[64] = "";
        if (best > 1)
            snprintf(more, sizeof more, " and %d more difference%s", best - 1,
                     best == 2 ? "" : "s");
        fprintf(stderr, "%s: no run in %s has the resolved configuration of a grid point of this "
                        "sweep: the nearest recorded one, run %lld's, differs from grid point "
                        "%ld of %ld in %s%s; resuming would not continue the sweep's runs. "
                        "Restore the file (and the --set and --sweep options), or start the "
                        "sweep anew without --resume\n",
                g->path, db_path, (long long)best_id, best_point + 1, points, why, more);
    }
    for (int i = 0; i < n_names; i++) results_free_run_refs(names[i].refs, names[i].n);
    free(names);
    free(name_of);
    return rc;
}
