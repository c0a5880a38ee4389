/* test_ulimit.c — cnnrun under an address-space limit (ulimit -v, RLIMIT_AS;
 * issue 34): OpenBLAS 0.3.21 maps a 128 MiB buffer for each of its threads
 * as it loads and for each thread at its first product, and tries a failed
 * mmap again for ever, in a thread exit() waits for: `run` hung at 100 % CPU
 * under 60-400 MB and ignored SIGTERM. Now a limit too small says "out of
 * memory" with the limit that would do, and exits 1, at once; a limit with
 * room trains. Each run is killed after a timeout: a hang fails the test.
 *
 * Skipped (exit 77) under AddressSanitizer, which reserves terabytes of
 * address space for its shadow memory: no process of such a build starts
 * under a limit of a few hundred MB. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/util.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define TINY                                                                                    \
    "[experiment]\nname = tiny\nseed = 1\nepochs = 1\n"                                         \
    "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 50\n"                           \
    "[schedule]\ntype = constant\nlr = 0.05\n"                                                  \
    "[layer.c1]\ntype = conv\nfilters = 4\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* This process's VmSize in bytes: the same libraries as cnnrun, and
 * OpenBLAS's threads with their buffers. */
static double vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lf kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib * 1024;
}

/* `cnnrun run tiny.ini --threads T` in dir under RLIMIT_AS = limit bytes,
 * killed after `seconds`; its output in out. The exit status, or -1 when it
 * had to be killed (a hang). */
static int run_limited(double limit, int threads, int seconds)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        unsetenv("CNNRUN_DATA");
        if (!freopen("out.log", "w", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(126);
        struct rlimit lim = {.rlim_cur = (rlim_t)limit, .rlim_max = (rlim_t)limit};
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(126);
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        execl(getenv("CNNRUN_BIN"), "cnnrun", "run", "tiny.ini", "--db", "r.db", "--threads", t,
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < seconds * 100 && got == 0; i++) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == 0) usleep(10000);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/out.log", dir);
    char *text = read_text_file(p, NULL);
    snprintf(out, sizeof out, "%s", text ? text : "");
    free(text);
    if (got == 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_address_space_limit)
{
    write_file("tiny.ini", TINY);
    const double mib = 1024.0 * 1024.0, here = vm_size();
    /* 100 MiB: no room for OpenBLAS's first buffer (its threads' as it loads, or
     * the first product's); here + 60 MiB: cnnrun loads (its threads' buffers
     * are in `here`) but the buffer of the run's own product does not fit */
    const double small[] = {100 * mib, here + 60 * mib};
    for (int k = 0; k < 2; k++) {
        int rc = run_limited(small[k], 2, 8);
        ck_assert_msg(rc != -1, "under ulimit -v %.0f MiB it hung (killed after 8 s):\n%s",
                      small[k] / mib, out);
        ck_assert_msg(rc == 1 && strstr(out, "out of memory: the address space this process may "
                                             "map (ulimit -v: ") &&
                          strstr(out, "HINT: raise the limit to at least ulimit -v "),
                      "ulimit -v %.0f MiB: exit %d:\n%s", small[k] / mib, rc, out);
        ck_assert_msg(!exists("r.db") || fixture_poll_int("r.db", "select count(*) from runs") <= 0,
                      "a refused run has a runs row");
    }
    /* with room: it trains */
    int rc = run_limited(here + 1024 * mib, 1, 60);
    ck_assert_msg(rc == 0 && strstr(out, "epoch   1/1"), "ulimit -v %.0f MiB: exit %d:\n%s",
                  (here + 1024 * mib) / mib, rc, out);
}
END_TEST

int main(void)
{
#ifdef UNDER_ASAN
    fprintf(stderr, "test_ulimit: skipped: AddressSanitizer reserves its shadow memory as "
                    "address space, so no process of this build starts under ulimit -v\n");
    return 77;
#endif
    Suite *s = suite_create("ulimit");
    TCase *tc = tcase_create("ulimit");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_address_space_limit);
    suite_add_tcase(s, tc);
    return check_run(s);
}
