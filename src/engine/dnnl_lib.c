/* dnnl_lib.c — loads oneDNN once, where the CPU has bf16 instructions
 * (dnnl_lib.h): its 40 MB are mapped only by the runs that use them (an fp32
 * run under a tight ulimit -v starts as before), and a machine without the
 * library takes the emulated path. */
#ifdef CNNRUN_DNNL
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#endif

#include "dnnl_lib.h"

int cpu_has_bf16(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
}

int cpu_has_amx_bf16(void)
{
    unsigned a = 7, b = 0, c = 0, d = 0;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (d >> 22) & 1u;
}

#ifdef CNNRUN_DNNL
DnnlLib dn;
/* Decided once (cpuid, which a virtual machine traps, is not asked per
 * product), the library loaded only where the instructions are there. */
static Bf16Path dn_path = BF16_EMULATED;
static int dn_vcvt; /* oneDNN's path, and the CPU converts with vcvtne2ps2bf16 */
static pthread_once_t dn_once = PTHREAD_ONCE_INIT;

static void dn_load(void)
{
    int amx = cpu_has_amx_bf16();
    if (!amx && !cpu_has_bf16()) return;
    void *lib = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return;
    int ok = 1;
#define LOAD(f)                                                                                    \
    {                                                                                              \
        void *sym = dlsym(lib, #f);                                                                \
        ok &= sym != NULL;                                                                         \
        memcpy(&dn.f, &sym, sizeof sym);                                                           \
    }
    DNNL_FUNCTIONS(LOAD)
#undef LOAD
    if (ok) dn_path = amx ? BF16_ONEDNN_AMX : BF16_ONEDNN_AVX512;
    dn_vcvt = ok && cpu_has_bf16();
}
#endif

Bf16Path dnnl_lib_path(void)
{
#ifdef CNNRUN_DNNL
    pthread_once(&dn_once, dn_load);
    return dn_path;
#else
    return BF16_EMULATED;
#endif
}

int dnnl_lib_vcvt(void)
{
#ifdef CNNRUN_DNNL
    pthread_once(&dn_once, dn_load);
    return dn_vcvt;
#else
    return 0;
#endif
}
