/* image.c — decoding PNG (libpng's simplified API), JPEG (libjpeg-turbo)
 * and PPM files to 8-bit RGB, writing PNG, and resizing an image to the
 * network's input (area average when shrinking, bilinear when enlarging,
 * separately per axis) in CIFAR-10's planar layout. See image.h. */
#include "cnnrun/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h>

#include "cnnrun/files.h"
#include "cnnrun/util.h"

/* Larger images are refused (a decoding bomb, not a photograph). */
#define IMAGE_MAX_PIXELS (1L << 28)
#define IMAGE_MAX_SIDE 65535L

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
    snprintf(err, errlen, fmt, what);
    return -1;
}

static int too_large(long w, long h)
{
    /* each side too: the resize's filter tables grow with the longer side */
    return w <= 0 || h <= 0 || w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE ||
           w > IMAGE_MAX_PIXELS / h;
}

/* ---- PNG ---- */

static int load_png(FILE *f, Image *img, char *err, size_t errlen)
{
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&p, f))
        return fail(err, errlen, "PNG: %s", p.message);
    if (too_large(p.width, p.height)) {
        png_image_free(&p);
        return fail(err, errlen, "%s", "PNG: larger than 2^28 pixels or 65535 a side");
    }
    p.format = PNG_FORMAT_RGB;
    img->w = (int)p.width;
    img->h = (int)p.height;
    img->rgb = xmalloc(PNG_IMAGE_SIZE(p));
    png_color white = {255, 255, 255}; /* transparent pixels become white */
    if (!png_image_finish_read(&p, &white, img->rgb, 0, NULL)) {
        image_free(img);
        return fail(err, errlen, "PNG: %s", p.message);
    }
    return 0;
}

int image_write_png(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errlen)
{
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    p.width = (png_uint_32)w;
    p.height = (png_uint_32)h;
    p.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&p, path, 0, rgb, 0, NULL))
        return fail(err, errlen, "PNG: %s", p.message);
    return 0;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int damaged;      /* a warning that the data lacks pixels: truncated or corrupt */
    char warning[JMSG_LENGTH_MAX]; /* its text */
} JpegError;

static void jpeg_fail(j_common_ptr c)
{
    JpegError *e = (JpegError *)c->err;
    c->err->format_message(c, e->message);
    longjmp(e->jump, 1);
}

/* Warnings (level < 0) are not printed; those that mean missing or
 * resynchronised image data — the decoder fills the rest with grey or
 * garbage — make the image unreadable. Extraneous bytes between markers,
 * which many cameras write, do not. Trace messages (level >= 0): nothing. */
static void jpeg_warning(j_common_ptr c, int level)
{
    JpegError *e = (JpegError *)c->err;
    if (level >= 0) return;
    int code = c->err->msg_code;
    if (!e->damaged && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER ||
                        code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL)) {
        e->damaged = 1;
        c->err->format_message(c, e->warning);
    }
    c->err->num_warnings++;
}

static int load_jpeg(FILE *f, Image *img, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    JpegError e;
    memset(&d, 0, sizeof d); /* destroyable even if create fails */
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_warning;
    e.damaged = 0;
    uint8_t *volatile rgb = NULL;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&d);
        free(rgb);
        return fail(err, errlen, "JPEG: %s", e.message);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    /* before jpeg_start_decompress: a progressive image's coefficient
     * buffers are the header's size, allocated there */
    if (too_large(d.image_width, d.image_height)) {
        jpeg_destroy_decompress(&d);
        return fail(err, errlen, "%s", "JPEG: larger than 2^28 pixels or 65535 a side");
    }
    d.mem->max_memory_to_use = 1L << 30; /* beyond it the library fails (jpeg_fail) */
    if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&d);
        return fail(err, errlen, "%s", "JPEG: CMYK images are not supported");
    }
    d.out_color_space = JCS_RGB; /* grey is expanded */
    jpeg_start_decompress(&d);
    if (d.output_components != 3) {
        jpeg_destroy_decompress(&d);
        return fail(err, errlen, "%s", "JPEG: not decoded to 3 colour components");
    }
    const size_t stride = (size_t)d.output_width * 3;
    rgb = xmalloc(stride * d.output_height);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = rgb + stride * d.output_scanline;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    if (e.damaged) {
        jpeg_destroy_decompress(&d);
        free(rgb);
        return fail(err, errlen, "JPEG: truncated or damaged data (%s)", e.warning);
    }
    img->w = (int)d.output_width;
    img->h = (int)d.output_height;
    img->rgb = rgb;
    jpeg_destroy_decompress(&d);
    return 0;
}

/* ---- PPM (netpbm P6 binary, P3 text) ---- */

/* The next decimal number, skipping white space and # comments; -1 if none.
 * A number above 10^8 reads as 10^8 + 1: too large for any header field or
 * sample, and named so (not as missing data). */
