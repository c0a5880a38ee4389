/* build.c — turns the experiment's layer sections into a graph of primitive
 * nodes: expands composites (conv+BN+activation, residual, inception), infers
 * and checks every shape (errors at the section's file:line), lays out the
 * parameters and plans every buffer once. */
#include <stdlib.h>
#include <string.h>

#include "cnnrun/data.h"
#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"

typedef struct {
    const Experiment *e;
    Model *m;
    int cap;
    int *section_out; /* node index producing each section's output */
} Builder;

static void build_error(const Builder *b, int section, const char *fmt, const char *a,
                        const char *c)
{
    const LayerSpec *L = &b->e->layers[section];
    fprintf(stderr, "%s:%d: [layer.%s]: ", b->e->path, L->line, L->name);
    fprintf(stderr, fmt, a, c);
    fputc('\n', stderr);
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
    const char *base = b->e->layers[section].name;
    if (suffix && *suffix)
        snprintf(n->name, sizeof n->name, "%s.%s", base, suffix);
    else
        snprintf(n->name, sizeof n->name, "%s", base);
    return n;
}

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

static void input_shape(const Builder *b, int idx, int *c, int *h, int *w)
{
    model_tensor_shape(b->m, idx, c, h, w);
}

/* Adds node `op` reading node `src`; returns its index or -1 on a shape error. */
static int add_conv(Builder *b, int section, const char *suffix, int src, int filters, int size,
                    int stride, int pad, bool bias)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    if (h + 2 * pad < size || w + 2 * pad < size) {
        char s[64], k[64];
        shape_str(s, sizeof s, c, h, w);
        snprintf(k, sizeof k, "%dx%d (pad %d)", size, size, pad);
        build_error(b, section, "input %s is smaller than the %s kernel", s, k);
        return -1;
    }
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

static int add_activation(Builder *b, int section, int src, Activation a, float slope)
{
    switch (a) {
    case ACT_NONE: return src;
    case ACT_RELU: return add_unary(b, OP_RELU, section, "relu", src);
    case ACT_GELU: return add_unary(b, OP_GELU, section, "gelu", src);
    case ACT_LEAKY: {
        int i = add_unary(b, OP_LEAKY, section, "leaky", src);
        b->m->nodes[i].slope = slope;
        return i;
    }
    }
    return src;
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
    bool own_bn = L->type == LT_CONV; /* composites use PyTorch's BN defaults */
    if (bn) i = add_bn(b, section, bn_name, i, own_bn ? L->bn_eps : 1e-5f,
                       own_bn ? L->bn_momentum : 0.1f);
    if (act != ACT_NONE) {
        int j = add_activation(b, section, i, act, slope);
        if (prefix) {
            Node *n = &b->m->nodes[j];
            snprintf(n->name, sizeof n->name, "%s.%s.%s", L->name, prefix, op_name(n->op));
        }
        i = j;
    }
    return i;
}

static int add_pool(Builder *b, OpType op, int section, const char *suffix, int src, int size,
                    int stride, int pad)
{
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    if (h + 2 * pad < size || w + 2 * pad < size) {
        char s[64], k[64];
        shape_str(s, sizeof s, c, h, w);
        snprintf(k, sizeof k, "%dx%d", size, size);
        build_error(b, section, "input %s is smaller than the %s pooling window", s, k);
        return -1;
    }
    int i = add_unary(b, op, section, suffix, src);
    Node *n = &b->m->nodes[i];
    n->size = size;
    n->stride = stride;
    n->pad = pad;
    n->h = (h + 2 * pad - size) / stride + 1;
    n->w = (w + 2 * pad - size) / stride + 1;
    return i;
}

