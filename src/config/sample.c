/* sample.c — random search in a [sweep] (docs/experiment-format.md,
 * "Random search"): the calls `uniform(a, b)`, `loguniform(a, b)` and
 * `choice(v1, v2, ...)` that a swept key may be given instead of a list, and
 * the `samples = N` points drawn from them, distinct as the values the runs
 * load (a float key's as 32-bit floats, as a grid's). The draws come from a
 * PCG32 stream of their own (RNG_STREAM_SWEEP) seeded with the sweep's seed,
 * so the same file gives the same points, and --resume finds them again.
 * Owns the form of the calls (bounds are strict decimal numbers, a < b,
 * loguniform above 0, integers for an integer key) and how a value is drawn
 * and written; whether a drawn value suits its key is checked as a grid
 * point's is, by loading the point (src/cli/grid.c). */
#include "sample.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/decimal.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"
#include "schema.h"

typedef enum { FN_UNIFORM, FN_LOGUNIFORM, FN_CHOICE, FN_UNKNOWN } SampleFn;

static const char *const fn_names[] = {"uniform", "loguniform", "choice", NULL};

/* NAME(INNER), as written, and whatever follows its ')' */
typedef struct {
    char name[32];
    SampleFn fn;
    const char *inner;
    size_t inner_len;
    const char *start;    /* the call as written: NAME(...), blanks trimmed */
    size_t len;
    bool closed;          /* the '(' has its ')' */
    const char *trailing; /* text after that ')' (blanks trimmed; "" for none) */
    size_t trailing_len;
} Call;

/* Splits text into a call: an identifier and '(' (false if it does not
 * start as one); the call ends at the ')' that closes that '(', and any
 * text after it is kept in c->trailing for sample_check_call to refuse
 * ("loguniform(0.01, 1) junk" is a call with junk, not a list). */
static bool parse_call(const char *text, Call *c)
{
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    const char *name = p;
    if (!isalpha((unsigned char)*p) && *p != '_') return false;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    size_t name_len = (size_t)(p - name);
    while (isspace((unsigned char)*p)) p++;
    if (*p != '(') return false;
    const char *open = p, *close = NULL;
    int depth = 0;
    for (const char *q = open; *q && !close; q++) {
        if (*q == '(') depth++;
        else if (*q == ')' && --depth == 0) close = q;
    }
    const char *end = text + strlen(text);
    while (end > open && isspace((unsigned char)end[-1])) end--;
    snprintf(c->name, sizeof c->name, "%.*s", (int)(name_len < sizeof c->name ? name_len
                                                                             : sizeof c->name - 1),
             name);
    c->fn = FN_UNKNOWN;
    for (int i = 0; fn_names[i]; i++)
        if (name_len == strlen(fn_names[i]) && !strncmp(name, fn_names[i], name_len))
            c->fn = (SampleFn)i;
    c->closed = close != NULL;
    if (!close) close = end; /* unclosed: the rest is its inside */
    c->inner = open + 1;
    c->inner_len = close > open ? (size_t)(close - (open + 1)) : 0;
    c->start = name;
    c->len = (size_t)((c->closed ? close + 1 : end) - name);
    c->trailing = c->closed ? close + 1 : end;
    while (c->trailing < end && isspace((unsigned char)*c->trailing)) c->trailing++;
    c->trailing_len = (size_t)(end - c->trailing);
    return true;
}

bool sample_is_call(const char *text)
{
    Call c;
    return parse_call(text, &c);
}

bool sample_known(const char *text)
{
    Call c;
    return parse_call(text, &c) && c.fn != FN_UNKNOWN;
}

/* A range: uniform or loguniform over [a, b] (integers ia..ib for an
 * integer key). */
typedef struct {
    SampleFn fn;
    bool integer;
    bool single; /* a 32-bit float key: a drawn text is the float it loads as */
    double a, b;
    long ia, ib;
} Range;

#define REPORT(...)                                                                            \
    do {                                                                                       \
        if (d) diag_error(d, loc, __VA_ARGS__);                                                \
    } while (0)

