/* test_cli_table.c — the command line's tables (src/cli/commands.c) against
 * what is written from them and about them: every row whole; the usage of
 * each command lists every option it takes and no other; every option and
 * command is in docs/; the example commands of the README and docs/ parse
 * (cli_parse, in this process: src/cli/options.c, commands.c and usage.c are
 * compiled in; the commands themselves are stubs below). */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_run.h"
#include "commands.h"
#include "cnnrun/util.h"

/* The table names each command's function; here none is called. */
#define STUB(f) \
    int f(CliOptions *o) { (void)o; return 0; }
STUB(cmd_run) STUB(cmd_check) STUB(cmd_bench) STUB(cmd_tune) STUB(cmd_eval) STUB(cmd_export)
STUB(cmd_predict) STUB(cmd_lr_find) STUB(cmd_report) STUB(cmd_runs) STUB(cmd_studies)
STUB(cmd_merge)

static char *usage_of(int command) /* -1: `cnnrun --help` */
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (command < 0) cli_usage(f);
    else cli_command_usage(f, (CliCommandId)command);
    fclose(f);
    return text;
}

static size_t field_size(CliArgKind kind)
{
    switch (kind) {
    case ARG_INT: case ARG_ENUM: return sizeof(int);
    case ARG_REAL: return sizeof(double);
    case ARG_STRING: case ARG_PATH: case ARG_MAYBE_PATH: case ARG_IDS: return sizeof(char *);
    default: return 0; /* a flag: int or bool; a list: its array */
    }
}

/* Each row whole, of a kind its field holds; no command takes two rows of one name. */
START_TEST(test_tables_complete)
{
    for (int c = 0; c < CMD_COUNT; c++) {
        const CliCommand *k = &cli_commands[c];
        ck_assert_msg(k->name && k->fn && k->args && k->summary && *k->summary, "command %d", c);
        ck_assert_ptr_eq(cli_command(k->name), k);
        ck_assert_msg(!strchr(k->summary, '\n') && strlen(k->summary) <= 69, "%s", k->name);
    }
    for (int i = 0; i < cli_n_options; i++) {
        const CliOption *r = &cli_options[i];
        ck_assert_msg(r->name && r->help && *r->help && !strchr(r->help, '\n'), "row %d", i);
        ck_assert_msg(r->commands && r->commands < (1u << CMD_COUNT), "--%s", r->name);
        size_t size = field_size(r->kind);
        ck_assert_msg(!size || r->size == size, "--%s: a field of %zu bytes", r->name, r->size);
        if (r->kind == ARG_NONE)
            ck_assert_msg(r->size == sizeof(int) || r->size == sizeof(bool), "--%s", r->name);
        ck_assert_msg((r->kind == ARG_NONE || r->kind == ARG_ENUM) == !r->metavar, "--%s", r->name);
        ck_assert_msg(r->kind != ARG_ENUM || (r->values && r->codes), "--%s", r->name);
        ck_assert_msg(r->kind != ARG_LIST || r->take, "--%s stores nothing", r->name);
        ck_assert_msg(r->kind != ARG_INT || r->lo <= r->hi, "--%s", r->name);
        ck_assert_msg(r->kind != ARG_REAL || (r->expects && r->rlo < r->rhi), "--%s", r->name);
        ck_assert_msg(r->kind != ARG_MAYBE_PATH || r->suffix, "--%s", r->name);
        for (int j = 0; j < i; j++) {
            const CliOption *q = &cli_options[j];
            if (!strcmp(q->name, r->name))
                ck_assert_msg(!(q->commands & r->commands) && q->kind == r->kind &&
                                  q->offset == r->offset && q->short_name == r->short_name,
                              "two rows of --%s disagree or share a command", r->name);
            else
                ck_assert_msg(!r->short_name || q->short_name != r->short_name, "-%c twice",
                              r->short_name);
        }
    }
}
END_TEST

/* `cnnrun COMMAND --help` shows each option the command takes, as its
 * synopsis at a line's start, and none that it does not; `cnnrun --help`
 * each command; no line wider than 80 columns. */
