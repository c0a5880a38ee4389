/* cli_fixture.c — see cli_fixture.h. */
#include "cli_fixture.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cnnrun/util.h" /* xmalloc */

char dir[64];
char out[65536];

void tmpdir_setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cnnrun_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* measured algorithms are kept in the test's directory, never in the
     * user's cache, and no test finds another's */
    char wisdom[128];
    snprintf(wisdom, sizeof wisdom, "%s/conv-wisdom", dir);
    setenv("CNNRUN_WISDOM", wisdom, 1);
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
    return cnnrun_via("", args);
}

int cnnrun_via(const char *launcher, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && env -u CNNRUN_DATA %s %s %s >out.log 2>&1; st=$?; cat out.log >>log; "
             "exit $st",
             dir, launcher, getenv("CNNRUN_BIN"), args);
    return fixture_system(cmd);
}

int fixture_system(const char *cmd)
{
    int st = system(cmd);
    char log[128];
    snprintf(log, sizeof log, "%s/out.log", dir);
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

sqlite3 *fixture_open_db(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sqlite3 *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(p, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(s, 10000);
    return s;
}

char *fixture_poll_text(const char *db, const char *sql)
{
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    char *v = NULL;
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            v = strdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(s);
    return v;
}

int fixture_q_int(sqlite3 *s, const char *sql)
{
    sqlite3_stmt *st;
    ck_assert_msg(sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(s));
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

int fixture_poll_int(const char *db, const char *sql)
{
    sqlite3 *s = fixture_open_db(db);
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(s);
    return v;
}

char *fixture_slurp(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s missing", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = xmalloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}
