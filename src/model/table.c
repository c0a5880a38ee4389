/* table.c — the model table printed by `cnnrun check` and at the start of a
 * run: one row per section (layer, type, input → output shape, parameters,
 * MFLOPs per image, its convolutions' algorithms), with totals — darknet's
 * much-loved table. The per-section aggregation (model_section) is shared
 * with the results' `layers` table. */
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "ops.h"

static void count_with_commas(char *buf, size_t n, long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", v);
    size_t len = strlen(tmp), o = 0;
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < n) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
}

/* A conv's algorithm, or (still to be measured) its eligible ones a|b. */
static void conv_algo_text(const Model *m, const Node *n, char *buf, size_t size)
{
    ConvShape sh = op_info(n->op)->conv_shape(m, n, 1);
    int cand[8], k = conv_algo_candidates(&sh, cand, 8);
    if (!(m->conv_tune && m->conv_from == CONV_FROM_RULE) || k < 2) {
        snprintf(buf, size, "%s", conv_algo_name(n->algo));
        return;
    }
    size_t o = 0;
    buf[0] = '\0';
    for (int j = 0; j < k && o < size; j++)
        o += (size_t)snprintf(buf + o, size - o, "%s%s", j ? "|" : "", conv_algo_name(cand[j]));
}

/* The nodes of section s: [*begin, *end). expand.c appends them section
 * after section and nothing reorders them, so a binary search finds them (a
 * scan of every node per section made the table quadratic in the layers). */
static void section_nodes(const Model *m, int s, int *begin, int *end)
{
    int lo = 0, hi = m->n_nodes;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (m->nodes[mid].section < s) lo = mid + 1;
        else hi = mid;
    }
    *begin = lo;
    while (hi < m->n_nodes && m->nodes[hi].section == s) hi++;
    *end = hi;
}

/* ModelSection.conv_algo of section s: one text when all its convs have it. */
static void section_conv_algos(const Model *m, int s, char *buf, size_t size)
{
    int convs = 0;
    char first[64] = "", algo[64];
    int begin, end;
    section_nodes(m, s, &begin, &end);
    for (int i = begin; i < end; i++) {
        const Node *n = &m->nodes[i];
        if (n->section != s || !op_info(n->op)->conv_shape) continue;
        conv_algo_text(m, n, algo, sizeof algo);
        if (convs++ == 0) snprintf(first, sizeof first, "%s", algo);
        else if (strcmp(first, algo) != 0) first[0] = '\0';
    }
    if (first[0]) convs = 1; /* all alike (or one) */
    size_t o = 0;
    buf[0] = '\0';
    for (int i = begin; i < end && o < size; i++) {
        const Node *n = &m->nodes[i];
        if (n->section != s || !op_info(n->op)->conv_shape) continue;
        conv_algo_text(m, n, algo, sizeof algo);
        const char *dot = strchr(n->name, '.'); /* section.part */
        if (convs == 1) {
            snprintf(buf, size, "%s", algo);
            return;
        }
        if (!dot)
            o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "", algo);
        else
            o += (size_t)snprintf(buf + o, size - o, "%s%s=%s", o ? "," : "", dot + 1, algo);
    }
}

void model_print_conv_choice(const Model *m, FILE *f)
{
    switch (m->conv_from) {
    case CONV_FROM_RULE:
        if (m->conv_tune)
            fprintf(f, "conv algorithms: measured when a run starts (a|b: the candidates); "
                       "CNNRUN_CONV=rule or =ALGORITHM sets them without measuring\n");
        else
            fprintf(f, "conv algorithms: the shape rule, not measured\n");
        break;
    case CONV_FROM_ENV:
        fprintf(f, "conv algorithms: CNNRUN_CONV=%s wherever eligible\n",
                conv_algo_name(m->exp->engine.conv_forced));
        break;
    case CONV_FROM_TUNING:
        fprintf(f, "conv algorithms: measured, the fastest of each (%d shape%s timed in %.2f s "
                   "on %d thread%s)\n",
                m->conv_tune_shapes, m->conv_tune_shapes == 1 ? "" : "s", m->conv_tune_seconds,
                m->threads, m->threads == 1 ? "" : "s");
        break;
    case CONV_FROM_WISDOM:
        fprintf(f, "conv algorithms: measured on this machine before (%s; CNNRUN_CONV=retune "
                   "measures again)\n", m->exp->engine.wisdom);
        break;
    case CONV_FROM_CHECKPOINT:
        fprintf(f, "conv algorithms: as the checkpoint recorded them\n");
        break;
    }
}

int model_section_count(const Model *m)
{
    return m->exp->n_layers;
}

void model_section(const Model *m, int s, ModelSection *out)
{
    const LayerSpec *L = &m->exp->layers[s];
    memset(out, 0, sizeof *out);
    out->name = L->name;
    snprintf(out->type, sizeof out->type, "%s", layer_type_name(L->type));
    if (L->type == LT_CONV)
        snprintf(out->type, sizeof out->type, "conv %dx%d/%d%s", L->size, L->size, L->stride,
                 L->batchnorm ? "+bn" : "");
    int first = -1, last = -1, begin, end;
    section_nodes(m, s, &begin, &end);
    for (int i = begin; i < end; i++) {
        if (m->nodes[i].section != s) continue;
        if (first < 0) first = i;
        last = i;
        out->params += (long long)(m->nodes[i].w_len + m->nodes[i].b_len);
        out->flops += m->nodes[i].flops;
    }
    if (first < 0) return;
    section_conv_algos(m, s, out->conv_algo, sizeof out->conv_algo);
    /* the section's input is its first node's first input */
    const Node *n0 = &m->nodes[first], *nl = &m->nodes[last];
    model_tensor_shape(m, n0->in[0], &out->in_c, &out->in_h, &out->in_w);
    out->out_c = nl->c, out->out_h = nl->h, out->out_w = nl->w;
}

void model_print_table(const Model *m, FILE *f)
{
    fprintf(f, "%4s  %-14s %-15s %-14s -> %-14s %12s %10s  %s\n", "#", "layer", "type", "input",
            "output", "params", "MFLOPs", "conv algorithm");
    long long total_params = 0;
    double total_flops = 0;
    for (int s = 0; s < model_section_count(m); s++) {
        ModelSection sec;
        model_section(m, s, &sec);
        char in[32], out[32], pc[32];
        snprintf(in, sizeof in, "%dx%dx%d", sec.in_c, sec.in_h, sec.in_w);
        snprintf(out, sizeof out, "%dx%dx%d", sec.out_c, sec.out_h, sec.out_w);
        count_with_commas(pc, sizeof pc, sec.params);
        fprintf(f, "%4d  %-14.14s %-15.15s %-14s -> %-14s %12s %10.2f%s%s\n", s, sec.name,
                sec.type, in, out, pc, sec.flops / 1e6, sec.conv_algo[0] ? "  " : "",
                sec.conv_algo);
        total_params += sec.params;
        total_flops += sec.flops;
    }
    char pc[32];
    count_with_commas(pc, sizeof pc, total_params);
    fprintf(f, "      %-14s %-15s %-14s    %-14s %12s %10.2f\n", "total", "", "", "", pc,
            total_flops / 1e6);
    fprintf(f, "parameters: %s   forward: %.1f MFLOPs/image (multiply-add = 2)   activation "
               "memory at batch %d: %.0f MiB\n",
            pc, total_flops / 1e6, m->max_batch ? m->max_batch : m->exp->batch_size, (double)m->activation_bytes / (1 << 20));
    model_print_conv_choice(m, f);
}
