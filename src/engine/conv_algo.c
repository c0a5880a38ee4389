/* conv_algo.c — the convolution algorithms as one table: each row's name (as
 * CNNRUN_CONV, the model table and the results database spell it), the
 * shapes it computes, and whether the shape rule prefers it; and reading
 * CNNRUN_CONV. Adding an algorithm is one row here (and its dispatch in
 * conv.c); the autotuner (src/model/tune.c) times every eligible row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "winograd.h"

/* Channels in and out from which the shape rule takes Winograd. Measured on
 * ResNet-18, batch 128, forward + backward per conv: 64 ch 260 vs 329 ms
 * (im2col faster), 128 ch 243 vs 233, 256 ch 250 vs 225, 512 ch 250 vs 215. */
#define WINO_RULE_CHANNELS 128

static int every_shape(const ConvShape *s)
{
    (void)s;
    return 1;
}

/* wide layers of at least 4x4: narrow ones are transform-bound */
static int wide(const ConvShape *s)
{
    return s->c_in >= WINO_RULE_CHANNELS && s->c_out >= WINO_RULE_CHANNELS && s->h >= 4 &&
           s->w >= 4;
}

static int never(const ConvShape *s)
{
    (void)s;
    return 0;
}

static const struct {
    int algo;
    const char *name;
    int (*eligible)(const ConvShape *s); /* computes this shape itself */
    int (*preferred)(const ConvShape *s); /* the shape rule takes it (where eligible) */
    int dweight; /* the algorithm of its weight gradient */
} rows[] = {
    {CONV_IM2COL, "im2col", every_shape, every_shape, CONV_IM2COL},
    /* F(2x2)'s weight gradient stays im2col, as before Winograd had one, so the
     * rule's runs keep their numbers; algo_dweight can ask for F(2x2)'s */
    {CONV_WINOGRAD, "winograd", winograd_eligible, wide, CONV_IM2COL},
    {CONV_WINOGRAD4, "winograd4", winograd_eligible, never, CONV_WINOGRAD4},
};
#define N_ROWS ((int)(sizeof rows / sizeof rows[0]))

static int row_of(int algo)
{
    for (int i = 0; i < N_ROWS; i++)
        if (rows[i].algo == algo) return i;
    return -1;
}

int conv_algo_count(void) { return N_ROWS; }

int conv_algo_at(int i) { return i >= 0 && i < N_ROWS ? rows[i].algo : -1; }

const char *conv_algo_name(int algo)
{
    if (algo == CONV_AUTO) return "auto";
    int r = row_of(algo);
    return r < 0 ? NULL : rows[r].name;
}

int conv_algo_by_name(const char *name)
{
    for (int i = 0; name && i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0) return rows[i].algo;
    return -1;
}

int conv_algo_eligible(int algo, const ConvShape *s)
{
    int r = row_of(algo);
    return r >= 0 && rows[r].eligible(s);
}

int conv_algo_candidates(const ConvShape *s, int *algos, int max)
{
    int k = 0;
    for (int i = 0; i < N_ROWS && k < max; i++)
        if (rows[i].eligible(s)) algos[k++] = rows[i].algo;
    return k;
}

int conv_algo_rule(const ConvShape *s)
{
    int algo = CONV_IM2COL;
    for (int i = 0; i < N_ROWS; i++)
        if (rows[i].eligible(s) && rows[i].preferred(s)) algo = rows[i].algo;
    return algo;
}

int conv_algo_resolve(const ConvShape *s)
{
    if (s->algo == CONV_AUTO) return conv_algo_rule(s);
    return conv_algo_eligible(s->algo, s) ? s->algo : CONV_IM2COL;
}

int conv_algo_used_dweight(const ConvShape *s)
{
    if (s->algo_dweight != CONV_AUTO)
        return conv_algo_eligible(s->algo_dweight, s) ? s->algo_dweight : CONV_IM2COL;
    return rows[row_of(conv_algo_resolve(s))].dweight;
}

int conv_choice_from_env(int *forced)
{
    const char *v = getenv("CNNRUN_CONV");
    *forced = CONV_AUTO;
    if (!v || !*v || strcmp(v, "tune") == 0) return CONV_CHOICE_TUNE;
    if (strcmp(v, "rule") == 0) return CONV_CHOICE_RULE;
    int algo = strcmp(v, "winograd2") == 0 ? CONV_WINOGRAD : conv_algo_by_name(v);
    if (algo >= 0) {
        *forced = algo;
        return CONV_CHOICE_FORCED;
    }
    fprintf(stderr, "cnnrun: CNNRUN_CONV=%s: expected tune (measure each convolution's "
                    "algorithms, the default), rule (the shape rule) or one algorithm:", v);
    for (int i = 0; i < N_ROWS; i++) fprintf(stderr, "%s %s", i ? "," : "", rows[i].name);
    fputc('\n', stderr);
    return -1;
}
