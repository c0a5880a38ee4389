/* rng.c — PCG32 (O'Neill, pcg-random.org, XSH RR variant) and helpers. */
#include "cnnrun/rng.h"

#include <math.h>

/* the LCG under PCG32: state' = PCG_MULT * state + inc */
#define PCG_MULT 6364136223846793005ULL

void rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    rng_u32(r);
    r->state += seed;
    rng_u32(r);
}

uint32_t rng_u32(Rng *r)
{
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void rng_advance(Rng *r, uint64_t delta)
{
    /* state' = a^d state + c (a^(d-1) + ... + a + 1), by squaring */
    uint64_t mult = PCG_MULT, plus = r->inc, acc_mult = 1, acc_plus = 0;
    for (; delta; delta >>= 1) {
        if (delta & 1) {
            acc_mult *= mult;
            acc_plus = acc_plus * mult + plus;
        }
        plus *= mult + 1;
        mult *= mult;
    }
    r->state = acc_mult * r->state + acc_plus;
}

uint32_t rng_below(Rng *r, uint32_t n)
{
    if (n <= 1) return 0;
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float rng_uniform(Rng *r)
{
    return (float)(rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float rng_normal(Rng *r)
{
    double u1 = ((double)rng_u32(r) + 1.0) / 4294967297.0; /* (0,1] */
    double u2 = (double)rng_u32(r) / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

void rng_shuffle(Rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint32_t)(i + 1));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
