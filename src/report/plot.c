/* plot.c — line plots as SVG files for the report (report.h plot_svg), drawn
 * with PLplot's svg driver: panels side by side, light grid, a legend, a
 * white background and a colour-blind-friendly palette (Okabe-Ito); a series
 * may carry a translucent band (a group's mean ± std) or error bars. NaN
 * values (NULL in the database) break a line instead of being drawn. */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/report.h"
#include "cnnrun/util.h"

/* cmap0: 0 background, 1 axes and text, 2 grid, 3.. series colours, then
 * the same colours translucent for bands */
#define COL_BG 0
#define COL_FG 1
#define COL_GRID 2
#define COL_SERIES 3
#define BAND_ALPHA 0.22
static const unsigned char palette[][3] = {
    {255, 255, 255}, {40, 40, 40},   {225, 225, 225},                 /* bg, fg, grid */
    {0, 114, 178},   {213, 94, 0},   {0, 158, 115},   {204, 121, 167}, /* Okabe-Ito */
    {230, 159, 0},   {86, 180, 233}, {0, 0, 0},       {240, 228, 66},
};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))
#define N_SERIES_COLORS (N_PALETTE - COL_SERIES)
#define COL_BAND (N_PALETTE) /* COL_BAND + k: series colour k, translucent */

/* PLplot text with '#' (its escape character) doubled, in buf. */
static const char *pl_text(char *buf, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 2 < n; s++) {
        if (*s == '#') buf[k++] = '#';
        buf[k++] = *s;
    }
    buf[k] = '\0';
    return buf;
}

static double tr(double v, int log_scale)
{
    if (!isfinite(v)) return NAN;
    if (log_scale) return v > 0 ? log10(v) : NAN;
    return v;
}

