/* plan.c — the plan made once at build time over the expanded graph: which
 * backward step writes or adds each gradient, which ReLUs run in place,
 * which batch norms apply the activation after them in their own passes,
 * gradient buffers shared between nodes whose lifetimes don't overlap, the
 * parameter and state layout, and every buffer (activations, gradients,
 * saved tensors, the kernels' shared scratch: model_scratch_need) sized for
 * max_batch images.
 * What an op keeps and borrows comes from its op-table row (ops.c). */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"
#include "graph.h"
#include "ops.h"

/* Floats an op keeps per image from forward to backward (the part of its
 * saved tensor that grows with the batch). */
static size_t saved_per_image(const Model *m, const Node *n)
{
    const OpInfo *op = op_info(n->op);
    return op->saved_floats ? op->saved_floats(m, n, 1) - op->saved_floats(m, n, 0) : 0;
}

/* Backward visits nodes in reverse: the first consumer to reach a tensor's
 * gradient writes it, later ones add. Also finds outputs nobody reads. */
static int plan_gradient_flow(Model *m)
{
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
        model_error(m->exp, m->nodes[bad].section,
                    "the output of '%s' is never used: every layer but the last must feed a "
                    "later one", m->nodes[bad].name);
        return -1;
    }
    return 0;
}

/* The step whose backward reads node p's gradient: its own, or for an
 * absorbed activation its producer's. */
static int gradient_reader(const Model *m, int p)
{
    return m->nodes[p].absorbed ? m->nodes[p].in[0] : p;
}

/* The first backward step after consumer t's (the highest node index below
 * t; -1: none) that changes node p's gradient: another consumer adding into
 * it, or p's reader turning it into its own in place (a fused activation)
 * or passing it on to inputs of its own (an add, which may share it). */
static int first_gradient_change(const Model *m, int p, int t)
{
    for (int i = t - 1; i > p; i--)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] == p) return i;
    const int r = gradient_reader(m, p);
    const Node *rn = &m->nodes[r];
    return rn->fuse_act >= 0 || (op_flags(rn->op) & OPF_PASSES_GRADIENT) ? r : -1;
}

/* Which inputs of node t keep their gradient in t's own slot (share[j])
 * instead of a copy: only for an op whose backward passes its gradient on
 * unchanged (OPF_PASSES_GRADIENT), an input it writes first (in_acc 0) and
 * reads once. Every input whose gradient nothing changes shares it; so may
 * one more whose gradient something changes, when the first change comes
 * after the last of the others' readers has read it (backward runs from the
 * highest node index down). PyTorch's autograd does the same for a sum. Off
 * with CNNRUN_FUSE=0 (tests compare the two). */
static void plan_shared_gradients(const Model *m, int t, bool *share)
{
    const Node *n = &m->nodes[t];
    int cand[CN_MAX_INPUTS], last_read = m->n_nodes;
    for (int j = 0; j < n->n_in; j++) {
        share[j] = false;
        cand[j] = (op_flags(n->op) & OPF_PASSES_GRADIENT) && !m->exp->engine.no_fuse &&
                  n->in[j] != NODE_INPUT && !n->in_acc[j];
        for (int q = 0; q < n->n_in; q++)
            if (q != j && n->in[q] == n->in[j]) cand[j] = 0;
    }
    for (int j = 0; j < n->n_in; j++)
        if (cand[j] && first_gradient_change(m, n->in[j], t) < 0) {
            share[j] = true;
            const int r = gradient_reader(m, n->in[j]);
            if (r < last_read) last_read = r;
        }
    for (int j = 0; j < n->n_in; j++)
        if (cand[j] && !share[j] && first_gradient_change(m, n->in[j], t) < last_read) {
            share[j] = true;
            break;
        }
}

/* Gradient buffers are shared: node i's gradient lives from the backward
 * step of its last consumer (which writes it first) to its own backward step.
 * Walking backward in that order, a buffer freed by one node is reused by
 * the next gradient that fits (best fit); new buffers are made only when
 * none fits. An absorbed activation's gradient is its producer's, and an
 * add's inputs may keep theirs in the add's (plan_shared_gradients): a slot
 * is free when no live gradient uses it. Sets n->dout_slot; returns the
 * number of slots and their sizes (floats per image) in *sizes (caller
 * frees). */
