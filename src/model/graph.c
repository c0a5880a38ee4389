/* graph.c — what every step of the model asks of the graph and of the
 * experiment it came from, at the bottom of src/model (it calls nothing
 * there): the shape of a node's output or of the network's input, and an
 * error printed at a section's file:line. */
#include "graph.h"

#include <stdarg.h>
#include <stdio.h>

void model_tensor_shape(const Model *m, int idx, int *c, int *h, int *w)
{
    if (idx == NODE_INPUT) {
        *c = m->in_c;
        *h = m->in_h;
        *w = m->in_w;
    } else {
        const Node *n = &m->nodes[idx];
        *c = n->c;
        *h = n->h;
        *w = n->w;
    }
}

void model_error(const Experiment *e, int section, const char *fmt, ...)
{
    const LayerSpec *L = &e->layers[section];
    fprintf(stderr, "%s:%d: [layer.%s]: ", e->path, L->line, L->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
