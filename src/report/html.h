/* html.h — private to src/report: what the HTML report's files share
 * (html.c writes the page, html_groups.c its groups section). */
#ifndef CNNRUN_REPORT_HTML_H
#define CNNRUN_REPORT_HTML_H

#include <stdio.h>

#include "cnnrun/report.h"

/* s with <, >, & and " escaped */
void html_esc(FILE *f, const char *s);
/* DIR/name as an SVG of the panels side by side (plot_svg); 0 or -1 */
int html_plot(const char *dir, const char *name, int w, int h, const PlotPanel *panels, int n);
/* The groups section: the table of groups as mean ± std, their curves as
 * the mean with a ± 1 std band, and accuracy against the key of a sweep over
 * one key; nothing when there is no group of two runs and no such sweep.
 * 0, or -1 when a plot could not be written. */
int html_groups(FILE *f, const char *dir, const ReportGroups *g);

#endif
