/* svg.h — private to src/report: what the report's pictures are written
 * with (svg.c): the root element, text escaped for XML, the line styles of
 * series (12 colours by 4 dash patterns: 48 told apart), axis ticks (nice
 * linear steps, integers only, or a logarithmic axis's 1-2-5 marks) and an
 * estimate of a label's width. Below plot.c and parallel.c. */
#ifndef CNNRUN_REPORT_SVG_H
#define CNNRUN_REPORT_SVG_H

#include <stdio.h>

#define SVG_FONT_PX 12
#define SVG_FG "#282828"
#define SVG_GRID "#e1e1e1"

/* <svg ...> of width x height px (close with fputs("</svg>\n")); `label`
 * (escaped) is its aria-label. */
void svg_open(FILE *f, int width, int height, const char *label);
/* s escaped for XML text and attributes */
void svg_esc(FILE *f, const char *s);
/* <title>s</title>: the browser shows s while the pointer is over the parent */
void svg_title(FILE *f, const char *s);

/* The style of series i: its colour ("#rrggbb") and its stroke-dasharray
 * ("" for a solid line); i and i + 48 look alike, no two of 0..47 do. */
#define SVG_N_COLORS 12
#define SVG_N_STYLES 48
const char *svg_color(int i);
const char *svg_dash(int i);

/* The width in px of s at `px` font size (a generous estimate: the text
 * fits in it). */
double svg_text_width(const char *s, double px);

/* Ticks for an axis over [lo, hi] (for a log axis, lo and hi are log10 of
 * the values, and so are the ticks): at most max into t; how many.
 * integer: only whole numbers (epochs). */
int svg_ticks(double lo, double hi, int log_axis, int integer, double *t, int max);
/* a tick's text: %g of the value (10^v on a log axis), short */
void svg_tick_text(char *b, size_t n, double v, int log_axis, double step);

#endif
