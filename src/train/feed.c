/* feed.c — what a training loop feeds the model, from the experiment: the
 * number of steps per epoch ([data] batch_size, drop_last) and the batch
 * augmentation ([data] augment, with the alternating flip's per-image bits).
 * Shared by the trainer and lr-find so that both see the same batches. */
#include <stdlib.h>

#include "cnnrun/train.h"
#include "cnnrun/util.h"

int train_steps_per_epoch(const Experiment *e, int n_train)
{
    const int B = e->batch_size;
    return e->drop_last ? n_train / B : (n_train + B - 1) / B;
}

int train_check_data(const Experiment *e, int n_train)
{
    if (train_steps_per_epoch(e, n_train) > 0) return 0;
    fprintf(stderr, "%s: drop_last = true with batch_size %d and only %d training images: an "
                    "epoch would have no step (lower batch_size or set drop_last = false)\n",
            e->path, e->batch_size, n_train);
    return CN_EXIT_USAGE;
}

void train_augment_init(Augment *a, const Experiment *e, int n_train)
{
    *a = (Augment){.crop_pad = e->augment_crop, .flip = e->augment_flip,
                   .normalize = e->normalize, .translate = e->augment_translate, .epoch = 1};
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
