/* resume.h — `cnnrun run --resume` (resume.c): the recorded run each run of
 * the study continues, claimed by this process before anything of it is
 * loaded. Private to src/study. */
#ifndef CNNRUN_RESUME_H
#define CNNRUN_RESUME_H

#include <stdint.h>

#include "cnnrun/study.h"
#include "cnnrun/results.h"

typedef struct {
    int64_t run_id;  /* the run claimed; 0: none */
    int lock_fd;     /* its run lock (checkpoint.h), held; RUN_LOCK_NONE without a run */
    char status[16]; /* its status, read under the lock */
    const char *ckdir, *experiment; /* where its lock file is (removed when released) */
} ResumeClaim;

/* Claims run id of `experiment`: takes its run lock in ckdir, then reads its
 * status under the lock (another process may have finished it meanwhile).
 * 1: claimed (c filled; the caller decides whether the status can be
 * resumed, else resume_release); 0: another live process holds it (*holder
 * its pid, 0 if not known; with `say`, printed as a refusal); -1: no lock can
 * be made, or the row cannot be read (printed). */
int resume_claim(ResultsDb *db, const char *ckdir, const char *experiment, int64_t id, int say,
                 ResumeClaim *c, long *holder);
/* Gives a claim up: its lock file removed and its lock closed (the run is
 * not running here: a lock file left would name a killed run), c emptied. */
void resume_release(ResumeClaim *c);

/* --resume of grid point `point` of g (experiment `experiment`), *after the
 * run its previous point took (0 at the study's start; moved on): the run it
 * continues, claimed (c->run_id > 0); or its run has ended, not to run again
 * (*ended, c->status and c->run_id its); or none (c->run_id 0: it runs now,
 * in a new run). 0, or the exit status (printed). */
int resume_point(Grid *g, long point, const char *experiment, ResultsDb *db, const char *ckdir,
                 int64_t *after, ResumeClaim *c, int *ended);

/* --resume of a sweep, before anything trains: refused (exit status 2,
 * printed) when no grid point has a run in db (db_path in messages) — the
 * sweep was never started, or its file or options changed since: then what
 * differs from the nearest recorded run of its experiment is named. 0 when
 * there is something to resume. */
int resume_check_sweep(Grid *g, ResultsDb *db, const char *db_path);

#endif
