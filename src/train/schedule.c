/* schedule.c — the learning rate as a pure function of the (fractional)
 * epoch, so a resumed run continues on the same curve. */
#include <math.h>

#include "cnnrun/train.h"

static double lerp(double a, double b, double f)
{
    return a + (b - a) * f;
}

static double one_cycle(const Experiment *e, double t)
{
    double cycle = e->cycle_epochs, half = cycle / 2.0;
    if (t < half) return lerp(e->lr_start, e->lr_max, t / half);
    if (t < cycle) return lerp(e->lr_max, e->lr_start, (t - half) / half);
    double rest = e->epochs - cycle;
    if (rest <= 0) return e->lr_start;
    double f = (t - cycle) / rest;
    return lerp(e->lr_start, e->lr_end, f > 1.0 ? 1.0 : f);
}

double schedule_lr(const Experiment *e, double t)
{
    switch (e->schedule) {
    case SCHED_ONE_CYCLE: return one_cycle(e, t);
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
        double span = e->epochs - w;
        double f = span > 0 ? (t - w) / span : 1.0;
        if (f > 1.0) f = 1.0;
        return e->lr * 0.5 * (1.0 + cos(M_PI * f));
    }
    }
    return e->lr;
}
