/* run_point.h — one run of a study (run_point.c), and the database a study
 * opens. Private to src/study. */
#ifndef CNNRUN_RUN_POINT_H
#define CNNRUN_RUN_POINT_H

#include <stdint.h>

#include "cnnrun/results.h"
#include "cnnrun/study.h"
#include "run_record.h"

/* Trains grid point `point` of g into db as `cnnrun run` does (with
 * --resume: finds its run; *after is the run of the sweep's previous point,
 * moved to this point's). observer: NULL in the one-at-a-time loop; a
 * worker's (jobs.c) or a rank group's (rank_groups.c): the run is quiet (no
 * model table, no progress display) and its events go there. Returns the
 * exit status. */
int run_point(Grid *g, long point, StudyOptions *o, ResultsDb *db, int threads, int64_t *after,
              const RunObserver *observer);

/* Opens (creates) the results database at path for a study, its
 * checkpoint directory checked (a new file is not created when that is
 * refused). 0, or the exit status (printed), with *db NULL. */
int run_db_open(const char *path, ResultsDb **db);

#endif
