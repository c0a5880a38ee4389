/* html.h — private to src/report: the groups section of the HTML report
 * (html_groups.c), which the page (html.c) writes where it belongs; the
 * helpers both write with are html_page.h's. */
#ifndef CNNRUN_REPORT_HTML_H
#define CNNRUN_REPORT_HTML_H

#include <stdio.h>

#include "cnnrun/report.h"

/* The groups section: the table of groups as mean ± std, their curves as
 * the mean with a ± 1 std band, and accuracy against the key of a sweep over
 * one key; nothing when there is no group of two runs and no such sweep.
 * 0, or -1 when a plot could not be written. */
int html_groups(FILE *f, const char *dir, const ReportGroups *g);

#endif
