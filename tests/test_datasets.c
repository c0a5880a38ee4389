/* test_datasets.c — `[data] dataset = cifar100 | folder` (issue 37), on data
 * the tests write: CIFAR-100-layout files (train.bin, test.bin, a manifest
 * for their small size, the class-name files) and folders of PNG, JPEG and
 * PPM pictures (grey-scale, 16-bit, of other sizes, a damaged one, an empty
 * class). The loaders' images, labels, class names and errors (each naming
 * its file); the classes counted from the data and held against the
 * network's last layer (`check`, file:line, exit 2); normalize = dataset;
 * the data's identity in runs.data, a resume bit-identical to a run left
 * alone on both kinds of data and refused when the data changed; and eval,
 * predict and export naming the classes from the run's checkpoint. */
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/data.h"
#include "cnnrun/files.h"
#include "cnnrun/image.h"
#include "cnnrun/util.h"

/* ---- writing data --------------------------------------------------------- */

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static void make_dir(const char *name)
{
    char p[512];
    path_in(p, sizeof p, name);
    ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s", p);
}

static void write_bytes(const char *name, const void *data, size_t n)
{
    char p[512];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* CIFAR-100 record r of a file: coarse label, fine label, 3072 pixels. The
 * fine label is r % 100 (so 300 records hold 3 of each class), the coarse
 * one fine / 5, the pixels a function of (file, r). */
static uint8_t c100_pixel(int file, int r, int p)
{
    return (uint8_t)(file * 17 + r * 5 + p * 3);
}

static void write_c100_file(const char *name, int file, int records, int bad_record)
{
    size_t n = (size_t)records * 3074;
    uint8_t *b = xmalloc(n);
    for (int r = 0; r < records; r++) {
        uint8_t *rec = b + (size_t)r * 3074;
        rec[1] = (uint8_t)(r % 100);
        rec[0] = (uint8_t)(rec[1] / 5);
        if (r == bad_record) rec[1] = 100; /* a fine label out of range */
        for (int p = 0; p < 3072; p++) rec[2 + p] = c100_pixel(file, r, p);
    }
    write_bytes(name, b, n);
    free(b);
}

/* sub/: 300 training and 100 test records, a manifest, fine names. */
static void write_c100(const char *sub)
{
    char p[128];
    make_dir(sub);
    snprintf(p, sizeof p, "%s/train.bin", sub);
    write_c100_file(p, 0, 300, -1);
    snprintf(p, sizeof p, "%s/test.bin", sub);
    write_c100_file(p, 1, 100, -1);
    snprintf(p, sizeof p, "%s/cnnrun-sample.txt", sub);
    write_file(p, "# a small CIFAR-100 written by test_datasets\ntrain.bin 300\ntest.bin 100\n");
    char names[2000] = "";
    for (int c = 0; c < 100; c++) {
        char line[32];
        snprintf(line, sizeof line, "fine%02d\n", c);
        strcat(names, line);
    }
    strcat(names, "\n"); /* a blank line at the end is no name */
    snprintf(p, sizeof p, "%s/fine_label_names.txt", sub);
    write_file(p, names);
}

/* A w x h picture of class c (0 red, 1 green, 2 blue): its colour with a
 * little pattern from k. */
static uint8_t *picture(int c, int k, int w, int h)
{
    uint8_t *rgb = xmalloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int ch = 0; ch < 3; ch++)
                rgb[((size_t)y * w + x) * 3 + ch] =
                    (uint8_t)((ch == c ? 180 : 40) + ((x * 7 + y * 3 + k * 11) % 32));
    return rgb;
}

static void write_png(const char *name, const uint8_t *rgb, int w, int h)
{
    char p[512], err[256];
    path_in(p, sizeof p, name);
    ck_assert_msg(image_write_png(p, rgb, w, h, err, sizeof err) == 0, "%s", err);
}

/* A grey-scale PNG (1 channel) or a 16-bit RGB one, with libpng's
 * simplified API. */
static void write_png_format(const char *name, const void *pixels, int w, int h,
                             png_uint_32 format)
{
    char p[512];
    path_in(p, sizeof p, name);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = format;
    ck_assert_msg(png_image_write_to_file(&im, p, 0, pixels, 0, NULL), "%s", im.message);
}

