/* expand.c — the experiment's layer sections as a graph of primitive nodes:
 * composites (conv+BN+activation, residual, inception) become the nodes their
 * written-out form would, plain element-wise types take their op from the op
 * table; every shape is inferred and checked here, errors at the section's
 * file:line. */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cnnrun/data.h"
#include "cnnrun/util.h"
#include "graph.h"
#include "ops.h"

typedef struct {
    const Experiment *e;
    Model *m;
    int cap;
    int *section_out; /* node index producing each section's output */
    struct NamedSection *by_name; /* the sections sorted by (name, index), for inputs */
} Builder;

struct NamedSection {
    const char *name;
    int index;
};

static int cmp_named(const void *a, const void *b)
{
    const struct NamedSection *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static void shape_str(char *buf, size_t n, int c, int h, int w)
{
    snprintf(buf, n, "%dx%dx%d (CxHxW)", c, h, w);
}

static Node *new_node(Builder *b, OpType op, int section, const char *suffix)
{
    Model *m = b->m;
    if (m->n_nodes == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        m->nodes = xrealloc(m->nodes, sizeof(Node) * (size_t)b->cap);
    }
    Node *n = &m->nodes[m->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->section = section;
    n->scale = 1.0f;
    const char *base = b->e->layers[section].name;
    if (suffix && *suffix)
        snprintf(n->name, sizeof n->name, "%s.%s", base, suffix);
    else
        snprintf(n->name, sizeof n->name, "%s", base);
    return n;
}

static void input_shape(const Builder *b, int idx, int *c, int *h, int *w)
{
    model_tensor_shape(b->m, idx, c, h, w);
}

/* A size x size window (conv kernel or pooling window, padded by pad) fits
 * node src's output; otherwise the error at the section's line and 0. */
static int window_fits(const Builder *b, int section, int src, int size, int pad,
                       bool conv)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    if (h + 2 * pad >= size && w + 2 * pad >= size) return 1;
    char s[64], k[64];
    shape_str(s, sizeof s, c, h, w);
    if (conv)
        snprintf(k, sizeof k, "%dx%d (pad %d) kernel", size, size, pad);
    else
        snprintf(k, sizeof k, "%dx%d pooling window", size, size);
    model_error(b->e, section, "input %s is smaller than the %s", s, k);
    return 0;
}

/* Adds a conv node reading node `src`; returns its index or -1 on a shape error. */
static int add_conv(Builder *b, int section, const char *suffix, int src, int filters, int size,
                    int stride, int pad, bool bias)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    if (!window_fits(b, section, src, size, pad, true)) return -1;
    Node *n = new_node(b, OP_CONV, section, suffix);
    n->n_in = 1;
    n->in[0] = src;
    n->size = size;
    n->stride = stride;
    n->pad = pad;
    n->bias = bias;
    n->c = filters;
    n->h = (h + 2 * pad - size) / stride + 1;
    n->w = (w + 2 * pad - size) / stride + 1;
    n->w_len = (size_t)size * size * c * filters;
    n->b_len = bias ? (size_t)filters : 0;
    n->flops = 2.0 * (double)n->w_len * n->h * n->w;
    return b->m->n_nodes - 1;
}

static int add_unary(Builder *b, OpType op, int section, const char *suffix, int src)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    Node *n = new_node(b, op, section, suffix);
    n->n_in = 1;
    n->in[0] = src;
    n->c = c;
    n->h = h;
    n->w = w;
    return b->m->n_nodes - 1;
}

static int add_bn(Builder *b, int section, const char *suffix, int src, float eps, float momentum)
{
    int i = add_unary(b, OP_BATCHNORM, section, suffix, src);
    Node *n = &b->m->nodes[i];
    n->eps = eps;
    n->momentum = momentum;
    n->w_len = n->b_len = (size_t)n->c;
    return i;
}

/* The op of a plain element-wise layer type (by_activation 0) or conv
 * activation (1), from the op table; -1: none. */
static int elementwise_op(int value, int by_activation)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const OpInfo *info = op_info((OpType)op);
        if ((by_activation ? info->activation : info->layer_type) == value) return op;
    }
    return -1;
}

