/* data.h — CIFAR-10 in the binary layout (data_batch_1..5.bin, test_batch.bin:
 * records of 1 label byte + 3072 pixel bytes, R/G/B planes of 32x32), and
 * turning images into normalised, augmented NHWC float batches. */
#ifndef CNNRUN_DATA_H
#define CNNRUN_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "cnnrun/rng.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS) /* 3072 */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)                         /* 3073 */
#define CIFAR_CLASSES 10
#define CIFAR_FILE_RECORDS 10000

typedef struct {
    int n;            /* number of images */
    uint8_t *pixels;  /* n * 3072 bytes, as in the file: planes R, G, B of 32x32 */
    uint8_t *labels;  /* n labels in 0..9 */
} CifarSplit;

/* Loads the training (data_batch_1..5.bin) and test (test_batch.bin) splits
 * from dir. Real CIFAR-10 files must hold exactly 10,000 records; a directory
 * holding a file `cnnrun-sample.txt` (the embedded sample) may hold fewer, with
 * the counts listed there. A missing, unreadable, truncated or oversized file,
 * or a label > 9, is an error naming the file (and record); returns -1 after
 * printing it, 0 on success. */
int cifar_load(const char *dir, CifarSplit *train, CifarSplit *test);
void cifar_free(CifarSplit *s);

/* Keeps the first n images (n <= s->n); used by `[data] train_subset`. */
void cifar_truncate(CifarSplit *s, int n);

/* [data] validation: moves the last n / CIFAR_CLASSES images of each class
 * (in s's order: the files' order, after train_subset) out of s into *val,
 * in that order; s keeps the rest in their order. The same images whatever
 * the seed. n a multiple of CIFAR_CLASSES, 0 < n < s->n. Returns -1 (nothing
 * moved) or the first class with fewer than n / CIFAR_CLASSES images. Free
 * *val with cifar_free. */
int cifar_hold_out(CifarSplit *s, int n, CifarSplit *val);

/* The directory of the small sample shipped with cnnrun (data/sample). */
const char *cifar_sample_dir(void);

/* Where data comes from, first that is set: --data, [data] dir, $CNNRUN_DATA,
 * the embedded sample. Returns the chosen directory and sets *origin to a
 * short description ("--data", "[data] dir", "$CNNRUN_DATA", "embedded sample").
 * One that is set but empty (--data '', CNNRUN_DATA= ) is never skipped for
 * the next: NULL, after printing why (the caller exits 2), as `dir =` is an
 * error in the file. */
const char *cifar_resolve_dir(const char *cli_dir, const char *config_dir, const char **origin);

/* Initialise with designated initialisers: a field left out is "off". */
typedef struct {
    int crop_pad;    /* random 32x32 crop from the image zero-padded by crop_pad */
    bool flip;       /* random horizontal flip, p = 0.5 */
    bool normalize;  /* per-channel (x/255 - mean) / std, CIFAR-10 statistics */
    /* random translation by dy, dx uniform in -translate..translate, the pixels
     * brought in taken from the reflect-padded image (PyTorch's F.pad
     * mode='reflect': the edge pixel is not repeated). Ignored when
     * crop_pad > 0 (the experiment file refuses both). */
    int translate;
    /* alternating flip: NULL for none; else image j of the split (idx[i] = j)
     * is mirrored iff flip_bits[j] XOR (epoch is even). epoch counts as the
     * trainer and the results database do, from 1: the first epoch uses the
     * bits as drawn (cifar_flip_bits), the second their complement, and so on.
     * Composes (XOR) with a random `flip`, which the experiment file refuses
     * together with it. */
    const uint8_t *flip_bits;
    int epoch;
} Augment;

/* Draws the alternating-flip bits of n images from seed (stream
 * RNG_STREAM_FLIP): bits[j] = rng_below(2), j = 0..n-1 in order, so the
 * bits are a function of the seed alone (a resumed run draws them again) and
 * the first n of a larger split are the same. */
void cifar_flip_bits(uint64_t seed, int n, uint8_t *bits);

/* The class names, in label order (batches.meta.txt). */
extern const char *const cifar_class_names[CIFAR_CLASSES];

/* Per-channel CIFAR-10 mean and std (of x/255), as in the reference recipe. */
extern const float cifar_mean[3];
extern const float cifar_std[3];

/* Builds a batch of n images s[idx[i]] as floats in NHWC order (n,32,32,3).
 * Augmentation draws from rng (may be NULL when aug has no random part:
 * no crop, translate or random flip). Crop padding pixels are 0 before
 * normalisation (i.e. black), like torchvision's RandomCrop(32, padding=4);
 * translate's are reflected image pixels. labels_out may be NULL. */
void cifar_make_batch(const CifarSplit *s, const int *idx, int n, const Augment *aug, Rng *rng,
                      float *out, int *labels_out);

#endif
