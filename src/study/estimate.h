/* estimate.h — a study's cost before it starts (estimate.c). Private to
 * src/study. */
#ifndef CNNRUN_ESTIMATE_H
#define CNNRUN_ESTIMATE_H

#include "cnnrun/study.h"

/* Prints `study: N runs, E epochs, about T (how)` on stderr for the runs of
 * grids[0..o->n_files) (checked), `threads` each, `parallel` at a time;
 * the rates measured in db_path (an existing results database) or
 * projected, which it says. Nothing when no run's images can be counted. */
void study_estimate(const StudyOptions *o, Grid *grids, long total, int threads, int parallel,
                    const char *db_path);

#endif