static int add_join(Builder *b, OpType op, int section, const char *suffix, const int *srcs,
                    int k)
{
    int c0, h0, w0;
    input_shape(b, srcs[0], &c0, &h0, &w0);
    int ctotal = c0;
    for (int j = 1; j < k; j++) {
        int c, h, w;
        input_shape(b, srcs[j], &c, &h, &w);
        bool ok = op == OP_ADD ? (c == c0 && h == h0 && w == w0) : (h == h0 && w == w0);
        if (!ok) {
            char s0[64], s1[96];
            shape_str(s0, sizeof s0, c0, h0, w0);
            shape_str(s1, sizeof s1, c, h, w);
            build_error(b, section,
                        op == OP_ADD ? "add needs equal shapes, got %s and %s"
                                     : "concat needs equal height and width, got %s and %s",
                        s0, s1);
            return -1;
        }
        ctotal += c;
    }
    Node *n = new_node(b, op, section, suffix);
    n->n_in = k;
    memcpy(n->in, srcs, sizeof(int) * (size_t)k);
    n->c = op == OP_ADD ? c0 : ctotal;
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
    int sum = add_join(b, OP_ADD, s, "add", ins, 2);
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
    return add_join(b, OP_CONCAT, s, "concat", br, 4);
}

static int find_section(const Builder *b, int upto, const char *name)
{
    for (int i = upto - 1; i >= 0; i--)
        if (strcmp(b->e->layers[i].name, name) == 0) return b->section_out[i];
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
                build_error(b, s, "input '%s' is not an earlier layer%s", L->inputs[j], "");
                return -1;
            }
        }
    }
    int src = srcs[0];
    int c, h, w;
    input_shape(b, src, &c, &h, &w);
    switch (L->type) {
    case LT_CONV:
        return add_conv_unit(b, s, NULL, src, L->filters, L->size, L->stride, L->pad, L->bias,
                             L->batchnorm, L->activation, L->leaky_slope);
    case LT_BATCHNORM: return add_bn(b, s, NULL, src, L->bn_eps, L->bn_momentum);
    case LT_RELU: return add_unary(b, OP_RELU, s, NULL, src);
    case LT_GELU: return add_unary(b, OP_GELU, s, NULL, src);
    case LT_LEAKY: {
        int i = add_unary(b, OP_LEAKY, s, NULL, src);
        b->m->nodes[i].slope = L->leaky_slope;
        return i;
    }
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
            build_error(b, s, "linear needs a flat input (Cx1x1), got %s%s; add a global_avgpool "
                              "or flatten layer before it", sh, "");
            return -1;
        }
        int i = add_unary(b, OP_LINEAR, s, NULL, src);
        Node *n = &b->m->nodes[i];
        n->c = L->outputs;
        n->bias = L->bias;
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
    case LT_ADD: return add_join(b, OP_ADD, s, NULL, srcs, k);
    case LT_CONCAT: return add_join(b, OP_CONCAT, s, NULL, srcs, k);
    case LT_RESIDUAL: return expand_residual(b, s, src);
    case LT_INCEPTION: return expand_inception(b, s, src);
    case LT_COUNT: break;
    }
    return -1;
}

/* Backward visits nodes in reverse: the first consumer to reach a tensor's
 * gradient writes it, later ones add. Also finds outputs nobody reads. */
static int plan_gradient_flow(Builder *b)
{
    Model *m = b->m;
    char *written = xcalloc((size_t)m->n_nodes, 1);
    written[m->n_nodes - 1] = 1; /* the loss writes the last node's gradient */
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        Node *n = &m->nodes[i];
        for (int j = 0; j < n->n_in; j++) {
            int p = n->in[j];
            if (p == NODE_INPUT) continue;
            n->in_acc[j] = written[p];
            written[p] = 1;
        }
    }
    int bad = -1;
    for (int i = 0; i < m->n_nodes && bad < 0; i++)
        if (!written[i]) bad = i;
    free(written);
    if (bad >= 0) {
        build_error(b, m->nodes[bad].section,
                    "the output of '%s' is never used: every layer but the last must feed a "
                    "later one%s", m->nodes[bad].name, "");
        return -1;
    }
    return 0;
}

/* Gradient buffers are shared: node i's gradient lives from the backward
 * step of its last consumer (which writes it first) to its own backward step.
 * Walking backward in that order, a buffer freed by one node is reused by
 * the next gradient that fits (best fit); new buffers are made only when
 * none fits. Sets n->dout_slot; returns the number of slots and their sizes
 * (floats per image) in *sizes (caller frees). */
