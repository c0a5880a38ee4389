/* onnx.c — the trained network as an ONNX model: one walk over the model's
 * primitive nodes, each written as the ONNX ops that compute what its
 * evaluation-mode forward computes, in NCHW (cnnrun's weights are channels
 * last and are transposed here), with the trained weights and batch-norm
 * running statistics as initialisers and the class names as metadata; the
 * messages are those protoc-c generated from Debian's onnx.proto, serialised
 * by libprotobuf-c. Each op's ONNX form is one row of the table `forms`
 * (its emitter, or why it has none: export then refuses the network). Only
 * this file knows the ONNX op names; docs/export.md lists the mapping. */
#include "cnnrun/export.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/data.h"
#include "cnnrun/util.h"
#include "onnx.pb-c.h"

/* ---- building the messages: everything allocated goes in one list ---- */

typedef struct {
    void **ptrs;
    size_t n_ptrs, cap_ptrs;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const char *half, *one, *inv_sqrt2; /* shared scalar constants, made when first used */
} Builder;

static void *b_alloc(Builder *b, size_t size)
{
    if (b->n_ptrs == b->cap_ptrs) {
        b->cap_ptrs = b->cap_ptrs ? 2 * b->cap_ptrs : 256;
        b->ptrs = xrealloc(b->ptrs, sizeof(void *) * b->cap_ptrs);
    }
    return b->ptrs[b->n_ptrs++] = xcalloc(1, size);
}

static char *b_str(Builder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = b_alloc(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void b_free(Builder *b)
{
    for (size_t i = 0; i < b->n_ptrs; i++) free(b->ptrs[i]);
    free(b->ptrs);
    free(b->nodes);
    free(b->inits);
}

/* A node op_type(inputs...) -> out, named name; returns it for attributes. */
static Onnx__NodeProto *node(Builder *b, const char *op_type, const char *name, const char *out,
                             int n_in, ...)
{
    Onnx__NodeProto *nd = b_alloc(b, sizeof *nd);
    onnx__node_proto__init(nd);
    nd->op_type = (char *)op_type;
    nd->name = (char *)name;
    nd->n_input = (size_t)n_in;
    nd->input = b_alloc(b, sizeof(char *) * (size_t)(n_in ? n_in : 1));
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) nd->input[i] = (char *)va_arg(ap, const char *);
    va_end(ap);
    nd->n_output = 1;
    nd->output = b_alloc(b, sizeof(char *));
    nd->output[0] = (char *)out;
    if (b->n_nodes == b->cap_nodes) {
        b->cap_nodes = b->cap_nodes ? 2 * b->cap_nodes : 64;
        b->nodes = xrealloc(b->nodes, sizeof *b->nodes * b->cap_nodes);
    }
    b->nodes[b->n_nodes++] = nd;
    return nd;
}

static Onnx__AttributeProto *attr(Builder *b, Onnx__NodeProto *nd, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = b_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    nd->attribute = xrealloc(nd->attribute, sizeof *nd->attribute * (nd->n_attribute + 1));
    nd->attribute[nd->n_attribute++] = a;
    return a;
}

static void attr_int(Builder *b, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_float(Builder *b, Onnx__NodeProto *nd, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void attr_ints(Builder *b, Onnx__NodeProto *nd, const char *name, int n, ...)
{
    Onnx__AttributeProto *a = attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)n;
    a->ints = b_alloc(b, sizeof(int64_t) * (size_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) a->ints[i] = (int64_t)va_arg(ap, int);
    va_end(ap);
}

static Onnx__TensorProto *init_tensor(Builder *b, const char *name, int32_t type, int nd,
                                      const int64_t *dims)
{
    Onnx__TensorProto *t = b_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = (size_t)nd;
    t->dims = b_alloc(b, sizeof(int64_t) * (size_t)(nd ? nd : 1));
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)nd);
    if (b->n_inits == b->cap_inits) {
        b->cap_inits = b->cap_inits ? 2 * b->cap_inits : 64;
        b->inits = xrealloc(b->inits, sizeof *b->inits * b->cap_inits);
    }
    b->inits[b->n_inits++] = t;
    return t;
}

/* A float initialiser of the given shape; its data (the product of dims
 * floats) is filled by the caller. */
static float *init_floats(Builder *b, const char *name, int nd, const int64_t *dims)
{
    Onnx__TensorProto *t = init_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, nd, dims);
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    t->n_float_data = n;
    t->float_data = b_alloc(b, sizeof(float) * n);
    return t->float_data;
}