/* The range of the finite (transformed) values of all series; 0 if none. */
static int data_range(const PlotPanel *p, int axis_y, double *lo, double *hi)
{
    int any = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int s = 0; s < p->n_series; s++) {
        const PlotSeries *S = &p->series[s];
        for (int i = 0; i < S->n; i++) {
            double x = tr(S->x[i], p->log_x);
            double ys[3] = {tr(S->y[i], p->log_y), S->lo ? tr(S->lo[i], p->log_y) : NAN,
                            S->hi ? tr(S->hi[i], p->log_y) : NAN};
            for (int k = 0; k < 3; k++) {
                if (!isfinite(x) || !isfinite(ys[k])) continue;
                double v = axis_y ? ys[k] : x;
                if (v < *lo) *lo = v;
                if (v > *hi) *hi = v;
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
        *lo -= d;
        *hi += d;
        return;
    }
    double d = (*hi - *lo) * frac;
    *lo -= d;
    *hi += d;
}

static void draw_series(const PlotPanel *p, const PlotSeries *S)
{
    PLFLT *x = xmalloc(sizeof(PLFLT) * (size_t)(S->n > 0 ? S->n : 1));
    PLFLT *y = xmalloc(sizeof(PLFLT) * (size_t)(S->n > 0 ? S->n : 1));
    plcol0(COL_SERIES + S->color % N_SERIES_COLORS);
    plwidth(2.0);
    pllsty(S->dashed ? 3 : 1);
    int k = 0;
    for (int i = 0; i <= S->n; i++) {
        double xv = i < S->n ? tr(S->x[i], p->log_x) : NAN;
        double yv = i < S->n ? tr(S->y[i], p->log_y) : NAN;
        if (isfinite(xv) && isfinite(yv)) {
            x[k] = xv;
            y[k] = yv;
            k++;
            continue;
        }
        /* end of a run of finite points: a line, or a marker for a lone point */
        if (k > 1) plline(k, x, y);
        else if (k == 1) plpoin(1, x, y, 17);
        k = 0;
    }
    /* markers on short series so that each epoch is visible */
    pllsty(1);
    if (S->n <= 30) {
        plssym(0.0, 0.7);
        for (int i = 0; i < S->n; i++) {
            PLFLT xv = tr(S->x[i], p->log_x), yv = tr(S->y[i], p->log_y);
            if (isfinite(xv) && isfinite(yv)) plpoin(1, &xv, &yv, 17);
        }
    }
    plwidth(1.0);
    free(x);
    free(y);
}

/* The band of S: one filled polygon (hi left to right, lo back) per run of
 * points where x, lo and hi are all finite. */
static void draw_band(const PlotPanel *p, const PlotSeries *S)
{
    if (!S->lo || !S->hi || S->bars || S->n < 2) return;
    /* the polygon: (x, hi) forwards, then (x, lo) backwards */
    PLFLT *fx = xmalloc(sizeof(PLFLT) * (size_t)(4 * S->n)), *fy = fx + 2 * S->n;
    PLFLT *xs = xmalloc(sizeof(PLFLT) * (size_t)(3 * S->n)), *los = xs + S->n, *his = los + S->n;
    plcol0(COL_BAND + S->color % N_SERIES_COLORS);
    int k = 0;
    for (int i = 0; i <= S->n; i++) {
        double xv = i < S->n ? tr(S->x[i], p->log_x) : NAN;
        double lo = i < S->n ? tr(S->lo[i], p->log_y) : NAN;
        double hi = i < S->n ? tr(S->hi[i], p->log_y) : NAN;
        if (isfinite(xv) && isfinite(lo) && isfinite(hi)) {
            xs[k] = xv, los[k] = lo, his[k] = hi;
            k++;
            continue;
        }
        if (k > 1) {
            for (int j = 0; j < k; j++) {
                fx[j] = xs[j], fy[j] = his[j];
                fx[2 * k - 1 - j] = xs[j], fy[2 * k - 1 - j] = los[j];
            }
            plfill(2 * k, fx, fy);
        }
        k = 0;
    }
    free(fx);
    free(xs);
}

/* Error bars of S from lo to hi at each point where all are finite. */
static void draw_bars(const PlotPanel *p, const PlotSeries *S)
{
    if (!S->lo || !S->hi || !S->bars) return;
    plcol0(COL_SERIES + S->color % N_SERIES_COLORS);
    plwidth(1.5);
    for (int i = 0; i < S->n; i++) {
        PLFLT xv = tr(S->x[i], p->log_x), lo = tr(S->lo[i], p->log_y), hi = tr(S->hi[i], p->log_y);
        if (isfinite(xv) && isfinite(lo) && isfinite(hi)) plerry(1, &xv, &lo, &hi);
    }
    plwidth(1.0);
}

/* The first series' x values, each written under the lowest value drawn
 * at that point by any series (the series share their x). */
static void draw_x_labels(const PlotPanel *p, double ylo, double yhi)
{
    if (!p->label_x || p->n_series < 1) return;
    plcol0(COL_FG);
    plschr(0.0, 0.8);
    const PlotSeries *S0 = &p->series[0];
    for (int i = 0; i < S0->n; i++) {
        double xv = tr(S0->x[i], p->log_x), low = INFINITY;
        for (int s = 0; s < p->n_series; s++) {
            const PlotSeries *S = &p->series[s];
            if (i >= S->n) continue;
            double v[2] = {tr(S->y[i], p->log_y), S->lo ? tr(S->lo[i], p->log_y) : NAN};
            for (int k = 0; k < 2; k++)
                if (isfinite(v[k]) && v[k] < low) low = v[k];
        }
        if (!isfinite(xv) || !isfinite(low)) continue;
        char buf[32];
        snprintf(buf, sizeof buf, "%g", S0->x[i]);
        plptex(xv, low - 0.06 * (yhi - ylo), 1.0, 0.0, 0.5, buf);
    }
    plschr(0.0, 1.0);
}

static void draw_legend(const PlotPanel *p)
{
    int n = 0;
    for (int s = 0; s < p->n_series; s++) n += p->series[s].label != NULL;
    if (n == 0) return;
    PLINT *opts = xcalloc((size_t)n, sizeof(PLINT)), *colors = xcalloc((size_t)n, sizeof(PLINT));
    PLINT *styles = xcalloc((size_t)n, sizeof(PLINT));
    PLFLT *widths = xcalloc((size_t)n, sizeof(PLFLT));
    const char **text = xcalloc((size_t)n, sizeof(char *));
    char (*buf)[128] = xcalloc((size_t)n, sizeof *buf);
    PLINT *text_colors = xcalloc((size_t)n, sizeof(PLINT));
    int k = 0;
    for (int s = 0; s < p->n_series; s++) {
        const PlotSeries *S = &p->series[s];
        if (!S->label) continue;
        opts[k] = PL_LEGEND_LINE;
        colors[k] = COL_SERIES + S->color % N_SERIES_COLORS;
        styles[k] = S->dashed ? 3 : 1;
        widths[k] = 2.0;
        text[k] = pl_text(buf[k], sizeof buf[k], S->label);
        text_colors[k] = COL_FG;
        k++;
    }
    PLFLT w, h;
    PLINT pos = p->legend == PLOT_LEGEND_OUTSIDE ? PL_POSITION_OUTSIDE | PL_POSITION_RIGHT
              : p->legend == PLOT_LEGEND_TOP_RIGHT ? PL_POSITION_INSIDE | PL_POSITION_TOP | PL_POSITION_RIGHT
                                                   : PL_POSITION_INSIDE | PL_POSITION_BOTTOM | PL_POSITION_RIGHT;
    double off = p->legend == PLOT_LEGEND_OUTSIDE ? 0.02 : 0.03;
    plschr(0.0, 0.85);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, off, off, 0.06, COL_BG,
             COL_GRID, 1, n, 1, n, opts, 1.0, 1.0, 1.6, 0.0, text_colors, text, NULL, NULL, NULL,
             NULL, colors, styles, widths, NULL, NULL, NULL, NULL);
    plschr(0.0, 1.0);
    free(opts);
    free(colors);
    free(styles);
    free(widths);
    free(text);
    free(buf);
    free(text_colors);
}

