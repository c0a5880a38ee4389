/* data.h — CIFAR-10 in the binary layout (data_batch_1..5.bin, test_batch.bin:
 * records of 1 label byte + 3072 pixel bytes, R/G/B planes of 32x32), the
 * other data sets `[data] dataset` names (CIFAR-100's binary layout, a
 * folder of people's own pictures: data_load), each kept in memory in
 * CIFAR-10's layout, and turning images into normalised, augmented NHWC
 * float batches. */
#ifndef CNNRUN_DATA_H
#define CNNRUN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cnnrun/rng.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS) /* 3072 */
#define CIFAR_RECORD (1 + CIFAR_PIXELS)                         /* 3073 */
#define CIFAR_CLASSES 10
#define CIFAR_FILE_RECORDS 10000
/* labels are bytes: a data set has at most 256 classes */
#define DATA_MAX_CLASSES 256

typedef struct {
    int n;            /* number of images */
    uint8_t *pixels;  /* n * 3072 bytes, as in the file: planes R, G, B of 32x32 */
    uint8_t *labels;  /* n labels in 0..classes-1 (CIFAR-10: 0..9) */
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

/* [data] validation: moves the last n / classes images of each class (in
 * s's order: the files' order, after train_subset) out of s into *val, in
 * that order; s keeps the rest in their order. The same images whatever the
 * seed. n a multiple of classes (at most DATA_MAX_CLASSES), 0 < n < s->n.
 * Returns -1 (nothing moved) or the first class with fewer than n / classes
 * images. Free *val with cifar_free. */
int cifar_hold_out(CifarSplit *s, int classes, int n, CifarSplit *val);

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
    bool normalize;  /* per-channel (x/255 - mean) / std */
    /* normalize's statistics: NULL for CIFAR-10's (cifar_mean, cifar_std);
     * [data] normalize = dataset: the training images' (data_channel_stats) */
    const float *mean, *std;
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

/* ---- [data] dataset: cifar10 | cifar100 | folder (dataset.c) ---- */

/* What to load (the experiment's [data] keys). */
typedef struct {
    const char *dataset;   /* "cifar10", "cifar100", "folder" */
    const char *dir;
    bool coarse;           /* cifar100: the 20 coarse labels instead of the 100 fine ones */
    bool skip_bad_images;  /* folder: an image that cannot be decoded is left out, counted */
    /* folder without a test/ folder: the last validation / classes images
     * of each class of train/ are the test split (0: a test/ folder is
     * required) */
    int validation;
    /* folder: the memory its decoded pictures may take (3,072 bytes each),
     * the memory available; 0: unknown, not checked */
    double max_bytes;
} DataSpec;

#define DATA_DIR_MAX 1024

/* What was loaded: the data set's identity and its classes. */
typedef struct {
    char dataset[16];       /* "cifar10", "cifar100", "folder" */
    char label[8];          /* cifar100: "fine" or "coarse"; else "" */
    char dir[DATA_DIR_MAX]; /* the directory (absolute when it could be resolved) */
    int n_train, n_test;    /* images loaded, before the subsets and validation */
    int classes;
    char **names;           /* class names in label order (classes of them) */
    /* FNV-1a 64 of the names (each with its NUL) and of every label
     * byte, training split then test split */
    uint64_t names_hash, labels_hash;
    bool test_held_out;     /* folder without test/: the test split came from train/ */
    int skipped;            /* folder, skip_bad_images: images left out */
} DataInfo;

/* Loads the data set spec names into train and test (the images in
 * CIFAR-10's layout, labels 0..classes-1) and *info. Each problem is
 * printed naming the file (CIFAR: and the record; a folder: the image or
 * the class folder); -1 then, with nothing allocated; 0 on success. */
int data_load(const DataSpec *spec, CifarSplit *train, CifarSplit *test, DataInfo *info);
/* The number of classes spec's data has, without loading it (cifar10: 10;
 * cifar100: 100, coarse 20; folder: the class folders of DIR/train, each
 * with a file). 0, or -1 after printing why. */
int data_peek_classes(const DataSpec *spec, int *classes);
void data_info_free(DataInfo *info);
/* CIFAR-10 with its class names and nothing else known: the data of a
 * checkpoint written before checkpoints recorded it. */
void data_info_cifar10(DataInfo *info);

/* The identity as one line of `key=value` words (runs.data): dataset,
 * label (cifar100), dir, train, test, classes, names (hash), labels (hash). */
void data_identity(const DataInfo *info, char *buf, size_t size);
/* 1 when two identities are the same data; else 0 with why saying which
 * values changed ("train 50000 -> 49000, labels 1f...e -> 27...a"). */
int data_identity_same(const char *then, const char *now, char *why, size_t size);

/* Per-channel mean and standard deviation (population) of x/255 over the
 * n images of s: [data] normalize = dataset. Sums in integers: exact, the
 * same whatever the order or the thread count. */
void data_channel_stats(const CifarSplit *s, float mean[3], float std[3]);

/* The run's data as the checkpoint keeps it (text, caller frees): the
 * identity, the normalisation (mean, std: NULL for none recorded) and the
 * class names, a line each. data_info_parse reads it back into info (free
 * with data_info_free) and, when the text has them, mean and std
 * (*have_stats = 1). 0, or -1 for a text that is not one. */
char *data_info_text(const DataInfo *info, const float *mean, const float *std);
int data_info_parse(const char *text, DataInfo *info, float mean[3], float std[3],
                    int *have_stats);

/* Builds a batch of n images s[idx[i]] as floats in NHWC order (n,32,32,3).
 * Augmentation draws from rng (may be NULL when aug has no random part:
 * no crop, translate or random flip). Crop padding pixels are 0 before
 * normalisation (i.e. black), like torchvision's RandomCrop(32, padding=4);
 * translate's are reflected image pixels. labels_out may be NULL. */
void cifar_make_batch(const CifarSplit *s, const int *idx, int n, const Augment *aug, Rng *rng,
                      float *out, int *labels_out);

#endif