static int plan_gradient_slots(Model *m, size_t **sizes_out)
{
    int n_slots = 0, cap = 16;
    size_t *sizes = xmalloc(sizeof(size_t) * (size_t)cap);
    char *busy = xcalloc((size_t)cap, 1);
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i].dout_slot = -1;
    for (int t = m->n_nodes - 1; t >= 0; t--) {
        Node *n = &m->nodes[t];
        /* the last node's gradient comes from the loss: allocate it first */
        int need[CN_MAX_INPUTS + 1], k = 0;
        if (t == m->n_nodes - 1) need[k++] = t;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] != NODE_INPUT && m->nodes[n->in[j]].dout_slot < 0) need[k++] = n->in[j];
        for (int q = 0; q < k; q++) {
            Node *p = &m->nodes[need[q]];
            if (p->dout_slot >= 0) continue;
            size_t want = (size_t)p->c * p->h * p->w;
            int best = -1;
            for (int s = 0; s < n_slots; s++)
                if (!busy[s] && sizes[s] >= want && (best < 0 || sizes[s] < sizes[best])) best = s;
            if (best < 0) { /* grow the largest free slot, or make a new one */
                for (int s = 0; s < n_slots; s++)
                    if (!busy[s] && (best < 0 || sizes[s] > sizes[best])) best = s;
                if (best < 0) {
                    if (n_slots == cap) {
                        cap *= 2;
                        sizes = xrealloc(sizes, sizeof(size_t) * (size_t)cap);
                        busy = xrealloc(busy, (size_t)cap);
                    }
                    best = n_slots++;
                }
                sizes[best] = want;
            }
            busy[best] = 1;
            p->dout_slot = best;
        }
        /* after node t's backward its own gradient is dead */
        if (n->dout_slot >= 0) busy[n->dout_slot] = 0;
    }
    free(busy);
    *sizes_out = sizes;
    return n_slots;
}

/* A ReLU may overwrite its input when nothing else reads that tensor: the
 * input has this ReLU as its only consumer, is not the network input, and
 * its producer's backward reads its own input, not its output (all ops do;
 * a ReLU producer is left alone). ReLU's backward takes its mask from its
 * output (relu(x) > 0 exactly where x > 0). Saves one activation tensor per
 * conv-BN-ReLU: PyTorch's ReLU(inplace=True). */
static void plan_inplace(Model *m)
{
    int *consumers = xcalloc((size_t)m->n_nodes, sizeof(int));
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) consumers[m->nodes[i].in[k]]++;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        int src = n->in[0];
        n->inplace = n->op == OP_RELU && n->n_in == 1 && src >= 0 && consumers[src] == 1 &&
                     m->nodes[src].op != OP_RELU;
    }
    free(consumers);
}

/* Activation + gradient + saved floats per image. */
static size_t floats_per_image(const Model *m, const size_t *slot_sizes, int n_slots)
{
    size_t total = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const Node *n = &m->nodes[i];
        size_t elems = (size_t)n->c * n->h * n->w;
        if (!n->inplace) total += elems;
        if (n->op == OP_DROPOUT || n->op == OP_MAXPOOL) total += elems;
    }
    for (int s = 0; s < n_slots; s++) total += slot_sizes[s];
    return total;
}

