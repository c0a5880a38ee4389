/* plot.c — line plots for the report as SVG (report.h plot_svg): panels side
 * by side, a light grid, ticks that suit the axis (whole epochs, a log axis's
 * 1-2-5 marks, or the swept values themselves), each panel's legend outside
 * its plot on the right (the picture grows to hold it: never clipped, never
 * over a line's end), series told apart by 12 colours x 4 dash patterns, and
 * a <title> on every line and point, which a browser shows on hover. A
 * series may carry a translucent band (a group's mean ± std) or error bars;
 * NaN values (NULL in the database) break a line. Primitives: svg.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/report.h"
#include "cnnrun/util.h"
#include "svg.h"

#define MARGIN_L 64
#define MARGIN_T 30
#define MARGIN_B 46
#define ROW_PX 17
#define SWATCH_PX 30
#define BAND_OPACITY "0.22"
#define MAX_MARKED 30 /* visible markers up to this many points, then hover targets */

typedef struct {
    double x0, x1, y0, y1;     /* the plot area, px */
    double xlo, xhi, ylo, yhi; /* the data window (log10 on a log axis) */
    int log_x, log_y;
} Frame;

static double tr(double v, int log_scale)
{
    if (!isfinite(v)) return NAN;
    if (log_scale) return v > 0 ? log10(v) : NAN;
    return v;
}

static double px_x(const Frame *fr, double v)
{
    return fr->x0 + (v - fr->xlo) / (fr->xhi - fr->xlo) * (fr->x1 - fr->x0);
}

static double px_y(const Frame *fr, double v)
{
    return fr->y1 - (v - fr->ylo) / (fr->yhi - fr->ylo) * (fr->y1 - fr->y0);
}

/* The range of the finite (transformed) values of all series; 0 if none. */
static int data_range(const PlotPanel *p, int axis_y, double *lo, double *hi)
{
    int any = 0;
    *lo = INFINITY, *hi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const PlotSeries *S = &p->series[s];
        for (int i = 0; i < S->n; i++) {
            double x = tr(S->x[i], p->log_x);
            double ys[3] = {tr(S->y[i], p->log_y), S->lo ? tr(S->lo[i], p->log_y) : NAN,
                            S->hi ? tr(S->hi[i], p->log_y) : NAN};
            for (int k = 0; k < 3; k++) {
                if (!isfinite(x) || !isfinite(ys[k])) continue;
                double v = axis_y ? ys[k] : x;
                *lo = v < *lo ? v : *lo;
                *hi = v > *hi ? v : *hi;
                any = 1;
            }
        }
    }
    return any;
}

static void pad_range(double *lo, double *hi, double frac)
{
    if (*hi - *lo < 1e-12) {
        double d = fabs(*lo) > 1e-12 ? fabs(*lo) * 0.1 : 0.5;
        *lo -= d, *hi += d;
        return;
    }
    double d = (*hi - *lo) * frac;
    *lo -= d, *hi += d;
}

/* The legend's width in px (0: no entry) and its entries' count. */
static double legend_width(const PlotPanel *p, double panel_w, int *rows)
{
    double w = 0;
    *rows = 0;
    for (int s = 0; s < p->n_series; s++) {
        if (!p->series[s].label) continue;
        (*rows)++;
        double t = svg_text_width(p->series[s].label, SVG_FONT_PX);
        w = t > w ? t : w;
    }
    if (*rows == 0) return 0;
    w += SWATCH_PX + 14;
    return w > 0.4 * panel_w ? 0.4 * panel_w : w;
}

/* label cut to fit max_px, "..." at its end, into b */
static const char *fit_text(char *b, size_t n, const char *label, double max_px)
{
    snprintf(b, n, "%s", label);
    size_t len = strlen(b);
    while (len > 1 && svg_text_width(b, SVG_FONT_PX) > max_px) {
        len--;
        while (len > 1 && ((unsigned char)b[len] & 0xc0) == 0x80) len--; /* whole characters */
        if (len + 4 > n) continue;
        memcpy(b + len, "\xe2\x80\xa6", 4);
    }
    return b;
}

static void stroke_attrs(FILE *f, const PlotSeries *S)
{
    const char *dash = S->dashed ? "7 3" : svg_dash(S->color);
    fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"", svg_color(S->color));
    if (*dash) fprintf(f, " stroke-dasharray=\"%s\"", dash);
}

