/* trainer.c — the training loop (train.h). Per epoch: shuffle, then
 * forward / backward / update over the batches at the scheduled learning
 * rate, then evaluate on the test split and report the epoch; the last
 * epoch of a run that is not a whole number of epochs stops after its share
 * of the steps (Session.run). It continues from any TrainPosition, inside
 * an epoch too; it ends diverged at a non-finite loss and interrupted when
 * the caller's stop poll says so. It draws the progress display; everything
 * else that happens to the numbers (the results database, checkpoints, the
 * run lock) is the caller's, through TrainCallbacks. */
#include <math.h>
#include <string.h>

#include "cnnrun/dist.h"
#include "cnnrun/train.h"
#include "cnnrun/util.h"
#include "progress.h"

const char *train_agree(const Session *s, const char *why, int *stop)
{
    if (s->ranks == 1) return why;
    int f = dist_max_int((why ? 2 : 0) | (stop && *stop ? 1 : 0));
    if (stop) *stop = f & 1;
    if (why || !(f & 2)) return why;
    return "another rank could not go on (rank 0 reports why)";
}

const char *train_end_name(TrainEnd end)
{
    switch (end) {
    case TRAIN_FINISHED: return "finished";
    case TRAIN_DIVERGED: return "diverged";
    case TRAIN_INTERRUPTED: return "interrupted";
    case TRAIN_FAILED: return "failed";
    case TRAIN_PAUSED: return "interrupted"; /* the same to --resume: continued from `last` */
    }
    return "failed";
}

/* The epoch in progress: its running sums. */
typedef struct {
    int epoch;          /* 1-based */
    int n_steps;        /* its steps: steps_per_epoch, fewer in a partial last epoch */
    double t0;          /* its start, earlier by the time a continued part took */
    Rng shuffle_rng;    /* the session's, before this epoch's shuffle */
    int steps;          /* steps done */
    double loss_sum;    /* of the batch losses */
    int correct, seen;
    double lr;          /* of the last step done */
} Epoch;

/* Starts epoch pos->epoch + 1 where pos left it and shuffles its order. */
static Epoch begin_epoch(Session *s, const TrainPosition *pos)
{
    Epoch ep = {.epoch = pos->epoch + 1,
                .n_steps = train_epoch_steps(&s->run, s->steps_per_epoch, pos->epoch + 1),
                .t0 = now_seconds() - pos->part_seconds,
                .shuffle_rng = s->shuffle_rng, .steps = pos->steps_in_epoch,
                .loss_sum = pos->part_loss_sum, .correct = pos->part_correct,
                .seen = pos->part_seen};
    if (ep.steps > 0)
        ep.lr = schedule_lr(s->e, s->run.end, (double)(pos->step - 1) / s->steps_per_epoch);
    s->aug.epoch = ep.epoch; /* flip_alternating mirrors every other epoch */
    session_shuffle(s);
    return ep;
}

static void show_step(Progress *prog, const Session *s, const TrainPosition *pos,
                      const Epoch *ep)
{
    double now = now_seconds(), el = now - ep->t0;
    double rate = ep->seen / (el > 0 ? el : 1e-9);
    /* the steps left at the images per step of a whole epoch (drop_last: a batch) */
    int per_epoch = s->n_train < s->steps_per_epoch * s->batch ? s->n_train
                                                               : s->steps_per_epoch * s->batch;
    double eta = (double)(s->run.steps - pos->step) * per_epoch / s->steps_per_epoch / rate;
    progress_step(prog, ep->epoch, ep->steps, ep->n_steps, ep->loss_sum / ep->seen,
                  (double)ep->correct / ep->seen, rate, eta, now);
}

/* The epoch's remaining steps. TRAIN_FINISHED when they are all done. */
static TrainEnd train_steps(Session *s, const CifarSplit *train, TrainPosition *pos, Epoch *ep,
                            Progress *prog, const TrainCallbacks *cb, const char **why)
{
    const int steps = s->steps_per_epoch;
    while (ep->steps < ep->n_steps) {
        int n = session_batch(s, train, ep->steps);
        double loss = session_forward(s, n, &ep->correct);
        if (!isfinite(loss)) {
            *why = "the training loss became NaN or infinite; lower the learning rate";
            return TRAIN_DIVERGED;
        }
        ep->loss_sum += loss;
        ep->seen += n;
        ep->lr = schedule_lr(s->e, s->run.end, (double)pos->step / steps);
        session_update(s, n, (float)ep->lr);
        ep->steps++;
        pos->step++;
        show_step(prog, s, pos, ep);
        TrainStep st = {.epoch = ep->epoch, .step = ep->steps, .global_step = pos->step,
                        .lr = ep->lr, .loss = ep->loss_sum / ep->seen};
        const char *failed = cb->step ? cb->step(cb->ctx, &st) : NULL; /* then the poll */
        int stop = !failed && cb->stop && cb->stop(cb->ctx);
        if ((*why = train_agree(s, failed, &stop))) return TRAIN_FAILED;
        if (stop) return TRAIN_INTERRUPTED;
    }
    return TRAIN_FINISHED;
}

