/* html_page.c — what the HTML report's files write their page with
 * (html_page.h): text escaped for HTML, a file's path in the report's
 * directory, and a plot written there as SVG (plot.c). */
#include "html_page.h"

#include <stdlib.h>
#include <string.h>

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