START_TEST(test_usage_from_tables)
{
    char *top = usage_of(-1);
    for (int c = 0; c < CMD_COUNT; c++) {
        char line[64];
        snprintf(line, sizeof line, "\n  %-8s %s\n", cli_commands[c].name, cli_commands[c].summary);
        ck_assert_msg(strstr(top, line), "`cnnrun --help` lacks %s:\n%s", cli_commands[c].name, top);
        char *text = usage_of(c);
        char want[160];
        snprintf(want, sizeof want, "usage: cnnrun %s [options]", cli_commands[c].name);
        ck_assert_msg(!strncmp(text, want, strlen(want)), "%s", text);
        for (int i = 0; i < cli_n_options; i++) {
            const CliOption *r = &cli_options[i];
            char syn[128], own_line[160];
            cli_option_synopsis(r, syn, sizeof syn);
            snprintf(want, sizeof want, "\n  %s  ", syn);     /* its help beside it */
            snprintf(own_line, sizeof own_line, "\n  %s\n", syn); /* or below it */
            char bare[64]; /* the option at a line's start, whatever follows */
            if (r->short_name) snprintf(bare, sizeof bare, "\n  -%c, --%s", r->short_name, r->name);
            else snprintf(bare, sizeof bare, "\n  --%s", r->name);
            if (r->commands & (1u << c)) {
                ck_assert_msg(strstr(text, want) || strstr(text, own_line),
                              "cnnrun %s --help lacks %s:\n%s", cli_commands[c].name, syn, text);
            } else if (!cli_option(r->name, (CliCommandId)c)) {
                ck_assert_msg(!strstr(text, bare), "cnnrun %s --help shows --%s:\n%s",
                              cli_commands[c].name, r->name, text);
            }
        }
        for (const char *p = text; *p;) { /* columns: UTF-8 continuation bytes take none */
            int cols = 0;
            for (; *p && *p != '\n'; p++) cols += ((unsigned char)*p & 0xC0) != 0x80;
            ck_assert_msg(cols <= 80, "cnnrun %s --help: a line of %d columns", cli_commands[c].name,
                          cols);
            if (*p) p++;
        }
        free(text);
    }
    for (const char *p = top; *p; p = strchr(p, '\n') + 1)
        ck_assert_msg(strchr(p, '\n') - p <= 80, "cnnrun --help: a line over 80 columns: %.90s", p);
    free(top);
}
END_TEST

/* The docs (docs/ *.md), concatenated (the README too when readme). */
static char *read_docs(int readme)
{
    const char *src = getenv("CNNRUN_SOURCE_DIR");
    ck_assert_msg(src && *src, "CNNRUN_SOURCE_DIR not set (run through meson test)");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cat '%s'/docs/*.md %s%s%s", src, readme ? "'" : "",
             readme ? src : "", readme ? "/README.md'" : "");
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *text = NULL;
    size_t len = 0, n;
    char buf[65536];
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
        text = xrealloc(text, len + n + 1);
        memcpy(text + len, buf, n);
        len += n;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(len > 0, "no docs/*.md");
    text[len] = '\0';
    return text;
}

/* word (e.g. "--jobs") in text, not as the start of a longer name (--jobs-x). */
static int mentions(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)); p++) {
        char next = p[n];
        if (!(isalnum((unsigned char)next) || next == '-' || next == '_')) return 1;
    }
    return 0;
}

/* Every option (`--NAME`) and every command (`cnnrun NAME`) is in docs/;
 * --skip-invalid in docs/training.md. */
START_TEST(test_documented)
{
    char *docs = read_docs(0);
    char word[80];
    for (int i = 0; i < cli_n_options; i++) {
        snprintf(word, sizeof word, "--%s", cli_options[i].name);
        ck_assert_msg(mentions(docs, word), "%s is not in docs/*.md", word);
    }
    for (int c = 0; c < CMD_COUNT; c++) {
        snprintf(word, sizeof word, "cnnrun %s", cli_commands[c].name);
        ck_assert_msg(mentions(docs, word), "`%s` is not in docs/*.md", word);
    }
    free(docs);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/training.md", getenv("CNNRUN_SOURCE_DIR"));
    char *training = read_text_file(path, NULL);
    ck_assert_ptr_nonnull(training);
    ck_assert_msg(mentions(training, "--skip-invalid"), "docs/training.md lacks --skip-invalid");
    free(training);
}
END_TEST

