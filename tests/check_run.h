/* check_run.h — the end of every test program's main(): run the suite with
 * Check's normal output and turn the failure count into the exit status. */
#ifndef CNNRUN_CHECK_RUN_H
#define CNNRUN_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