/* The widest legend label of the panel, in characters (for the margin). */
static int legend_chars(const PlotPanel *p)
{
    int w = 0;
    for (int s = 0; s < p->n_series; s++)
        if (p->series[s].label && (int)strlen(p->series[s].label) > w)
            w = (int)strlen(p->series[s].label);
    return w;
}

static void draw_panel(const PlotPanel *p, int width_px)
{
    pladv(0);
    /* margins in subpage fractions; the legend sits outside, on the right */
    int lc = p->legend == PLOT_LEGEND_OUTSIDE ? legend_chars(p) : 0;
    double left = 80.0 / width_px, right = 1.0 - 24.0 / width_px;
    if (lc > 0) {
        right -= (lc * 11.0 + 190.0) / width_px;
        if (right < 0.55) right = 0.55;
    }
    plvpor(left, right, 0.2, 0.86);

    double xlo, xhi, ylo, yhi;
    if (!data_range(p, 0, &xlo, &xhi)) xlo = 0, xhi = 1;
    if (!data_range(p, 1, &ylo, &yhi)) ylo = 0, yhi = 1;
    pad_range(&xlo, &xhi, p->label_x ? 0.05 : 0.02);
    pad_range(&ylo, &yhi, p->label_x ? 0.12 : 0.06); /* room for the x labels */
    if (isfinite(p->y_min)) ylo = tr(p->y_min, p->log_y);
    if (isfinite(p->y_max)) yhi = tr(p->y_max, p->log_y);
    plwind(xlo, xhi, ylo, yhi);

    plcol0(COL_GRID);
    plwidth(1.0);
    plbox(p->log_x ? "gl" : "g", 0, 0, p->log_y ? "gl" : "g", 0, 0);
    plcol0(COL_FG);
    plschr(0.0, 0.9);
    plbox(p->log_x ? "bcnstl" : "bcnst", 0, 0, p->log_y ? "bcnstvl" : "bcnstv", 0, 0);
    plschr(0.0, 1.0);
    char buf[256];
    if (p->xlabel) plmtex("b", 2.8, 0.5, 0.5, pl_text(buf, sizeof buf, p->xlabel));
    if (p->ylabel) plmtex("l", 3.8, 0.5, 0.5, pl_text(buf, sizeof buf, p->ylabel));
    if (p->title) {
        plschr(0.0, 1.1);
        plmtex("t", 1.2, 0.5, 0.5, pl_text(buf, sizeof buf, p->title));
        plschr(0.0, 1.0);
    }
    for (int s = 0; s < p->n_series; s++) draw_band(p, &p->series[s]); /* behind the lines */
    for (int s = 0; s < p->n_series; s++) {
        draw_bars(p, &p->series[s]);
        draw_series(p, &p->series[s]);
    }
    draw_x_labels(p, ylo, yhi);
    plcol0(COL_FG);
    draw_legend(p);
}

int plot_svg(const char *path, int width, int height, const PlotPanel *panels, int n_panels)
{
    /* PLplot exits the process on a file it cannot open: check first */
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write the plot: %m\n", path);
        return -1;
    }
    fclose(f);

    plsdev("svg");
    plsfnam(path);
    plspage(0, 0, width, height, 0, 0);
    plscmap0n(N_PALETTE + N_SERIES_COLORS);
    for (int i = 0; i < N_PALETTE; i++) plscol0(i, palette[i][0], palette[i][1], palette[i][2]);
    for (int k = 0; k < N_SERIES_COLORS; k++)
        plscol0a(COL_BAND + k, palette[COL_SERIES + k][0], palette[COL_SERIES + k][1],
                 palette[COL_SERIES + k][2], BAND_ALPHA);
    plssub(n_panels, 1);
    plinit();
    plfontld(1);
    for (int i = 0; i < n_panels; i++) draw_panel(&panels[i], width / n_panels);
    plend();
    return 0;
}
