/* image.h — people's own pictures for `cnnrun predict`: PNG (libpng), JPEG
 * (libjpeg-turbo) and PPM (P6 binary, P3 text) files decoded to 8-bit RGB,
 * and resized to the network's 32x32 in CIFAR-10's layout. */
#ifndef CNNRUN_IMAGE_H
#define CNNRUN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *rgb; /* h rows of w pixels, R G B bytes each */
} Image;

/* Decodes path by its first bytes (not its name): PNG (any bit depth, grey,
 * palette; alpha composited over white), JPEG (grey or colour; CMYK is
 * refused), PPM (maxval up to 65535, scaled to 8 bits). 0, or -1 with the
 * reason in err ("No such file or directory", "not a PNG, JPEG or PPM
 * image", the decoder's message). Free with image_free. */
int image_load(const char *path, Image *img, char *err, size_t errlen);
void image_free(Image *img);

/* The whole image (its aspect ratio not kept) as side x side pixels in
 * CIFAR-10's record layout: planes R, G, B of side x side bytes. Each axis
 * on its own: shrinking averages the source pixels each output pixel covers,
 * weighted by how much of them it covers (area / box filter); enlarging
 * interpolates linearly between the two nearest pixel centres (bilinear,
 * half-pixel centres, edges clamped); equal size copies. Values rounded to
 * the nearest byte. */
void image_resize_planes(const Image *img, int side, uint8_t *planes);

/* Writes w x h RGB bytes as an 8-bit PNG (what the tests feed predict).
 * 0, or -1 with the reason in err. */
int image_write_png(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errlen);

#endif
