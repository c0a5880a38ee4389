/* settings.c — the engine's settings (EngineSettings, cnnrun/kernels.h):
 * the one place that reads the environment variables below the command line
 * that change what the engine computes or how it chooses (CNNRUN_CONV,
 * CNNRUN_DWSPLIT, CNNRUN_FUSE, and where measured choices are kept:
 * CNNRUN_WISDOM), their text as a run records it (runs.engine) and that
 * text read back on resume. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/kernels.h"

static const char *const conv_names[CONV_CHOICE_COUNT] = {
    [CONV_CHOICE_RULE] = "rule",
    [CONV_CHOICE_TUNE] = "tune",
    [CONV_CHOICE_RETUNE] = "retune",
    [CONV_CHOICE_FORCED] = NULL, /* the algorithm's name */
};

static const char *const dwsplit_names[CONV_DWSPLIT_COUNT] = {
    [CONV_DWSPLIT_AUTO] = "auto",
    [CONV_DWSPLIT_BATCH] = "batch",
    [CONV_DWSPLIT_ROWS] = "rows",
};

/* CNNRUN_CONV's value (or runs.engine's conv=) into s; -1 if unknown. */
static int parse_conv(const char *v, EngineSettings *s)
{
    for (int c = 0; c < CONV_CHOICE_COUNT; c++)
        if (conv_names[c] && strcmp(v, conv_names[c]) == 0) {
            s->conv = (ConvChoice)c;
            s->conv_forced = CONV_AUTO;
            return 0;
        }
    int algo = strcmp(v, "winograd2") == 0 ? CONV_WINOGRAD : conv_algo_by_name(v);
    if (algo < 0) return -1;
    s->conv = CONV_CHOICE_FORCED;
    s->conv_forced = algo;
    return 0;
}

static int parse_dwsplit(const char *v)
{
    for (int m = 0; m < CONV_DWSPLIT_COUNT; m++)
        if (strcmp(v, dwsplit_names[m]) == 0) return m;
    return -1;
}

/* $CNNRUN_WISDOM, else $XDG_CACHE_HOME/cnnrun/conv-wisdom, else
 * $HOME/.cache/cnnrun/conv-wisdom, into path; "" where none can be named
 * (or CNNRUN_WISDOM is set to nothing: keep no choice). */
static void wisdom_path(char *path, size_t size)
{
    const char *v = getenv("CNNRUN_WISDOM");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (v)
        n = snprintf(path, size, "%s", v);
    else if (xdg && *xdg == '/')
        n = snprintf(path, size, "%s/cnnrun/conv-wisdom", xdg);
    else if (home && *home == '/')
        n = snprintf(path, size, "%s/.cache/cnnrun/conv-wisdom", home);
    else
        n = 0;
    if (n <= 0 || (size_t)n >= size) path[0] = '\0';
}

int engine_settings_from_env(EngineSettings *s)
{
    *s = (EngineSettings){.conv = CONV_CHOICE_TUNE};
    const char *v = getenv("CNNRUN_CONV");
    if (v && *v && parse_conv(v, s) != 0) {
        fprintf(stderr, "cnnrun: CNNRUN_CONV=%s: expected tune (measure each convolution's "
                        "algorithms once on this machine and keep the choice, the default), "
                        "retune (measure again), rule (the shape rule) or one algorithm:", v);
        for (int i = 0, algo; (algo = conv_algo_at(i)) >= 0; i++)
            fprintf(stderr, "%s %s", i ? "," : "", conv_algo_name(algo));
        fputc('\n', stderr);
        return -1;
    }
    v = getenv("CNNRUN_DWSPLIT");
    if (v && *v && (s->dwsplit = parse_dwsplit(v)) < 0) {
        fprintf(stderr, "cnnrun: CNNRUN_DWSPLIT=%s: expected batch (each thread its own copy "
                        "of a weight gradient), rows (the threads share it by rows) or auto "
                        "(rows from 4 threads, the default)\n", v);
        return -1;
    }
    v = getenv("CNNRUN_FUSE");
    s->no_fuse = v && strcmp(v, "0") == 0;
    wisdom_path(s->wisdom, sizeof s->wisdom);
    v = getenv("CNNRUN_TUNE_PREFER");
    if (v && *v) {
        int algo = conv_algo_by_name(v);
        if (algo < 0) {
            fprintf(stderr, "cnnrun: CNNRUN_TUNE_PREFER=%s: not an algorithm\n", v);
            return -1;
        }
        s->tune_prefer = algo;
    }
    return 0;
}

void engine_settings_text(const EngineSettings *s, char *buf, size_t size)
{
    const char *conv = s->conv == CONV_CHOICE_FORCED ? conv_algo_name(s->conv_forced)
                       : s->conv >= 0 && s->conv < CONV_CHOICE_COUNT ? conv_names[s->conv]
                                                                      : NULL;
    const char *split = s->dwsplit >= 0 && s->dwsplit < CONV_DWSPLIT_COUNT
                            ? dwsplit_names[s->dwsplit]
                            : NULL;
    snprintf(buf, size, "conv=%s dwsplit=%s fuse=%s", conv ? conv : "?", split ? split : "?",
             s->no_fuse ? "off" : "on");
}

int engine_settings_parse(const char *text, EngineSettings *out)
{
    EngineSettings s = *out;
    char buf[256];
    if (!text || strlen(text) >= sizeof buf) return -1;
    strcpy(buf, text);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (!eq) return -1;
        *eq++ = '\0';
        if (strcmp(w, "conv") == 0) {
            if (parse_conv(eq, &s) != 0) return -1;
        } else if (strcmp(w, "dwsplit") == 0) {
            if ((s.dwsplit = parse_dwsplit(eq)) < 0) return -1;
        } else if (strcmp(w, "fuse") == 0) {
            if (strcmp(eq, "on") != 0 && strcmp(eq, "off") != 0) return -1;
            s.no_fuse = strcmp(eq, "off") == 0;
        } /* a key of a later cnnrun: not one this one can honour, nor refuse */
    }
    *out = s;
    return 0;
}
