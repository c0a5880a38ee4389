/* html_page.h — private to src/report: the helpers every part of the HTML
 * report writes its page with (html_page.c): escaped text, paths in the
 * report's directory, the SVG plots. Below html.c and html_groups.c, which
 * both use them. */
#ifndef CNNRUN_REPORT_HTML_PAGE_H
#define CNNRUN_REPORT_HTML_PAGE_H

#include <stdio.h>

#include "cnnrun/report.h"

/* s with <, >, & and " escaped */
void html_esc(FILE *f, const char *s);
/* "DIR/name" (caller frees) */
char *html_path(const char *dir, const char *name);
/* DIR/name as an SVG of the panels side by side (plot_svg); 0 or -1 */
int html_plot(const char *dir, const char *name, int w, int h, const PlotPanel *panels, int n);

#endif