/* One bound of c for key `name`: its text t (trimmed), into r as bound i. */
static int parse_bound(Diag *d, CfgLoc loc, const char *name, const Call *c, const char *t,
                       int i, Range *r)
{
    double x;
    if (r->integer) {
        long v;
        int rc = decimal_long(t, &v);
        if (rc == DECIMAL_OK) {
            if (i == 0) r->ia = v, r->a = (double)v;
            else r->ib = v, r->b = (double)v;
            return 0;
        }
        if (rc == DECIMAL_BAD && decimal_double(t, &x) == DECIMAL_OK)
            REPORT("%s takes integers: the bounds of %s(a, b) must be integers, got '%s'", name,
                   c->name, t);
        else if (rc == DECIMAL_RANGE)
            REPORT("the bound '%s' of %s(a, b) for %s is out of range", t, c->name, name);
        else
            REPORT("expected an integer for a bound of %s(a, b) for %s, got '%s'%s", c->name,
                   name, t, decimal_is_other_base(t) ? " (only decimal numbers are accepted)"
                                                     : "");
        return -1;
    }
    int rc = decimal_double(t, &x);
    if (rc == DECIMAL_OK) {
        if (i == 0) r->a = x;
        else r->b = x;
        return 0;
    }
    if (rc == DECIMAL_RANGE)
        REPORT("the bounds of %s(a, b) for %s must be finite, got '%s'", c->name, name, t);
    else
        REPORT("expected a number for a bound of %s(a, b) for %s, got '%s'%s", c->name, name, t,
               decimal_is_other_base(t) ? " (only decimal numbers are accepted)" : "");
    return -1;
}

/* The range of call c (uniform or loguniform) for key `name` of kind; with
 * d, its problems reported. 0 or -1. */
static int parse_range(Diag *d, CfgLoc loc, const char *name, SampleKind kind, const Call *c,
                       Range *r)
{
    memset(r, 0, sizeof *r);
    r->fn = c->fn;
    r->integer = kind == SAMPLE_INT;
    r->single = kind == SAMPLE_FLOAT;
    if (kind == SAMPLE_OTHER) {
        REPORT("%s is not a number: draw its values with choice(v1, v2, ...)", name);
        return -1;
    }
    /* exactly two bounds, separated by a comma */
    char *args = xmalloc(c->inner_len + 1);
    memcpy(args, c->inner, c->inner_len);
    args[c->inner_len] = '\0';
    int n = 1;
    for (const char *q = args; *q; q++) n += *q == ',';
    if (n != 2) {
        REPORT("%s(a, b) takes two bounds, got '%s(%s)'", c->name, c->name, args);
        free(args);
        return -1;
    }
    char *comma = strchr(args, ',');
    *comma = '\0';
    const char *part[2] = {args, comma + 1};
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        const char *s = part[i];
        while (isspace((unsigned char)*s)) s++;
        size_t len = strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
        char t[64];
        snprintf(t, sizeof t, "%.*s", (int)(len < sizeof t ? len : sizeof t - 1), s);
        if (parse_bound(d, loc, name, c, t, i, r) != 0) rc = -1;
    }
    free(args);
    if (rc != 0) return -1;
    if (r->integer ? r->ia >= r->ib : !(r->a < r->b)) {
        REPORT("%s(a, b) needs a < b, got a = %.9g, b = %.9g", c->name, r->a, r->b);
        return -1;
    }
    if (c->fn == FN_LOGUNIFORM && !(r->a > 0)) {
        REPORT("loguniform(a, b) needs 0 < a (it is uniform in log a .. log b), got a = %.9g",
               r->a);
        return -1;
    }
    /* a range of a float key whose every value a float holds only as 0 (a
     * loguniform of 1e-50 .. 1e-46): said as that, at the key's line, not as
     * "only 1 different point" at samples */
    if (r->single && r->b > 0 && (float)r->b == 0.0f) {
        const char *key = strrchr(name, '.');
        REPORT("'%s' is too small for a 32-bit float: every value of %s(%.9g, %.9g) would be 0 "
               "(the smallest above 0 is about 1.4e-45)",
               key ? key + 1 : name, c->name, r->a, r->b);
        return -1;
    }
    return 0;
}

int sample_check_call(Diag *d, CfgLoc loc, const char *name, SampleKind kind, const char *text,
                      const char **inner, size_t *inner_len)
{
    Call c;
    if (!parse_call(text, &c)) return -1; /* sweep.c asks only of calls */
    if (c.fn == FN_UNKNOWN) {
        const char *sug = schema_suggest(c.name, fn_names);
        char hint[64] = "";
        if (sug) snprintf(hint, sizeof hint, "; did you mean '%s'?", sug);
        diag_error(d, loc, "unknown function '%s' in the sweep of %s%s (a random value is "
                           "uniform(a, b), loguniform(a, b) or choice(v1, v2, ...))",
                   c.name, name, hint);
        return -1;
    }
    if (!c.closed) {
        diag_error(d, loc, "%s(...) of %s has no closing ')': '%.*s'", c.name, name, (int)c.len,
                   c.start);
        return -1;
    }
    if (c.trailing_len > 0) {
        diag_error(d, loc, "unexpected text '%.*s' after %.*s in the sweep of %s (a random "
                           "value is one call, the key's whole value)", (int)c.trailing_len,
                   c.trailing, (int)c.len, c.start, name);
        return -1;
    }
    if (c.fn == FN_CHOICE) {
        *inner = c.inner;
        *inner_len = c.inner_len;
        return 1;
    }
    Range r;
    return parse_range(d, loc, name, kind, &c, &r);
}

