/* test_hints.c — each hint cnnrun prints that names a command, followed
 * literally, works (issue 36): the test provokes the message, takes the
 * command out of the output and runs it through sh, as a user pastes it.
 * `cnnrun` in a hint is the installed command: the test puts one on PATH
 * (a link to the binary under test); a hint built from the command line as
 * typed names the binary as it was typed. The resume hint after a stop is
 * run in test_studies.c (test_resume_hint_works). */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"

#define TINY_LAYERS                                                                              \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"   \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"
#define TINY_INI(extra)                                                                          \
    "[experiment]\nname = h\nepochs = 1\n[data]\nbatch_size = 50\ntrain_subset = 100\n"         \
    "test_subset = 100\n[schedule]\ntype = constant\nlr = 0.05\n" extra TINY_LAYERS

static void setup(void)
{
    tmpdir_setup();
    char p[256];
    snprintf(p, sizeof p, "%s/bin", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/bin/cnnrun", dir);
    ck_assert_int_eq(symlink(getenv("CNNRUN_BIN"), p), 0);
}

/* The text between `from` (its first occurrence in out) and `to` after it,
 * e.g. the command between "`" and "`". */
static void hint_between(const char *from, const char *to, char *buf, size_t size)
{
    const char *a = strstr(out, from);
    ck_assert_msg(a, "no '%s' in:\n%s", from, out);
    a += strlen(from);
    const char *b = strstr(a, to);
    ck_assert_msg(b, "no '%s' after '%s' in:\n%s", to, from, out);
    snprintf(buf, size, "%.*s", (int)(b - a), a);
}

/* Runs the hint through sh in dir, `cnnrun` on PATH; its output in out. */
static int run_hint(const char *hint)
{
    write_file("hint.sh", hint);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && PATH=\"%s/bin:$PATH\" env -u CNNRUN_DATA sh hint.sh "
             ">out.log 2>&1", dir, dir);
    return fixture_system(cmd);
}

/* A directory with a file that does not check: the hint re-runs the
 * command as typed with --skip-invalid, which trains the other (exit 3). */
START_TEST(test_skip_invalid_hint)
{
    char p[256], hint[1024];
    snprintf(p, sizeof p, "%s/exps", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    write_file("exps/a.ini", TINY_INI(""));
    write_file("exps/b.ini", TINY_INI("[group.none]\nlayers = nothing\n"));
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1"), 2);
    hint_between("nothing trained (`", "`", hint, sizeof hint);
    ck_assert_msg(strstr(hint, "--skip-invalid"), "%s", hint);
    ck_assert_msg(run_hint(hint) == 3, "%s:\n%s", hint, out);
    /* no hint where every file is a misfit: --skip-invalid would train nothing */
    ck_assert_int_eq(cnnrun("run exps/b.ini --db r.db --threads 1"), 2);
    ck_assert_msg(strstr(out, "1 of 1 experiment file does not check: exps/b.ini; nothing "
                              "trained\n"), "%s", out);
    ck_assert_int_eq(fixture_poll_int("r.db", "SELECT count(*) FROM runs WHERE status = "
                                              "'finished'"), 1);
}
END_TEST

/* The end of a study of more points than its table shows: the command
 * that shows them all does (before: "cnnrun studies and cnnrun report
 * show them all", without the database; `studies` shows no points). */
START_TEST(test_points_hint)
{
    char hint[1024];
    write_file("h.ini", TINY_INI("[sweep]\nexperiment.seed = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11\n"));
    ck_assert_msg(cnnrun("run h.ini --db 'my r.db' --threads 1") == 0, "%s", out);
    hint_between("(the best 10 of 11 points; `", "`", hint, sizeof hint);
    ck_assert_str_eq(hint, "cnnrun runs --study 1 --db 'my r.db'");
    ck_assert_msg(run_hint(hint) == 0, "%s", out);
    for (int id = 1; id <= 11; id++) {
        char row[32];
        snprintf(row, sizeof row, "\n%4d  h", id);
        ck_assert_msg(strstr(out, row), "run %d not shown:\n%s", id, out);
    }
}
END_TEST

/* The database's hints: no such study, no such run, runs without a study. */
START_TEST(test_database_hints)
{
    char hint[1024];
    write_file("h.ini", TINY_INI(""));
    ck_assert_msg(cnnrun("run h.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_msg(cnnrun("run h.ini --db r.db --threads 1") == 0, "%s", out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 9"), 2);
    hint_between("HINT: ", " lists them", hint, sizeof hint);
    ck_assert_msg(run_hint(hint) == 0 && strstr(out, "   2  h"), "%s:\n%s", hint, out);
    ck_assert_int_eq(cnnrun("runs --db r.db --study 2 --runs 1"), 2);
    hint_between("HINT: ", " lists every run", hint, sizeof hint);
    ck_assert_msg(run_hint(hint) == 0 && strstr(out, "\n   1  h"), "%s:\n%s", hint, out);
    ck_assert_int_eq(cnnrun("runs --db r.db --runs 7"), 2);
    hint_between("HINT: ", " lists the run ids", hint, sizeof hint);
    ck_assert_msg(run_hint(hint) == 0 && strstr(out, "\n   1  h"), "%s:\n%s", hint, out);
    /* a run recorded before studies (as a migrated database has) */
    char p[256];
    snprintf(p, sizeof p, "%s/r.db", dir);
    sqlite3 *w;
    ck_assert_int_eq(sqlite3_open(p, &w), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(w, "UPDATE runs SET study_id = NULL WHERE id = 1", NULL, NULL,
                                  NULL), SQLITE_OK);
    sqlite3_close(w);
    ck_assert_int_eq(cnnrun("studies --db r.db"), 0);
    hint_between("belong to none: `", "`", hint, sizeof hint);
    ck_assert_msg(run_hint(hint) == 0 && strstr(out, "\n   1  h"), "%s:\n%s", hint, out);
}
END_TEST

/* A usage error points at the command's help, which is there. */
START_TEST(test_usage_hint)
{
    char hint[256];
    ck_assert_int_eq(cnnrun("run --frobnicate x.ini"), 2);
    hint_between("(see `", "`", hint, sizeof hint);
    ck_assert_msg(run_hint(hint) == 0 && strstr(out, "--skip-invalid"), "%s:\n%s", hint, out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hints");
    TCase *tc = tcase_create("hints");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, tmpdir_teardown);
    tcase_add_test(tc, test_skip_invalid_hint);
    tcase_add_test(tc, test_points_hint);
    tcase_add_test(tc, test_database_hints);
    tcase_add_test(tc, test_usage_hint);
    suite_add_tcase(s, tc);
    return check_run(s);
}
