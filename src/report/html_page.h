/* html_page.h — private to src/report: the helpers every part of the HTML
 * report writes its page with (html_page.c): escaped text, paths in the
 * report's directory, the SVG plots, the staging directory the report is
 * written in before it replaces an earlier one. Below html.c and html_groups.c, which
 * both use them. */
#ifndef CNNRUN_REPORT_HTML_PAGE_H
#define CNNRUN_REPORT_HTML_PAGE_H

#include <stdio.h>

#include "cnnrun/report.h"

/* s with <, >, & and " escaped */
void html_esc(FILE *f, const char *s);
/* printf into a new string (caller frees) */
char *html_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "DIR/name" (caller frees) */
char *html_path(const char *dir, const char *name);
/* The panels side by side as an SVG (plot_svg): written to DIR/name, and
 * into the page inside <figure id=NAME> (NAME: name less ".svg"), where its
 * hover texts work (an <img> shows none); 0, or -1 when DIR/name could not
 * be written (said on stderr). */
int html_plot(FILE *page, const char *dir, const char *name, int w, int h,
              const PlotPanel *panels, int n);
/* The same for any picture: draw(f, arg) writes the SVG, called for DIR/name
 * and for the page. */
int html_figure(FILE *page, const char *dir, const char *name,
                void (*draw)(FILE *f, const void *arg), const void *arg);

/* The report is written into a new directory inside DIR (html_stage:
 * DIR/.cnnrun-report.XXXXXX, its path; NULL after saying why not), and its
 * files are moved into DIR only when every one is written and none would
 * replace a file that is not an earlier report's page or picture
 * (html_publish: 0; CN_EXIT_USAGE after naming such a file, nothing moved;
 * CN_EXIT_FAIL when a move fails). html_unstage removes the staging
 * directory and what is left in it. DIR then holds the whole new report,
 * or what it held before. */
char *html_stage(const char *dir);
int html_publish(const char *stage, const char *dir);
void html_unstage(const char *stage);

#endif
