/* html.h — private to src/report: the groups and sweep sections of the HTML
 * report (html_groups.c, html_sweep.c), which the page (html.c) writes where it belongs; the
 * helpers both write with are html_page.h's. */
#ifndef CNNRUN_REPORT_HTML_H
#define CNNRUN_REPORT_HTML_H

#include <stdio.h>

#include "cnnrun/report.h"

/* The groups section: the table of groups as mean ± std, their curves as
 * the mean with a ± 1 std band, and accuracy against the key of a sweep over
 * one key; nothing when there is no group of two runs and no such sweep.
 * 0, or -1 when a plot could not be written. */
int html_groups(FILE *f, const char *dir, const ReportGroups *g, const ReportRun *runs,
                int n_runs);

/* The sweep section (html_sweep.c), for runs swept over two keys or more
 * (the seed aside): accuracy against each numeric key, a panel each, and
 * every key at once as parallel coordinates; nothing otherwise. 0, or -1
 * when a plot could not be written. */
int html_sweep(FILE *f, const char *dir, const ReportData *d);

#endif