static void write_jpeg(const char *name, const uint8_t *rgb, int w, int h)
{
    char p[512];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    struct jpeg_compress_struct jc;
    struct jpeg_error_mgr jerr;
    jc.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&jc);
    jpeg_stdio_dest(&jc, f);
    jc.image_width = (JDIMENSION)w;
    jc.image_height = (JDIMENSION)h;
    jc.input_components = 3;
    jc.in_color_space = JCS_RGB;
    jpeg_set_defaults(&jc);
    jpeg_set_quality(&jc, 95, TRUE);
    jpeg_start_compress(&jc, TRUE);
    while (jc.next_scanline < jc.image_height) {
        JSAMPROW r = (JSAMPROW)(rgb + (size_t)jc.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&jc, &r, 1);
    }
    jpeg_finish_compress(&jc);
    jpeg_destroy_compress(&jc);
    fclose(f);
}

static const char *const colours[3] = {"red", "green", "blue"};

/* sub/{train,test}/{red,green,blue}: per_train and per_test pictures of each
 * class, PNG and JPEG in turn, of 32x32, 40x40 and 24x24 (resized to 32x32
 * when loaded). */
static void write_folder(const char *sub, int per_train, int per_test)
{
    char p[256];
    make_dir(sub);
    for (int s = 0; s < 2; s++) {
        const char *split = s ? "test" : "train";
        int per = s ? per_test : per_train;
        if (per == 0) continue;
        snprintf(p, sizeof p, "%s/%s", sub, split);
        make_dir(p);
        for (int c = 0; c < 3; c++) {
            snprintf(p, sizeof p, "%s/%s/%s", sub, split, colours[c]);
            make_dir(p);
            for (int k = 0; k < per; k++) {
                int side = k % 3 == 0 ? 32 : k % 3 == 1 ? 40 : 24;
                uint8_t *rgb = picture(c, k + 100 * s, side, side);
                snprintf(p, sizeof p, "%s/%s/%s/%03d.%s", sub, split, colours[c], k,
                         k % 2 ? "jpg" : "png");
                if (k % 2) write_jpeg(p, rgb, side, side);
                else write_png(p, rgb, side, side);
                free(rgb);
            }
        }
    }
}

static DataInfo load_ok(const char *dataset, const char *sub, bool coarse, int validation,
                        CifarSplit *train, CifarSplit *test)
{
    char p[512];
    path_in(p, sizeof p, sub);
    DataSpec spec = {.dataset = dataset, .dir = p, .coarse = coarse, .validation = validation};
    DataInfo info;
    ck_assert_int_eq(data_load(&spec, train, test, &info), 0);
    return info;
}

/* ---- CIFAR-100 -------------------------------------------------------------- */

/* The fine labels (the second byte), the class names from
 * fine_label_names.txt, the pixels as written; with label = coarse the first
 * byte and, without coarse_label_names.txt, the label numbers as names. */
START_TEST(test_cifar100_load)
{
    write_c100("c");
    CifarSplit tr, te;
    DataInfo info = load_ok("cifar100", "c", false, 0, &tr, &te);
    ck_assert_int_eq(info.classes, 100);
    ck_assert_int_eq(tr.n, 300);
    ck_assert_int_eq(te.n, 100);
    ck_assert_str_eq(info.names[0], "fine00");
    ck_assert_str_eq(info.names[99], "fine99");
    ck_assert_str_eq(info.label, "fine");
    for (int r = 0; r < 300; r++) ck_assert_int_eq(tr.labels[r], r % 100);
    ck_assert_int_eq(tr.pixels[(size_t)7 * 3072 + 5], c100_pixel(0, 7, 5));
    ck_assert_int_eq(te.pixels[(size_t)99 * 3072 + 3071], c100_pixel(1, 99, 3071));
    char id[2048];
    data_identity(&info, id, sizeof id);
    ck_assert_msg(strstr(id, "dataset=cifar100 label=fine train=300 test=100 classes=100 "), "%s",
                  id);
    data_info_free(&info);
    cifar_free(&tr);
    cifar_free(&te);

    info = load_ok("cifar100", "c", true, 0, &tr, &te);
    ck_assert_int_eq(info.classes, 20);
    ck_assert_str_eq(info.names[19], "19");
    for (int r = 0; r < 300; r++) ck_assert_int_eq(tr.labels[r], (r % 100) / 5);
    data_info_free(&info);
    cifar_free(&tr);
    cifar_free(&te);
}
END_TEST

