/* run.c — forward and backward passes over the planned graph: each node calls
 * its kernel (src/engine) on the buffers model_build laid out. */
#include <string.h>

#include "cnnrun/kernels.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"

static const float *node_input(const Model *m, const Node *n, int j, const float *input)
{
    return n->in[j] == NODE_INPUT ? input : m->nodes[n->in[j]].out;
}

static float *node_dinput(const Model *m, const Node *n, int j)
{
    return n->in[j] == NODE_INPUT ? NULL : m->nodes[n->in[j]].dout;
}

static void in_shape(const Model *m, const Node *n, int *c, int *h, int *w)
{
    model_tensor_shape(m, n->in[0], c, h, w);
}

static ConvShape conv_shape(const Model *m, const Node *n, int batch)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    ConvShape s = {.n = batch, .h = h, .w = w, .c_in = c, .c_out = n->c, .kh = n->size,
                   .kw = n->size, .stride = n->stride, .pad = n->pad, .threads = m->threads};
    conv_shape_init(&s);
    return s;
}

static PoolShape pool_shape(const Model *m, const Node *n, int batch)
{
    int c, h, w;
    in_shape(m, n, &c, &h, &w);
    PoolShape s = {.n = batch, .h = h, .w = w, .c = c, .size = n->size, .stride = n->stride,
                   .pad = n->pad};
    pool_shape_init(&s);
    return s;
}

void model_forward(Model *m, const float *input, int batch, bool training)
{
    for (int i = 0; i < m->n_nodes; i++) {
        double t0 = m->node_seconds ? now_seconds() : 0;
        Node *n = &m->nodes[i];
        const float *x = node_input(m, n, 0, input);
        const float *P = m->params;
        size_t count = (size_t)batch * n->c * n->h * n->w;
        switch (n->op) {
        case OP_CONV: {
            ConvShape s = conv_shape(m, n, batch);
            conv_forward(&s, x, P + n->w_off, n->b_len ? P + n->b_off : NULL, n->out, m->scratch);
            break;
        }
        case OP_BATCHNORM: {
            int rows = batch * n->h * n->w;
            float *rm = m->state + n->s_off, *rv = rm + n->c;
            if (training)
                batchnorm_forward_train(rows, n->c, x, P + n->w_off, P + n->b_off, n->out, n->saved,
                                        n->saved + n->c, rm, rv, n->momentum, n->eps);
            else
                batchnorm_forward_eval(rows, n->c, x, P + n->w_off, P + n->b_off, n->out, rm, rv,
                                       n->eps);
            break;
        }
        case OP_RELU: relu_forward(count, x, n->out); break;
        case OP_LEAKY: leaky_forward(count, n->slope, x, n->out); break;
        case OP_GELU: gelu_forward(count, x, n->out); break;
        case OP_MAXPOOL: {
            PoolShape s = pool_shape(m, n, batch);
            maxpool_forward(&s, x, n->out, (int32_t *)n->saved);
            break;
        }
        case OP_AVGPOOL: {
            PoolShape s = pool_shape(m, n, batch);
            avgpool_forward(&s, x, n->out);
            break;
        }
        case OP_GLOBAL_AVGPOOL: {
            int c, h, w;
            in_shape(m, n, &c, &h, &w);
            global_avgpool_forward(batch, h * w, c, x, n->out);
            break;
        }
        case OP_LINEAR: {
            int c, h, w;
            in_shape(m, n, &c, &h, &w);
            linear_forward(batch, c, n->c, x, P + n->w_off, n->b_len ? P + n->b_off : NULL,
                           n->out);
            break;
        }
        case OP_DROPOUT:
            if (training) {
                float keep = 1.0f - n->probability, scale = 1.0f / keep;
                for (size_t k = 0; k < count; k++)
                    n->saved[k] = rng_uniform(&m->dropout_rng) < keep ? scale : 0.0f;
                dropout_forward(count, x, n->saved, n->out);
            } else {
                memcpy(n->out, x, sizeof(float) * count);
            }
            break;
        case OP_FLATTEN: memcpy(n->out, x, sizeof(float) * count); break;
        case OP_ADD:
        case OP_CONCAT: {
            const float *ins[CN_MAX_INPUTS];
            int cs[CN_MAX_INPUTS];
            for (int j = 0; j < n->n_in; j++) {
                ins[j] = node_input(m, n, j, input);
                cs[j] = n->in[j] == NODE_INPUT ? m->in_c : m->nodes[n->in[j]].c;
            }
            if (n->op == OP_ADD)
                add_forward(count, n->n_in, ins, n->out);
            else
                concat_forward((size_t)batch * n->h * n->w, n->n_in, cs, ins, n->out);
            break;
        }
        }
        if (m->node_seconds) m->node_seconds[i] += now_seconds() - t0;
    }
}

