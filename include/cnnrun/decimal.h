/* decimal.h — the one strict parser of the numbers a user writes (experiment
 * files, --set/--sweep values, command-line options): plain decimal text,
 * nothing else. strtod alone would also take hexadecimal ("0x10" = 16, hex
 * floats), "inf", "nan" and leading blanks; strtol leading blanks. */
#ifndef CNNRUN_DECIMAL_H
#define CNNRUN_DECIMAL_H

#include <stdint.h>

/* Results of the parsers below. */
enum {
    DECIMAL_OK = 0,
    DECIMAL_BAD = -1,   /* not a decimal number of that kind (message: "expected ...") */
    DECIMAL_RANGE = -2  /* a decimal number, but out of the type's range or not finite */
};

/* An integer: [+-]digits, the whole text, base 10 ("010" is ten). */
int decimal_long(const char *s, long *out);
/* A non-negative integer up to INT64_MAX ("+5" is five; "-1" is DECIMAL_RANGE). */
int decimal_u64(const char *s, uint64_t *out);
/* A finite number: [+-] digits with an optional '.' and fraction (at least one
 * digit), an optional exponent e[+-]digits; the whole text. "inf", "nan" and
 * "infinity" (any case, signed) and overflow (1e400) are DECIMAL_RANGE, so a
 * message can say "must be finite"; hexadecimal is DECIMAL_BAD. Underflow
 * reads as the nearest representable value (1e-400 is 0). */
int decimal_double(const char *s, double *out);
/* Whether s would have been read whole by strtod though it is not decimal
 * (0x10, 0x1p3): a message can then say that only decimal numbers are taken. */
int decimal_is_other_base(const char *s);

#endif