static void draw_legend(FILE *f, const PlotPanel *p, double x, double y, double w)
{
    for (int s = 0, row = 0; s < p->n_series; s++) {
        const PlotSeries *S = &p->series[s];
        if (!S->label) continue;
        double cy = y + ROW_PX * row++ + ROW_PX / 2.0;
        char b[256];
        fputs("<g class=\"s\">", f);
        svg_title(f, S->hover ? S->hover : S->label);
        if (S->markers_only) { /* points, no line: a point */
            int square = S->dashed || *svg_dash(S->color);
            double mx = x + (SWATCH_PX - 6) / 2.0;
            if (square)
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"%s\"",
                        mx - 3.5, cy - 3.5, svg_color(S->color));
            else
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"", mx, cy,
                        svg_color(S->color));
        } else {
            fprintf(f, "<path class=\"ln\" d=\"M%.1f %.1fh%d\"", x, cy, SWATCH_PX - 6);
            stroke_attrs(f, S);
        }
        fprintf(f, "/><text x=\"%.1f\" y=\"%.1f\" dy=\"0.35em\" fill=\"%s\">", x + SWATCH_PX,
                cy, SVG_FG);
        svg_esc(f, fit_text(b, sizeof b, S->label, w - SWATCH_PX - 8));
        fputs("</text></g>\n", f);
    }
}

static void draw_axes(FILE *f, const PlotPanel *p, const Frame *fr)
{
    double t[64];
    int nx = 0, ny = svg_ticks(fr->ylo, fr->yhi, p->log_y, 0, t + 32, 32);
    if (p->label_x && p->n_series > 0) { /* the first series' values */
        for (int i = 0; i < p->series[0].n && nx < 32; i++)
            if (isfinite(tr(p->series[0].x[i], p->log_x))) t[nx++] = tr(p->series[0].x[i], p->log_x);
    } else {
        nx = svg_ticks(fr->xlo, fr->xhi, p->log_x, p->int_x, t, 32);
    }
    double xstep = nx > 1 ? t[1] - t[0] : 1, ystep = ny > 1 ? t[33] - t[32] : 1;
    double last_right = -INFINITY;
    char b[48];
    for (int i = 0; i < nx; i++) {
        double x = px_x(fr, t[i]);
        fprintf(f, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\"/>", x, fr->y0, fr->y1, SVG_GRID);
        if (p->label_x) snprintf(b, sizeof b, "%g", p->log_x ? pow(10, t[i]) : t[i]);
        else svg_tick_text(b, sizeof b, t[i], p->log_x, xstep);
        double w = svg_text_width(b, SVG_FONT_PX);
        if (x - w / 2 < last_right + 6) continue; /* would overlap the label before it */
        last_right = x + w / 2;
        fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                   "fill=\"%s\">%s</text>\n", x, fr->y1 + 16, SVG_FG, b);
    }
    for (int i = 0; i < ny; i++) {
        double y = px_y(fr, t[32 + i]);
        svg_tick_text(b, sizeof b, t[32 + i], p->log_y, ystep);
        fprintf(f, "<path d=\"M%.1f %.1fH%.1f\" stroke=\"%s\"/><text class=\"ytick\" "
                   "x=\"%.1f\" y=\"%.1f\" dy=\"0.35em\" text-anchor=\"end\" fill=\"%s\">%s"
                   "</text>\n", fr->x0, y, fr->x1, SVG_GRID, fr->x0 - 6, y, SVG_FG, b);
    }
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"%s\"/>\n", fr->x0, fr->y0, fr->x1 - fr->x0, fr->y1 - fr->y0, SVG_FG);
    if (p->xlabel) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"%s\">",
                (fr->x0 + fr->x1) / 2, fr->y1 + 36, SVG_FG);
        svg_esc(f, p->xlabel);
        fputs("</text>\n", f);
    }
    if (p->ylabel) {
        double cy = (fr->y0 + fr->y1) / 2;
        fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" "
                   "fill=\"%s\">", fr->x0 - 48, cy, SVG_FG);
        svg_esc(f, p->ylabel);
        fputs("</text>\n", f);
    }
}

/* px of point i of S, 0 when it is not drawn */
static int point_at(const Frame *fr, const PlotSeries *S, const double *ys, int i, double *x,
                    double *y)
{
    double xv = tr(S->x[i], fr->log_x), yv = tr(ys[i], fr->log_y);
    if (!isfinite(xv) || !isfinite(yv)) return 0;
    *x = px_x(fr, xv) + S->dodge, *y = px_y(fr, yv);
    return 1;
}

static void draw_band(FILE *f, const Frame *fr, const PlotSeries *S)
{
    if (!S->lo || !S->hi || S->bars || S->n < 2) return;
    for (int i = 0; i < S->n;) { /* one polygon per run of points with a band */
        int j = i;
        double x, y;
        while (j < S->n && point_at(fr, S, S->lo, j, &x, &y) && point_at(fr, S, S->hi, j, &x, &y))
            j++;
        if (j - i > 1) {
            fputs("<path d=\"", f);
            for (int k = i; k < j; k++)
                point_at(fr, S, S->hi, k, &x, &y), fprintf(f, "%c%.1f %.1f", k == i ? 'M' : 'L', x, y);
            for (int k = j - 1; k >= i; k--)
                point_at(fr, S, S->lo, k, &x, &y), fprintf(f, "L%.1f %.1f", x, y);
            fprintf(f, "Z\" fill=\"%s\" fill-opacity=\"" BAND_OPACITY "\"/>\n", svg_color(S->color));
        }
        i = j > i ? j : i + 1;
    }
}

