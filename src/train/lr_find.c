/* lr_find.c — the learning-rate range test (train.h): trains a throwaway
 * session for a few hundred steps with an exponentially growing learning
 * rate, reports the smoothed loss per step and derives the suggested
 * one-cycle range. The rule: lr_max = (lr at the minimum smoothed loss) / 10,
 * where the loss still falls steadily; lr_start = lr_max / 15 (the seed's
 * 0.008 / 0.12); lr_end = lr_start / 10. The minimum is taken after the
 * first tenth of the steps; no range is suggested when it lies at the start
 * of the range, when lr_max would fall below the tested range, or below what
 * an experiment file accepts (lr_find_suggest). The steepest-descent lr is
 * reported for reference. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

#define SMOOTH_BETA 0.98
#define EXPLODE_FACTOR 4.0
/* lr_start and lr_max are 32-bit floats > 0 in an experiment file: a rate
 * below the smallest normal float loses its precision or becomes 0 */
#define LR_FILE_MIN FLT_MIN

void lr_find_suggest(const double *lrs, const double *sm, int n, LrFindResult *out)
{
    out->best_loss = out->lr_at_best = out->lr_steepest = 0;
    out->suggested_max = out->suggested_start = 0;
    out->no_suggestion = NULL;
    if (n < 1) {
        out->no_suggestion = "no step was done";
        return;
    }
    /* the minimum after the first tenth of the steps (the smoothing is still
     * settling: a first batch's loss can be the lowest of a range that
     * starts too high) */
    const int skip = n / 10;
    int at = skip;
    for (int k = skip + 1; k < n; k++)
        if (sm[k] < sm[at]) at = k;
    out->best_loss = sm[at];
    out->lr_at_best = lrs[at];
    /* steepest descent of the smoothed loss over log(lr), up to the minimum */
    double steepest = 0;
    for (int k = skip + 1; k <= at; k++) {
        double slope = (sm[k] - sm[k - 1]) / (log(lrs[k]) - log(lrs[k - 1]));
        if (slope < steepest) {
            steepest = slope;
            out->lr_steepest = lrs[k];
        }
    }
    if (at == skip || !isfinite(sm[at])) {
        out->no_suggestion = "the smoothed loss did not fall over the tested range (it was lowest "
                             "where the range starts); lower --min";
        return;
    }
    double max = out->lr_at_best / 10, start = max / 15;
    if (max < lrs[0]) {
        out->no_suggestion = "the minimum is within a factor of 10 of --min, so lr_max (its lr / "
                             "10) would be below the tested range; lower --min";
        return;
    }
    if (start < LR_FILE_MIN) {
        out->no_suggestion = "the suggested rates would be below the smallest an experiment file "
                             "accepts (a 32-bit float above 0); raise --min";
        return;
    }
    out->suggested_max = max;
    out->suggested_start = start;
}

TrainEnd lr_find(Session *s, const CifarSplit *train, const LrFindOptions *lo,
                 const TrainCallbacks *cb, LrFindResult *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    double *lrs = xmalloc(sizeof(double) * (size_t)lo->steps);
    double *sm = xmalloc(sizeof(double) * (size_t)lo->steps);
    const int per_epoch = s->steps_per_epoch;
    TrainEnd end = TRAIN_FINISHED;
    double avg = 0, best = INFINITY;
    int n_done = 0;
    for (int k = 0; k < lo->steps; k++) {
        int step = k % per_epoch;
        if (step == 0) session_shuffle(s);
        double f = lo->steps > 1 ? (double)k / (lo->steps - 1) : 0;
        double lr = lo->lr_min * pow(lo->lr_max / lo->lr_min, f);
        int n = session_batch(s, train, step);
        double loss = session_forward(s, n, NULL) / n;
        avg = SMOOTH_BETA * avg + (1 - SMOOTH_BETA) * loss;
        double smoothed = avg / (1 - pow(SMOOTH_BETA, k + 1));
        lrs[k] = lr;
        sm[k] = smoothed;
        n_done = k + 1;
        TrainStep st = {.step = k + 1, .global_step = k + 1, .lr = lr, .loss = smoothed};
        const char *failed = cb->step ? cb->step(cb->ctx, &st) : NULL; /* then the poll */
        int stop = !failed && cb->stop && cb->stop(cb->ctx);
        if ((*why = train_agree(s, failed, &stop))) {
            end = TRAIN_FAILED;
            break;
        }
        if (!isfinite(smoothed) || (k > 0 && smoothed > EXPLODE_FACTOR * best)) {
            out->stopped_early = 1;
            break;
        }
        if (smoothed < best) best = smoothed;
        if (stop) {
            end = TRAIN_INTERRUPTED;
            break;
        }
        session_update(s, n, (float)lr);
    }
    out->steps_done = n_done;
    lr_find_suggest(lrs, sm, n_done, out);
    free(lrs);
    free(sm);
    return end;
}
