/* format.h — number formatting shared by the terminal table and the HTML
 * report: accuracy in percent (a group's as mean ± std), durations, parameter counts, the time to
 * accuracy; "-" for none. */
#ifndef CNNRUN_REPORT_FORMAT_H
#define CNNRUN_REPORT_FORMAT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline const char *fmt_pct(char *b, size_t n, double frac)
{
    if (!isfinite(frac)) snprintf(b, n, "-");
    else snprintf(b, n, "%.2f %%", 100.0 * frac);
    return b;
}

#define PLUS_MINUS "\xc2\xb1" /* ± in UTF-8: two bytes, one column */

/* "93.41 ± 0.12 %", "93.41 %" without a std (one run), "-" without a mean */
static inline const char *fmt_pct_std(char *b, size_t n, double mean, double std)
{
    if (!isfinite(mean)) snprintf(b, n, "-");
    else if (!isfinite(std)) snprintf(b, n, "%.2f %%", 100.0 * mean);
    else snprintf(b, n, "%.2f " PLUS_MINUS " %.2f %%", 100.0 * mean, 100.0 * std);
    return b;
}

static inline const char *fmt_duration(char *b, size_t n, double s)
{
    if (!isfinite(s)) snprintf(b, n, "-");
    else if (s < 120) snprintf(b, n, "%.0f s", s);
    else if (s < 7200) snprintf(b, n, "%.1f min", s / 60);
    else snprintf(b, n, "%.1f h", s / 3600);
    return b;
}

static inline const char *fmt_params(char *b, size_t n, int64_t p)
{
    if (p >= 1000000) snprintf(b, n, "%.2f M", p / 1e6);
    else if (p >= 1000) snprintf(b, n, "%.1f k", p / 1e3);
    else snprintf(b, n, "%lld", (long long)p);
    return b;
}

static inline const char *fmt_num(char *b, size_t n, double v, int decimals)
{
    if (!isfinite(v)) snprintf(b, n, "-");
    else snprintf(b, n, "%.*f", decimals, v);
    return b;
}

/* v with the fewest digits (15 to 17) that read back as v: 0.1, not
 * 0.10000000000000001 (the CSV and JSON export); finite v only */
static inline const char *fmt_exact(char *b, size_t n, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(b, n, "%.*g", digits, v);
        if (strtod(b, NULL) == v) break;
    }
    return b;
}

/* time to accuracy: "41 s (ep 3)", "-" when not reached */
static inline const char *fmt_to_target(char *b, size_t n, double seconds, int epoch)
{
    char d[24];
    if (!isfinite(seconds)) snprintf(b, n, "-");
    else snprintf(b, n, "%s (ep %d)", fmt_duration(d, sizeof d, seconds), epoch);
    return b;
}

#endif