/* Stopped inside the epoch: pos keeps its steps, and the order is drawn
 * again when it is continued. */
static void keep_partial_epoch(Session *s, TrainPosition *pos, const Epoch *ep)
{
    s->shuffle_rng = ep->shuffle_rng;
    pos->steps_in_epoch = ep->steps;
    pos->part_loss_sum = ep->loss_sum;
    pos->part_correct = ep->correct;
    pos->part_seen = ep->seen;
    pos->part_seconds = now_seconds() - ep->t0;
}

/* Memory is planned for the training batch (a rank's slice of it); evaluation
 * runs in chunks of at most that size (test_batch_size larger is clamped). */
static int eval_batch(const Session *s)
{
    int most = s->model.max_batch;
    return s->e->test_batch_size < most ? s->e->test_batch_size : most;
}

/* split evaluated (with mode's views), the ranks sharing the work: each
 * evaluates its contiguous slice (session_shard), and the loss sums and
 * correct counts are summed over the ranks in rank order (the same numbers
 * on every rank). One process: the whole split. */
static EvalResult evaluate_shared(Session *s, const CifarSplit *split, TtaMode mode)
{
    if (s->ranks == 1)
        return evaluate_tta(&s->model, split, &s->aug, eval_batch(s), s->images, s->labels, mode);
    int lo, k = session_shard(s, split->n, &lo);
    CifarSplit part = {.n = k, .pixels = split->pixels + (size_t)lo * CIFAR_PIXELS,
                       .labels = split->labels + lo};
    EvalResult r = evaluate_tta(&s->model, &part, &s->aug, eval_batch(s), s->images, s->labels,
                                mode);
    double v[2] = {r.loss * k, round(r.acc * k)}; /* this rank's loss sum and correct count */
    dist_sum_doubles(v, 2);
    return (EvalResult){.loss = split->n ? v[0] / split->n : 0,
                        .acc = split->n ? v[1] / split->n : 0};
}

/* [experiment] eval_every: this epoch is evaluated (the last one, partial or
 * not, always is). */
static int evaluates(const Session *s, int epoch)
{
    const Experiment *e = s->e;
    return epoch == s->run.epochs || (e->eval_every > 0 && epoch % e->eval_every == 0);
}

/* Evaluates the epoch's model on test (when it is its turn) and moves pos
 * to the epoch's end. */
static EpochRecord end_epoch(Session *s, const CifarSplit *test, TrainPosition *pos,
                             const Epoch *ep, Progress *prog)
{
    double train_time = now_seconds() - ep->t0;
    EvalResult ev = {.loss = NAN, .acc = NAN};
    const int evaluated = evaluates(s, ep->epoch);
    EvalResult vev = {.loss = NAN, .acc = NAN};
    if (evaluated) ev = evaluate_shared(s, test, TTA_NONE);
    if (evaluated && s->val) vev = evaluate_shared(s, s->val, TTA_NONE);
    double secs = now_seconds() - ep->t0;
    EpochRecord rec = {.epoch = ep->epoch, .lr = ep->lr, .train_loss = ep->loss_sum / ep->seen,
                       .train_acc = (double)ep->correct / ep->seen, .test_loss = ev.loss,
                       .test_acc = ev.acc, .evaluated = evaluated, .seconds = secs,
                       .images_per_sec = ep->seen / train_time, .steps = ep->steps,
                       .images = ep->seen, .val_loss = vev.loss, .val_acc = vev.acc,
                       .validated = evaluated && s->val,
                       .run_seconds = pos->train_seconds + secs};
    char rates[256]; /* each group's, with [group.*] sections */
    optimizer_rates_text(&s->opt, ep->lr, rates, sizeof rates);
    progress_epoch(prog, ep->epoch, rates, rec.train_loss, rec.train_acc, ev.loss, ev.acc, secs,
                   rec.images_per_sec);
    if (rec.validated && !s->quiet) { /* --jobs: one line per run, not per epoch */
        printf("          validation loss %.4f acc %.2f%%\n", vev.loss, 100 * vev.acc);
        fflush(stdout); /* the epoch's line's (stdout) */
    }
    /* runs.train_seconds: finished epochs, training + evaluation */
    *pos = (TrainPosition){.epoch = ep->epoch, .step = pos->step,
                           .train_seconds = pos->train_seconds + secs};
    return rec;
}

/* The accuracy an evaluated epoch is judged on: validation, else test.
 * Marks rec improved (a new best) and reached_target, and says whether
 * the run stops here ([experiment] patience, target_accuracy): the reason,
 * or NULL to go on. */