/* Lays out parameters; with max_batch > 0 also allocates every buffer. */
static void plan_memory(Model *m)
{
    size_t np = 0, ns = 0, scratch = 0;
    const size_t B = (size_t)m->max_batch;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        n->w_off = np;
        np += n->w_len;
        n->b_off = np;
        np += n->b_len;
        if (n->op == OP_BATCHNORM) {
            n->s_off = ns;
            ns += 2 * (size_t)n->c;
        }
        if (n->op == OP_CONV && B > 0) {
            int c, h, w;
            model_tensor_shape(m, n->in[0], &c, &h, &w);
            ConvShape cs = {.n = m->max_batch, .h = h, .w = w, .c_in = c, .c_out = n->c,
                            .kh = n->size, .kw = n->size, .stride = n->stride, .pad = n->pad,
                            .threads = m->threads};
            conv_shape_init(&cs);
            size_t need = conv_scratch_floats(&cs);
            if (need > scratch) scratch = need;
        }
    }
    m->n_params = np;
    m->n_state = ns;
    plan_inplace(m);
    size_t *slot_sizes;
    int n_slots = plan_gradient_slots(m, &slot_sizes);
    size_t batch_for_estimate = B > 0 ? B : (size_t)m->exp->batch_size;
    m->activation_bytes =
        floats_per_image(m, slot_sizes, n_slots) * batch_for_estimate * sizeof(float);
    if (B == 0) { /* shapes and counts only (cnnrun check) */
        free(slot_sizes);
        return;
    }
    m->params = alloc_floats(np);
    m->grads = alloc_floats(np);
    m->state = alloc_floats(ns);
    m->n_scratch = scratch;
    m->scratch = alloc_floats(scratch);
    m->n_grad_slots = n_slots;
    m->grad_slots = xcalloc((size_t)n_slots, sizeof(float *));
    for (int s = 0; s < n_slots; s++) m->grad_slots[s] = alloc_floats(B * slot_sizes[s]);
    free(slot_sizes);
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        size_t elems = B * n->c * n->h * n->w;
        n->out = n->inplace ? m->nodes[n->in[0]].out : alloc_floats(elems);
        n->dout = m->grad_slots[n->dout_slot];
        size_t saved = 0;
        if (n->op == OP_BATCHNORM) saved = 2 * (size_t)n->c;
        if (n->op == OP_DROPOUT || n->op == OP_MAXPOOL) saved = elems;
        if (saved) n->saved = alloc_floats(saved);
    }
}

int model_build(const Experiment *e, int max_batch, Model *m)
{
    memset(m, 0, sizeof *m);
    m->exp = e;
    m->max_batch = max_batch;
    m->threads = engine_get_threads();
    m->in_c = 3;
    m->in_h = m->in_w = 32;
    Builder b = {.e = e, .m = m, .cap = 0, .section_out = xcalloc((size_t)e->n_layers, sizeof(int))};
    int rc = 0;
    for (int s = 0; s < e->n_layers && rc == 0; s++) {
        int out = expand_section(&b, s);
        if (out < 0) rc = -1;
        else b.section_out[s] = out;
    }
    if (rc == 0 && (m->n_nodes == 0 || b.section_out[e->n_layers - 1] != m->n_nodes - 1)) {
        fprintf(stderr, "%s: the network has no layers\n", e->path);
        rc = -1;
    }
    if (rc == 0) {
        const Node *last = &m->nodes[m->n_nodes - 1];
        if (last->h != 1 || last->w != 1) {
            char sh[64];
            shape_str(sh, sizeof sh, last->c, last->h, last->w);
            build_error(&b, last->section,
                        "the last layer gives the class scores and must be flat (Cx1x1), got "
                        "%s%s; end with global_avgpool/flatten and linear", sh, "");
            rc = -1;
        } else if (last->c != CIFAR_CLASSES) {
            char sh[64];
            shape_str(sh, sizeof sh, last->c, last->h, last->w);
            build_error(&b, last->section,
                        "the last layer gives the class scores: CIFAR-10 has 10 classes, got "
                        "%s%s (set outputs = 10)", sh, "");
            rc = -1;
        } else {
            m->classes = last->c;
        }
    }
    if (rc == 0) rc = plan_gradient_flow(&b);
    free(b.section_out);
    if (rc != 0) {
        free(m->nodes);
        memset(m, 0, sizeof *m);
        return -1;
    }
    plan_memory(m);
    rng_seed(&m->dropout_rng, 0, 7);
    return 0;
}

void model_free(Model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        if (!m->nodes[i].inplace) free(m->nodes[i].out);
        free(m->nodes[i].saved);
    }
    for (int s = 0; s < m->n_grad_slots; s++) free(m->grad_slots[s]);
    free(m->grad_slots);
    free(m->nodes);
    free(m->params);
    free(m->grads);
    free(m->state);
    free(m->scratch);
    memset(m, 0, sizeof *m);
}

double model_flops_per_image(const Model *m)
{
    double f = 0;
    for (int i = 0; i < m->n_nodes; i++) f += m->nodes[i].flops;
    return f;
}

const char *op_name(OpType op)
{
    static const char *names[] = {"conv", "bn", "relu", "leaky", "gelu", "maxpool", "avgpool",
                                  "global_avgpool", "linear", "dropout", "flatten", "add", "concat"};
    return names[op];
}
