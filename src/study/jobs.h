/* jobs.h — `cnnrun run --jobs N` (jobs.c): a study's runs trained N at a
 * time on one machine, each in a worker process of its own, all writing the
 * one results database. Private to src/study. */
#ifndef CNNRUN_JOBS_H
#define CNNRUN_JOBS_H

#include <stdint.h>

#include "cnnrun/study.h"

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
int jobs_run(StudyOptions *o, Grid *grids, long total);

#endif