static const char *judge_epoch(Session *s, EpochRecord *rec)
{
    const Experiment *e = s->e;
    if (!rec->evaluated) return NULL;
    double acc = rec->validated ? rec->val_acc : rec->test_acc;
    if (acc > s->best_acc) {
        s->best_acc = acc;
        s->best_epoch = rec->epoch;
        rec->improved = 1;
    }
    if (e->target_accuracy > 0 && acc >= e->target_accuracy) {
        rec->reached_target = 1;
        return "target";
    }
    if (e->patience > 0 && rec->epoch - s->best_epoch >= e->patience) return "patience";
    return NULL;
}

/* [sweep] prune after epoch: the caller's decision (rank 0 reads the
 * database), the same on every rank. */
static int pruned(const Session *s, const TrainCallbacks *cb, int epoch, double metric)
{
    if (!cb->prune) return 0;
    int stop = cb->prune(cb->ctx, epoch, metric) != 0;
    train_agree(s, NULL, &stop);
    return stop;
}

/* [experiment] tta: the trained model evaluated over the views, its time
 * counted in the run's (a run killed during it does it again on resume). */
static TrainEnd final_evaluation(Session *s, const CifarSplit *test, TrainPosition *pos,
                                 const TrainCallbacks *cb, const char **why)
{
    if (s->e->tta == TTA_NONE) return TRAIN_FINISHED;
    double t0 = now_seconds();
    EvalResult ev = evaluate_shared(s, test, s->e->tta);
    pos->train_seconds += now_seconds() - t0;
    /* a result, on stdout as the epochs are; a --jobs worker's on stderr,
     * which its parent prefixes with the run's name */
    FILE *res = s->quiet ? stderr : stdout;
    fprintf(res, "final test loss %.4f acc %.2f%% with test-time augmentation (%d views)\n",
            ev.loss, 100 * ev.acc, tta_views(s->e->tta));
    fflush(res);
    if ((*why = train_agree(s, cb->final ? cb->final(cb->ctx, &ev, tta_views(s->e->tta)) : NULL,
                            NULL)))
        return TRAIN_FAILED;
    return TRAIN_FINISHED;
}

TrainEnd train_loop(Session *s, const CifarSplit *train, const CifarSplit *test,
                    TrainPosition *pos, const TrainCallbacks *cb, const char **why)
{
    *why = NULL;
    Progress prog;
    progress_init(&prog, s->run.epochs);
    prog.quiet = s->quiet;
    /* resumed at an epoch's end: the decision that epoch's end may not have got to */
    if (pos->epoch > 0 && pos->epoch < s->run.epochs && pos->steps_in_epoch == 0 &&
        evaluates(s, pos->epoch) && pruned(s, cb, pos->epoch, NAN)) {
        s->stop_reason = "pruned";
        fprintf(stderr, "stopped after epoch %d of %d: pruned ([sweep] prune: below the earlier "
                        "runs at this epoch)\n", pos->epoch, s->run.epochs);
    }
    while (pos->epoch < s->run.epochs && !s->stop_reason) {
        if (cb->until_epoch > 0 && pos->epoch >= cb->until_epoch && pos->steps_in_epoch == 0)
            return TRAIN_PAUSED;
        Epoch ep = begin_epoch(s, pos);
        TrainEnd end = train_steps(s, train, pos, &ep, &prog, cb, why);
        if (end != TRAIN_FINISHED) {
            keep_partial_epoch(s, pos, &ep);
            return end;
        }
        EpochRecord rec = end_epoch(s, test, pos, &ep, &prog);
        const char *stop = judge_epoch(s, &rec);
        if ((*why = train_agree(s, cb->epoch ? cb->epoch(cb->ctx, &rec) : NULL, NULL)))
            return TRAIN_FAILED;
        if (rec.evaluated && !isfinite(rec.test_loss)) {
            *why = "the test loss became NaN or infinite; lower the learning rate";
            return TRAIN_DIVERGED;
        }
        if ((*why = train_agree(s, cb->checkpoint ? cb->checkpoint(cb->ctx, s, pos, &rec) : NULL,
                                NULL)))
            return TRAIN_FAILED;
        if (!stop && rec.evaluated && pos->epoch < s->run.epochs && pruned(s, cb, rec.epoch,
                                             rec.validated ? rec.val_acc : rec.test_acc))
            stop = "pruned";
        if (stop && pos->epoch < s->run.epochs) {
            s->stop_reason = stop;
            fprintf(stderr, "stopped after epoch %d of %d: %s\n", pos->epoch, s->run.epochs,
                    strcmp(stop, "target") == 0   ? "target_accuracy reached"
                    : strcmp(stop, "pruned") == 0 ? "pruned ([sweep] prune: below the "
                                                    "earlier runs at this epoch)"
                                                  : "no better accuracy in `patience` epochs");
            break;
        }
    }
    return final_evaluation(s, test, pos, cb, why);
}