static const char *init_copy(Builder *b, const char *name, const float *src, int nd, ...)
{
    int64_t dims[4];
    va_list ap;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++) dims[i] = va_arg(ap, int64_t);
    va_end(ap);
    float *dst = init_floats(b, name, nd, dims);
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    memcpy(dst, src, sizeof(float) * n);
    return name;
}

static const char *scalar(Builder *b, const char **slot, const char *name, float v)
{
    if (!*slot) {
        init_floats(b, name, 0, NULL)[0] = v;
        *slot = name;
    }
    return *slot;
}

/* ---- the graph ---- */

/* What a cnnrun tensor is called in the graph, and its rank there: 4 (N, C,
 * H, W) or 2 (N, C) after a Flatten or Gemm. */
typedef struct {
    const char *name;
    int rank;
} Tensor;

/* x as (N, C, 1, 1) when it is (N, C): conv and pooling take 4-d tensors */
static Tensor as_4d(Builder *b, Tensor x, int c, const char *prefix)
{
    if (x.rank == 4) return x;
    const char *shape = b_str(b, "%s/shape4", prefix);
    Onnx__TensorProto *t =
        init_tensor(b, shape, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, (int64_t[]){4});
    t->n_int64_data = 4;
    t->int64_data = b_alloc(b, sizeof(int64_t) * 4);
    int64_t v[4] = {0, c, 1, 1}; /* 0: keep N */
    memcpy(t->int64_data, v, sizeof v);
    Tensor y = {b_str(b, "%s/4d", prefix), 4};
    node(b, "Reshape", y.name, y.name, 2, x.name, shape);
    return y;
}

/* x as (N, C*H*W) in cnnrun's element order (channels last): a Transpose to
 * NHWC first unless H = W = 1 */
static Tensor as_2d(Builder *b, Tensor x, int h, int w, const char *prefix, const char *out)
{
    if (x.rank == 2) return x;
    if (h != 1 || w != 1) {
        const char *t = b_str(b, "%s/nhwc", prefix);
        attr_ints(b, node(b, "Transpose", t, t, 1, x.name), "perm", 4, 0, 2, 3, 1);
        x.name = t;
    }
    Tensor y = {out ? out : b_str(b, "%s/flat", prefix), 2};
    attr_int(b, node(b, "Flatten", y.name, y.name, 1, x.name), "axis", 1);
    return y;
}

