/* conv_algo.c — the convolution algorithms as one table: each row's name (as
 * CNNRUN_CONV, the model table and the results database spell it), the
 * shapes it computes, and whether the shape rule prefers it. Adding an algorithm is one row here (and its dispatch in
 * conv.c); the autotuner (src/model/tune.c) times every eligible row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"
#include "conv_dnnl.h"
#include "winograd.h"

/* The shape rule takes F(4x4) wherever it computes the shape: it is what
 * measuring chose for every 3x3 stride-1 convolution of ResNet-18 and the
 * flagship net on the CPUs we know — Zen 4 (docs/performance.md: ResNet-18
 * 114.7 img/s measured against 60.2 with the old rule of F(2x2) from 128
 * channels) and a Xeon with AVX-512 (2026-12-07, `cnnrun tune`, 2 threads:
 * 1.4-3.4x faster than im2col from 3 to 512 channels, 3x3 to 32x32 images,
 * under OpenBLAS's SSE and AVX-512 kernels alike) — so a run that does not
 * measure loses little. */
static int every_shape(const ConvShape *s)
{
    (void)s;
    return 1;
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
    /* the rule and the tuner may give it bf16 shapes (forced or recorded, it
     * runs wherever eligible) */
    int bf16_auto;
} rows[] = {
    {CONV_IM2COL, "im2col", every_shape, every_shape, CONV_IM2COL, 1},
    /* F(2x2)'s weight gradient stays im2col, as before Winograd had one, so
     * runs recorded with it keep their numbers; algo_dweight can ask for
     * F(2x2)'s */
    {CONV_WINOGRAD, "winograd", winograd_eligible, never, CONV_IM2COL, 1},
    /* not chosen for bf16: its bf16 products double the gradients' error
     * (ResNet-18: 0.59 against 0.29 for im2col, F(2x2), oneDNN and PyTorch's
     * autocast; tests/bench/grad_error.c, docs/performance.md) */
    {CONV_WINOGRAD4, "winograd4", winograd_eligible, every_shape, CONV_WINOGRAD4, 0},
    /* bf16 on oneDNN's path only; the tuner decides where it is faster */
    {CONV_ONEDNN, "onednn", conv_dnnl_eligible, never, CONV_ONEDNN, 1},
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

static int choosable(int r, const ConvShape *s)
{
    return rows[r].eligible(s) && (s->precision != PRECISION_BF16 || rows[r].bf16_auto);
}

int conv_algo_choosable(int algo, const ConvShape *s)
{
    int r = row_of(algo);
    return r >= 0 && choosable(r, s);
}

int conv_algo_candidates(const ConvShape *s, int *algos, int max)
{
    int k = 0;
    for (int i = 0; i < N_ROWS && k < max; i++)
        if (choosable(i, s)) algos[k++] = rows[i].algo;
    return k;
}

int conv_algo_rule(const ConvShape *s)
{
    int algo = CONV_IM2COL;
    for (int i = 0; i < N_ROWS; i++)
        if (choosable(i, s) && rows[i].preferred(s)) algo = rows[i].algo;
    return algo;
}

int conv_algo_rule_v1(const ConvShape *s)
{
    int wide = s->c_in >= 128 && s->c_out >= 128 && s->h >= 4 && s->w >= 4;
    return wide && winograd_eligible(s) ? CONV_WINOGRAD : CONV_IM2COL;
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