static int add_elementwise(Builder *b, OpType op, int section, const char *suffix, int src,
                           float slope)
{
    int i = add_unary(b, op, section, suffix, src);
    b->m->nodes[i].slope = slope; /* read by the ops that have one (leaky) */
    return i;
}

/* conv (+ BN) (+ activation), the unit of VGG, ResNet and Inception. */
static int add_conv_unit(Builder *b, int section, const char *prefix, int src, int filters,
                         int size, int stride, int pad, bool bias, bool bn, Activation act,
                         float slope)
{
    const LayerSpec *L = &b->e->layers[section];
    char conv_name[CN_NAME_MAX], bn_name[CN_NAME_MAX];
    snprintf(conv_name, sizeof conv_name, "%s", prefix ? prefix : "");
    snprintf(bn_name, sizeof bn_name, "%s%sbn", prefix ? prefix : "", prefix ? "." : "");
    int i = add_conv(b, section, conv_name, src, filters, size, stride, pad, bias);
    if (i < 0) return -1;
    bool own = L->type == LT_CONV; /* composites use PyTorch's defaults */
    if (own) {
        Node *n = &b->m->nodes[i];
        n->init = (int)L->conv_init;
        n->init_eps = L->whiten_eps;
        n->init_images = L->whiten_images;
    }
    if (bn) i = add_bn(b, section, bn_name, i, own ? L->bn_eps : 1e-5f,
                       own ? L->bn_momentum : 0.1f);
    int op = act == ACT_NONE ? -1 : elementwise_op(act, 1);
    if (op >= 0) {
        i = add_elementwise(b, (OpType)op, section, op_name((OpType)op), i, slope);
        if (prefix) {
            Node *n = &b->m->nodes[i];
            snprintf(n->name, sizeof n->name, "%s.%s.%s", L->name, prefix, op_name(n->op));
        }
    }
    return i;
}

static int add_pool(Builder *b, OpType op, int section, const char *suffix, int src, int size,
                    int stride, int pad)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    if (!window_fits(b, section, src, size, pad, false)) return -1;
    int i = add_unary(b, op, section, suffix, src);
    Node *n = &b->m->nodes[i];
    n->size = size;
    n->stride = stride;
    n->pad = pad;
    n->h = (h + 2 * pad - size) / stride + 1;
    n->w = (w + 2 * pad - size) / stride + 1;
    return i;
}

/* add (same shapes) or, with concat, channel concatenation (same height and width) */
static int add_join(Builder *b, bool concat, int section, const char *suffix, const int *srcs,
                    int k)
{
    OpType op = concat ? OP_CONCAT : OP_ADD;
    int c0, h0, w0;
    input_shape(b, srcs[0], &c0, &h0, &w0);
    int ctotal = c0;
    for (int j = 1; j < k; j++) {
        int c, h, w;
        input_shape(b, srcs[j], &c, &h, &w);
        bool ok = h == h0 && w == w0 && (concat || c == c0);
        if (!ok) {
            char s0[64], s1[96];
            shape_str(s0, sizeof s0, c0, h0, w0);
            shape_str(s1, sizeof s1, c, h, w);
            model_error(b->e, section, "%s needs %s, got %s and %s", op_name(op),
                        concat ? "equal height and width" : "equal shapes", s0, s1);
            return -1;
        }
        ctotal += c;
    }
    Node *n = new_node(b, op, section, suffix);
    n->n_in = k;
    memcpy(n->in, srcs, sizeof(int) * (size_t)k);
    n->c = concat ? ctotal : c0;
    n->h = h0;
    n->w = w0;
    return b->m->n_nodes - 1;
}

static int expand_residual(Builder *b, int s, int src)
{
    const LayerSpec *L = &b->e->layers[s];
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    int a = add_conv_unit(b, s, "conv1", src, L->filters, 3, L->stride, 1, false, true, ACT_RELU, 0);
    if (a < 0) return -1;
    a = add_conv_unit(b, s, "conv2", a, L->filters, 3, 1, 1, false, true, ACT_NONE, 0);
    int shortcut = src;
    if (L->stride != 1 || c != L->filters) {
        shortcut = add_conv_unit(b, s, "shortcut", src, L->filters, 1, L->stride, 0, false, true,
                                 ACT_NONE, 0);
        if (shortcut < 0) return -1;
    }
    int ins[2] = {a, shortcut};
    int sum = add_join(b, false, s, "add", ins, 2);
    if (sum < 0) return -1;
    return add_unary(b, OP_RELU, s, "relu", sum);
}