/* ---- drawing ---- */

/* Uniform in [0, 1) with 53 random bits. */
static double u53(Rng *r)
{
    uint64_t hi = rng_u32(r) >> 5, lo = rng_u32(r) >> 6;
    return (double)(hi << 26 | lo) * (1.0 / 9007199254740992.0);
}

/* 64 random bits, the first draw high. */
static uint64_t u64(Rng *r)
{
    uint64_t hi = rng_u32(r);
    return hi << 32 | rng_u32(r);
}

/* Uniform in [0, span], unbiased. */
static uint64_t upto64(Rng *r, uint64_t span)
{
    if (span < UINT32_MAX) return rng_below(r, (uint32_t)(span + 1));
    if (span == UINT64_MAX) return u64(r);
    uint64_t n = span + 1, limit = UINT64_MAX - UINT64_MAX % n; /* reject the uneven top */
    for (;;) {
        uint64_t v = u64(r);
        if (v < limit) return v % n;
    }
}

/* x in [a, b] written with 6 significant digits, more when that would fall
 * outside [a, b] or onto a bound x is not (a key whose range excludes its
 * bound may be given it as b). The text is the value: it is what the run
 * loads and what run_params records. */
static void write_real(double x, double a, double b, char *buf, size_t n)
{
    static const int digits[] = {6, 9, 17};
    for (int i = 0; i < 3; i++) {
        snprintf(buf, n, "%.*g", digits[i], x);
        double y;
        if (decimal_double(buf, &y) == DECIMAL_OK && y >= a && y <= b &&
            (y == x || (y != a && y != b)))
            return;
    }
}

static void draw_range(Rng *rng, const Range *r, char *buf, size_t n)
{
    double u = u53(rng);
    if (r->integer && r->fn == FN_UNIFORM) {
        uint64_t span = (uint64_t)r->ib - (uint64_t)r->ia; /* < 2^64 - 1 */
        long v = (long)((uint64_t)r->ia + upto64(rng, span));
        snprintf(buf, n, "%ld", v);
    } else if (r->integer) {
        /* log-uniform over [a - 1/2, b + 1/2], to the nearest integer: each
         * integer of [a, b] with about the weight of its log-width */
        double lo = log(r->a - 0.5), hi = log(r->b + 0.5);
        double x = round(exp(lo + u * (hi - lo)));
        long v = x <= r->a ? r->ia : x >= r->b ? r->ib : (long)x;
        snprintf(buf, n, "%ld", v);
    } else {
        double x = r->fn == FN_UNIFORM ? r->a + u * (r->b - r->a)
                                       : exp(log(r->a) + u * (log(r->b) - log(r->a)));
        if (x < r->a) x = r->a;
        if (x > r->b) x = r->b;
        write_real(x, r->a, r->b, buf, n);
    }
}

/* x's place among the values of its kind, in order: consecutive floats
 * (single) or doubles get consecutive numbers, -0 and 0 the same. */
static double value_rank(double x, bool single)
{
    if (single) {
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        return u >> 31 ? -(double)(u & 0x7fffffffu) : (double)u;
    }
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? -(double)(u & 0x7fffffffffffffffull) : (double)u;
}

/* How many different values a real range's draws can load as: the floats
 * (a float key's) or doubles of [a, b] (exact while small; a large count
 * only needs to be large). */
static double range_values(const Range *r)
{
    return value_rank(r->b, r->single) - value_rank(r->a, r->single) + 1;
}

/* The value a drawn text of r loads as, written exactly ("%a"): two draws
 * are the same point when these are equal, as a grid's values are
 * (sweep.c). A float key reads its text into a 32-bit float (schema.c), so
 * 0.1 and 0.1000000001 are one value there. */
static void loaded_text(const Range *r, const char *text, char *buf, size_t n)
{
    double y;
    if (r->integer || decimal_double(text, &y) != DECIMAL_OK) { /* integers: written as %ld */
        snprintf(buf, n, "%s", text);
        return;
    }
    if (r->single) y = (float)y;
    snprintf(buf, n, "%a", y == 0 ? 0.0 : y);
}

/* What one random key draws from. */
typedef struct {
    bool choice;
    Range range;
    int n_choices;
    char **choices; /* the key's values before the draw (the key's choices after it) */
} Source;

