/* groups.c — which optimizer settings update which parameter (train.h):
 * the [group.*] sections of an experiment resolved over a built network's
 * parameter tensors. A tensor belongs to the first group (in file order)
 * whose `params` has its kind and whose `layers` match the name of the layer
 * section it comes from; tensors no group takes follow [optimizer] (with
 * no_decay_bn_bias: its BN parameters and biases without decay). A group
 * that ends up with no tensor is an error, and so is Muon over a tensor that
 * is not a conv or linear weight. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

/* Group indices in Optimizer.groups: [optimizer], its no-decay copy, then
 * the experiment's groups. */
enum { G_OPTIMIZER = 0, G_NO_DECAY = 1, G_FIRST_USER = 2 };

typedef struct {
    size_t off, len;
    unsigned kind;  /* ParamKind */
    int node;
    int group;      /* index into e->groups, -1: none */
} Tensor;

/* Every parameter tensor of m in node order, of the kind its op's row gives
 * (op_param_kind); caller frees. */
static Tensor *list_tensors(const Model *m, int *count)
{
    Tensor *t = xcalloc((size_t)(2 * m->n_nodes + 1), sizeof *t);
    int n = 0;
    for (int k = 0; k < m->n_nodes; k++) {
        const Node *nd = &m->nodes[k];
        if (nd->w_len)
            t[n++] = (Tensor){nd->w_off, nd->w_len, op_param_kind(nd->op, false), k, -1};
        if (nd->b_len)
            t[n++] = (Tensor){nd->b_off, nd->b_len, op_param_kind(nd->op, true), k, -1};
    }
    *count = n;
    return t;
}

static const char *section_name(const Model *m, const Node *n)
{
    return m->exp && n->section >= 0 && n->section < m->exp->n_layers
               ? m->exp->layers[n->section].name
               : n->name;
}

static bool group_selects(const GroupSpec *g, const char *section, unsigned kind)
{
    if (!(g->params & kind)) return false;
    for (int p = 0; p < g->n_layers; p++)
        if (fnmatch(g->layers[p], section, 0) == 0) return true;
    return false;
}

/* Assigns each tensor its group and reports what does not fit. Returns the
 * number of problems printed. */
static int resolve(const Model *m, Tensor *t, int n)
{
    const Experiment *e = m->exp;
    if (!e) return 0;
    int problems = 0;
    for (int i = 0; i < n; i++) {
        const char *sec = section_name(m, &m->nodes[t[i].node]);
        for (int g = 0; g < e->n_groups && t[i].group < 0; g++)
            if (group_selects(&e->groups[g], sec, t[i].kind)) t[i].group = g;
    }
    for (int g = 0; g < e->n_groups; g++) {
        const GroupSpec *gs = &e->groups[g];
        int got = 0, selected = 0, taken_by = -1;
        for (int i = 0; i < n; i++) {
            got += t[i].group == g;
            if (group_selects(gs, section_name(m, &m->nodes[t[i].node]), t[i].kind)) {
                selected++;
                if (t[i].group != g && taken_by < 0) taken_by = t[i].group;
            }
        }
        if (got) continue;
        problems++;
        if (selected)
            fprintf(stderr, "%s:%d: [group.%s] gets no parameter: the %d it selects belong to "
                            "earlier groups ([group.%s], line %d; the first group that selects "
                            "a parameter takes it)\n",
                    e->path, gs->line, gs->name, selected, e->groups[taken_by].name,
                    e->groups[taken_by].line);
        else
            fprintf(stderr, "%s:%d: [group.%s] selects no parameter: no layer its 'layers' "
                            "match has parameters of the kinds in 'params'\n",
                    e->path, gs->line, gs->name);
    }
    if (optimizer_info(e->optimizer)->matrix_only) {
        int left = 0, first = -1;
        for (int i = 0; i < n; i++)
            if (t[i].group < 0 && !(t[i].kind & PK_MATRIX)) {
                if (first < 0) first = i;
                left++;
            }
        if (left) {
            problems++;
            const Node *nd = &m->nodes[t[first].node];
            fprintf(stderr, "%s:%d: [optimizer] type = %s updates conv and linear weights only, "
                            "but %d parameter tensor%s no [group.*] takes %s not (the first: "
                            "%s of '%s'); give them a group, e.g. [group.rest] with params = "
                            "bias, bn_weight, bn_bias and type = sgd\n",
                    e->path, e->optimizer_line, optimizer_type_name(e->optimizer), left,
                    left == 1 ? "" : "s",
                    left == 1 ? "is" : "are", param_kind_name(t[first].kind), nd->name);
        }
    }
    for (int i = 0; i < n; i++) {
        if (t[i].group < 0) continue;
        const GroupSpec *gs = &e->groups[t[i].group];
        if (optimizer_info(gs->type)->matrix_only && !gs->frozen && !(t[i].kind & PK_MATRIX)) {
            /* the config refuses this for kinds it is told; kept as a guard */
            problems++;
            fprintf(stderr, "%s:%d: [group.%s] has type = %s, which updates conv and linear "
                            "weights only, but takes %s of '%s'\n",
                    e->path, gs->type_line, gs->name, optimizer_type_name(gs->type),
                    param_kind_name(t[i].kind),
                    m->nodes[t[i].node].name);
        }
    }
    return problems;
}

