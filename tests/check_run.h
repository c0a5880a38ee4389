/* check_run.h — the end of every test program's main(): run the suite with
 * Check's normal output and turn the failure count into the exit status;
 * and the start of those with a test case that a machine may be unable to
 * run, which is then a real skip (exit status 77), not a pass. */
#ifndef CNNRUN_CHECK_RUN_H
#define CNNRUN_CHECK_RUN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A test case that needs what a machine may lack (root's tmpfs mounts, an
 * unprivileged user, python3, an allocator that keeps to RLIMIT_AS) is not
 * in its program's suite: it is its own meson test (tests/meson.build: the
 * program with the case's name as its argument), which exits 77 — meson's
 * SKIP — with the reason on stderr where the machine lacks it. A test that
 * cannot run says so, as test_full_data does, instead of passing. */
typedef struct {
    const char *name;             /* the argument that runs it, and its TCase's name */
    const char *(*missing)(void); /* why this machine cannot run it; NULL: it can */
    void (*add_tests)(TCase *tc); /* its tests (and fixtures, timeout) */
} CheckOptional;

/* main()'s start: with an argument, the optional case it names (argv[0]'s
 * exit status: 77 after saying why where it is missing, 2 for an unknown
 * one); without, -1: go on with the program's suite. */
static inline int check_run_optional(int argc, char **argv, const CheckOptional *opt)
{
    if (argc < 2) return -1;
    if (strcmp(argv[1], opt->name) != 0) {
        fprintf(stderr, "%s: no optional test case '%s' (there is '%s')\n", argv[0], argv[1],
                opt->name);
        return 2;
    }
    const char *why = opt->missing ? opt->missing() : NULL;
    if (why) {
        fprintf(stderr, "%s %s: SKIP: %s\n", argv[0], opt->name, why);
        return 77;
    }
    Suite *s = suite_create(opt->name);
    TCase *tc = tcase_create(opt->name);
    opt->add_tests(tc);
    suite_add_tcase(s, tc);
    return check_run(s);
}

/* CheckOptional.missing of the tests that need the permission bits to
 * apply: as root (which ignores them) a child must be able to drop to
 * nobody (65534), as those tests do. */
static inline const char *check_missing_unprivileged(void)
{
    if (geteuid() != 0) return NULL;
    pid_t pid = fork();
    if (pid == 0) _exit(setgid(65534) == 0 && setuid(65534) == 0 ? 0 : 3);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return "root ignores permission bits, and this sandbox does not let root drop to "
               "nobody (65534)";
    return NULL;
}

#endif
