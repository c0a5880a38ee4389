/* sample.h — the random values of a [sweep] (sample.c), for sweep.c: the
 * calls `uniform(a, b)`, `loguniform(a, b)` and `choice(v1, v2, ...)`, and
 * the N distinct points drawn from them. */
#ifndef CNNRUN_CONFIG_SAMPLE_H
#define CNNRUN_CONFIG_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>

#include "cnnrun/config.h"
#include "ini_doc.h"

/* What a key's values are, for drawing them. */
typedef enum {
    SAMPLE_INT,   /* an integer key: integers drawn */
    SAMPLE_REAL,  /* a double key */
    SAMPLE_FLOAT, /* a 32-bit float key: two draws are one value when they load as one float */
    SAMPLE_OTHER /* text, a boolean, a list: only choice() */
} SampleKind;

/* Whether text is written as a call: an identifier and '(' (a random
 * value, good or not: text after its ')', or no ')', is the call's error,
 * not a list's values). */
bool sample_is_call(const char *text);
/* Whether the call's name is uniform, loguniform or choice. */
bool sample_known(const char *text);
/* Checks the call `text` of key `name` (of kind) at loc: a known function,
 * closed by its ')' with nothing after it, and its arguments. A choice gives 1 and the text between its parentheses
 * in *inner, *inner_len (sweep.c splits it as a list of values); a range 0;
 * a bad call -1 (reported). */
int sample_check_call(Diag *d, CfgLoc loc, const char *name, SampleKind kind, const char *text,
                      const char **inner, size_t *inner_len);
/* Draws s->samples distinct points of s's random keys (key k of kind[k]),
 * distinct as the values the runs load (a float key's draws as 32-bit
 * floats), from their own stream seeded with s->seed: a random key's values become
 * its N values, the j-th that of sample j (a choice's values are its choices
 * until then). 0, or -1 when there are not that many distinct points
 * (reported at the samples line). */
int sample_draw(Diag *d, Sweep *s, const SampleKind *kind);

#endif