/* A set of the points drawn (the values they load as, joined), to draw each once. */
typedef struct {
    char **slot;
    size_t cap;
} PointSet;

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Adds text (taking it); false (and frees it) if it was there. */
static bool set_add(PointSet *set, char *text)
{
    size_t i = (size_t)hash_text(text) & (set->cap - 1);
    while (set->slot[i]) {
        if (!strcmp(set->slot[i], text)) {
            free(text);
            return false;
        }
        i = (i + 1) & (set->cap - 1);
    }
    set->slot[i] = text;
    return true;
}

int sample_draw(Diag *d, Sweep *s, const SampleKind *kind)
{
    int n = s->samples;
    CfgLoc loc = {s->samples_line, NULL};
    Source src[CN_SWEEP_MAX_KEYS];
    int rc = 0;
    /* how many distinct points there are: 0 = as many as wanted (a real range) */
    double space = 1;
    for (int k = 0; k < s->n_keys; k++) {
        SweepKey *sk = &s->keys[k];
        if (!sk->spec) continue;
        Call c;
        parse_call(sk->spec, &c);
        src[k] = (Source){.choice = c.fn == FN_CHOICE};
        if (src[k].choice) {
            src[k].n_choices = sk->n_values;
            src[k].choices = sk->values;
            space *= sk->n_values;
        } else {
            char name[sizeof sk->section + sizeof sk->key + 1];
            snprintf(name, sizeof name, "%s.%s", sk->section, sk->key);
            CfgLoc kl = {sk->line, NULL};
            if (parse_range(NULL, kl, name, kind[k], &c, &src[k].range) != 0) rc = -1;
            else if (src[k].range.integer)
                space *= (double)src[k].range.ib - (double)src[k].range.ia + 1;
            else space *= range_values(&src[k].range);
        }
        sk->values = NULL;
        sk->n_values = 0;
    }
    if (rc == 0 && space < n) {
        diag_error(d, loc, "samples = %d, but the random keys have only %.0f different point%s: "
                           "lower samples, or list the values as a grid (key = v1, v2, ...)",
                   n, space, space == 1 ? "" : "s");
        rc = -1;
    }
    PointSet set = {NULL, 1};
    while (set.cap < (size_t)n * 2) set.cap <<= 1;
    set.slot = xcalloc(set.cap, sizeof *set.slot);
    for (int k = 0; k < s->n_keys && rc == 0; k++)
        if (s->keys[k].spec) s->keys[k].values = xcalloc((size_t)n, sizeof(char *));
    Rng rng;
    rng_seed(&rng, s->seed, RNG_STREAM_SWEEP);
    long tries = 0, max_tries = 1000 + 100L * n;
    for (int j = 0; j < n && rc == 0;) {
        if (tries++ == max_tries) {
            diag_error(d, loc, "could not draw %d different points in %ld draws (%d found): the "
                               "ranges hold too few values at the digits written; widen them "
                               "or lower samples", n, max_tries, j);
            rc = -1;
            break;
        }
        char *joined = xstrdup("");
        for (int k = 0; k < s->n_keys; k++) {
            SweepKey *sk = &s->keys[k];
            if (!sk->spec) continue;
            char buf[64], loaded[64];
            const char *v = buf, *same = loaded; /* same: what v loads as */
            if (src[k].choice) {
                v = same = src[k].choices[rng_below(&rng, (uint32_t)src[k].n_choices)];
            } else {
                draw_range(&rng, &src[k].range, buf, sizeof buf);
                loaded_text(&src[k].range, buf, loaded, sizeof loaded);
            }
            free(sk->values[j]);
            sk->values[j] = xstrdup(v);
            size_t len = strlen(joined), add = strlen(same);
            joined = xrealloc(joined, len + add + 2);
            memcpy(joined + len, same, add);
            joined[len + add] = '\x1f';
            joined[len + add + 1] = '\0';
        }
        if (set_add(&set, joined)) j++; /* else drawn again in place */
    }
    for (size_t i = 0; i < set.cap; i++) free(set.slot[i]);
    free(set.slot);
    for (int k = 0; k < s->n_keys; k++) {
        SweepKey *sk = &s->keys[k];
        if (!sk->spec) continue;
        if (src[k].choice) { /* kept: grid_check checks the values never drawn too */
            sk->n_choices = src[k].n_choices;
            sk->choices = src[k].choices;
        }
        if (rc == 0) {
            sk->n_values = n;
        } else if (sk->values) { /* nothing drawn: no values */
            for (int j = 0; j < n; j++) free(sk->values[j]);
            free(sk->values);
            sk->values = NULL;
        }
    }
    return rc;
}
