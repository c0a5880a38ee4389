/* feed.c — what a training loop feeds the model, from the experiment: the
 * number of steps per epoch ([data] batch_size, drop_last), how many steps
 * and epochs the run has ([experiment] epochs or steps) and the batch
 * augmentation ([data] augment, with the alternating flip's per-image bits).
 * Shared by the trainer and lr-find so that both see the same batches. */
#include <math.h>
#include <stdlib.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

int train_steps_per_epoch(const Experiment *e, int n_train)
{
    const int B = e->batch_size;
    return e->drop_last ? n_train / B : (n_train + B - 1) / B;
}

long train_epochs_to_steps(double epochs, int steps_per_epoch)
{
    double x = epochs * steps_per_epoch, r = nearbyint(x);
    long s = fabs(x - r) <= 1e-6 * (x + 1.0) ? (long)r : (long)ceil(x);
    return s > 0 ? s : 1;
}

RunLength train_run_length(const Experiment *e, int steps_per_epoch)
{
    const int spe = steps_per_epoch > 0 ? steps_per_epoch : 1;
    RunLength r;
    r.steps = e->steps > 0 ? e->steps : train_epochs_to_steps(e->epochs, spe);
    r.epochs = (int)((r.steps + spe - 1) / spe);
    r.last_steps = (int)(r.steps - (long)(r.epochs - 1) * spe);
    r.end = (double)r.steps / spe;
    return r;
}

int train_epoch_steps(const RunLength *r, int steps_per_epoch, int epoch)
{
    return epoch == r->epochs ? r->last_steps : steps_per_epoch;
}

int train_check_data(const Experiment *e, int n_train)
{
    if (train_steps_per_epoch(e, n_train) > 0) return 0;
    fprintf(stderr, "%s: drop_last = true with batch_size %d and only %d training images: an "
                    "epoch would have no step (lower batch_size or set drop_last = false)\n",
            e->path, e->batch_size, n_train);
    return CN_EXIT_USAGE;
}

int train_check_ranks(const Experiment *e, int n_train, int ranks)
{
    if (ranks <= 1) return 0;
    int smallest = e->batch_size; /* the last batch of an epoch may be short */
    if (n_train > 0 && !e->drop_last && n_train % e->batch_size) smallest = n_train % e->batch_size;
    if (smallest >= ranks) return 0;
    fprintf(stderr, "%s: %d ranks share each step's batch, but a step has only %d image%s "
                    "(batch_size %d%s); run on at most %d ranks, or change batch_size%s\n",
            e->path, ranks, smallest, smallest == 1 ? "" : "s", e->batch_size,
            smallest < e->batch_size ? ", the epoch's last batch" : "", smallest,
            smallest < e->batch_size ? " or set drop_last = true" : "");
    return CN_EXIT_USAGE;
}

void train_augment_init(Augment *a, const Experiment *e, int n_train)
{
    *a = (Augment){.crop_pad = e->augment_crop, .flip = e->augment_flip,
                   .normalize = e->normalize != NORM_NONE, .translate = e->augment_translate,
                   .epoch = 1};
    if (e->normalize == NORM_DATASET) { /* the training images' own statistics */
        a->mean = e->norm_mean;
        a->std = e->norm_std;
    }
    if (e->augment_flip_alternating) {
        uint8_t *bits = xmalloc((size_t)(n_train > 0 ? n_train : 1));
        cifar_flip_bits(e->seed, n_train, bits);
        a->flip_bits = bits;
    }
}

void train_augment_free(Augment *a)
{
    free((void *)a->flip_bits);
    a->flip_bits = NULL;
}
