/* command_line.c — the command line as a shell reads it back: as typed
 * (cli_command_line, the study's row), and the command that resumes a run
 * (cli_resume_command: the hint printed when a run stops). Calls no other
 * file of the command line, so every command may use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cnnrun/dist.h"
#include "cnnrun/util.h"

/* One argument as a shell reads it back: as it is when it holds only
 * characters no shell treats specially, else in single quotes. */
static void append_shell_word(char **line, size_t *len, const char *a)
{
    int plain = *a != '\0';
    for (const char *c = a; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:+@%", *c))
            plain = 0;
    size_t need = *len + 4 * strlen(a) + 4;
    *line = xrealloc(*line, need);
    char *p = *line + *len;
    *p++ = ' ';
    if (plain) {
        p += sprintf(p, "%s", a);
    } else {
        *p++ = '\'';
        for (const char *c = a; *c; c++) {
            if (*c == '\'') { memcpy(p, "'\\''", 4); p += 4; }
            else *p++ = *c;
        }
        *p++ = '\'';
        *p = '\0';
    }
    *len = (size_t)(p - *line);
}

const char *cli_argv0 = "cnnrun";

char *cli_command_line(const char *command, int argc, char **argv)
{
    size_t len = 0;
    char *line = xstrdup("");
    append_shell_word(&line, &len, cli_argv0);
    memmove(line, line + 1, len--); /* no space before the program */
    append_shell_word(&line, &len, command);
    for (int i = 0; i < argc; i++) append_shell_word(&line, &len, argv[i]);
    return line;
}

char *cli_resume_command(const CliOptions *o)
{
    size_t len = 0;
    char *line = xstrdup("");
    if (dist_world_size() > 1) { /* the same ranks again */
        char np[32];
        snprintf(np, sizeof np, "%d", dist_world_size());
        append_shell_word(&line, &len, "mpirun");
        append_shell_word(&line, &len, "-np");
        append_shell_word(&line, &len, np);
    }
    append_shell_word(&line, &len, cli_argv0);
    append_shell_word(&line, &len, "run");
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        if (!strcmp(a, "--until-epoch")) { /* the share's end: continuing goes on past it */
            i++;
            continue;
        }
        if (!strncmp(a, "--until-epoch=", 14)) continue;
        append_shell_word(&line, &len, a);
    }
    if (!o->resume) append_shell_word(&line, &len, "--resume");
    memmove(line, line + 1, len); /* no space before the first word */
    return line;
}