float *model_logits(Model *m)
{
    return m->nodes[m->n_nodes - 1].out;
}

float *model_dlogits(Model *m)
{
    return m->nodes[m->n_nodes - 1].dout;
}

void model_zero_grad(Model *m)
{
    memset(m->grads, 0, sizeof(float) * m->n_params);
}

void model_backward(Model *m, const float *input, int batch)
{
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        double t0 = m->node_seconds ? now_seconds() : 0;
        Node *n = &m->nodes[i];
        const float *x = node_input(m, n, 0, input);
        float *dx = node_dinput(m, n, 0);
        int acc = n->in_acc[0];
        const float *P = m->params;
        float *G = m->grads;
        size_t count = (size_t)batch * n->c * n->h * n->w;
        switch (n->op) {
        case OP_CONV: {
            ConvShape s = conv_shape(m, n, batch);
            conv_backward(&s, x, P + n->w_off, n->dout, dx, acc, G + n->w_off,
                          n->b_len ? G + n->b_off : NULL, m->scratch);
            break;
        }
        case OP_BATCHNORM:
            batchnorm_backward(batch * n->h * n->w, n->c, x, P + n->w_off, n->saved,
                               n->saved + n->c, n->dout, dx, acc, G + n->w_off, G + n->b_off);
            break;
        case OP_RELU:
            if (dx) relu_backward(count, n->out, n->dout, dx, acc); /* mask from the output */
            break;
        case OP_LEAKY:
            if (dx) leaky_backward(count, n->slope, x, n->dout, dx, acc);
            break;
        case OP_GELU:
            if (dx) gelu_backward(count, x, n->dout, dx, acc);
            break;
        case OP_MAXPOOL:
            if (dx) {
                PoolShape s = pool_shape(m, n, batch);
                maxpool_backward(&s, (const int32_t *)n->saved, n->dout, dx, acc);
            }
            break;
        case OP_AVGPOOL:
            if (dx) {
                PoolShape s = pool_shape(m, n, batch);
                avgpool_backward(&s, n->dout, dx, acc);
            }
            break;
        case OP_GLOBAL_AVGPOOL:
            if (dx) {
                int c, h, w;
                in_shape(m, n, &c, &h, &w);
                global_avgpool_backward(batch, h * w, c, n->dout, dx, acc);
            }
            break;
        case OP_LINEAR: {
            int c, h, w;
            in_shape(m, n, &c, &h, &w);
            linear_backward(batch, c, n->c, x, P + n->w_off, n->dout, dx, acc, G + n->w_off,
                            n->b_len ? G + n->b_off : NULL);
            break;
        }
        case OP_DROPOUT:
            if (dx) dropout_backward(count, n->saved, n->dout, dx, acc);
            break;
        case OP_FLATTEN:
            if (dx) {
                if (acc)
                    for (size_t k = 0; k < count; k++) dx[k] += n->dout[k];
                else
                    memcpy(dx, n->dout, sizeof(float) * count);
            }
            break;
        case OP_ADD:
        case OP_CONCAT: {
            float *dins[CN_MAX_INPUTS];
            int cs[CN_MAX_INPUTS];
            for (int j = 0; j < n->n_in; j++) {
                dins[j] = node_dinput(m, n, j);
                cs[j] = n->in[j] == NODE_INPUT ? m->in_c : m->nodes[n->in[j]].c;
            }
            if (n->op == OP_ADD)
                add_backward(count, n->n_in, n->dout, dins, n->in_acc);
            else
                concat_backward((size_t)batch * n->h * n->w, n->n_in, cs, n->dout, dins,
                                n->in_acc);
            break;
        }
        }
        if (m->node_seconds) m->node_seconds[i] += now_seconds() - t0;
    }
}
