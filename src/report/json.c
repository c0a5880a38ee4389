/* json.c — `cnnrun runs --json` (report_write_json): the export table as
 * JSON, an array of one object per run (one line each), keyed by the
 * table's column names in their order, with `--epochs` an "epochs" array of
 * objects in each. Valid JSON whatever the database holds: NULL, NaN and
 * infinities are null; strings escape quotes, backslashes and every control
 * character, and a byte that does not belong to valid UTF-8 becomes U+FFFD;
 * a run_params value is a number when its text is a JSON number ("0.05",
 * "1e-3"), else a string ("crop:4, flip", ".5"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cnnrun/report.h"
#include "format.h"

/* The length of the valid UTF-8 sequence at s (1..4), or 0 when s does not
 * start one (a stray continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, cut short). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
          : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n <= 1) return n;
    unsigned cp = c & (0x7F >> n);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

static void put_string(const char *str, FILE *f)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        unsigned c = *s;
        if (c >= 0x80) {
            int n = utf8_len(s);
            if (n) fwrite(s, 1, (size_t)n, f);
            else fputs("\\ufffd", f);
            s += n ? n : 1;
            continue;
        }
        s++;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || c == 0x7F) fprintf(f, "\\u%04x", c);
        else fputc((int)c, f);
    }
    fputc('"', f);
}

/* Whether s is a number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return 0;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

static void put_cell(const ReportCell *c, FILE *f)
{
    char b[40];
    switch (c->kind) {
    case CELL_INT: fprintf(f, "%lld", (long long)c->i); break;
    case CELL_REAL:
        fputs(isfinite(c->d) ? fmt_exact(b, sizeof b, c->d) : "null", f);
        break;
    case CELL_VALUE:
        if (is_json_number(c->s)) fputs(c->s, f);
        else put_string(c->s, f);
        break;
    case CELL_TEXT: put_string(c->s, f); break;
    case CELL_NULL: fputs("null", f); break;
    }
}

void report_write_json(const ReportTable *t, FILE *f)
{
    fputc('[', f);
    for (int i = 0; i < t->n_rows; i++) {
        fputs(i ? ",\n{" : "\n{", f);
        for (int j = 0; j < t->n_cols; j++) {
            if (j) fputs(", ", f);
            put_string(t->cols[j], f);
            fputs(": ", f);
            put_cell(&t->cells[(size_t)i * (size_t)t->n_cols + (size_t)j], f);
        }
        if (t->with_epochs) {
            fputs(", \"epochs\": [", f);
            for (int e = 0; e < t->n_epochs[i]; e++) {
                fputs(e ? ", {" : "{", f);
                for (int k = 0; k < REPORT_N_EPOCH_COLUMNS; k++) {
                    fprintf(f, "%s\"%s\": ", k ? ", " : "", REPORT_EPOCH_COLUMNS[k]);
                    put_cell(&t->epochs[i][(size_t)e * REPORT_N_EPOCH_COLUMNS + (size_t)k], f);
                }
                fputc('}', f);
            }
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputs(t->n_rows ? "\n]\n" : "]\n", f);
}