static int plan_gradient_slots(Model *m, size_t **sizes_out)
{
    int n_slots = 0, cap = 16;
    size_t *sizes = xmalloc(sizeof(size_t) * (size_t)cap);
    int *busy = xcalloc((size_t)cap, sizeof(int)); /* live gradients in each slot */
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i].dout_slot = -1;
    for (int t = m->n_nodes - 1; t >= 0; t--) {
        Node *n = &m->nodes[t];
        if (n->absorbed) { /* its producer turns its gradient into its own, in place */
            m->nodes[n->in[0]].dout_slot = n->dout_slot;
            continue;
        }
        /* the last node's gradient comes from the loss: allocate it first */
        int need[CN_MAX_INPUTS + 1], k = 0;
        bool share[CN_MAX_INPUTS];
        if (t == m->n_nodes - 1) need[k++] = t;
        plan_shared_gradients(m, t, share);
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] != NODE_INPUT && m->nodes[n->in[j]].dout_slot < 0) need[k++] = n->in[j];
        for (int q = 0; q < k; q++) {
            Node *p = &m->nodes[need[q]];
            if (p->dout_slot >= 0) continue;
            int j = 0;
            while (j < n->n_in && n->in[j] != need[q]) j++;
            if (j < n->n_in && share[j]) {
                p->dout_slot = n->dout_slot;
                busy[p->dout_slot]++;
                continue;
            }
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
                        busy = xrealloc(busy, sizeof(int) * (size_t)cap);
                    }
                    busy[n_slots] = 0;
                    best = n_slots++;
                }
                sizes[best] = want;
            }
            busy[best] = 1;
            p->dout_slot = best;
        }
        /* after node t's backward its own gradient is dead */
        if (n->dout_slot >= 0) busy[n->dout_slot]--;
    }
    free(busy);
    *sizes_out = sizes;
    return n_slots;
}

/* An OPF_INPLACE op (ReLU, whose backward takes its mask from its output:
 * relu(x) > 0 exactly where x > 0) may overwrite its input when nothing else
 * reads that tensor: the input has this node as its only consumer, is not the
 * network input, and its producer's backward reads its own input, not its
 * output (OPF_BACKWARD_READS_OUTPUT: a ReLU producer is left alone). Saves
 * one activation tensor per conv-BN-ReLU: PyTorch's ReLU(inplace=True). */
static void plan_inplace(Model *m)
{
    int *consumers = xcalloc((size_t)m->n_nodes, sizeof(int));
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) consumers[m->nodes[i].in[k]]++;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        int src = n->in[0];
        n->inplace = (op_flags(n->op) & OPF_INPLACE) && n->n_in == 1 && src >= 0 &&
                     consumers[src] == 1 &&
                     !(op_flags(m->nodes[src].op) & OPF_BACKWARD_READS_OUTPUT);
    }
    free(consumers);
}


/* Fusion of element-wise passes, between a node and the next one:
 *  - a node that can apply an activation in its own passes
 *    (OPF_APPLIES_ACTIVATION: batch norm) and is read only by the next node,
 *    an activation the engine can apply there (its row's bn_act), does so:
 *    forward writes act(bn(x)) in the pass that would write bn(x), backward
 *    turns the activation's gradient into its own in its reduction pass. The
 *    activation node is absorbed: it runs nothing, its output is the batch
 *    norm's buffer (marked in place) and its gradient the batch norm's slot.
 *    The batch norm's own output is never stored: backward recomputes bn(x)
 *    from its input and the saved scale and shift. Not for the last node
 *    (the loss writes its gradient, which must stay as written). An add
 *    (OPF_APPLIES_RELU) does the same with a ReLU (whose backward needs only
 *    its output): one pass each way instead of two.
 *  - a batch norm without an activation that alone feeds an add
 *    (OPF_LEAVES_APPLY, OPF_APPLIES_INPUT_NORM: a residual block's last batch
 *    norms) only computes its statistics and its scale and shift; the add
 *    applies them as it reads the batch norm's input, and the batch norm's
 *    output is never written (its backward reads its input).
 *  - a node whose training forward can compute the batch statistics of its
 *    output (OPF_GIVES_STATISTICS: max pool) does so for the batch norm
 *    (OPF_TAKES_STATISTICS) that reads it next, as it writes each output
 *    row; the batch norm's forward then only applies them (no statistics
 *    pass of its own).
 * Results are bit-identical either way (tests/test_fusion.c). Runs after
 * plan_inplace. */