static int expand_inception(Builder *b, int s, int src)
{
    const LayerSpec *L = &b->e->layers[s];
    int br[4];
    br[0] = add_conv_unit(b, s, "b1", src, L->n1x1, 1, 1, 0, true, true, ACT_RELU, 0);
    int t = add_conv_unit(b, s, "b2a", src, L->n3x3_reduce, 1, 1, 0, true, true, ACT_RELU, 0);
    br[1] = add_conv_unit(b, s, "b2b", t, L->n3x3, 3, 1, 1, true, true, ACT_RELU, 0);
    t = add_conv_unit(b, s, "b3a", src, L->n5x5_reduce, 1, 1, 0, true, true, ACT_RELU, 0);
    t = add_conv_unit(b, s, "b3b", t, L->n5x5, 3, 1, 1, true, true, ACT_RELU, 0);
    br[2] = add_conv_unit(b, s, "b3c", t, L->n5x5, 3, 1, 1, true, true, ACT_RELU, 0);
    t = add_pool(b, OP_MAXPOOL, s, "b4pool", src, 3, 1, 1);
    if (t < 0) return -1;
    br[3] = add_conv_unit(b, s, "b4", t, L->pool_proj, 1, 1, 0, true, true, ACT_RELU, 0);
    for (int i = 0; i < 4; i++)
        if (br[i] < 0) return -1;
    return add_join(b, true, s, "concat", br, 4);
}

/* The output of the last section named name before section upto, or -2: a
 * binary search (a scan per input made deep networks quadratic to build). */
static int find_section(const Builder *b, int upto, const char *name)
{
    struct NamedSection key = {name, upto};
    int lo = 0, hi = b->e->n_layers; /* the first entry >= (name, upto) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cmp_named(&b->by_name[mid], &key) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo > 0 && strcmp(b->by_name[lo - 1].name, name) == 0)
        return b->section_out[b->by_name[lo - 1].index];
    return -2;
}

static int expand_section(Builder *b, int s)
{
    const LayerSpec *L = &b->e->layers[s];
    int srcs[CN_MAX_INPUTS];
    int k = L->n_inputs;
    if (k == 0) {
        srcs[0] = s == 0 ? NODE_INPUT : b->section_out[s - 1];
        k = 1;
    } else {
        for (int j = 0; j < k; j++) {
            srcs[j] = find_section(b, s, L->inputs[j]);
            if (srcs[j] == -2) { /* the parser checks this too; keep the builder safe */
                model_error(b->e, s, "input '%s' is not an earlier layer", L->inputs[j]);
                return -1;
            }
        }
    }
    int src = srcs[0];
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    int op = elementwise_op(L->type, 0);
    if (op >= 0) return add_elementwise(b, (OpType)op, s, NULL, src, L->leaky_slope);
    switch (L->type) {
    case LT_CONV:
        return add_conv_unit(b, s, NULL, src, L->filters, L->size, L->stride, L->pad, L->bias,
                             L->batchnorm, L->activation, L->leaky_slope);
    case LT_BATCHNORM: return add_bn(b, s, NULL, src, L->bn_eps, L->bn_momentum);
    case LT_MAXPOOL: return add_pool(b, OP_MAXPOOL, s, NULL, src, L->size, L->stride, L->pad);
    case LT_AVGPOOL: return add_pool(b, OP_AVGPOOL, s, NULL, src, L->size, L->stride, L->pad);
    case LT_GLOBAL_AVGPOOL: {
        int i = add_unary(b, OP_GLOBAL_AVGPOOL, s, NULL, src);
        b->m->nodes[i].h = b->m->nodes[i].w = 1;
        return i;
    }
    case LT_FLATTEN: {
        int i = add_unary(b, OP_FLATTEN, s, NULL, src);
        Node *n = &b->m->nodes[i];
        n->c = c * h * w;
        n->h = n->w = 1;
        return i;
    }
    case LT_LINEAR: {
        if (h != 1 || w != 1) {
            char sh[64];
            shape_str(sh, sizeof sh, c, h, w);
            model_error(b->e, s, "linear needs a flat input (Cx1x1), got %s; add a global_avgpool "
                                 "or flatten layer before it", sh);
            return -1;
        }
        int i = add_unary(b, OP_LINEAR, s, NULL, src);
        Node *n = &b->m->nodes[i];
        n->c = L->outputs;
        n->bias = L->bias;
        n->init = (int)L->linear_init;
        n->scale = L->scale;
        n->w_len = (size_t)c * L->outputs;
        n->b_len = L->bias ? (size_t)L->outputs : 0;
        n->flops = 2.0 * (double)n->w_len;
        return i;
    }
    case LT_DROPOUT: {
        int i = add_unary(b, OP_DROPOUT, s, NULL, src);
        b->m->nodes[i].probability = L->probability;
        return i;
    }
    case LT_ADD: return add_join(b, false, s, NULL, srcs, k);
    case LT_CONCAT: return add_join(b, true, s, NULL, srcs, k);
    case LT_RESIDUAL: return expand_residual(b, s, src);
    case LT_INCEPTION: return expand_inception(b, s, src);
    default: break; /* the element-wise types, above */
    }
    model_error(b->e, s, "layer type '%s' has no expansion", layer_type_name(L->type));
    return -1;
}