static void conv_node(Builder *b, const Model *m, const Node *n, Tensor x, const char *out)
{
    int cin, h, w;
    model_tensor_shape(m, n->in[0], &cin, &h, &w);
    const int k = n->size, cout = n->c;
    /* cnnrun (KH, KW, C_in, C_out) -> ONNX (C_out, C_in, KH, KW) */
    const char *wn = b_str(b, "%s.weight", n->name);
    float *dst = init_floats(b, wn, 4, (int64_t[]){cout, cin, k, k});
    const float *src = m->params + n->w_off;
    for (int o = 0; o < cout; o++)
        for (int c = 0; c < cin; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    dst[(((size_t)o * cin + c) * k + ky) * k + kx] =
                        src[(((size_t)ky * k + kx) * cin + c) * cout + o];
    Onnx__NodeProto *nd;
    if (n->b_len)
        nd = node(b, "Conv", n->name, out, 3, x.name, wn,
                  init_copy(b, b_str(b, "%s.bias", n->name), m->params + n->b_off, 1,
                            (int64_t)cout));
    else
        nd = node(b, "Conv", n->name, out, 2, x.name, wn);
    attr_ints(b, nd, "kernel_shape", 2, k, k);
    attr_ints(b, nd, "strides", 2, n->stride, n->stride);
    attr_ints(b, nd, "pads", 4, n->pad, n->pad, n->pad, n->pad);
    attr_ints(b, nd, "dilations", 2, 1, 1);
    attr_int(b, nd, "group", 1);
}

static void pool_node(Builder *b, const Node *n, bool max, Tensor x, const char *out)
{
    Onnx__NodeProto *nd = node(b, max ? "MaxPool" : "AveragePool", n->name, out, 1, x.name);
    attr_ints(b, nd, "kernel_shape", 2, n->size, n->size);
    attr_ints(b, nd, "strides", 2, n->stride, n->stride);
    attr_ints(b, nd, "pads", 4, n->pad, n->pad, n->pad, n->pad);
    /* cnnrun's conventions: floor output size; average pool counts padding */
    attr_int(b, nd, "ceil_mode", 0);
    if (!max) attr_int(b, nd, "count_include_pad", 1);
}

/* x * Phi(x) = x * 0.5 * (1 + erf(x / sqrt 2)): exact GELU, as cnnrun's */
static void gelu_nodes(Builder *b, const Node *n, Tensor x, const char *out)
{
    const char *s = b_str(b, "%s/scaled", n->name), *e = b_str(b, "%s/erf", n->name),
               *p = b_str(b, "%s/1+erf", n->name), *xh = b_str(b, "%s/x*half", n->name);
    node(b, "Mul", s, s, 2, x.name,
         scalar(b, &b->inv_sqrt2, "const/inv_sqrt2", (float)(1.0 / sqrt(2.0))));
    node(b, "Erf", e, e, 1, s);
    node(b, "Add", p, p, 2, e, scalar(b, &b->one, "const/one", 1.0f));
    node(b, "Mul", xh, xh, 2, x.name, scalar(b, &b->half, "const/half", 0.5f));
    node(b, "Mul", n->name, out, 2, xh, p);
}

/* ---- one emitter per op ---- */

/* A node to emit: its inputs' tensors, and whether it is the network's last
 * (its output is then "logits" where the op can name it so). */
typedef struct {
    Builder *b;
    const Model *m;
    const Node *n;
    Tensor in[CN_MAX_INPUTS];
    bool last;
} Emit;

/* What most ops give: a tensor named as the node, of its first input's rank */
static Tensor same_rank(const Emit *e)
{
    return (Tensor){e->n->name, e->in[0].rank};
}

static Tensor emit_conv(const Emit *e)
{
    int c, h, w;
    model_tensor_shape(e->m, e->n->in[0], &c, &h, &w);
    Tensor y = {e->n->name, 4};
    conv_node(e->b, e->m, e->n, as_4d(e->b, e->in[0], c, e->n->name), y.name);
    return y;
}

static Tensor emit_batchnorm(const Emit *e)
{
    Builder *b = e->b;
    const Node *n = e->n;
    const float *rm = e->m->state + n->s_off, *rv = rm + n->c;
    int64_t c = n->c;
    Tensor y = same_rank(e);
    /* one at a time: the initialisers in this order (not the arguments' unspecified one) */
    const char *g = init_copy(b, b_str(b, "%s.weight", n->name), e->m->params + n->w_off, 1, c);
    const char *be = init_copy(b, b_str(b, "%s.bias", n->name), e->m->params + n->b_off, 1, c);
    const char *mean = init_copy(b, b_str(b, "%s.running_mean", n->name), rm, 1, c);
    const char *var = init_copy(b, b_str(b, "%s.running_var", n->name), rv, 1, c);
    Onnx__NodeProto *nd =
        node(b, "BatchNormalization", n->name, y.name, 5, e->in[0].name, g, be, mean, var);
    attr_float(b, nd, "epsilon", n->eps);
    return y;
}

static Tensor emit_relu(const Emit *e)
{
    Tensor y = same_rank(e);
    node(e->b, "Relu", e->n->name, y.name, 1, e->in[0].name);
    return y;
}

static Tensor emit_leaky(const Emit *e)
{
    Tensor y = same_rank(e);
    attr_float(e->b, node(e->b, "LeakyRelu", e->n->name, y.name, 1, e->in[0].name), "alpha",
               e->n->slope);
    return y;
}

static Tensor emit_gelu(const Emit *e)
{
    Tensor y = same_rank(e);
    gelu_nodes(e->b, e->n, e->in[0], y.name);
    return y;
}

/* x * sigmoid(x) */
static Tensor emit_silu(const Emit *e)
{
    Tensor y = same_rank(e);
    const char *s = b_str(e->b, "%s/sigmoid", e->n->name);
    node(e->b, "Sigmoid", s, s, 1, e->in[0].name);
    node(e->b, "Mul", e->n->name, y.name, 2, e->in[0].name, s);
    return y;
}

static Tensor emit_pool(const Emit *e, bool max)
{
    Tensor y = {e->n->name, 4};
    pool_node(e->b, e->n, max, as_4d(e->b, e->in[0], e->n->c, e->n->name), y.name);
    return y;
}

static Tensor emit_maxpool(const Emit *e) { return emit_pool(e, true); }
static Tensor emit_avgpool(const Emit *e) { return emit_pool(e, false); }

static Tensor emit_global_avgpool(const Emit *e)
{
    Tensor y = {e->n->name, 4};
    node(e->b, "GlobalAveragePool", e->n->name, y.name, 1,
         as_4d(e->b, e->in[0], e->n->c, e->n->name).name);
    return y;
}

/* the identity in evaluation */
static Tensor emit_dropout(const Emit *e)
{
    return e->in[0];
}

static Tensor emit_flatten(const Emit *e)
{
    int c, h, w;
    model_tensor_shape(e->m, e->n->in[0], &c, &h, &w);
    return as_2d(e->b, e->in[0], h, w, e->n->name, e->n->name);
}

static Tensor emit_linear(const Emit *e)
{
    Builder *b = e->b;
    const Node *n = e->n;
    int c, h, w;
    model_tensor_shape(e->m, n->in[0], &c, &h, &w);
    Tensor x = as_2d(b, e->in[0], h, w, n->name, NULL);
    Tensor y = {e->last ? "logits" : n->name, 2};
    const char *g = n->scale != 1.0f ? b_str(b, "%s/gemm", n->name) : y.name;
    /* cnnrun's weight is (in, out): Gemm's B untransposed */
    const char *wn = init_copy(b, b_str(b, "%s.weight", n->name), e->m->params + n->w_off, 2,
                               (int64_t)c, (int64_t)n->c);
    if (n->b_len)
        node(b, "Gemm", g, g, 3, x.name, wn,
             init_copy(b, b_str(b, "%s.bias", n->name), e->m->params + n->b_off, 1,
                       (int64_t)n->c));
    else
        node(b, "Gemm", g, g, 2, x.name, wn);
    if (n->scale != 1.0f) { /* out = scale * (x W + b), as cnnrun computes it */
        const char *s = b_str(b, "%s.scale", n->name);
        init_floats(b, s, 0, NULL)[0] = n->scale;
        node(b, "Mul", b_str(b, "%s/scale", n->name), y.name, 2, g, s);
    }
    return y;
}

/* add or concat: equal shapes (add) or equal H, W (concat); a (N, C) input
 * next to (N, C, 1, 1) ones is brought to rank 4 */
static Tensor emit_join(const Emit *e, const char *op, bool concat)
{
    Builder *b = e->b;
    const Node *n = e->n;
    int rank = 2;
    for (int j = 0; j < n->n_in; j++)
        if (e->in[j].rank == 4) rank = 4;
    Tensor y = {n->name, rank};
    Onnx__NodeProto *nd = node(b, op, n->name, y.name, 0);
    nd->n_input = (size_t)n->n_in;
    nd->input = b_alloc(b, sizeof(char *) * (size_t)n->n_in);
    for (int j = 0; j < n->n_in; j++) {
        int c = n->in[j] == NODE_INPUT ? e->m->in_c : e->m->nodes[n->in[j]].c;
        Tensor x = rank == 4 ? as_4d(b, e->in[j], c, b_str(b, "%s/in%d", n->name, j)) : e->in[j];
        nd->input[j] = (char *)x.name;
    }
    if (concat) attr_int(b, nd, "axis", 1);
    /* the Reshape nodes as_4d added went after this node: move it last */
    for (size_t k = 0; k + 1 < b->n_nodes; k++)
        if (b->nodes[k] == nd) {
            memmove(b->nodes + k, b->nodes + k + 1, sizeof nd * (b->n_nodes - k - 1));
            b->nodes[b->n_nodes - 1] = nd;
            break;
        }
    return y;
}

static Tensor emit_add(const Emit *e)
{
    return emit_join(e, e->n->n_in == 2 ? "Add" : "Sum", false);
}

static Tensor emit_concat(const Emit *e)
{
    return emit_join(e, "Concat", true);
}

/* ---- the table: each op's ONNX form ---- */

/* An op's row: the emitter that writes a node of it as ONNX ops and returns
 * its output's tensor, or (emit NULL) why it has none, which export then
 * says when it refuses a network with it. A forgotten row has neither:
 * test_onnx_table_complete fails. */
typedef struct {
    Tensor (*emit)(const Emit *e);
    const char *not_exportable;
} OnnxForm;

static const OnnxForm forms[OP_COUNT] = {
    [OP_CONV] = {emit_conv, NULL},
    [OP_BATCHNORM] = {emit_batchnorm, NULL},
    [OP_RELU] = {emit_relu, NULL},
    [OP_LEAKY] = {emit_leaky, NULL},
    [OP_GELU] = {emit_gelu, NULL},
    [OP_MAXPOOL] = {emit_maxpool, NULL},
    [OP_AVGPOOL] = {emit_avgpool, NULL},
    [OP_GLOBAL_AVGPOOL] = {emit_global_avgpool, NULL},
    [OP_LINEAR] = {emit_linear, NULL},
    [OP_DROPOUT] = {emit_dropout, NULL},
    [OP_FLATTEN] = {emit_flatten, NULL},
    [OP_ADD] = {emit_add, NULL},
    [OP_CONCAT] = {emit_concat, NULL},
    [OP_SILU] = {emit_silu, NULL},
};

int onnx_op_form(OpType op, const char **why)
{
    if ((unsigned)op >= OP_COUNT) {
        *why = "an op this cnnrun does not know";
        return 0;
    }
    if (forms[op].emit) return 1;
    *why = forms[op].not_exportable ? forms[op].not_exportable
                                    : "its row in the ONNX table (src/export/onnx.c) is missing";
    return 0;
}

const Node *onnx_unexportable(const Model *m, const char **why)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (!onnx_op_form(m->nodes[i].op, why)) return &m->nodes[i];
    return NULL;
}

