/* decimal.c — strict decimal numbers (decimal.h): the grammar is checked
 * here, by hand, before strtol/strtoull/strtod read the text, so that
 * nothing strtod knows beyond decimal (hexadecimal, hex floats, inf, nan,
 * leading blanks) gets through. */
#include "cnnrun/decimal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

static const char *digits(const char *p)
{
    while (*p >= '0' && *p <= '9') p++;
    return p;
}

/* [+-]digits, whole text */
static int integer_syntax(const char *s)
{
    const char *p = s + (*s == '+' || *s == '-');
    const char *q = digits(p);
    return q > p && *q == '\0';
}

int decimal_long(const char *s, long *out)
{
    if (!integer_syntax(s)) return DECIMAL_BAD;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE) return DECIMAL_RANGE;
    *out = v;
    return DECIMAL_OK;
}

int decimal_u64(const char *s, uint64_t *out)
{
    if (!integer_syntax(s)) return DECIMAL_BAD;
    if (*s == '-') return DECIMAL_RANGE; /* strtoull would wrap it */
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX) return DECIMAL_RANGE;
    *out = (uint64_t)v;
    return DECIMAL_OK;
}

/* The words strtod reads as infinity or NaN, signed or not. */
static int non_finite_word(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    return !strcasecmp(s, "inf") || !strcasecmp(s, "infinity") || !strcasecmp(s, "nan");
}

int decimal_double(const char *s, double *out)
{
    if (non_finite_word(s)) return DECIMAL_RANGE;
    const char *p = s + (*s == '+' || *s == '-');
    const char *q = digits(p);
    int n = (int)(q - p);
    if (*q == '.') {
        const char *f = digits(q + 1);
        n += (int)(f - q - 1);
        q = f;
    }
    if (n == 0) return DECIMAL_BAD;
    if (*q == 'e' || *q == 'E') {
        const char *e = q + 1 + (q[1] == '+' || q[1] == '-');
        q = digits(e);
        if (q == e) return DECIMAL_BAD;
    }
    if (*q) return DECIMAL_BAD;
    errno = 0;
    double v = strtod(s, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0)) return DECIMAL_RANGE;
    *out = v;
    return DECIMAL_OK;
}

int decimal_is_other_base(const char *s)
{
    double ignored;
    if (!*s || isspace((unsigned char)*s) || decimal_double(s, &ignored) != DECIMAL_BAD)
        return 0;
    char *end;
    strtod(s, &end);
    return *end == '\0';
}
