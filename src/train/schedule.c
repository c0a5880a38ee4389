/* schedule.c — the learning rate as a pure function of the (fractional)
 * epoch, so a resumed run continues on the same curve. Where the run ends
 * (linear's 0, cosine's and one_cycle's last value) is the end of its last
 * step, RunLength.end, a fractional epoch when the run is not a whole number
 * of epochs. */
#include <math.h>

#include "cnnrun/train.h"

static double lerp(double a, double b, double f)
{
    return a + (b - a) * f;
}

static double one_cycle(const Experiment *e, double end, double t)
{
    double cycle = e->cycle_epochs, half = cycle / 2.0;
    if (t < half) return lerp(e->lr_start, e->lr_max, t / half);
    if (t < cycle) return lerp(e->lr_max, e->lr_start, (t - half) / half);
    double rest = end - cycle;
    if (rest <= 0) return e->lr_start;
    double f = (t - cycle) / rest;
    return lerp(e->lr_start, e->lr_end, f > 1.0 ? 1.0 : f);
}

/* lr * the piecewise-linear curve through the knots: on [e_k, e_k+1) the
 * straight line from v_k to v_k+1 (exactly v_k at e_k), v_last from the last
 * knot on. The knots start at epoch 0 (the file is checked), so t < 0 does
 * not occur; it would get v_0. */
static double piecewise(const Experiment *e, double t)
{
    int n = e->n_knots;
    if (n == 0) return e->lr; /* not reached: the file is refused without knots */
    if (n == 1 || t >= e->knot_epoch[n - 1]) return e->lr * (double)e->knot_value[n - 1];
    int k = 0;
    while (k + 1 < n - 1 && t >= e->knot_epoch[k + 1]) k++;
    double e0 = e->knot_epoch[k], e1 = e->knot_epoch[k + 1];
    double f = t > e0 ? (t - e0) / (e1 - e0) : 0.0;
    return e->lr * lerp(e->knot_value[k], e->knot_value[k + 1], f);
}

double schedule_lr(const Experiment *e, double end, double t)
{
    switch (e->schedule) {
    case SCHED_ONE_CYCLE: return one_cycle(e, end, t);
    case SCHED_CONSTANT: return e->lr;
    case SCHED_STEP: {
        double lr = e->lr;
        for (int i = 0; i < e->n_milestones; i++)
            if (t >= e->milestones[i]) lr *= e->gamma;
        return lr;
    }
    case SCHED_COSINE: {
        double w = e->warmup_epochs;
        if (t < w) return e->lr * t / w;
        double span = end - w;
        double f = span > 0 ? (t - w) / span : 1.0;
        if (f > 1.0) f = 1.0;
        return e->lr * 0.5 * (1.0 + cos(M_PI * f));
    }
    case SCHED_LINEAR: {
        double f = 1.0 - t / end;
        return e->lr * (f > 0 ? f : 0.0);
    }
    case SCHED_PIECEWISE: return piecewise(e, t);
    case SCHED_COUNT: break; /* not a schedule */
    }
    return e->lr;
}

/* The first epoch in [0, end] where the learning rate is highest, sampled
 * every 1/256 epoch (so exact at one_cycle's peak, cycle_epochs / 2, and at
 * cosine's warmup_epochs when they are multiples of 1/256): 0 for schedules
 * that only fall. Used to warn that pruning judges runs while their
 * learning rates still rise (src/cli/grid.c). */
double schedule_peak_epoch(const Experiment *e, double end)
{
    const double per_epoch = 256.0;
    long n = (long)ceil(end * per_epoch);
    double best = schedule_lr(e, end, 0.0), at = 0.0;
    for (long k = 1; k <= n; k++) {
        double t = k < n ? k / per_epoch : end, lr = schedule_lr(e, end, t);
        if (lr > best) {
            best = lr;
            at = t;
        }
    }
    return at;
}
