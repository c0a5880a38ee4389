/* html_page.c — what the HTML report's files write their page with
 * (html_page.h): text escaped for HTML, a file's path in the report's
 * directory, a plot written there as SVG (plot.c), and the staging
 * directory the report is written in before it replaces an earlier one. */
#include "html_page.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrun/files.h"
#include "cnnrun/util.h"

void html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

char *html_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int html_plot(const char *dir, const char *name, int w, int h, const PlotPanel *panels, int n)
{
    char *path = html_path(dir, name);
    int rc = plot_svg(path, w, h, panels, n);
    free(path);
    return rc;
}

char *html_stage(const char *dir)
{
    char *stage = html_path(dir, ".cnnrun-report.XXXXXX");
    if (mkdtemp(stage)) return stage;
    fprintf(stderr, "%s: cannot write the report there: %s\nHINT: choose another directory "
                    "with -o DIR\n", dir, strerror(errno));
    free(stage);
    return NULL;
}

/* The names in the staging directory (n of them; caller frees each and the
 * array); NULL after saying why it cannot be read. */
static char **staged_names(const char *stage, int *n)
{
    DIR *d = opendir(stage);
    if (!d) {
        fprintf(stderr, "%s: cannot read the report written there: %s\n", stage,
                strerror(errno));
        return NULL;
    }
    char **names = NULL;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        names = xrealloc(names, sizeof *names * (size_t)(*n + 1));
        names[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    return names ? names : xmalloc(sizeof *names);
}

/* What the report's file `name` is: its page, or one of its pictures. */
static FileKind staged_kind(const char *name, const char **what)
{
    size_t len = strlen(name);
    int svg = len > 4 && !strcmp(name + len - 4, ".svg");
    *what = svg ? "the report's plot" : "the report's page";
    return svg ? FILE_SVG : FILE_REPORT;
}

int html_publish(const char *stage, const char *dir)
{
    int n, rc = 0;
    char **names = staged_names(stage, &n);
    if (!names) return CN_EXIT_FAIL;
    for (int i = 0; i < n; i++) { /* every file checked before any is moved */
        const char *what;
        FileKind kind = staged_kind(names[i], &what);
        char *to = html_path(dir, names[i]);
        if (output_target_ok(to, kind, what) != 0) rc = CN_EXIT_USAGE;
        free(to);
    }
    for (int i = 0; i < n && rc == 0; i++) {
        char *from = html_path(stage, names[i]), *to = html_path(dir, names[i]);
        if (rename(from, to) != 0) {
            fprintf(stderr, "%s: cannot write the report: %s\n", to, strerror(errno));
            rc = CN_EXIT_FAIL;
        }
        free(from);
        free(to);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

void html_unstage(const char *stage)
{
    int n;
    char **names = staged_names(stage, &n);
    for (int i = 0; names && i < n; i++) {
        char *p = html_path(stage, names[i]);
        unlink(p);
        free(p);
        free(names[i]);
    }
    free(names);
    rmdir(stage);
}
