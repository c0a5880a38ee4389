/* csv.c — `cnnrun runs --csv` (report_write_csv): the export table as
 * RFC 4180 CSV for pandas and spreadsheets. A field with a comma, a double
 * quote or a line break is quoted, its quotes doubled; NULL (and NaN) is an
 * empty field, empty text a quoted empty one (""); reals in the fewest digits
 * that read back exactly. Lines end in "\n" (every CSV reader takes it; a
 * quoted field keeps its own line breaks). With epochs: one line per (run,
 * epoch), the run's columns repeated and the epoch's after them. */
#include <stdio.h>
#include <string.h>

#include "cnnrun/report.h"
#include "format.h"

static void put_text(const char *s, FILE *f)
{
    if (!*s) {
        fputs("\"\"", f);
        return;
    }
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_cell(const ReportCell *c, FILE *f)
{
    char b[40];
    switch (c->kind) {
    case CELL_INT: fprintf(f, "%lld", (long long)c->i); break;
    case CELL_REAL: fputs(fmt_exact(b, sizeof b, c->d), f); break;
    case CELL_TEXT:
    case CELL_VALUE: put_text(c->s, f); break;
    case CELL_NULL: break;
    }
}

static void put_run(const ReportTable *t, int row, FILE *f)
{
    for (int j = 0; j < t->n_cols; j++) {
        if (j) fputc(',', f);
        put_cell(&t->cells[(size_t)row * (size_t)t->n_cols + (size_t)j], f);
    }
}

void report_write_csv(const ReportTable *t, FILE *f)
{
    for (int j = 0; j < t->n_cols; j++) {
        if (j) fputc(',', f);
        put_text(t->cols[j], f);
    }
    for (int k = 0; t->with_epochs && k < REPORT_N_EPOCH_COLUMNS; k++)
        fprintf(f, k ? ",epoch_%s" : ",%s", REPORT_EPOCH_COLUMNS[k]);
    fputc('\n', f);
    for (int i = 0; i < t->n_rows; i++) {
        int n = t->with_epochs ? t->n_epochs[i] : 0;
        for (int e = 0; e < (n ? n : 1); e++) {
            put_run(t, i, f);
            for (int k = 0; t->with_epochs && k < REPORT_N_EPOCH_COLUMNS; k++) {
                fputc(',', f);
                if (n) put_cell(&t->epochs[i][(size_t)e * REPORT_N_EPOCH_COLUMNS + (size_t)k], f);
            }
            fputc('\n', f);
        }
    }
}