/* Each bad layout is refused, naming the file: a wrong size, a label out of
 * range (its record), a names file of the wrong length, a missing file, and
 * a CIFAR-10 directory given as CIFAR-100 (and the other way round). */
START_TEST(test_cifar100_bad_layouts)
{
    write_c100("c");
    write_file("c100.ini", "[data]\ndataset = cifar100\ndir = c\nbatch_size = 50\n"
                           "[layer.gap]\ntype = global_avgpool\n"
                           "[layer.fc]\ntype = linear\noutputs = 100\n");
    write_bytes("c/test.bin", "x", 1); /* 1 byte: not 100 records */
    ck_assert_int_eq(cnnrun("run c100.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "c/test.bin: truncated or wrong size: 1 bytes, expected 307400 (100 "
                              "records of 3074 bytes"), "%s", out);
    write_c100_file("c/test.bin", 1, 100, 42);
    ck_assert_int_eq(cnnrun("run c100.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "c/test.bin: record 42: fine label 100 is not in 0..99"), "%s", out);
    write_c100_file("c/test.bin", 1, 100, -1);
    write_file("c/fine_label_names.txt", "apple\nbanana\n");
    ck_assert_int_eq(cnnrun("run c100.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "c/fine_label_names.txt: 2 class names, expected 100 (one per "
                              "line)"), "%s", out);
    char p[512];
    path_in(p, sizeof p, "c/fine_label_names.txt");
    unlink(p);
    path_in(p, sizeof p, "c/train.bin");
    unlink(p);
    ck_assert_int_eq(cnnrun("run c100.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "c/train.bin: cannot open: No such file or directory"), "%s", out);
    ck_assert_msg(strstr(out, "a CIFAR-100 directory holds train.bin and test.bin"), "%s", out);
    /* the embedded CIFAR-10 sample as CIFAR-100, and CIFAR-100 as CIFAR-10 */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "run c100.ini --db r.db --threads 1 --set data.dir=%s",
             cifar_sample_dir());
    ck_assert_int_eq(cnnrun(cmd), 1);
    ck_assert_msg(strstr(out, "CIFAR-10's layout; set [data] dataset = cifar10"), "%s", out);
    write_c100_file("c/train.bin", 0, 300, -1);
    ck_assert_int_eq(cnnrun("run c100.ini --db r.db --threads 1 --set data.dataset=cifar10 "
                            "--set layer.fc.outputs=10"), 1);
    ck_assert_msg(strstr(out, "CIFAR-100's layout; set [data] dataset = cifar100"), "%s", out);
}
END_TEST

/* ---- a folder of pictures ------------------------------------------------------ */

/* Classes are the sorted folder names; the split interleaves them; each
 * picture is decoded and resized to 32x32 (a solid 40x40 stays that
 * colour); a grey-scale PNG becomes R = G = B; a 16-bit PNG and a PPM are
 * read; files that are not pictures are left aside with a note. */
START_TEST(test_folder_load)
{
    write_folder("f", 4, 2);
    uint8_t grey[40 * 30];
    memset(grey, 77, sizeof grey);
    write_png_format("f/train/green/grey.png", grey, 40, 30, PNG_FORMAT_GRAY);
    uint16_t deep[20 * 20 * 3];
    for (int i = 0; i < 20 * 20; i++) {
        deep[3 * i + 0] = 65535;
        deep[3 * i + 1] = 0x8080;
        deep[3 * i + 2] = 0;
    }
    write_png_format("f/train/red/deep.png", deep, 20, 20, PNG_FORMAT_LINEAR_RGB);
    write_file("f/train/blue/p.ppm", "P3\n2 2\n255\n0 0 200  0 0 200  0 0 200  0 0 200\n");
    write_file("f/train/blue/notes.txt", "not a picture\n");
    CifarSplit tr, te;
    DataInfo info = load_ok("folder", "f", false, 0, &tr, &te);
    ck_assert_int_eq(info.classes, 3);
    ck_assert_str_eq(info.names[0], "blue"); /* sorted: blue, green, red */
    ck_assert_str_eq(info.names[1], "green");
    ck_assert_str_eq(info.names[2], "red");
    ck_assert_int_eq(tr.n, 15);
    ck_assert_int_eq(te.n, 6);
    /* interleaved: blue, green, red, blue, green, red, ... (files sorted) */
    for (int i = 0; i < 12; i++) ck_assert_int_eq(tr.labels[i], i % 3);
    /* image 0 is blue/000.png, 32x32: copied as written, in planes */
    uint8_t *want = picture(2, 0, 32, 32);
    for (int p = 0; p < 1024; p++)
        for (int ch = 0; ch < 3; ch++)
            ck_assert_int_eq(tr.pixels[(size_t)ch * 1024 + p], want[3 * p + ch]);
    free(want);
    /* the last of each class: blue's p.ppm, green's grey.png, red's deep.png */
    const uint8_t *ppm = tr.pixels + (size_t)12 * 3072, *g = ppm + 3072, *d = g + 3072;
    ck_assert_int_eq(tr.labels[12], 0);
    ck_assert_int_eq(tr.labels[13], 1);
    ck_assert_int_eq(tr.labels[14], 2);
    for (int p = 0; p < 1024; p++) {
        ck_assert_int_eq(ppm[p], 0);
        ck_assert_int_eq(ppm[2048 + p], 200);
        ck_assert_int_eq(g[p], 77); /* grey to RGB: every channel the grey value */
        ck_assert_int_eq(g[1024 + p], 77);
        ck_assert_int_eq(g[2048 + p], 77);
        /* 16 bits to 8 by libpng: samples the file marks (or leaves unmarked) as
         * linear light are encoded to sRGB: 0x8080 (0.502) is 186, as predict
         * sees it too */
        ck_assert_int_eq(d[p], 255);
        ck_assert_int_eq(d[1024 + p], 186);
        ck_assert_int_eq(d[2048 + p], 0);
    }
    data_info_free(&info);
    cifar_free(&tr);
    cifar_free(&te);
}
END_TEST

/* Without test/, validation = N holds out N / classes of each class of
 * train/ as the test split (the last ones); without validation it is an
 * error saying what to do. */
START_TEST(test_folder_without_test)
{
    write_folder("f", 6, 0);
    CifarSplit tr, te;
    DataInfo info = load_ok("folder", "f", false, 6, &tr, &te);
    ck_assert(info.test_held_out);
    ck_assert_int_eq(tr.n, 12);
    ck_assert_int_eq(te.n, 6);
    for (int i = 0; i < 6; i++) ck_assert_int_eq(te.labels[i], i % 3);
    data_info_free(&info);
    cifar_free(&tr);
    cifar_free(&te);

    write_file("f.ini", "[data]\ndataset = folder\ndir = f\nbatch_size = 4\n"
                        "[layer.gap]\ntype = global_avgpool\n"
                        "[layer.fc]\ntype = linear\noutputs = 3\n");
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "f/test: no such folder; add the test pictures as"), "%s", out);
    ck_assert_msg(strstr(out, "or set [data] validation = N"), "%s", out);
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set data.validation=10"), 2);
    ck_assert_msg(strstr(out, "f.ini: 'validation' (10) must be a multiple of 3, the classes of "
                              "f"), "%s", out);
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set data.validation=30"), 1);
    ck_assert_msg(strstr(out, "validation = 30 holds out all 18 training pictures"), "%s", out);
    /* the pictures' memory is planned against what is available before any
     * is decoded (fails on the old code: loaded and ran) */
    setenv("CNNRUN_MEMAVAILABLE_MIB", "0.01", 1); /* 10 KiB: 3 pictures */
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set data.validation=6"), 1);
    unsetenv("CNNRUN_MEMAVAILABLE_MIB");
    ck_assert_msg(strstr(out, "f: 18 pictures take 0.1 MiB in memory decoded at 32x32 (3 KiB each), "
                              "more than the 0.0 MiB available"), "%s", out);
}
END_TEST

/* Bad folders, each named: a picture that cannot be decoded (an error, or
 * left out and counted with skip_bad_images), an empty class, a single
 * class, a test class train/ lacks, pictures without class folders. */
START_TEST(test_folder_bad_layouts)
{
    write_folder("f", 3, 1);
    write_file("f.ini", "[data]\ndataset = folder\ndir = f\nbatch_size = 4\n"
                        "[layer.gap]\ntype = global_avgpool\n"
                        "[layer.fc]\ntype = linear\noutputs = 3\n");
    write_bytes("f/train/red/bad.png", "\x89PNG\r\n\x1a\nnot really", 18);
    write_bytes("f/train/red/cut.jpg", "\xff\xd8\xff\xe0\x00\x10JFIF", 10);
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "f/train/red/bad.png: cannot decode: PNG: "), "%s", out);
    ck_assert_msg(strstr(out, "f/train/red/cut.jpg: cannot decode: JPEG: "), "%s", out);
    ck_assert_msg(strstr(out, "or set [data] skip_bad_images = true"), "%s", out);
    write_file("f/train/blue/readme.txt", "not a picture\n");
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set experiment.epochs=1 "
                            "--set data.skip_bad_images=true"), 0);
    ck_assert_msg(strstr(out, "f/train: note: 1 entry left aside, not a .png, .jpg, .jpeg or "
                              ".ppm picture in a class folder (the first: "), "%s", out);
    ck_assert_msg(strstr(out, "f/train/red/bad.png: warning: cannot decode, left out"), "%s", out);
    ck_assert_msg(strstr(out, "2 pictures that could not be decoded left out"), "%s", out);
    ck_assert_msg(strstr(out, "9 train / 3 test images"), "%s", out);
    /* skip_bad_images is a folder's */
    ck_assert_int_eq(cnnrun("check f.ini --set data.dataset=cifar10 --set data.skip_bad_images=true"
                            " --set layer.fc.outputs=10"), 2);
    ck_assert_msg(strstr(out, "'skip_bad_images' is for dataset = folder"), "%s", out);

    make_dir("f/train/yellow"); /* an empty class */
    ck_assert_int_eq(cnnrun("run f.ini --db r2.db --threads 1 --set layer.fc.outputs=4"), 1);
    ck_assert_msg(strstr(out, "f/train/yellow: an empty class: no pictures"), "%s", out);
    make_dir("f/test/purple"); /* a test class train/ lacks */
    write_png("f/train/yellow/a.png", (const uint8_t *)"\x10\x20\x30", 1, 1);
    write_png("f/test/purple/a.png", (const uint8_t *)"\x10\x20\x30", 1, 1);
    ck_assert_int_eq(cnnrun("run f.ini --db r2.db --threads 1 --set layer.fc.outputs=4 "
                            "--set data.skip_bad_images=true"), 1);
    ck_assert_msg(strstr(out, "f/test/purple: a test class that "), "%s", out);

    make_dir("one");
    make_dir("one/train");
    make_dir("one/train/cat");
    write_png("one/train/cat/a.png", (const uint8_t *)"\x10\x20\x30", 1, 1);
    write_png("one/train/loose.png", (const uint8_t *)"\x10\x20\x30", 1, 1);
    ck_assert_int_eq(cnnrun("check f.ini --data one"), 2);
    ck_assert_msg(strstr(out, "one/train: one class folder (cat): a classifier needs at least two "
                              "classes"), "%s", out);
    make_dir("none");
    make_dir("none/train");
    write_png("none/train/loose.png", (const uint8_t *)"\x10\x20\x30", 1, 1);
    ck_assert_int_eq(cnnrun("check f.ini --data none"), 2);
    ck_assert_msg(strstr(out, "none/train: no class folders"), "%s", out);
    ck_assert_int_eq(cnnrun("check f.ini --data nowhere"), 2);
    ck_assert_msg(strstr(out, "nowhere/train: no such folder"), "%s", out);
}
END_TEST

