/* cli_fixture.h — scaffolding shared by the tests that drive the cnnrun
 * binary: a fresh temporary directory per test, files written into it, and
 * running `cnnrun ARGS` there with its output captured. */
#ifndef CNNRUN_CLI_FIXTURE_H
#define CNNRUN_CLI_FIXTURE_H

extern char dir[64];     /* the current test's directory */
extern char out[65536];  /* stdout+stderr of the last cnnrun() call */

/* Check fixtures: make / remove dir. */
void tmpdir_setup(void);
void tmpdir_teardown(void);

/* Writes text to dir/name. */
void write_file(const char *name, const char *text);
/* 1 if dir/name exists. */
int exists(const char *name);
/* Runs `$CNNRUN_BIN ARGS` in dir without $CNNRUN_DATA (so the embedded sample
 * is the default data); output into out and appended to dir/log. Returns the
 * exit status, -1 if it did not exit normally. */
int cnnrun(const char *args);
/* The same, the binary started by LAUNCHER (e.g. "mpirun -np 2"; "": none). */
int cnnrun_via(const char *launcher, const char *args);
/* Runs the shell command line cmd, which writes its output to dir/out.log;
 * that output into out. Its exit status, -1 if it did not exit normally. */
int fixture_system(const char *cmd);
/* The whole of dir/name, NUL-terminated (free it); fails the test where it is missing. */
char *fixture_slurp(const char *name);

/* dir/name opened read-only for queries, with a 10 s busy timeout (a run may
 * be writing it). */
struct sqlite3;
struct sqlite3 *fixture_open_db(const char *name);
/* The first column of the first row of sql on dir/db as an int; -1 when
 * there is no row or the query fails (e.g. while another process is still
 * creating the database). */
int fixture_poll_int(const char *db, const char *sql);
/* The same for a text value: a copy to free, NULL for no row or NULL. */
char *fixture_poll_text(const char *db, const char *sql);
/* The first column of the first row of sql on an open database as an int
 * (-1: no row); a query that does not prepare fails the test. */
int fixture_q_int(struct sqlite3 *s, const char *sql);

#endif