static void point_text(char *b, size_t n, const PlotPanel *p, const PlotSeries *S, int i)
{
    if (S->point_hover && S->point_hover[i]) {
        snprintf(b, n, "%s", S->point_hover[i]);
        return;
    }
    const char *name = S->hover ? S->hover : S->label;
    snprintf(b, n, "%s%s%s %g: %s %.4g", name ? name : "", name ? "\n" : "",
             p->xlabel ? p->xlabel : "x", S->x[i], p->ylabel ? p->ylabel : "y", S->y[i]);
}

static void draw_series(FILE *f, const PlotPanel *p, const Frame *fr, const PlotSeries *S)
{
    const char *color = svg_color(S->color);
    fputs("<g class=\"s\">", f);
    if (S->hover || S->label) svg_title(f, S->hover ? S->hover : S->label);
    double x, y, lx, hy;
    for (int i = 0; S->bars && S->lo && S->hi && i < S->n; i++)
        if (point_at(fr, S, S->lo, i, &x, &y) && point_at(fr, S, S->hi, i, &lx, &hy))
            fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8\" stroke=\"%s\" "
                       "stroke-width=\"1.5\"/>", x, y, hy, x - 4, y, x - 4, hy, color);
    if (!S->markers_only) {
        for (int pass = 0; pass < 2; pass++) { /* the line, then a wide invisible hover target */
            fputs("<path d=\"", f);
            for (int i = 0, pen = 0; i < S->n; i++) {
                if (!point_at(fr, S, S->y, i, &x, &y)) { pen = 0; continue; }
                fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', x, y);
                pen = 1;
            }
            if (pass == 0) fputs("\" class=\"ln\"", f), stroke_attrs(f, S);
            else fputs("\" fill=\"none\" stroke=\"transparent\" stroke-width=\"10\"", f);
            fputs("/>\n", f);
        }
    }
    int visible = S->n <= MAX_MARKED || S->markers_only, square = S->dashed || *svg_dash(S->color);
    for (int i = 0; i < S->n; i++) {
        if (!point_at(fr, S, S->y, i, &x, &y)) continue;
        char b[512];
        point_text(b, sizeof b, p, S, i);
        const char *fill = visible ? color : "transparent";
        if (square) fprintf(f, "<rect class=\"pt\" x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" "
                               "fill=\"%s\">", x - 3.5, y - 3.5, fill);
        else fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\">", x, y,
                     visible ? "3.5" : "5", fill);
        svg_title(f, b);
        fputs(square ? "</rect>\n" : "</circle>\n", f);
    }
    fputs("</g>\n", f);
}

static void draw_panel(FILE *f, const PlotPanel *p, double left, double w, int h)
{
    int rows;
    double lw = legend_width(p, w, &rows);
    Frame fr = {.x0 = left + MARGIN_L, .x1 = left + w - (lw > 0 ? lw + 12 : 16),
                .y0 = MARGIN_T, .y1 = h - MARGIN_B, .log_x = p->log_x, .log_y = p->log_y};
    if (!data_range(p, 0, &fr.xlo, &fr.xhi)) fr.xlo = 0, fr.xhi = 1;
    if (!data_range(p, 1, &fr.ylo, &fr.yhi)) fr.ylo = 0, fr.yhi = 1;
    pad_range(&fr.xlo, &fr.xhi, p->label_x ? 0.06 : 0.03);
    pad_range(&fr.ylo, &fr.yhi, 0.06);
    if (p->title) {
        fprintf(f, "<text x=\"%.1f\" y=\"19\" text-anchor=\"middle\" font-size=\"13\" "
                   "font-weight=\"600\" fill=\"%s\">", (fr.x0 + fr.x1) / 2, SVG_FG);
        svg_esc(f, p->title);
        fputs("</text>\n", f);
    }
    draw_axes(f, p, &fr);
    for (int s = 0; s < p->n_series; s++) draw_band(f, &fr, &p->series[s]); /* behind lines */
    for (int s = 0; s < p->n_series; s++) draw_series(f, p, &fr, &p->series[s]);
    if (lw > 0) draw_legend(f, p, fr.x1 + 12, fr.y0, lw);
}

void plot_svg(FILE *f, int width, int height, const PlotPanel *panels, int n_panels)
{
    double w = (double)width / (n_panels > 0 ? n_panels : 1);
    for (int i = 0; i < n_panels; i++) { /* tall enough for every legend */
        int rows;
        legend_width(&panels[i], w, &rows);
        int need = MARGIN_T + rows * ROW_PX + MARGIN_B;
        height = need > height ? need : height;
    }
    svg_open(f, width, height, n_panels > 0 && panels[0].title ? panels[0].title : "plot");
    for (int i = 0; i < n_panels; i++) draw_panel(f, &panels[i], i * w, w, height);
    fputs("</svg>\n", f);
}