/* ---- the classes against the network ------------------------------------------ */

/* The network's last layer is checked against the data's classes at its
 * line: CIFAR-100 fine (100) and coarse (20), a folder's class folders. */
START_TEST(test_outputs_against_classes)
{
    write_c100("c");
    write_folder("f", 2, 1);
    write_file("n.ini", "[data]\ndataset = cifar100\ndir = c\nbatch_size = 50\n"
                        "[layer.gap]\ntype = global_avgpool\n"
                        "[layer.fc]\ntype = linear\noutputs = 10\n");
    ck_assert_int_eq(cnnrun("check n.ini"), 2);
    ck_assert_msg(strstr(out, "n.ini:7: [layer.fc]: the network ends in 10 outputs; the data has "
                              "100 classes"), "%s", out);
    ck_assert_int_eq(cnnrun("check n.ini --set layer.fc.outputs=100"), 0);
    ck_assert_int_eq(cnnrun("check n.ini --set layer.fc.outputs=100 --set data.label=coarse"), 2);
    ck_assert_msg(strstr(out, "the network ends in 100 outputs; the data has 20 classes"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("check n.ini --set data.dataset=folder --set data.dir=f"), 2);
    ck_assert_msg(strstr(out, "the network ends in 10 outputs; the data has 3 classes"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("check n.ini --set data.dataset=folder --set data.dir=f "
                            "--set layer.fc.outputs=3"), 0);
    /* label is CIFAR-100's */
    ck_assert_int_eq(cnnrun("check n.ini --set data.dataset=cifar10 --set data.label=coarse"), 2);
    ck_assert_msg(strstr(out, "'label' chooses CIFAR-100's fine or coarse labels"), "%s", out);
    /* validation: a multiple of the classes */
    ck_assert_int_eq(cnnrun("check n.ini --set layer.fc.outputs=100 --set data.validation=50"), 2);
    ck_assert_msg(strstr(out, "'validation' (50) must be a multiple of 100"), "%s", out);
}
END_TEST

/* ---- normalize = dataset, identities -------------------------------------------- */

START_TEST(test_channel_stats)
{
    CifarSplit s = {.n = 2, .pixels = xcalloc(2 * 3072, 1), .labels = xcalloc(2, 1)};
    /* R: 0 in image 0, 255 in image 1; G: 51 everywhere; B: 0 */
    memset(s.pixels + 3072, 255, 1024);
    memset(s.pixels + 1024, 51, 1024);
    memset(s.pixels + 3072 + 1024, 51, 1024);
    float mean[3], std[3];
    data_channel_stats(&s, mean, std);
    ck_assert_float_eq_tol(mean[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(std[0], 0.5f, 1e-7f);
    ck_assert_float_eq_tol(mean[1], 0.2f, 1e-7f);
    ck_assert_float_eq(std[1], 1.0f); /* no variation: divided by 1 */
    ck_assert_float_eq(mean[2], 0.0f);
    /* a batch normalised with them: (x/255 - mean) / std */
    Augment aug = {.normalize = true, .mean = mean, .std = std};
    float *x = alloc_floats(3072);
    int idx = 1;
    cifar_make_batch(&s, &idx, 1, &aug, NULL, x, NULL);
    ck_assert_float_eq_tol(x[0], 1.0f, 1e-6f);  /* R of pixel 0: (1 - 0.5) / 0.5 */
    ck_assert_float_eq_tol(x[1], 0.0f, 1e-6f);  /* G: (0.2 - 0.2) / 1 */
    free(x);
    cifar_free(&s);
}
END_TEST

START_TEST(test_identity_changes_named)
{
    DataInfo a;
    data_info_cifar10(&a);
    a.n_train = 500;
    a.n_test = 100;
    str_copy(a.dir, sizeof a.dir, "/data/my pictures");
    char x[2048], y[2048], why[1024];
    data_identity(&a, x, sizeof x);
    ck_assert_int_eq(data_identity_same(x, x, why, sizeof why), 1);
    a.n_train = 499;
    a.labels_hash ^= 1;
    data_identity(&a, y, sizeof y);
    ck_assert_int_eq(data_identity_same(x, y, why, sizeof why), 0);
    ck_assert_str_eq(why, "training images 500 -> 499, labels (hash) 0000000000000000 -> "
                          "0000000000000001");
    /* the checkpoint's text round-trips, names, directory with a space and all */
    float mean[3] = {0.25f, 0.5f, 0.75f}, std[3] = {0.1f, 0.2f, 0.3f}, m2[3], s2[3];
    char *text = data_info_text(&a, mean, std);
    DataInfo b;
    int have = 0;
    ck_assert_int_eq(data_info_parse(text, &b, m2, s2, &have), 0);
    ck_assert_int_eq(have, 1);
    ck_assert_int_eq(b.classes, 10);
    ck_assert_str_eq(b.names[9], "truck");
    ck_assert_str_eq(b.dir, "/data/my pictures");
    ck_assert_float_eq(m2[2], 0.75f);
    ck_assert_float_eq(s2[1], 0.2f);
    data_identity(&b, x, sizeof x);
    ck_assert_str_eq(x, y);
    free(text);
    data_info_free(&a);
    data_info_free(&b);
}
END_TEST

/* ---- runs, resume, eval, predict, export ------------------------------------------ */

#define NET(outputs)                                                                            \
    "[optimizer]\ntype = sgd\nmomentum = 0.9\n"                                                 \
    "[schedule]\ntype = one_cycle\nlr_start = 0.01\nlr_max = 0.1\ncycle_epochs = 2\n"           \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"   \
    "[layer.drop]\ntype = dropout\nprobability = 0.2\n"                                         \
    "[layer.gap]\ntype = global_avgpool\n"                                                      \
    "[layer.fc]\ntype = linear\noutputs = " outputs "\n"

/* The epoch rows of run id, every number to the last bit. */
static char *curve(const char *db, int id)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "select group_concat(printf('%%d %%.17g %%.17g %%.17g %%.17g %%.17g', epoch, lr, "
             "train_loss, train_acc, test_loss, test_acc), ' | ') from (select * from epochs "
             "where run_id = %d order by epoch)", id);
    char *c = fixture_poll_text(db, sql);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* A run stopped after its first epoch and resumed ends on the curve of a
 * run left alone, in the same row; runs.data holds the data's identity. */
static void assert_resume_identical(const char *ini, int epochs)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "run %s --db a.db --threads 1", ini);
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
    snprintf(cmd, sizeof cmd, "run %s --db b.db --threads 1 --until-epoch 1", ini);
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
    snprintf(cmd, sizeof cmd, "run %s --db b.db --threads 1 --resume", ini);
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
    char *a = curve("a.db", 1), *b = curve("b.db", 1);
    ck_assert_str_eq(a, b);
    int n = 0;
    for (const char *p = a; *p; p++) n += *p == '|';
    ck_assert_int_eq(n + 1, epochs);
    free(a);
    free(b);
    ck_assert_int_eq(fixture_poll_int("b.db", "select count(*) from runs"), 1);
}

START_TEST(test_cifar100_run_resume)
{
    write_c100("c");
    write_file("c.ini", "[experiment]\nname = c100\nseed = 3\nepochs = 3\n"
                        "[data]\ndataset = cifar100\ndir = c\nbatch_size = 50\n"
                        "augment = crop:2, flip\nnormalize = dataset\n" NET("100"));
    assert_resume_identical("c.ini", 3);
    char *id = fixture_poll_text("a.db", "select data from runs where id = 1");
    ck_assert_msg(id && strstr(id, "dataset=cifar100 label=fine train=300 test=100 classes=100 "),
                  "%s", id ? id : "(null)");
    free(id);
    /* eval takes the class names from the checkpoint */
    ck_assert_msg(cnnrun("eval c.ini --weights a-checkpoints/c100-1-last.ckpt --threads 1") == 0,
                  "%s", out);
    ck_assert_msg(strstr(out, "fine42 "), "%s", out);
    ck_assert_msg(strstr(out, "(no confusion matrix: 100 classes"), "%s", out);
    /* the coarse labels: another data set for the same file's checkpoint */
    ck_assert_int_eq(cnnrun("eval c.ini --weights a-checkpoints/c100-1-last.ckpt --set "
                            "data.label=coarse --set layer.fc.outputs=20"), 2);
    ck_assert_msg(strstr(out, "the checkpoint was trained on cifar100 data with 100 classes; "
                              "c.ini's [data] (dataset = cifar100, label = coarse) has 20"),
                  "%s", out);
    /* a resume over changed data is refused, naming what changed */
    ck_assert_int_eq(cnnrun("run c.ini --db c.db --threads 1 --until-epoch 1"), 0);
    write_file("c/cnnrun-sample.txt", "train.bin 300\ntest.bin 99\n");
    write_c100_file("c/test.bin", 2, 99, -1);
    ck_assert_int_eq(cnnrun("run c.ini --db c.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "c.ini: the data changed since run 1 started (test images 100 -> 99, "
                              "labels (hash) "), "%s", out);
}
END_TEST

START_TEST(test_folder_run_resume_predict)
{
    write_folder("f", 8, 3);
    uint8_t grey[16 * 16];
    memset(grey, 200, sizeof grey);
    write_png_format("f/train/green/grey.png", grey, 16, 16, PNG_FORMAT_GRAY);
    write_file("f.ini", "[experiment]\nname = pics\nseed = 4\nepochs = 2\n"
                        "[data]\ndataset = folder\ndir = f\nbatch_size = 6\n"
                        "augment = translate:2, flip\nnormalize = dataset\n" NET("3"));
    assert_resume_identical("f.ini", 2);
    ck_assert_msg(strstr(out, "data: folder, 3 classes (blue, green, ...)"), "%s", out);
    char *id = fixture_poll_text("a.db", "select data from runs where id = 1");
    ck_assert_msg(id && strstr(id, "dataset=folder train=25 test=9 classes=3 "), "%s",
                  id ? id : "(null)");
    free(id);
    /* predict names the folder's classes, from the checkpoint alone: the
     * data folder is gone */
    uint8_t *red = picture(0, 1, 32, 32);
    write_png("red.png", red, 32, 32);
    char from[256], to[256];
    path_in(from, sizeof from, "f");
    path_in(to, sizeof to, "gone");
    ck_assert_int_eq(rename(from, to), 0);
    ck_assert_msg(cnnrun("predict f.ini --weights a-checkpoints/pics-1-last.ckpt --json red.png")
                      == 0, "%s", out);
    ck_assert_msg(strstr(out, "{\"class\": \"red\""), "%s", out);
    ck_assert_msg(!strstr(out, "airplane"), "%s", out);
    /* export: the folder's classes as the ONNX model's class_names */
    if (cnnrun("export f.ini --weights a-checkpoints/pics-1-last.ckpt -o m.onnx") == 0) {
        char onnx[512];
        path_in(onnx, sizeof onnx, "m.onnx");
        size_t len = 0;
        char *model = read_file_max(onnx, (size_t)1 << 24, &len);
        ck_assert_ptr_nonnull(model);
        ck_assert_msg(memmem(model, len, "blue,green,red", 14) != NULL, "class_names");
        ck_assert_msg(memmem(model, len, "airplane", 8) == NULL, "CIFAR-10's names");
        free(model);
    } else {
        ck_assert_msg(strstr(out, "built without ONNX export"), "%s", out);
    }
    /* the resume of a run whose folder gained a picture is refused */
    ck_assert_int_eq(rename(to, from), 0);
    ck_assert_int_eq(cnnrun("run f.ini --db c.db --threads 1 --until-epoch 1"), 0);
    write_png("f/train/red/new.png", red, 32, 32);
    free(red);
    ck_assert_int_eq(cnnrun("run f.ini --db c.db --threads 1 --resume"), 2);
    ck_assert_msg(strstr(out, "the data changed since run 1 started (training images 25 -> 26, "
                              "labels (hash) "), "%s", out);
}
END_TEST

/* experiments/folder-example.ini runs on pictures the suite writes. */
START_TEST(test_folder_example_experiment)
{
    write_folder("f", 6, 2);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "check %s/experiments/folder-example.ini --data f",
             getenv("CNNRUN_SOURCE_DIR"));
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
    snprintf(cmd, sizeof cmd, "run %s/experiments/folder-example.ini --data f --db r.db "
             "--threads 1 --set experiment.epochs=1", getenv("CNNRUN_SOURCE_DIR"));
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
    write_c100("c");
    snprintf(cmd, sizeof cmd, "check %s/experiments/resnet18-cifar100.ini --data c",
             getenv("CNNRUN_SOURCE_DIR"));
    ck_assert_msg(cnnrun(cmd) == 0, "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("datasets");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_cifar100_load);
    tcase_add_test(tc, test_cifar100_bad_layouts);
    tcase_add_test(tc, test_folder_load);
    tcase_add_test(tc, test_folder_without_test);
    tcase_add_test(tc, test_folder_bad_layouts);
    tcase_add_test(tc, test_outputs_against_classes);
    tcase_add_test(tc, test_channel_stats);
    tcase_add_test(tc, test_identity_changes_named);
    tcase_add_test(tc, test_cifar100_run_resume);
    tcase_add_test(tc, test_folder_run_resume_predict);
    tcase_add_test(tc, test_folder_example_experiment);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(s, tc);
    return check_run(s);
}