static void plan_fusion(Model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        m->nodes[i].fuse_act = -1;
        m->nodes[i].absorbed = false;
        m->nodes[i].stats_for = -1;
        m->nodes[i].stats_given = false;
        m->nodes[i].applied_by = -1;
    }
    if (m->exp->engine.no_fuse) return; /* CNNRUN_FUSE=0: tests compare the two */
    int *consumers = xcalloc((size_t)m->n_nodes, sizeof(int));
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) consumers[m->nodes[i].in[k]]++;
    for (int i = 0; i + 2 < m->n_nodes; i++) {
        Node *n = &m->nodes[i], *a = &m->nodes[i + 1];
        const int act = op_info(a->op)->bn_act;
        const int applies = ((op_flags(n->op) & OPF_APPLIES_ACTIVATION) && act) ||
                            ((op_flags(n->op) & OPF_APPLIES_RELU) && act == BN_ACT_RELU);
        if (applies && a->n_in == 1 && a->in[0] == i && consumers[i] == 1) {
            n->fuse_act = i + 1;
            a->absorbed = true;
            a->inplace = true;
        }
    }
    for (int i = 0; i + 1 < m->n_nodes; i++) {
        Node *n = &m->nodes[i], *b = &m->nodes[i + 1];
        if ((op_flags(n->op) & OPF_GIVES_STATISTICS) && (op_flags(b->op) & OPF_TAKES_STATISTICS) &&
            b->n_in == 1 && b->in[0] == i) {
            n->stats_for = i + 1;
            b->stats_given = true;
        }
    }
    for (int i = 0; i + 1 < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        if (!(op_flags(n->op) & OPF_LEAVES_APPLY) || n->fuse_act >= 0 || n->stats_given ||
            consumers[i] != 1)
            continue;
        int t = -1; /* its one reader */
        for (int q = i + 1; q < m->n_nodes && t < 0; q++)
            for (int j = 0; j < m->nodes[q].n_in; j++)
                if (m->nodes[q].in[j] == i) t = q;
        if (t >= 0 && (op_flags(m->nodes[t].op) & OPF_APPLIES_INPUT_NORM)) n->applied_by = t;
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
        total += saved_per_image(m, n);
    }
    for (int s = 0; s < n_slots; s++) total += slot_sizes[s];
    return total;
}

const char model_memory_hint[] = "the network's buffers do not fit in memory: use a smaller "
                                  "batch_size or network (`cnnrun check` prints the memory plan)";

/* Lays out parameters; with max_batch > 0 also allocates every buffer. */
static void plan_memory(Model *m)
{
    size_t np = 0, ns = 0;
    const size_t B = (size_t)m->max_batch;
    plan_inplace(m);
    plan_fusion(m); /* before the scratch sizes: a fused op may need more */
    for (int i = 0; i < m->n_nodes; i++) m->nodes[i].readers = 0;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++)
            if (m->nodes[i].in[k] >= 0) m->nodes[m->nodes[i].in[k]].readers++;
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        n->w_off = np;
        np += n->w_len;
        n->b_off = np;
        np += n->b_len;
        const OpInfo *op = op_info(n->op);
        if (op->flags & OPF_RUNNING_STATS) {
            n->s_off = ns;
            ns += 2 * (size_t)n->c;
        }
    }
    m->n_params = np;
    m->n_state = ns;
    size_t *slot_sizes;
    int n_slots = plan_gradient_slots(m, &slot_sizes);
    size_t batch_for_estimate = B > 0 ? B : (size_t)m->exp->batch_size;
    m->activation_bytes =
        floats_per_image(m, slot_sizes, n_slots) * batch_for_estimate * sizeof(float);
    if (B == 0) { /* shapes and counts only (cnnrun check) */
        free(slot_sizes);
        return;
    }
    const char *was = xalloc_hint(model_memory_hint);
    m->params = alloc_floats(np);
    m->grads = alloc_floats(np);
    m->state = alloc_floats(ns);
    m->n_scratch = model_scratch_need(m); /* for the algorithms model_init_conv_algos chose */
    m->scratch = alloc_floats(m->n_scratch);
    m->n_grad_slots = n_slots;
    m->grad_slots = xcalloc((size_t)n_slots, sizeof(float *));
    for (int s = 0; s < n_slots; s++) m->grad_slots[s] = alloc_floats(B * slot_sizes[s]);
    free(slot_sizes);
    for (int i = 0; i < m->n_nodes; i++) {
        Node *n = &m->nodes[i];
        size_t elems = B * n->c * n->h * n->w;
        n->out = n->inplace ? m->nodes[n->in[0]].out : alloc_floats(elems);
        n->dout = m->grad_slots[n->dout_slot];
        const OpInfo *op = op_info(n->op);
        size_t saved = op->saved_floats ? op->saved_floats(m, n, B) : 0;
        if (saved) n->saved = alloc_floats(saved);
    }
    xalloc_hint(was);
}

int model_plan(Model *m)
{
    if (plan_gradient_flow(m) != 0 || model_init_conv_algos(m) != 0) return -1;
    plan_memory(m);
    return 0;
}
