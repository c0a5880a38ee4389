/* test_full_data.c — the real CIFAR-10 (binary version) loads: 50,000
 * training and 10,000 test images, 5,000 and 1,000 of each class, and the
 * embedded sample is the head of each file. The data is not in the
 * repository: it is looked for in $CNNRUN_DATA, else beside the checkout
 * (../shared/data/cifar-10-batches-bin, where these machines and CI have
 * it). Without it the program exits 77, which meson reports as SKIP with the
 * reason on stderr: a test that cannot run says so instead of passing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_run.h"
#include "cnnrun/data.h"

static char data_dir[1024];

static void check_class_counts(const CifarSplit *s, int want)
{
    int counts[CIFAR_CLASSES] = {0};
    for (int i = 0; i < s->n; i++) {
        ck_assert_uint_lt(s->labels[i], CIFAR_CLASSES);
        counts[s->labels[i]]++;
    }
    for (int c = 0; c < CIFAR_CLASSES; c++) ck_assert_int_eq(counts[c], want);
}

START_TEST(test_full_dataset)
{
    CifarSplit tr, te;
    ck_assert_int_eq(cifar_load(data_dir, &tr, &te), 0);
    ck_assert_int_eq(tr.n, 50000);
    ck_assert_int_eq(te.n, 10000);
    check_class_counts(&tr, 5000);
    check_class_counts(&te, 1000);

    /* The sample is the head of each file: 500 images of each training
     * batch file, the first 1,000 test images. */
    CifarSplit str, ste;
    ck_assert_int_eq(cifar_load(cifar_sample_dir(), &str, &ste), 0);
    ck_assert_int_eq(memcmp(str.pixels, tr.pixels, 500 * CIFAR_PIXELS), 0);
    ck_assert_int_eq(memcmp(str.pixels + 500 * CIFAR_PIXELS, tr.pixels + 10000 * CIFAR_PIXELS,
                            500 * CIFAR_PIXELS), 0);
    ck_assert_int_eq(memcmp(ste.labels, te.labels, 1000), 0);
    cifar_free(&str);
    cifar_free(&ste);
    cifar_free(&tr);
    cifar_free(&te);
}
END_TEST

int main(void)
{
    const char *env = getenv("CNNRUN_DATA"), *src = getenv("CNNRUN_SOURCE_DIR");
    if (env && *env) snprintf(data_dir, sizeof data_dir, "%s", env);
    else snprintf(data_dir, sizeof data_dir, "%s/../shared/data/cifar-10-batches-bin",
                  src ? src : ".");
    struct stat st;
    if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "test_full_data: SKIP: no CIFAR-10 at %s (set CNNRUN_DATA to run it)\n",
                data_dir);
        return 77;
    }
    fprintf(stderr, "test_full_data: CIFAR-10 from %s\n", data_dir);
    Suite *s = suite_create("full_data");
    TCase *tc = tcase_create("full_data");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_full_dataset);
    suite_add_tcase(s, tc);
    return check_run(s);
}