/* The output of node i, emitted; t[] holds the inputs' tensors. */
static Tensor emit(Builder *b, const Model *m, int i, const Tensor *t, bool last)
{
    const Node *n = &m->nodes[i];
    Emit e = {.b = b, .m = m, .n = n, .last = last};
    for (int j = 0; j < n->n_in; j++)
        e.in[j] = n->in[j] == NODE_INPUT ? t[m->n_nodes] : t[n->in[j]];
    return forms[n->op].emit(&e);
}

static Onnx__ValueInfoProto *value_info(Builder *b, const char *name, int nd, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = b_alloc(b, sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    Onnx__TypeProto *tp = b_alloc(b, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = b_alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *sh = b_alloc(b, sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)nd;
    sh->dim = b_alloc(b, sizeof *sh->dim * (size_t)nd);
    for (int i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = b_alloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) { /* the batch: any size */
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = "N";
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        sh->dim[i] = d;
    }
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    return v;
}

static Onnx__StringStringEntryProto *entry(Builder *b, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = b_alloc(b, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)key;
    e->value = (char *)value;
    return e;
}

const char *onnx_reserved_name(const Model *m)
{
    static const char *const own[] = {"input", "normalized", "logits", "output"};
    for (int i = 0; i < m->n_nodes; i++) {
        const char *name = m->nodes[i].name;
        if (strncmp(name, "normalize", 9) == 0 && (name[9] == '.' || name[9] == '/'))
            return name;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            if (strcmp(name, own[k]) == 0) return name;
    }
    return NULL;
}

void *onnx_export_buffer(const Model *m, const OnnxExportInfo *info, size_t *len)
{
    const char *why;
    if (onnx_unexportable(m, &why)) {
        *len = 0;
        return NULL;
    }
    Builder b = {0};
    Tensor *t = xcalloc((size_t)m->n_nodes + 1, sizeof *t);
    t[m->n_nodes] = (Tensor){"input", 4}; /* the network's input (NODE_INPUT) */
    if (info->normalize) { /* (x - mean) / std per channel, as cifar_make_batch */
        const char *mean = init_copy(&b, "normalize.mean", info->mean ? info->mean : cifar_mean,
                                     4, (int64_t)1, (int64_t)3, (int64_t)1, (int64_t)1);
        const char *std = init_copy(&b, "normalize.std", info->std ? info->std : cifar_std, 4,
                                    (int64_t)1, (int64_t)3, (int64_t)1, (int64_t)1);
        node(&b, "Sub", "normalize/sub", "normalize/centred", 2, "input", mean);
        node(&b, "Div", "normalize/div", "normalized", 2, "normalize/centred", std);
        t[m->n_nodes].name = "normalized";
    }
    for (int i = 0; i < m->n_nodes; i++) t[i] = emit(&b, m, i, t, i == m->n_nodes - 1);
    Tensor last = t[m->n_nodes - 1];
    if (strcmp(last.name, "logits") != 0) {
        const Node *n = &m->nodes[m->n_nodes - 1];
        if (last.rank == 4) as_2d(&b, last, n->h, n->w, "output", "logits");
        else node(&b, "Identity", "output", "logits", 1, last.name);
    }
    free(t);

    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = (char *)info->experiment;
    graph.n_node = b.n_nodes;
    graph.node = b.nodes;
    graph.n_initializer = b.n_inits;
    graph.initializer = b.inits;
    Onnx__ValueInfoProto *in = value_info(&b, "input", 4, (int64_t[]){-1, m->in_c, m->in_h, m->in_w});
    Onnx__ValueInfoProto *out = value_info(&b, "logits", 2, (int64_t[]){-1, m->classes});
    graph.n_input = 1;
    graph.input = &in;
    graph.n_output = 1;
    graph.output = &out;
    graph.doc_string = info->normalize
        ? "input: RGB in [0, 1], NCHW, any batch size; normalised by the first two nodes "
          "(the run's per-channel mean and std); output: logits (softmax gives the "
          "probabilities)"
        : "input: RGB in [0, 1], NCHW, any batch size (no normalisation: [data] normalize = "
          "none); output: logits (softmax gives the probabilities)";

    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    opset.domain = "";
    opset.has_version = 1;
    opset.version = ONNX_OPSET;
    Onnx__OperatorSetIdProto *opsets[] = {&opset};

    size_t names_len = 1;
    for (int c = 0; c < m->classes; c++) names_len += strlen(info->class_names[c]) + 1;
    char *names = b_alloc(&b, names_len);
    for (int c = 0; c < m->classes; c++) {
        if (c) strcat(names, ",");
        strcat(names, info->class_names[c]);
    }
    Onnx__StringStringEntryProto *meta[] = {
        entry(&b, "class_names", names),
        entry(&b, "input", "RGB in [0, 1], NCHW (N, 3, 32, 32)"),
        entry(&b, "experiment", info->experiment),
        entry(&b, "weights", info->source ? info->source : "")};

    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1;
    model.ir_version = ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "cnnrun";
    model.producer_version = CN_VERSION;
    model.has_model_version = 1;
    model.model_version = 1;
    model.doc_string = b_str(&b, "%s, exported by cnnrun %s from %s", info->experiment,
                             CN_VERSION, info->source ? info->source : "initial weights");
    model.graph = &graph;
    model.n_metadata_props = sizeof meta / sizeof *meta;
    model.metadata_props = meta;

    *len = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = xmalloc(*len);
    onnx__model_proto__pack(&model, buf);
    for (size_t i = 0; i < b.n_nodes; i++) free(b.nodes[i]->attribute);
    b_free(&b);
    return buf;
}

int onnx_export(const Model *m, const OnnxExportInfo *info, const char *path)
{
    const char *why;
    const Node *n = onnx_unexportable(m, &why);
    if (n) { /* at its section's line, as the builder's errors */
        const Experiment *e = m->exp;
        if (e && n->section >= 0 && n->section < e->n_layers)
            fprintf(stderr, "%s:%d: [layer.%s]: ", e->path, e->layers[n->section].line,
                    e->layers[n->section].name);
        fprintf(stderr, "cannot export to ONNX: node '%s' (op %s) has no ONNX form: %s; nothing "
                        "was written\n", n->name, op_name(n->op), why);
        return -1;
    }
    size_t len;
    void *buf = onnx_export_buffer(m, info, &len);
    int rc = write_file_atomic(path, FILE_ONNX, buf, len, "the ONNX model");
    free(buf);
    return rc;
}

const char *onnx_protobuf_c_version(void)
{
    return protobuf_c_version();
}
