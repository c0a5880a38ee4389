/* blas_info.c — which OpenBLAS core (kernel family) runs the matrix products,
 * and whether the CPU offers more than that core uses. OpenBLAS picks its core
 * at load time from the CPU (or from OPENBLAS_CORETYPE); a release older than
 * the CPU can pick a generic one (Debian 12's 0.3.21 runs Prescott's SSE3
 * kernels on a Sapphire Rapids Xeon: 8.6x slower on one thread, issue 25).
 * cnnrun says which core runs and, where it leaves the CPU's vector units
 * unused, warns once with the variable to set. It never sets it: some
 * processors need the environment's choice (older OpenBLAS computes wrongly
 * or crashes on them). The decision (blas_core_advice) is a pure function of
 * the core's name, the CPU's level and the variable, so tests need no CPU. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"

/* The vector level each of OpenBLAS's x86-64 cores (DYNAMIC_ARCH names, as
 * openblas_get_corename gives them, lower case) is written for. A core not
 * listed (another architecture, a newer release's name) gets no advice. */
static const struct {
    const char *core;
    IsaLevel level;
} CORES[] = {
    {"prescott", ISA_SSE},       {"core2", ISA_SSE},        {"penryn", ISA_SSE},
    {"dunnington", ISA_SSE},     {"nehalem", ISA_SSE},      {"atom", ISA_SSE},
    {"opteron", ISA_SSE},        {"opteron_sse3", ISA_SSE}, {"barcelona", ISA_SSE},
    {"bobcat", ISA_SSE},         {"katmai", ISA_SSE},       {"coppermine", ISA_SSE},
    {"northwood", ISA_SSE},      {"banias", ISA_SSE},       {"athlon", ISA_SSE},
    {"sandybridge", ISA_AVX},    {"bulldozer", ISA_AVX},    {"piledriver", ISA_AVX},
    {"steamroller", ISA_AVX},    {"excavator", ISA_AVX2},   {"haswell", ISA_AVX2},
    {"zen", ISA_AVX2},           {"skylakex", ISA_AVX512},  {"cooperlake", ISA_AVX512},
    {"sapphirerapids", ISA_AVX512},
};

static const char *const LEVEL_NAMES[] = {
    [ISA_UNKNOWN] = "unknown", [ISA_SSE] = "SSE", [ISA_AVX] = "AVX",
    [ISA_AVX2] = "AVX2",       [ISA_AVX512] = "AVX-512",
};
_Static_assert(sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0] == ISA_AVX512 + 1, "a name per level");

const char *isa_level_name(IsaLevel l)
{
    return l >= ISA_UNKNOWN && l <= ISA_AVX512 ? LEVEL_NAMES[l] : "unknown";
}

IsaLevel blas_core_level(const char *core)
{
    if (!core) return ISA_UNKNOWN;
    for (size_t i = 0; i < sizeof CORES / sizeof CORES[0]; i++)
        if (!strcasecmp(core, CORES[i].core)) return CORES[i].level;
    return ISA_UNKNOWN;
}

IsaLevel cpu_isa_level(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
    if (__builtin_cpu_supports("avx")) return ISA_AVX;
    return ISA_SSE;
#else
    return ISA_UNKNOWN;
#endif
}

const char *blas_core_name(void)
{
    const char *c = openblas_get_corename();
    return c && *c ? c : "unknown";
}

const char *blas_config(void)
{
    const char *c = openblas_get_config();
    return c ? c : "";
}

int blas_core_advice(const char *core, IsaLevel cpu, const char *env_coretype, char *buf,
                     size_t size)
{
    IsaLevel have = blas_core_level(core);
    if (have == ISA_UNKNOWN || cpu == ISA_UNKNOWN || have >= cpu) return 0;
    /* A vector core chosen on purpose (OPENBLAS_CORETYPE=Haswell on the Zen 5
     * machines here, whose older OpenBLAS fails with AVX-512; Sandybridge in
     * CI's second run) is the environment's choice: named in the run's
     * header, not warned about. A generic (SSE) core is never a good choice
     * on a vector CPU, set or not. */
    int set = env_coretype && *env_coretype;
    if (set && have >= ISA_AVX) return 0;
    /* from a generic core the loss is measured (8.6x on one Xeon thread);
     * between vector cores it depends on the CPU: say how to find out */
    const char *cost =
        have == ISA_SSE
            ? "every matrix product runs several times slower than it could (8.6x on one thread "
              "of a Xeon, docs/performance.md)"
            : "its matrix products may run slower than they could (compare `cnnrun bench` with "
              "and without the variable below)";
    const char *want = cpu == ISA_AVX512 ? "SkylakeX" : cpu == ISA_AVX2 ? "Haswell" : "Sandybridge";
    char why[160];
    if (set)
        snprintf(why, sizeof why, "OPENBLAS_CORETYPE=%s is set in the environment; if it was set "
                                  "on purpose (some CPUs need it), keep it, else ", env_coretype);
    else
        snprintf(why, sizeof why,
                 "OpenBLAS chose that core itself (its release may predate this CPU): ");
    snprintf(buf, size,
             "warning: OpenBLAS runs its %s kernels (%s) on a CPU with %s: %s. %sset "
             "OPENBLAS_CORETYPE=%s for its %s kernels (cnnrun never sets it itself)",
             core, isa_level_name(have), isa_level_name(cpu), cost, why, want,
             isa_level_name(cpu));
    return 1;
}

void blas_warn(void)
{
    char msg[640];
    if (blas_core_advice(blas_core_name(), cpu_isa_level(), getenv("OPENBLAS_CORETYPE"), msg,
                         sizeof msg))
        fprintf(stderr, "cnnrun: %s\n", msg);
}
