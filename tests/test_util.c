/* test_util.c — rng determinism, ranges and jumps, edit distance, string copy. */
#include <check.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "check_run.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

START_TEST(test_rng_deterministic)
{
    Rng a, b;
    rng_seed(&a, 42, 1);
    rng_seed(&b, 42, 1);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
    rng_seed(&b, 42, 2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += rng_u32(&a) == rng_u32(&b);
    ck_assert_int_lt(same, 5);
}
END_TEST

START_TEST(test_rng_ranges)
{
    Rng r;
    rng_seed(&r, 7, 0);
    double sum = 0, sq = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        ck_assert_uint_lt(rng_below(&r, 10), 10);
        float z = rng_normal(&r);
        sum += z;
        sq += (double)z * z;
    }
    ck_assert_double_lt(fabs(sum / n), 0.02);
    ck_assert_double_lt(fabs(sq / n - 1.0), 0.03);
    int idx[50];
    for (int i = 0; i < 50; i++) idx[i] = i;
    rng_shuffle(&r, idx, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++) seen[idx[i]]++;
    for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
}
END_TEST

/* rng_advance(d) lands where d draws do (dropout's ranks skip each other's) */
START_TEST(test_rng_advance)
{
    static const uint64_t d[] = {0, 1, 2, 3, 7, 64, 1000, 12345, 100003};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        Rng a, b;
        rng_seed(&a, 1601, 7);
        b = a;
        for (uint64_t k = 0; k < d[i]; k++) rng_u32(&a);
        rng_advance(&b, d[i]);
        ck_assert_msg(a.state == b.state && a.inc == b.inc, "advance %llu",
                      (unsigned long long)d[i]);
        ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
    }
    Rng a, b; /* a jump of 2^40 is two of 2^39 */
    rng_seed(&a, 3, 9);
    b = a;
    rng_advance(&a, (uint64_t)1 << 40);
    rng_advance(&b, (uint64_t)1 << 39);
    rng_advance(&b, (uint64_t)1 << 39);
    ck_assert(a.state == b.state);
}
END_TEST

START_TEST(test_strings)
{
    ck_assert_int_eq(edit_distance("filters", "filter"), 1);
    ck_assert_int_eq(edit_distance("stride", "strde"), 1);
    ck_assert_int_eq(edit_distance("abc", "abc"), 0);
    char buf[4];
    ck_assert_int_eq(str_copy(buf, sizeof buf, "abcdef"), 0);
    ck_assert_str_eq(buf, "abc");
    ck_assert_int_eq(str_copy(buf, sizeof buf, "ab"), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rng_deterministic);
    tcase_add_test(tc, test_rng_ranges);
    tcase_add_test(tc, test_rng_advance);
    tcase_add_test(tc, test_strings);
    suite_add_tcase(s, tc);
    return check_run(s);
}
