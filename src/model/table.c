/* table.c — the model table printed by `cnnrun check` and at the start of a
 * run: one row per section (layer, type, input → output shape, parameters,
 * MFLOPs per image), with totals — darknet's much-loved table. */
#include <string.h>

#include "cnnrun/model.h"

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

void model_print_table(const Model *m, FILE *f)
{
    const Experiment *e = m->exp;
    fprintf(f, "%4s  %-14s %-15s %-14s -> %-14s %12s %10s\n", "#", "layer", "type", "input",
            "output", "params", "MFLOPs");
    int first = 0;
    long long total_params = 0;
    double total_flops = 0;
    for (int s = 0; s < e->n_layers; s++) {
        int last = first;
        while (last + 1 < m->n_nodes && m->nodes[last + 1].section == s) last++;
        long long params = 0;
        double flops = 0;
        for (int i = first; i <= last; i++) {
            params += (long long)(m->nodes[i].w_len + m->nodes[i].b_len);
            flops += m->nodes[i].flops;
        }
        /* the section's input is its first node's first input */
        const Node *n0 = &m->nodes[first], *nl = &m->nodes[last];
        int c = m->in_c, h = m->in_h, w = m->in_w;
        if (n0->in[0] != NODE_INPUT) {
            const Node *p = &m->nodes[n0->in[0]];
            c = p->c;
            h = p->h;
            w = p->w;
        }
        char type[32], in[32], out[32], pc[32];
        const LayerSpec *L = &e->layers[s];
        snprintf(type, sizeof type, "%s", layer_type_name(L->type));
        if (L->type == LT_CONV)
            snprintf(type, sizeof type, "conv %dx%d/%d%s", L->size, L->size, L->stride,
                     L->batchnorm ? "+bn" : "");
        snprintf(in, sizeof in, "%dx%dx%d", c, h, w);
        snprintf(out, sizeof out, "%dx%dx%d", nl->c, nl->h, nl->w);
        count_with_commas(pc, sizeof pc, params);
        fprintf(f, "%4d  %-14.14s %-15.15s %-14s -> %-14s %12s %10.2f\n", s, L->name, type, in,
                out, pc, flops / 1e6);
        total_params += params;
        total_flops += flops;
        first = last + 1;
    }
    char pc[32];
    count_with_commas(pc, sizeof pc, total_params);
    fprintf(f, "      %-14s %-15s %-14s    %-14s %12s %10.2f\n", "total", "", "", "", pc,
            total_flops / 1e6);
    fprintf(f, "parameters: %s   forward: %.1f MFLOPs/image (multiply-add = 2)   activation "
               "memory at batch %d: %.0f MiB\n",
            pc, total_flops / 1e6, m->max_batch ? m->max_batch : m->exp->batch_size, (double)m->activation_bytes / (1 << 20));
}
