/* run.c — forward and backward passes over the planned graph: each node's
 * row in the op table (ops.c) calls its kernel on the buffers model_build
 * laid out; optionally timed per node (cnnrun bench). */
#include <string.h>

#include "build.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"
#include "ops.h"

static void run_node(Model *m, int i, const float *input, int batch, bool training, bool forward)
{
    double t0 = m->node_seconds ? now_seconds() : 0;
    Node *n = &m->nodes[i];
    if (n->absorbed) return; /* its producer's passes computed it (plan_fusion) */
    OpCall c = {.m = m, .n = n, .input = input, .batch = batch, .training = training};
    const OpInfo *op = op_info(n->op);
    if (forward)
        op->forward(&c);
    else
        op->backward(&c);
    if (m->node_seconds) m->node_seconds[i] += now_seconds() - t0;
}

void model_forward_nodes(Model *m, const float *input, int batch, bool training, int end)
{
    for (int i = 0; i < end; i++) run_node(m, i, input, batch, training, true);
}

void model_forward(Model *m, const float *input, int batch, bool training)
{
    model_forward_nodes(m, input, batch, training, m->n_nodes);
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
    model_backward_notify(m, input, batch, NULL);
}

void model_backward_notify(Model *m, const float *input, int batch, void (*ready)(size_t from))
{
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        run_node(m, i, input, batch, true, false);
        const Node *n = &m->nodes[i];
        /* a node's backward writes only its own parameters' gradients (an
         * absorbed activation has none) */
        if (ready && n->w_len + n->b_len > 0) ready(n->w_off);
    }
}