static long ppm_number(FILE *f)
{
    int ch;
    for (;;) {
        ch = getc(f);
        if (ch == '#')
            while (ch != '\n' && ch != EOF) ch = getc(f);
        else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
    }
    if (ch < '0' || ch > '9') return -1;
    long v = 0;
    while (ch >= '0' && ch <= '9') {
        v = v > 100000000 ? 100000001 : v * 10 + (ch - '0');
        ch = getc(f);
    }
    if (ch != EOF && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') return -1;
    return v; /* one white space character after the number was read */
}

static int load_ppm(FILE *f, int binary, Image *img, char *err, size_t errlen)
{
    long w = ppm_number(f), h = ppm_number(f), maxval = ppm_number(f);
    if (w < 0 || h < 0 || maxval < 1 || maxval > 65535)
        return fail(err, errlen, "%s", "PPM: bad header (width, height, maxval 1..65535)");
    if (too_large(w, h))
        return fail(err, errlen, "%s", "PPM: empty or larger than 2^28 pixels or 65535 a side");
    size_t n = (size_t)w * (size_t)h * 3;
    struct stat st;
    long at = ftell(f);
    if (binary && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && at >= 0 &&
        (size_t)(st.st_size - at) < n * (maxval < 256 ? 1 : 2))
        return fail(err, errlen, "%s", "PPM: truncated pixel data"); /* before a header-sized allocation */
    img->w = (int)w;
    img->h = (int)h;
    img->rgb = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        long v;
        if (!binary) v = ppm_number(f);
        else if (maxval < 256) v = getc(f);
        else {
            int hi = getc(f), lo = getc(f);
            v = hi == EOF || lo == EOF ? -1 : hi << 8 | lo;
        }
        if (v < 0 || v > maxval) {
            image_free(img);
            return fail(err, errlen, "%s",
                        v < 0 ? "PPM: truncated pixel data"
                              : "PPM: a value out of range (above the header's maxval)");
        }
        img->rgb[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    return 0;
}

int image_load(const char *path, Image *img, char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    /* a directory, FIFO or device is named as such, and none is opened */
    int fd = open_regular(path, NULL);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fail(err, errlen, "%s", e == EISDIR ? "a directory, not an image" : cn_strerror(e));
    }
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof magic, f);
    int rc;
    rewind(f);
    if (got == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8))
        rc = load_png(f, img, err, errlen);
    else if (got >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        rc = load_jpeg(f, img, err, errlen);
    else if (got >= 2 && magic[0] == 'P' && (magic[1] == '6' || magic[1] == '3')) {
        fseek(f, 2, SEEK_SET);
        rc = load_ppm(f, magic[1] == '6', img, err, errlen);
    } else if (ferror(f))
        rc = fail(err, errlen, "%s", strerror(EIO));
    else
        rc = fail(err, errlen, "%s", got ? "not a PNG, JPEG or PPM image" : "empty file");
    fclose(f);
    return rc;
}

void image_free(Image *img)
{
    free(img->rgb);
    img->rgb = NULL;
}

/* ---- resizing ---- */

/* For each of dst output positions along an axis of src pixels: the first
 * source pixel (first[j]), and taps weights w[j * taps + t] for first[j] + t. */
typedef struct {
    int taps;
    int *first;
    float *w;
} AxisFilter;

static AxisFilter axis_filter(int src, int dst)
{
    AxisFilter f;
    const double scale = (double)src / dst;
    f.taps = src > dst ? (int)ceil(scale) + 1 : 2;
    f.first = xcalloc((size_t)dst, sizeof(int));
    f.w = xcalloc((size_t)dst * f.taps, sizeof(float));
    for (int j = 0; j < dst; j++) {
        float *w = f.w + (size_t)j * f.taps;
        if (src > dst) { /* area: the source interval [j, j+1) * scale covers */
            double lo = j * scale, hi = (j + 1) * scale;
            int i0 = (int)floor(lo);
            f.first[j] = i0;
            for (int t = 0; t < f.taps && i0 + t < src; t++) {
                double a = fmax(lo, i0 + t), b = fmin(hi, i0 + t + 1.0);
                w[t] = b > a ? (float)((b - a) / scale) : 0.0f;
            }
        } else { /* bilinear (equal sizes: weight 1 on the same pixel) */
            double c = (j + 0.5) * scale - 0.5;
            if (c < 0) c = 0;
            if (c > src - 1) c = src - 1;
            int i0 = (int)floor(c);
            if (i0 > src - 2) i0 = src > 1 ? src - 2 : 0;
            double frac = c - i0;
            f.first[j] = i0;
            w[0] = (float)(1.0 - frac);
            if (src > 1) w[1] = (float)frac;
        }
    }
    return f;
}

void image_resize_planes(const Image *img, int side, uint8_t *planes)
{
    AxisFilter fx = axis_filter(img->w, side), fy = axis_filter(img->h, side);
    /* rows first: (h, side, 3) floats */
    float *rows = xmalloc(sizeof(float) * (size_t)img->h * side * 3);
    for (int y = 0; y < img->h; y++) {
        const uint8_t *src = img->rgb + (size_t)y * img->w * 3;
        for (int j = 0; j < side; j++) {
            float acc[3] = {0, 0, 0};
            for (int t = 0; t < fx.taps; t++) {
                int x = fx.first[j] + t;
                float w = fx.w[(size_t)j * fx.taps + t];
                if (w == 0.0f || x >= img->w) continue;
                for (int c = 0; c < 3; c++) acc[c] += w * src[(size_t)x * 3 + c];
            }
            memcpy(rows + ((size_t)y * side + j) * 3, acc, sizeof acc);
        }
    }
    for (int i = 0; i < side; i++)
        for (int j = 0; j < side; j++)
            for (int c = 0; c < 3; c++) {
                float acc = 0;
                for (int t = 0; t < fy.taps; t++) {
                    int y = fy.first[i] + t;
                    float w = fy.w[(size_t)i * fy.taps + t];
                    if (w == 0.0f || y >= img->h) continue;
                    acc += w * rows[((size_t)y * side + j) * 3 + c];
                }
                long v = lroundf(acc);
                planes[((size_t)c * side + i) * side + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    free(rows);
    free(fx.first);
    free(fx.w);
    free(fy.first);
    free(fy.w);
}
