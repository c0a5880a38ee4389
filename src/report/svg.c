/* svg.c — the report's pictures' primitives (svg.h): the root element, XML
 * escaping, <title> hover text, the series' styles, text width and ticks.
 * The report draws its own SVG instead of PLplot's: PLplot's svg driver has
 * no <title> (the hover text), clips a legend wider than its box and puts
 * fractional ticks on a 3-epoch axis; this is the small part it was used for. */
#include "svg.h"

#include <math.h>
#include <string.h>

void svg_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

void svg_title(FILE *f, const char *s)
{
    fputs("<title>", f);
    svg_esc(f, s);
    fputs("</title>", f);
}

void svg_open(FILE *f, int width, int height, const char *label)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans,Arial,Helvetica,sans-serif\" "
               "font-size=\"%d\" role=\"img\" aria-label=\"",
            width, height, width, height, SVG_FONT_PX);
    svg_esc(f, label);
    fprintf(f, "\">\n<style>.s:hover .ln{stroke-width:4}.pt:hover{stroke:%s;stroke-width:2}"
               "</style>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
            SVG_FG, width, height);
}

/* Okabe-Ito's colour-blind-safe eight less its yellow, then five of Tol's */
static const char *const colors[SVG_N_COLORS] = {
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
    "#000000", "#882255", "#999933", "#6a3d9a", "#44aa99", "#8c8c8c",
};
static const char *const dashes[SVG_N_STYLES / SVG_N_COLORS] = {"", "7 3", "2 3", "9 3 2 3"};

const char *svg_color(int i)
{
    return colors[(i % SVG_N_STYLES + SVG_N_STYLES) % SVG_N_STYLES % SVG_N_COLORS];
}

const char *svg_dash(int i)
{
    return dashes[(i % SVG_N_STYLES + SVG_N_STYLES) % SVG_N_STYLES / SVG_N_COLORS];
}

double svg_text_width(const char *s, double px)
{
    double w = 0;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c & 0xc0) == 0x80) continue; /* a UTF-8 continuation byte: one glyph */
        w += strchr("il.,:;|!'()[] ", c) ? 0.32 : c >= 'A' && c <= 'Z' ? 0.72
           : strchr("mwMW_", c) ? 0.9 : 0.62;
    }
    return w * px;
}

/* the nice step (1, 2 or 5 x 10^k) giving about `want` intervals */
static double nice_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static int log_ticks(double lo, double hi, double *t, int max)
{
    static const double sets[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int sizes[3] = {1, 3, 9};
    int n = 0;
    for (int s = 0; s < 3; s++) { /* the coarsest set that gives 4 ticks or more */
        n = 0;
        for (double d = floor(lo); d <= ceil(hi) && n < max; d++)
            for (int k = 0; k < sizes[s] && n < max; k++) {
                double v = d + log10(sets[s][k]);
                if (v >= lo - 1e-9 && v <= hi + 1e-9) t[n++] = v;
            }
        if (n >= 4) break;
    }
    return n;
}

int svg_ticks(double lo, double hi, int log_axis, int integer, double *t, int max)
{
    if (!(hi > lo) || max < 1) return 0;
    if (log_axis) return log_ticks(lo, hi, t, max);
    double step = nice_step(hi - lo, 6);
    if (integer && step < 1) step = 1;
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step)
        t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    return n;
}

void svg_tick_text(char *b, size_t n, double v, int log_axis, double step)
{
    if (log_axis) {
        snprintf(b, n, "%.3g", pow(10, v));
        return;
    }
    int dec = step >= 1 || step <= 0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(b, n, "%.*f", dec > 6 ? 6 : dec, v);
}
