/* rng.h — deterministic random numbers (PCG32). Every random choice in cnnrun
 * (init, shuffling, augmentation, dropout) comes from an Rng seeded from the
 * experiment's seed, so runs are reproducible. */
#ifndef CNNRUN_RNG_H
#define CNNRUN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t inc;
} Rng;

/* The streams cnnrun draws from, one per kind of random choice, so that
 * drawing more of one never shifts another. The numbers are part of every
 * recorded curve and checkpoint: never renumber them. */
typedef enum {
    RNG_STREAM_INIT = 1,    /* parameter initialisation (src/model/init.c) */
    RNG_STREAM_SHUFFLE = 2, /* each epoch's order of the training images */
    RNG_STREAM_AUGMENT = 3, /* crop offsets and flips */
    RNG_STREAM_FLIP = 4,    /* flip_alternating's per-image bits, drawn once per run */
    RNG_STREAM_DROPOUT = 7, /* Model.dropout_rng: dropout masks */
    RNG_STREAM_BENCH = 9,   /* `cnnrun bench`'s random input (seed 1, not the experiment's) */
    RNG_STREAM_SWEEP = 10,  /* the points of a random sweep (src/config/sample.c) */
} RngStream;

/* Different streams from one seed give independent sequences (an RngStream,
 * or any other number for a test's own draws). */
void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint32_t rng_u32(Rng *r);
/* As delta calls of rng_u32, in O(log delta) steps (Brown's arbitrary-stride
 * jump of the underlying LCG). */
void rng_advance(Rng *r, uint64_t delta);
/* Uniform in [0, n), unbiased. */
uint32_t rng_below(Rng *r, uint32_t n);
/* Uniform in [0, 1). */
float rng_uniform(Rng *r);
/* Standard normal (Box-Muller). */
float rng_normal(Rng *r);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(Rng *r, int *idx, int n);

#endif