/* The last node gives the class scores: flat, one per class of the data
 * (Experiment.classes; 0: not known yet, not checked). */
static int check_scores(const Builder *b)
{
    const Model *m = b->m;
    if (m->n_nodes == 0 || b->section_out[b->e->n_layers - 1] != m->n_nodes - 1) {
        fprintf(stderr, "%s: the network has no layers\n", b->e->path);
        return -1;
    }
    const Node *last = &m->nodes[m->n_nodes - 1];
    char sh[64];
    shape_str(sh, sizeof sh, last->c, last->h, last->w);
    if (last->h != 1 || last->w != 1) {
        model_error(b->e, last->section,
                    "the last layer gives the class scores and must be flat (Cx1x1), got %s; end "
                    "with global_avgpool/flatten and linear", sh);
        return -1;
    }
    const int classes = b->e->classes;
    if (classes > 0 && last->c != classes) {
        model_error(b->e, last->section,
                    "the network ends in %d outputs; the data has %d classes (%s%s; set outputs "
                    "= %d)", last->c, classes, b->e->dataset,
                    !strcmp(b->e->dataset, "cifar100") ? (b->e->label_coarse ? ", label = coarse"
                                                                              : ", label = fine")
                                                        : "",
                    classes);
        return -1;
    }
    return 0;
}

int model_expand(Model *m)
{
    const Experiment *e = m->exp;
    Builder b = {.e = e, .m = m, .cap = 0, .section_out = xcalloc((size_t)e->n_layers, sizeof(int))};
    b.by_name = xmalloc(sizeof *b.by_name * (size_t)(e->n_layers ? e->n_layers : 1));
    for (int s = 0; s < e->n_layers; s++)
        b.by_name[s] = (struct NamedSection){e->layers[s].name, s};
    qsort(b.by_name, (size_t)e->n_layers, sizeof *b.by_name, cmp_named);
    int rc = 0;
    for (int s = 0; s < e->n_layers && rc == 0; s++) {
        int out = expand_section(&b, s);
        if (out < 0) rc = -1;
        else b.section_out[s] = out;
    }
    for (int i = 0; i < m->n_nodes && rc == 0; i++) { /* each op's own rules (ops.c) */
        const OpInfo *op = op_info(m->nodes[i].op);
        char err[512];
        if (op->check && op->check(m, &m->nodes[i], err, sizeof err) != 0) {
            model_error(e, m->nodes[i].section, "%s", err);
            rc = -1;
        }
    }
    if (rc == 0) rc = check_scores(&b);
    if (rc == 0) m->classes = m->nodes[m->n_nodes - 1].c;
    free(b.section_out);
    free(b.by_name);
    return rc;
}
