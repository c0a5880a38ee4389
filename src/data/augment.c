/* augment.c — CIFAR-10 images to normalised, augmented NHWC float batches.
 *
 * Same order as the reference recipe (torchvision): RandomCrop(32, padding=p)
 * on the 8-bit image, then RandomHorizontalFlip, then ToTensor (x/255), then
 * Normalize(mean, std). So padding pixels are 0 before normalisation and come
 * out as (0 - mean) / std.
 *
 * Random draws, per image, in this order (tests rely on it):
 *   if crop_pad > 0:  dx = rng_below(rng, 2*crop_pad + 1)   left offset
 *                     dy = rng_below(rng, 2*crop_pad + 1)   top offset
 *   else if translate > 0:
 *                     dx = rng_below(rng, 2*translate + 1)  left offset
 *                     dy = rng_below(rng, 2*translate + 1)  top offset
 *   if flip:          f  = rng_below(rng, 2)                1 = mirror
 * The alternating flip (flip_bits) draws nothing here: f ^= flip_bits[idx[i]]
 * ^ (epoch is even).
 * Output pixel (y, x) of image i, channel c, is
 *   padded(y + dy, x' + dx)  with x' = f ? 31 - x : x,
 * where padded(Y, X) = img(Y - pad, X - pad) inside the image (pad = crop_pad
 * or translate), else 0 for crop and the reflection for translate:
 * img(r(Y - pad), r(X - pad)) with r(j) = -j for j < 0, 62 - j for j > 31
 * (the edge row/column is not repeated: padded[-1] = img[1]).
 * That is: translate, then mirror — as airbench's crop of the padded set
 * followed by its flip.
 *
 * Values go through a 256-entry lookup table per channel, so building a batch
 * is one table lookup per output float. */
#include "cnnrun/data.h"

#include <stddef.h>


const char *const cifar_class_names[CIFAR_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
const float cifar_std[3] = {0.2470f, 0.2435f, 0.2616f};

void cifar_flip_bits(uint64_t seed, int n, uint8_t *bits)
{
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_FLIP);
    for (int j = 0; j < n; j++) bits[j] = (uint8_t)rng_below(&r, 2);
}

/* Source index of padded coordinate j (-pad .. 31 + pad) in the image, or -1
 * for a zero-padding pixel. */
static int source_index(int j, bool reflect)
{
    if (j >= 0 && j < CIFAR_SIDE) return j;
    if (!reflect) return -1;
    return j < 0 ? -j : 2 * (CIFAR_SIDE - 1) - j;
}

void cifar_make_batch(const CifarSplit *s, const int *idx, int n, const Augment *aug, Rng *rng,
                      float *out, int *labels_out)
{
    static const Augment none = {.normalize = false};
    if (!aug) aug = &none;
    const int side = CIFAR_SIDE, plane = CIFAR_SIDE * CIFAR_SIDE;
    int pad = aug->crop_pad > 0 ? aug->crop_pad : 0;
    const bool reflect = pad == 0 && aug->translate > 0;
    if (reflect) pad = aug->translate;
    /* mirror relative to flip_bits in the 2nd, 4th, ... epoch */
    const int flip_phase = aug->epoch % 2 == 0;

    /* lut[c][v]: the float for 8-bit value v in channel c (computed per call:
     * 768 values, negligible next to a batch, and no shared state). */
    float lut[CIFAR_CHANNELS][256];
    const float *mean = aug->mean ? aug->mean : cifar_mean, *std = aug->std ? aug->std : cifar_std;
    for (int c = 0; c < CIFAR_CHANNELS; c++) {
        for (int v = 0; v < 256; v++) {
            float x = (float)v / 255.0f;
            lut[c][v] = aug->normalize ? (x - mean[c]) / std[c] : x;
        }
    }
    const float pad_value[CIFAR_CHANNELS] = {lut[0][0], lut[1][0], lut[2][0]};

    for (int i = 0; i < n; i++) {
        const uint8_t *img = s->pixels + (size_t)idx[i] * CIFAR_PIXELS;
        const uint8_t *r = img, *g = img + plane, *b = img + 2 * plane;
        float *o = out + (size_t)i * CIFAR_PIXELS;
        if (labels_out) labels_out[i] = s->labels[idx[i]];

        int dx = pad, dy = pad, flip = 0;
        if (pad > 0) {
            dx = (int)rng_below(rng, (uint32_t)(2 * pad + 1));
            dy = (int)rng_below(rng, (uint32_t)(2 * pad + 1));
        }
        if (aug->flip) flip = (int)rng_below(rng, 2);
        if (aug->flip_bits) flip ^= aug->flip_bits[idx[i]] ^ flip_phase;

        if (dx == pad && dy == pad && !flip) { /* fast path: straight conversion */
            for (int p = 0; p < plane; p++) {
                o[3 * p + 0] = lut[0][r[p]];
                o[3 * p + 1] = lut[1][g[p]];
                o[3 * p + 2] = lut[2][b[p]];
            }
            continue;
        }

        /* Source column for each output column, -1 for padding. */
        int colmap[CIFAR_SIDE];
        for (int x = 0; x < side; x++)
            colmap[x] = source_index((flip ? side - 1 - x : x) + dx - pad, reflect);
        for (int y = 0; y < side; y++) {
            float *orow = o + (size_t)y * side * CIFAR_CHANNELS;
            int sy = source_index(y + dy - pad, reflect);
            if (sy < 0) {
                for (int x = 0; x < side; x++) {
                    orow[3 * x + 0] = pad_value[0];
                    orow[3 * x + 1] = pad_value[1];
                    orow[3 * x + 2] = pad_value[2];
                }
                continue;
            }
            const uint8_t *rr = r + sy * side, *gr = g + sy * side, *br = b + sy * side;
            for (int x = 0; x < side; x++) {
                int sx = colmap[x];
                if (sx < 0) {
                    orow[3 * x + 0] = pad_value[0];
                    orow[3 * x + 1] = pad_value[1];
                    orow[3 * x + 2] = pad_value[2];
                } else {
                    orow[3 * x + 0] = lut[0][rr[sx]];
                    orow[3 * x + 1] = lut[1][gr[sx]];
                    orow[3 * x + 2] = lut[2][br[sx]];
                }
            }
        }
    }
}
