/* parallel.h — private to src/report: a study's runs as parallel
 * coordinates (parallel.c), for a sweep over two keys or more. */
#ifndef CNNRUN_REPORT_PARALLEL_H
#define CNNRUN_REPORT_PARALLEL_H

#include <stdio.h>

#include "cnnrun/report.h"

/* An SVG width x height px into f: an axis per key of keys (the runs'
 * run_params) and one for the best test accuracy; one line per run with an
 * epoch, its hover text its run, values and accuracy. */
void plot_parallel(FILE *f, int width, int height, const ReportRun *runs, int n,
                   const char *const *keys, int n_keys);

#endif
