/* test_blas.c — the OpenBLAS core cnnrun reports and the warning it gives
 * when that core leaves the CPU's vector units unused (issue 25): the
 * decision, blas_core_advice, for every kind of case on made-up CPUs (so it
 * holds whatever CPU and OPENBLAS_CORETYPE this machine has: the test never
 * sets the variable), and the library's own core known to the table. */
#include <check.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/kernels.h"

static char msg[640];

static int advice(const char *core, IsaLevel cpu, const char *env)
{
    msg[0] = '\0';
    return blas_core_advice(core, cpu, env, msg, sizeof msg);
}

#define HAS(text) ck_assert_msg(strstr(msg, text), "no '%s' in: %s", text, msg)

START_TEST(test_levels)
{
    ck_assert_int_eq(blas_core_level("Prescott"), ISA_SSE);
    ck_assert_int_eq(blas_core_level("NEHALEM"), ISA_SSE); /* any case */
    ck_assert_int_eq(blas_core_level("Sandybridge"), ISA_AVX);
    ck_assert_int_eq(blas_core_level("Haswell"), ISA_AVX2);
    ck_assert_int_eq(blas_core_level("Zen"), ISA_AVX2);
    ck_assert_int_eq(blas_core_level("SkylakeX"), ISA_AVX512);
    ck_assert_int_eq(blas_core_level("Cooperlake"), ISA_AVX512);
    ck_assert_int_eq(blas_core_level("ARMV8"), ISA_UNKNOWN);
    ck_assert_int_eq(blas_core_level(NULL), ISA_UNKNOWN);
    ck_assert_str_eq(isa_level_name(ISA_AVX512), "AVX-512");
    ck_assert_str_eq(isa_level_name((IsaLevel)99), "unknown");
}
END_TEST

/* OpenBLAS's own detection gave a generic core (the Xeon of issue 25): a
 * warning naming the variable and the core to set */
START_TEST(test_generic_core_warns)
{
    ck_assert_int_eq(advice("Prescott", ISA_AVX512, NULL), 1);
    HAS("Prescott kernels (SSE) on a CPU with AVX-512");
    HAS("OpenBLAS chose that core itself");
    HAS("set OPENBLAS_CORETYPE=SkylakeX");
    HAS("cnnrun never sets it");
    ck_assert_int_eq(advice("Nehalem", ISA_AVX2, NULL), 1);
    HAS("set OPENBLAS_CORETYPE=Haswell for its AVX2 kernels");
    ck_assert_int_eq(advice("Sandybridge", ISA_AVX2, NULL), 1);
    HAS("OPENBLAS_CORETYPE=Haswell");
    ck_assert_int_eq(advice("Core2", ISA_AVX, NULL), 1);
    HAS("OPENBLAS_CORETYPE=Sandybridge");
    ck_assert_int_eq(advice("Prescott", ISA_AVX2, NULL), 1);
    HAS("several times slower");
    /* detected itself, an AVX2 core on an AVX-512 CPU (a Zen 4 on this
     * OpenBLAS): worth saying, without claiming what it costs */
    ck_assert_int_eq(advice("Haswell", ISA_AVX512, NULL), 1);
    HAS("OPENBLAS_CORETYPE=SkylakeX");
    HAS("may run slower than they could (compare `cnnrun bench`");
    ck_assert(!strstr(msg, "several times"));
}
END_TEST

/* the variable set to a generic core: warned about, saying it is set */
START_TEST(test_variable_set_generic_warns)
{
    ck_assert_int_eq(advice("Prescott", ISA_AVX512, "Prescott"), 1);
    HAS("OPENBLAS_CORETYPE=Prescott is set in the environment");
    HAS("if it was set on purpose (some CPUs need it), keep it");
    HAS("set OPENBLAS_CORETYPE=SkylakeX");
    ck_assert_int_eq(advice("Prescott", ISA_AVX2, "Prescott"), 1);
    HAS("set OPENBLAS_CORETYPE=Haswell");
}
END_TEST

/* nothing to say: the core uses what the CPU has; a vector core set on
 * purpose (the environment's known-good kernel); a core or CPU the table does
 * not know */
START_TEST(test_no_warning)
{
    ck_assert_int_eq(advice("SkylakeX", ISA_AVX512, NULL), 0);
    ck_assert_int_eq(advice("Cooperlake", ISA_AVX512, "Cooperlake"), 0);
    ck_assert_int_eq(advice("Haswell", ISA_AVX2, NULL), 0);
    ck_assert_int_eq(advice("Zen", ISA_AVX2, NULL), 0);
    ck_assert_int_eq(advice("Prescott", ISA_SSE, NULL), 0);
    /* a core above the CPU's level: the user's business */
    ck_assert_int_eq(advice("SkylakeX", ISA_AVX2, "SkylakeX"), 0);
    ck_assert_int_eq(advice("Haswell", ISA_AVX512, "Haswell"), 0);
    ck_assert_int_eq(advice("Zen", ISA_AVX512, "Zen"), 0);
    ck_assert_int_eq(advice("Sandybridge", ISA_AVX512, "Sandybridge"), 0); /* CI's second run */
    ck_assert_int_eq(advice("ARMV8", ISA_AVX512, NULL), 0);
    ck_assert_int_eq(advice("Prescott", ISA_UNKNOWN, NULL), 0);
    ck_assert_str_eq(msg, "");
}
END_TEST

/* the library here: a named core, its build line */
START_TEST(test_this_library)
{
    ck_assert(strlen(blas_core_name()) > 0);
    ck_assert_msg(strstr(blas_config(), "OpenBLAS"), "%s", blas_config());
#if defined(__x86_64__)
    ck_assert_msg(blas_core_level(blas_core_name()) != ISA_UNKNOWN,
                  "OpenBLAS core %s is not in blas_info.c's table", blas_core_name());
    ck_assert(cpu_isa_level() >= ISA_SSE);
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("blas");
    tcase_add_test(tc, test_levels);
    tcase_add_test(tc, test_generic_core_warns);
    tcase_add_test(tc, test_variable_set_generic_warns);
    tcase_add_test(tc, test_no_warning);
    tcase_add_test(tc, test_this_library);
    suite_add_tcase(s, tc);
    return check_run(s);
}
