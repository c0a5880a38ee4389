/* cli_fixture.c — see cli_fixture.h. */
#include "cli_fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

char dir[64];
char out[65536];

void tmpdir_setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cnnrun_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void tmpdir_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

int exists(const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

int cnnrun(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && env -u CNNRUN_DATA %s %s >out.log 2>&1; st=$?; cat out.log >>log; exit $st",
             dir, getenv("CNNRUN_BIN"), args);
    int st = system(cmd);
    char log[128];
    snprintf(log, sizeof log, "%s/out.log", dir);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