int optimizer_check_groups(const Model *m)
{
    int n;
    Tensor *t = list_tensors(m, &n);
    int problems = resolve(m, t, n);
    free(t);
    return problems ? CN_EXIT_USAGE : 0;
}

static int by_offset(const void *a, const void *b)
{
    const Tensor *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Spans over [0, o->n) from tensors whose `group` holds an index into
 * o->groups; gaps get group 0; neighbours of one element-wise group merge. */
static void build_spans(Optimizer *o, const Model *m, Tensor *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, by_offset);
    free(o->spans);
    o->spans = xcalloc((size_t)(2 * n + 1), sizeof *o->spans);
    int ns = 0;
    size_t at = 0;
    for (int i = 0; i <= n; i++) {
        size_t off = i < n ? t[i].off : o->n;
        if (off > at) o->spans[ns++] = (OptSpan){.off = at, .len = off - at, .group = 0};
        if (i == n) break;
        OptSpan sp = {.off = t[i].off, .len = t[i].len, .group = t[i].group};
        if (optimizer_info(o->groups[sp.group].type)->matrix_only && (t[i].kind & PK_MATRIX)) {
            const Node *nd = &m->nodes[t[i].node];
            sp.cols = nd->c;
            sp.rows = nd->c > 0 ? (int)(t[i].len / (size_t)nd->c) : 0;
        }
        o->spans[ns++] = sp;
        at = t[i].off + t[i].len;
    }
    /* merge neighbours of the same element-wise group */
    int k = 0;
    for (int i = 0; i < ns; i++) {
        OptSpan *prev = k ? &o->spans[k - 1] : NULL;
        OptSpan *cur = &o->spans[i];
        if (prev && prev->group == cur->group && !prev->rows && !cur->rows &&
            prev->off + prev->len == cur->off)
            prev->len += cur->len;
        else
            o->spans[k++] = *cur;
    }
    o->n_spans = k;
}

/* Groups 0 ([optimizer]) and 1 (its no-decay copy), keeping group 0. */
static void base_groups(Optimizer *o, int n_user)
{
    OptGroup g0 = o->groups[0];
    free(o->groups);
    free(o->group_lr);
    o->n_groups = G_FIRST_USER + n_user;
    o->groups = xcalloc((size_t)o->n_groups, sizeof *o->groups);
    o->group_lr = xcalloc((size_t)o->n_groups, sizeof *o->group_lr);
    o->groups[G_OPTIMIZER] = g0;
    o->groups[G_NO_DECAY] = g0;
    o->groups[G_NO_DECAY].name = "[optimizer] no_decay_bn_bias";
    o->groups[G_NO_DECAY].weight_decay = 0.0f;
}

static bool decay_excluded(unsigned kind)
{
    return kind & (PK_BN_WEIGHT | PK_BN_BIAS | PK_BIAS);
}