/* One example line: its words after "cnnrun" (up to a comment, a
 * redirection or a pipe) into argv; the command's index, or -1 for a line
 * to leave (a shell variable or quoting this parse cannot follow). */
static int example_words(char *line, char **argv, int *argc)
{
    char *p = strstr(line, "cnnrun ");
    if (!p || strpbrk(p, "$\"'`")) return -1;
    *argc = 0;
    for (char *w = strtok(p + 7, " \t"); w; w = strtok(NULL, " \t")) {
        if (*w == '#' || *w == '>' || *w == '|' || *w == '<' || !strcmp(w, "2>&1") ||
            !strcmp(w, "&&"))
            break;
        if (*argc < 63) argv[(*argc)++] = w;
    }
    return *argc > 0 ? 0 : -1;
}

/* The example commands of the README and docs/ (the lines of their code
 * blocks that start with `cnnrun`, `build/cnnrun`, `$ ...` or `mpirun ...
 * cnnrun`) name a command and parse, with its files where it needs some. */
START_TEST(test_doc_examples_parse)
{
    char *docs = read_docs(1);
    int in_code = 0, parsed = 0;
    char joined[4096];
    joined[0] = '\0';
    char *cursor = docs;
    while (cursor && *cursor) {
        char *end = strchr(cursor, '\n');
        if (end) *end = '\0';
        char *line = cursor;
        cursor = end ? end + 1 : NULL;
        while (*line == ' ') line++;
        if (!strncmp(line, "```", 3)) {
            in_code = !in_code;
            continue;
        }
        size_t n = strlen(line);
        if (!in_code || (!joined[0] && !(strstr(line, "cnnrun ") == line ||
                                         !strncmp(line, "build/cnnrun ", 13) ||
                                         !strncmp(line, "$ ", 2) || !strncmp(line, "mpirun ", 7))))
            continue;
        strncat(joined, line, sizeof joined - strlen(joined) - 2);
        if (n && line[n - 1] == '\\') { /* continued on the next line */
            joined[strlen(joined) - 1] = ' ';
            continue;
        }
        char *argv[64], copy[4096], example[4096];
        int argc;
        snprintf(copy, sizeof copy, "%s", joined);
        snprintf(example, sizeof example, "%s", joined);
        joined[0] = '\0';
        if (example_words(copy, argv, &argc) != 0 || !islower((unsigned char)argv[0][0]) ||
            argv[0][strlen(argv[0]) - 1] == ':')
            continue; /* not a command line (`cnnrun 0.1.0`: --version's output; `cnnrun run:
                       * ...`, a message) */
        if (strstr(example, "mpirun ") && strstr(example, "--ranks-per-run"))
            continue; /* one rank here: refused (test_mpi runs these) */
        const CliCommand *c = cli_command(argv[0]);
        ck_assert_msg(c != NULL, "an example of no command: cnnrun %s", argv[0]);
        CliOptions o;
        int rc = cli_parse(argc - 1, argv + 1, (CliCommandId)(c - cli_commands), &o);
        ck_assert_msg(rc == 0 || rc == 1, "an example that does not parse: %s", example);
        ck_assert_msg(!c->needs || rc == 1 || o.n_files > 0, "an example without its %s: %s", c->needs,
                      example);
        cli_free(&o);
        parsed++;
    }
    ck_assert_msg(parsed >= 30, "only %d example commands found", parsed);
    free(docs);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_tables_complete);
    tcase_add_test(tc, test_usage_from_tables);
    tcase_add_test(tc, test_documented);
    tcase_add_test(tc, test_doc_examples_parse);
    suite_add_tcase(s, tc);
    return check_run(s);
}
