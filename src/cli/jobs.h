/* jobs.h — `cnnrun run --jobs N` (jobs.c): a study's runs trained N at a
 * time on one machine, each in a worker process of its own, all writing the
 * one results database. Private to the command line. */
#ifndef CNNRUN_JOBS_H
#define CNNRUN_JOBS_H

#include <stdint.h>

#include "cli.h"
#include "cnnrun/results.h"
#include "run_record.h"

/* cmd_run.c: trains grid point `point` of g into db as `cnnrun run` does (with
 * --resume: finds its run; *after is the run of the sweep's previous point,
 * moved to this point's). observer: NULL in the one-at-a-time loop; a
 * worker's (jobs.c): the run is quiet (no model table, no progress display)
 * and its events go there. Returns the exit status. */
int run_point(Grid *g, long point, CliOptions *o, ResultsDb *db, int threads, int64_t *after,
              const RunObserver *observer);

/* Opens (creates) the results database at path for `cnnrun run`, its
 * checkpoint directory checked (a new file is not created when that is
 * refused). 0, or the exit status (printed), with *db NULL. */
int run_db_open(const char *path, ResultsDb **db);

/* A run's name in messages: its experiment's, "[k/N]" after a sweep's point. */
void jobs_run_name(Grid *g, long point, char *buf, size_t size);
/* " with schedule.lr=0.1, experiment.seed=2": a sweep point's values, for
 * the line of its end ("" for a run without a sweep). */
void jobs_point_values(Grid *g, long point, char *buf, size_t size);
/* "1h02m", "3m05s", "12.3s" into b. */
const char *jobs_fmt_time(char *b, size_t n, double s);
/* How a run that succeeded ended, from RunObserver.ended's `how`, into b:
 * "finished", "paused after epoch 2 of 50 (--until-epoch)", "stopped after
 * epoch 4 of 10 (pruned)". */
const char *jobs_end_words(char *b, size_t n, const char *how, int epoch, int epochs);

/* Trains the `total` runs of grids[0..o->n_files) (every one validated, the
 * database created, nothing open) o->jobs at a time, in grid order; prints
 * one line per ended run with a study ETA, each worker's messages prefixed by
 * its run's name. Returns the worst exit status (1 when a worker died). */
int jobs_run(CliOptions *o, Grid *grids, long total);

#endif