int optimizer_bind(Optimizer *o, const Model *m, int steps_per_epoch)
{
    const Experiment *e = m->exp;
    int n;
    Tensor *t = list_tensors(m, &n);
    if (resolve(m, t, n) != 0) {
        free(t);
        return CN_EXIT_USAGE;
    }
    if (steps_per_epoch < 1) steps_per_epoch = 1;
    const RunLength run = train_run_length(e, steps_per_epoch);
    base_groups(o, e->n_groups);
    for (int g = 0; g < e->n_groups; g++) {
        const GroupSpec *gs = &e->groups[g];
        OptGroup *og = &o->groups[G_FIRST_USER + g];
        *og = (OptGroup){.name = gs->name, .type = gs->type, .lr_scale = gs->lr_scale,
                         .momentum = gs->momentum, .weight_decay = gs->weight_decay,
                         .nesterov = gs->nesterov, .decoupled = gs->decay == DECAY_DECOUPLED,
                         .frozen = gs->frozen, .linear = gs->schedule == GROUP_SCHED_LINEAR,
                         .ns_steps = gs->ns_steps};
        if (gs->epochs > 0)
            og->steps = train_epochs_to_steps(gs->epochs, steps_per_epoch);
        else if (og->linear)
            og->steps = run.steps;
        if (og->linear) og->lr0 = schedule_lr(e, run.end, 0.0);
    }
    for (int i = 0; i < n; i++) {
        if (t[i].group >= 0)
            t[i].group += G_FIRST_USER;
        else
            t[i].group = e->no_decay_bn_bias && decay_excluded(t[i].kind) ? G_NO_DECAY
                                                                           : G_OPTIMIZER;
    }
    build_spans(o, m, t, n);
    free(t);

    /* state for what the groups use (their rows' OPT_STATE_* vectors, e.g.
     * Adam's second moments) and the work space of matrix-only (Muon) tensors */
    unsigned state = 0;
    size_t work = 0, gemm_floats = 0;
    for (int k = 0; k < o->n_spans; k++) {
        const OptSpan *sp = &o->spans[k];
        const OptGroup *g = &o->groups[sp->group];
        if (g->frozen) continue;
        state |= optimizer_info(g->type)->state;
        const OptimizerStep *st = optimizer_step_of(g->type);
        if (st->tensor && sp->rows > 0) {
            size_t w = st->work_floats(sp->rows, sp->cols);
            size_t gf = st->gemm_floats(sp->rows, sp->cols, m->threads);
            if (w > work) work = w;
            if (gf > gemm_floats) gemm_floats = gf;
        }
    }
    if ((state & OPT_STATE_M1) && !o->m1) o->m1 = alloc_floats(o->n);
    if ((state & OPT_STATE_M2) && !o->m2) o->m2 = alloc_floats(o->n);
    if (work) {
        free(o->muon_work);
        workspace_free(&o->muon_ws);
        o->muon_work = alloc_floats(work);
        o->muon_ws = workspace_alloc(gemm_floats, m->threads);
    }
    return 0;
}

void optimizer_print_groups(const Model *m, FILE *f)
{
    const Experiment *e = m->exp;
    int n;
    Tensor *t = list_tensors(m, &n);
    resolve(m, t, n);
    fprintf(f, "parameter groups (a tensor belongs to the first group that selects it):\n");
    fprintf(f, "  %-24s %-14s %10s  %s\n", "tensor", "kind", "params", "group");
    for (int i = 0; i < n; i++) {
        char group[CN_NAME_MAX + 128];
        if (t[i].group >= 0) {
            const GroupSpec *g = &e->groups[t[i].group];
            char how[96];
            if (g->frozen)
                snprintf(how, sizeof how, "frozen");
            else {
                char ep[32] = "";
                if (g->epochs > 0) snprintf(ep, sizeof ep, ", %g epochs", (double)g->epochs);
                snprintf(how, sizeof how, "%s%s%s", optimizer_type_name(g->type), ep,
                         g->schedule == GROUP_SCHED_LINEAR ? ", own linear schedule" : "");
            }
            snprintf(group, sizeof group, "[group.%s] %s", g->name, how);
        } else {
            snprintf(group, sizeof group, "[optimizer] %s%s", optimizer_type_name(e->optimizer),
                     e->no_decay_bn_bias && decay_excluded(t[i].kind) ? ", no decay" : "");
        }
        fprintf(f, "  %-24s %-14s %10zu  %s\n", m->nodes[t[i].node].name,
                param_kind_name(t[i].kind), t[i].len, group);
    }
    free(t);
}

/* Each group's name as the epoch line gives it: [optimizer]'s (and its
 * no-decay copy's) none. */
static const char *rate_name(const Optimizer *o, int k)
{
    return k >= G_FIRST_USER ? o->groups[k].name : NULL;
}

void optimizer_rates_text(const Optimizer *o, double lr, char *buf, size_t n)
{
    bool *used = xcalloc((size_t)o->n_groups + 1, sizeof *used), same = true;
    for (int k = 0; k < o->n_spans; k++) used[o->spans[k].group] = true;
    if (!o->spans) used[0] = true;
    for (int k = 0; k < o->n_groups; k++)
        if (used[k] && o->group_lr[k] >= 0 && fabs(o->group_lr[k] - lr) > 1e-6 * fabs(lr))
            same = false;
    size_t len = (size_t)snprintf(buf, n, same ? "%.5f" : "", lr);
    bool optimizer_shown = false;
    for (int k = 0; !same && k < o->n_groups && len < n; k++) {
        if (!used[k] || o->group_lr[k] < 0) continue; /* frozen, or past its epochs */
        const char *name = rate_name(o, k);
        if (!name && optimizer_shown) continue;
        optimizer_shown |= !name;
        len += (size_t)snprintf(buf + len, n - len, "%s%s%s%.3g", len ? ", " : "",
                                name ? name : "", name ? " " : "", o->group_lr[k]);
    }
    free(used);
}
