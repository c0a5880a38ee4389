/* html_page.c — what the HTML report's files write their page with
 * (html_page.h): text escaped for HTML, a file's path in the report's
 * directory, a plot written there as SVG (plot.c) and into the page, and the staging
 * directory the report is written in before it replaces an earlier one. */
#include "html_page.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
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

char *html_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *html_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int html_figure(FILE *page, const char *dir, const char *name,
                void (*draw)(FILE *f, const void *arg), const void *arg)
{
    char *path = html_path(dir, name);
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (f) {
        draw(f, arg);
        rc = fclose(f);
    }
    if (!f || rc != 0) {
        fprintf(stderr, "%s: cannot write the plot: %s\n", path, strerror(errno));
        rc = -1;
    }
    free(path);
    /* the same picture in the page: its hover texts work there, as <img> would not let them */
    size_t len = strlen(name);
    fprintf(page, "<figure id=\"%.*s\">\n", (int)(len > 4 ? len - 4 : len), name);
    draw(page, arg);
    fputs("</figure>\n", page);
    return rc;
}

typedef struct {
    int w, h, n;
    const PlotPanel *panels;
} Plot;

static void draw_plot(FILE *f, const void *arg)
{
    const Plot *p = arg;
    plot_svg(f, p->w, p->h, p->panels, p->n);
}

int html_plot(FILE *page, const char *dir, const char *name, int w, int h,
              const PlotPanel *panels, int n)
{
    Plot p = {.w = w, .h = h, .n = n, .panels = panels};
    return html_figure(page, dir, name, draw_plot, &p);
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
