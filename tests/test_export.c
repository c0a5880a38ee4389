/* test_export.c — a trained network leaving cnnrun (issue 17): `cnnrun
 * export` writes an ONNX model that parses back with protobuf-c into the
 * expected nodes, with the checkpoint's weights transposed to NCHW and its
 * batch-norm statistics; `cnnrun predict` answers PNG, PPM and JPEG images as
 * `cnnrun eval` answers the same test images; the resizing filter; and the
 * errors (another network's checkpoint, missing files, an unwritable or
 * existing output: exit status 2, nothing half-written; an unreadable image:
 * named, the others answered, exit status 1). tests/onnx_check.py checks the
 * model with onnx and PyTorch. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <jpeglib.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/checkpoint.h"
#include "cnnrun/config.h"
#include "cnnrun/data.h"
#include "cnnrun/export.h"
#include "cnnrun/files.h"
#include "cnnrun/image.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"
#ifdef CNNRUN_ONNX
#include "onnx.pb-c.h"
#endif

/* conv (no bias) + BN + ReLU, a residual block, flatten of 4x4x8, linear */
static const char *tiny_ini =
    "[experiment]\nepochs = 1\n"
    "[data]\nbatch_size = 50\ntrain_subset = 50\ntest_subset = 20\n"
    "[schedule]\ntype = constant\nlr = 0.05\n"
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"
    "[layer.pool]\ntype = maxpool\nsize = 4\n"
    "[layer.res]\ntype = residual\nfilters = 8\n"
    "[layer.flat]\ntype = flatten\n"
    "[layer.fc]\ntype = linear\noutputs = 10\n";

/* the network above with one more filter in c1: the same names, another shape */
static const char *other_ini =
    "[experiment]\nname = tiny\nepochs = 1\n"
    "[data]\nbatch_size = 50\ntrain_subset = 50\ntest_subset = 20\n"
    "[schedule]\ntype = constant\nlr = 0.05\n"
    "[layer.c1]\ntype = conv\nfilters = 9\nstride = 2\nbatchnorm = true\nactivation = relu\n"
    "[layer.pool]\ntype = maxpool\nsize = 4\n"
    "[layer.flat]\ntype = flatten\n"
    "[layer.fc]\ntype = linear\noutputs = 10\n";

#define CKPT "r-checkpoints/tiny-1-last.ckpt"

/* tiny.ini trained one step: its checkpoint CKPT */
static void train_tiny(void)
{
    write_file("tiny.ini", tiny_ini);
    ck_assert_int_eq(cnnrun("run tiny.ini --db r.db"), 0);
    ck_assert(exists(CKPT));
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* dir/name, in one of two buffers used in turn */
static const char *dir_path(const char *name)
{
    static char p[2][256];
    static int k;
    k ^= 1;
    path_in(p[k], sizeof p[k], name);
    return p[k];
}

/* no file of dir holds ".tmp." in its name (write_file_atomic's temporaries) */
static int no_temporaries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int ok = 1;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) ok = 0;
    closedir(d);
    return ok;
}

#ifdef CNNRUN_ONNX
static const Onnx__TensorProto *find_init(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (!strcmp(g->initializer[i]->name, name)) return g->initializer[i];
    return NULL;
}

static void check_dims(const Onnx__TensorProto *t, int nd, const int64_t *dims)
{
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq((int)t->n_dims, nd);
    size_t n = 1;
    for (int i = 0; i < nd; i++) {
        ck_assert_int_eq(t->dims[i], dims[i]);
        n *= (size_t)dims[i];
    }
    ck_assert_int_eq(t->data_type, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    ck_assert_uint_eq(t->n_float_data, n);
}

/* The file parses back: the nodes in order, the initialisers' shapes, the
 * conv weights transposed from (KH, KW, C_in, C_out), BN running statistics
 * and the linear weight as in the checkpoint, input and output shapes with a
 * free batch, the class names. */
START_TEST(test_export_parses_back)
{
    train_tiny();
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o tiny.onnx"), 0);
    ck_assert_msg(strstr(out, "ONNX opset 13"), "%s", out);
    ck_assert(no_temporaries());
    char p[256];
    path_in(p, sizeof p, "tiny.onnx");
    size_t len;
    char *buf = read_text_file(p, &len);
    ck_assert_ptr_nonnull(buf);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)buf);
    ck_assert_ptr_nonnull(mp);
    ck_assert_int_eq(mp->ir_version, ONNX_IR_VERSION);
    ck_assert_int_eq((int)mp->n_opset_import, 1);
    ck_assert_int_eq(mp->opset_import[0]->version, ONNX_OPSET);
    const Onnx__GraphProto *g = mp->graph;
    static const char *ops[] = {"Sub", "Div", "Conv", "BatchNormalization", "Relu", "MaxPool",
                                "Conv", "BatchNormalization", "Relu", "Conv",
                                "BatchNormalization", "Add", "Relu", "Transpose", "Flatten",
                                "Gemm"};
    const size_t n_ops = sizeof ops / sizeof *ops;
    ck_assert_uint_eq(g->n_node, n_ops);
    for (size_t i = 0; i < n_ops; i++) ck_assert_str_eq(g->node[i]->op_type, ops[i]);
    ck_assert_str_eq(g->node[n_ops - 1]->output[0], "logits");
    /* 2 (normalisation) + c1: w, 4 BN + res: 2 x (w, 4 BN) + fc: w, b */
    ck_assert_uint_eq(g->n_initializer, 2 + 5 + 10 + 2);
    check_dims(find_init(g, "normalize.mean"), 4, (int64_t[]){1, 3, 1, 1});
    check_dims(find_init(g, "c1.weight"), 4, (int64_t[]){8, 3, 3, 3});
    check_dims(find_init(g, "c1.bn.running_var"), 1, (int64_t[]){8});
    check_dims(find_init(g, "res.conv2.weight"), 4, (int64_t[]){8, 8, 3, 3});
    check_dims(find_init(g, "fc.weight"), 2, (int64_t[]){4 * 4 * 8, 10});
    check_dims(find_init(g, "fc.bias"), 1, (int64_t[]){10});
    ck_assert_ptr_null(find_init(g, "c1.bias")); /* a conv before BN has no bias */
    ck_assert_uint_eq(g->n_input, 1);
    const Onnx__TensorShapeProto *in = g->input[0]->type->tensor_type->shape;
    ck_assert_uint_eq(in->n_dim, 4);
    ck_assert_int_eq(in->dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
    ck_assert_int_eq(in->dim[1]->dim_value, 3);
    ck_assert_int_eq(in->dim[3]->dim_value, 32);
    ck_assert_str_eq(g->output[0]->name, "logits");
    ck_assert_int_eq(g->output[0]->type->tensor_type->shape->dim[1]->dim_value, 10);
    int names = 0;
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        if (!strcmp(mp->metadata_props[i]->key, "class_names")) {
            names = 1;
            ck_assert_str_eq(mp->metadata_props[i]->value,
                             "airplane,automobile,bird,cat,deer,dog,frog,horse,ship,truck");
        }
    ck_assert(names);

    /* the values: the checkpoint loaded into the same network */
    Experiment e;
    path_in(p, sizeof p, "tiny.ini");
    ck_assert_int_eq(experiment_load(p, NULL, 0, &e), 0);
    Model m;
    ck_assert_int_eq(model_build(&e, 1, &m), 0);
    path_in(p, sizeof p, CKPT);
    ck_assert_int_eq(checkpoint_load(p, &m, NULL, NULL), 0);
    for (int i = 0; i < m.n_nodes; i++) {
        const Node *n = &m.nodes[i];
        char name[sizeof n->name + 16];
        if (n->op == OP_CONV) {
            snprintf(name, sizeof name, "%s.weight", n->name);
            const Onnx__TensorProto *t = find_init(g, name);
            ck_assert_ptr_nonnull(t);
            const int co = n->c, k = n->size, ci = (int)(n->w_len / ((size_t)k * k * co));
            for (int o = 0; o < co; o++)
                for (int c = 0; c < ci; c++)
                    for (int y = 0; y < k; y++)
                        for (int x = 0; x < k; x++)
                            ck_assert_float_eq(
                                t->float_data[((o * ci + c) * k + y) * k + x],
                                m.params[n->w_off + ((size_t)(y * k + x) * ci + c) * co + o]);
        } else if (n->op == OP_BATCHNORM) {
            snprintf(name, sizeof name, "%s.running_mean", n->name);
            const Onnx__TensorProto *t = find_init(g, name);
            ck_assert_ptr_nonnull(t);
            ck_assert_int_eq(memcmp(t->float_data, m.state + n->s_off, sizeof(float) * n->c), 0);
        } else if (n->op == OP_LINEAR) {
            snprintf(name, sizeof name, "%s.weight", n->name);
            const Onnx__TensorProto *t = find_init(g, name);
            ck_assert_int_eq(memcmp(t->float_data, m.params + n->w_off, sizeof(float) * n->w_len),
                             0);
        }
    }
    model_free(&m);
    experiment_free(&e);
    onnx__model_proto__free_unpacked(mp, NULL);
    free(buf);
}
END_TEST

/* Every op has a row in the export's table (src/export/onnx.c): its
 * emitter, or the reason export refuses it. A network with an op that has
 * neither is refused, at its section's line, with nothing written (every op
 * has an emitter today: an op this cnnrun does not know stands in). */
START_TEST(test_onnx_table_complete)
{
    for (int op = 0; op < OP_COUNT; op++) {
        const char *why = NULL;
        if (!onnx_op_form((OpType)op, &why))
            ck_assert_msg(!strstr(why, "is missing"), "op %s: %s", op_name((OpType)op), why);
    }
    write_file("odd.ini", "[layer.odd]\ntype = relu\n");
    Experiment e;
    char p[256], err[4096] = "";
    path_in(p, sizeof p, "odd.ini");
    ck_assert_int_eq(experiment_load(p, NULL, 0, &e), 0);
    Node node = {.op = OP_COUNT, .name = "odd", .section = 0};
    Model m = {.exp = &e, .n_nodes = 1, .nodes = &node, .classes = 10};
    const char *why = NULL;
    ck_assert_ptr_eq(onnx_unexportable(&m, &why), &node);
    ck_assert_str_eq(why, "an op this cnnrun does not know");
    OnnxExportInfo info = {.experiment = "odd", .class_names = cifar_class_names};
    size_t len = 1;
    ck_assert_ptr_null(onnx_export_buffer(&m, &info, &len));
    ck_assert_uint_eq(len, 0);
    path_in(p, sizeof p, "odd.onnx");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = tmpfile();
    dup2(fileno(f), 2);
    int rc = onnx_export(&m, &info, p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t got = fread(err, 1, sizeof err - 1, f);
    err[got] = '\0';
    fclose(f);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err, "odd.ini:1: [layer.odd]: cannot export to ONNX: node 'odd' (op ?) "
                              "has no ONNX form: an op this cnnrun does not know"), "%s", err);
    ck_assert(!exists("odd.onnx"));
    experiment_free(&e);
}
END_TEST
#endif

/* the head of an ONNX model (ir_version 7, producer "old") */
#define OLD_ONNX "\x08\x07\x12\x03old"

/* Each wrong input: its message, exit status 2, no output and no temporary
 * file; an existing output is left as it was. */
START_TEST(test_export_errors)
{
    train_tiny();
    write_file("other.ini", other_ini);
    ck_assert_int_eq(cnnrun("--version"), 0);
#ifndef CNNRUN_ONNX
    ck_assert_msg(strstr(out, "onnx export: not compiled in"), "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o t.onnx"), 2);
    ck_assert_msg(strstr(out, "built without ONNX export"), "%s", out);
    return;
#endif
    ck_assert_msg(strstr(out, "onnx export: compiled in (opset 13, protobuf-c "), "%s", out);
    write_file("old.onnx", OLD_ONNX); /* an earlier model: what export -o may replace */
    ck_assert_int_eq(cnnrun("export other.ini --weights " CKPT " -o old.onnx"), 2);
    ck_assert_msg(strstr(out, "different network"), "%s", out);
    char p[256];
    path_in(p, sizeof p, "old.onnx");
    char *old = read_text_file(p, NULL);
    ck_assert_str_eq(old, OLD_ONNX);
    free(old);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights missing.ckpt -o t.onnx"), 2);
    ck_assert_msg(strstr(out, "missing.ckpt: cannot read the checkpoint: No such file"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("export missing.ini --weights " CKPT " -o t.onnx"), 2);
    ck_assert_msg(strstr(out, "missing.ini"), "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT), 2);
    ck_assert_msg(strstr(out, "-o MODEL.onnx is required"), "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini -o t.onnx"), 2);
    ck_assert_msg(strstr(out, "--weights PATH is required"), "%s", out);
    /* a section named as one of the graph's own tensors would make two of one name */
    char *renamed = xstrdup(tiny_ini);
    char *fc = strstr(renamed, "[layer.fc]");
    ck_assert_ptr_nonnull(fc);
    char clash[4096];
    snprintf(clash, sizeof clash, "%.*s[layer.logits]%s", (int)(fc - renamed), renamed,
             fc + strlen("[layer.fc]"));
    free(renamed);
    write_file("clash.ini", clash);
    ck_assert_int_eq(cnnrun("run clash.ini --db clash.db"), 0);
    ck_assert_int_eq(cnnrun("export clash.ini --weights clash-checkpoints/clash-1-last.ckpt -o t.onnx"),
                     2);
    ck_assert_msg(strstr(out, "the layer 'logits' has a name the ONNX graph gives a tensor"),
                  "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o nodir/t.onnx"), 2);
    ck_assert_msg(strstr(out, "nodir/t.onnx: cannot write the ONNX model"), "%s", out);
    ck_assert(!exists("t.onnx"));
    ck_assert(no_temporaries());
    /* a write that fails half-way (the file-size limit standing in for a full
     * disk) is an I/O error, 1, and leaves nothing behind */
    ck_assert_int_eq(cnnrun_via("sh -c 'trap \"\" XFSZ; ulimit -f 2; exec \"$0\" \"$@\"'",
                                "export tiny.ini --weights " CKPT " -o big.onnx"), 1);
    ck_assert_msg(strstr(out, "big.onnx: cannot write the ONNX model: File too large"), "%s", out);
    ck_assert(!exists("big.onnx"));
    ck_assert(no_temporaries());
    /* and then it works, replacing the old file */
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o old.onnx"), 0);
    old = read_text_file(p, NULL);
    ck_assert(strcmp(old, OLD_ONNX) != 0);
    free(old);
}
END_TEST

/* the first n test images of the embedded sample, as RGB rows (n, 32, 32, 3) */
static uint8_t *sample_rgb(int n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/test_batch.bin", cifar_sample_dir());
    size_t len;
    unsigned char *raw = (unsigned char *)read_text_file(p, &len);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_ge(len, (size_t)n * CIFAR_RECORD);
    uint8_t *rgb = xmalloc((size_t)n * CIFAR_PIXELS);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(((size_t)i * 32 + y) * 32 + x) * 3 + c] =
                        raw[(size_t)i * CIFAR_RECORD + 1 + (size_t)c * 1024 + y * 32 + x];
    free(raw);
    return rgb;
}

/* name: a quality-95 baseline JPEG of the w x h packed RGB pixels. */
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

static void write_png(const char *name, const uint8_t *rgb, int w, int h)
{
    char p[256], err[256];
    path_in(p, sizeof p, name);
    ck_assert_msg(image_write_png(p, rgb, w, h, err, sizeof err) == 0, "%s", err);
}

/* image i of predict --json's answer: top-1 class and probability */
static void json_top1(const char *json, const char *image, char *cls, double *prob)
{
    char key[128];
    snprintf(key, sizeof key, "{\"image\": \"%s\", ", image);
    const char *a = strstr(json, key);
    ck_assert_msg(a, "%s not in %s", image, json);
    const char *t = strstr(a, "\"top\": [{\"class\": \"");
    ck_assert_ptr_nonnull(t);
    t += strlen("\"top\": [{\"class\": \"");
    size_t k = strcspn(t, "\"");
    memcpy(cls, t, k);
    cls[k] = '\0';
    const char *q = strstr(t, "\"probability\": ");
    ck_assert_ptr_nonnull(q);
    *prob = strtod(q + strlen("\"probability\": "), NULL);
}

/* predict on test images written as PNG gives eval's logits' top class and
 * softmax probability; the same image enlarged 2x by pixel repetition
 * (area averaging gives it back exactly) and as a P6 PPM gives the same
 * answer; a JPEG of another size is answered. */
START_TEST(test_predict_matches_eval)
{
    train_tiny();
    enum { N = 6 };
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits logits.txt "
                            "--set data.test_subset=6"), 0);
    char p[256];
    path_in(p, sizeof p, "logits.txt");
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* the # line */
    ck_assert(line[0] == '#');
    double want_p[N];
    int want_c[N];
    for (int i = 0; i < N; i++) {
        int label;
        double z[10], zmax = -1e30, sum = 0;
        ck_assert_int_eq(fscanf(f, "%d", &label), 1);
        for (int j = 0; j < 10; j++) {
            ck_assert_int_eq(fscanf(f, "%lf", &z[j]), 1);
            if (z[j] > zmax) zmax = z[j], want_c[i] = j;
        }
        for (int j = 0; j < 10; j++) sum += exp(z[j] - zmax);
        want_p[i] = 1.0 / sum;
    }
    fclose(f);

    uint8_t *rgb = sample_rgb(N);
    char args[2048] = "predict tiny.ini --weights " CKPT " --json";
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.png", i);
        write_png(name, rgb + (size_t)i * CIFAR_PIXELS, 32, 32);
        strcat(args, " ");
        strcat(args, name);
    }
    uint8_t big[64 * 64 * 3];
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            memcpy(big + ((size_t)y * 64 + x) * 3, rgb + ((size_t)(y / 2) * 32 + x / 2) * 3, 3);
    write_png("big0.png", big, 64, 64);
    path_in(p, sizeof p, "t1.ppm");
    f = fopen(p, "wb");
    fprintf(f, "P6\n# test image 1\n32 32\n255\n");
    fwrite(rgb + CIFAR_PIXELS, 1, CIFAR_PIXELS, f);
    fclose(f);
    /* a JPEG of 48x40: test image 2 stretched by nearest neighbour */
    uint8_t wide[48 * 40 * 3];
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 48; x++)
            memcpy(wide + ((size_t)y * 48 + x) * 3,
                   rgb + 2 * CIFAR_PIXELS + ((size_t)(y * 32 / 40) * 32 + x * 32 / 48) * 3, 3);
    write_jpeg("t2.jpg", wide, 48, 40);
    free(rgb);
    strcat(args, " big0.png t1.ppm t2.jpg");
    ck_assert_int_eq(cnnrun(args), 0);
    for (int i = 0; i < N; i++) {
        char name[32], cls[32];
        double prob;
        snprintf(name, sizeof name, "t%d.png", i);
        json_top1(out, name, cls, &prob);
        ck_assert_str_eq(cls, cifar_class_names[want_c[i]]);
        ck_assert_msg(fabs(prob - want_p[i]) < 2e-6, "%s: %f, eval %f", name, prob, want_p[i]);
    }
    char cls[32];
    double prob;
    json_top1(out, "big0.png", cls, &prob);
    ck_assert_str_eq(cls, cifar_class_names[want_c[0]]);
    ck_assert(fabs(prob - want_p[0]) < 2e-6);
    json_top1(out, "t1.ppm", cls, &prob);
    ck_assert_str_eq(cls, cifar_class_names[want_c[1]]);
    ck_assert(fabs(prob - want_p[1]) < 2e-6);
    json_top1(out, "t2.jpg", cls, &prob);
    ck_assert(prob > 0 && prob <= 1);
    ck_assert_msg(strstr(out, "\"image\": \"t2.jpg\", \"width\": 48, \"height\": 40"), "%s", out);
    /* the text form: three classes per image */
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT " --tta mirror t0.png"), 0);
    ck_assert_msg(strstr(out, "tta mirror") && strstr(out, "t0.png (32x32):"), "%s", out);
}
END_TEST

/* An image that cannot be read is named with the reason, the others are
 * answered, and the exit status is 1; a wrong checkpoint is 2. */
START_TEST(test_predict_bad_images)
{
    train_tiny();
    uint8_t *rgb = sample_rgb(1);
    write_png("good.png", rgb, 32, 32);
    write_file("text.png", "hello, not an image\n");
    write_file("short.ppm", "P6\n4 4\n255\nabc");
    write_file("wide.ppm", "P6\n70000 1\n255\nabc");       /* a side above 65535 */
    write_file("claims.ppm", "P6\n16000 16000\n255\nabc"); /* 768 MB claimed, 3 bytes there */
    /* a JPEG cut in the middle of its scan (its tables are the first ~600
     * bytes of ~25 kB): the decoder would fill the rest grey */
    uint8_t *noisy = xmalloc(128 * 128 * 3);
    for (int i = 0; i < 128 * 128 * 3; i++) noisy[i] = (uint8_t)(i * 2654435761u >> 24);
    write_jpeg("cut.jpg", noisy, 128, 128);
    free(noisy);
    char cut[512];
    path_in(cut, sizeof cut, "cut.jpg");
    struct stat st;
    ck_assert_int_eq(stat(cut, &st), 0);
    ck_assert_int_eq(truncate(cut, st.st_size / 2), 0);
    write_jpeg("whole.jpg", rgb, 32, 32);
    free(rgb);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT
                            " missing.png text.png good.png short.ppm wide.ppm claims.ppm cut.jpg "
                            "whole.jpg"), 1);
    ck_assert_msg(strstr(out, "cut.jpg: cannot read: JPEG: truncated or damaged data (Premature "
                              "end of JPEG file)"), "%s", out);
    ck_assert_msg(strstr(out, "whole.jpg (32x32):"), "%s", out);
    ck_assert_msg(strstr(out, "wide.ppm: cannot read: PPM: empty or larger than 2^28 pixels or "
                              "65535 a side"), "%s", out);
    ck_assert_msg(strstr(out, "claims.ppm: cannot read: PPM: truncated pixel data"), "%s", out);
    ck_assert_msg(strstr(out, "missing.png: cannot read: No such file or directory"), "%s", out);
    ck_assert_msg(strstr(out, "text.png: cannot read: not a PNG, JPEG or PPM image"), "%s", out);
    ck_assert_msg(strstr(out, "short.ppm: cannot read: PPM: truncated pixel data"), "%s", out);
    ck_assert_msg(strstr(out, "good.png (32x32):"), "%s", out);
    /* named once, among the answers (before: on stderr first, twice) */
    const char *once = strstr(out, "missing.png");
    ck_assert_msg(once && !strstr(once + 1, "missing.png"), "%s", out);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT " --json text.png good.png"), 1);
    ck_assert_msg(strstr(out, "cnnrun predict: text.png: not a PNG"), "%s", out);
    ck_assert_msg(strstr(out, "{\"image\": \"text.png\", \"error\": \"not a PNG, JPEG or PPM "
                              "image\"}"), "%s", out);
    write_file("other.ini", other_ini);
    ck_assert_int_eq(cnnrun("predict other.ini --weights " CKPT " good.png"), 2);
    ck_assert_msg(strstr(out, "different network"), "%s", out);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT), 2);
    ck_assert_msg(strstr(out, "at least one image"), "%s", out);
}
END_TEST

/* 1 if dir/name is a character device (made by the test, as /dev/zero's 1,5) */
static int is_chardev(const char *name)
{
    char p[256];
    path_in(p, sizeof p, name);
    struct stat st;
    return lstat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

static void make_node(const char *name, mode_t kind)
{
    char p[256];
    path_in(p, sizeof p, name);
    if (kind == S_IFIFO) ck_assert_int_eq(mkfifo(p, 0644), 0);
    else ck_assert_int_eq(mknod(p, S_IFCHR | 0644, makedev(1, 5)), 0);
}

/* dir/name's bytes (caller frees), however large */
static char *contents(const char *name, size_t *len)
{
    char p[256];
    path_in(p, sizeof p, name);
    char *t = read_file_max(p, SIZE_MAX - 1, len);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Outputs (issue 23): eval --logits and export -o never replace what they
 * must not — the checkpoint read, the results database, a device, FIFO,
 * symbolic link or directory — and say so before any work, exit status 2
 * (a directory and '' were 1); a path where nothing can be created is found
 * before evaluating; a file-size limit is an I/O error (1), not SIGXFSZ's
 * silent death, and leaves no temporary file. */
START_TEST(test_outputs_refused)
{
    train_tiny();
    size_t len0, len;
    char *ckpt = contents(CKPT, &len0);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits " CKPT " --db r.db"), 2);
    ck_assert_msg(strstr(out, "cannot write the logits there: it is the checkpoint of --weights"),
                  "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o " CKPT " --db r.db"), 2);
    ck_assert_msg(strstr(out, "cannot write the ONNX model there: it is the checkpoint"), "%s",
                  out);
    char *now = contents(CKPT, &len);
    ck_assert(len == len0 && memcmp(now, ckpt, len) == 0);
    free(now);
    free(ckpt);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits r.db --db r.db"), 2);
    ck_assert_msg(strstr(out, "r.db: cannot write the logits there: it is the results database"),
                  "%s", out);
    ck_assert_int_eq(fixture_poll_int("r.db", "select count(*) from runs"), 1);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits tiny.ini --db r.db"), 2);
    ck_assert_msg(strstr(out, "it is an input of this command"), "%s", out);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits nodir/x --db r.db"), 2);
    ck_assert_msg(strstr(out, "nodir/x: cannot write the logits: No such file"), "%s", out);
    ck_assert_msg(!strstr(out, "test loss"), "evaluated before finding the output bad: %s", out);
    make_node("zero", S_IFCHR);
    make_node("fifo", S_IFIFO);
    char p[256], target[64];
    path_in(p, sizeof p, "link.onnx");
    ck_assert_int_eq(symlink("tiny.ini", p), 0);
    ck_assert_int_eq(mkdir(dir_path("adir"), 0755), 0);
#ifdef CNNRUN_ONNX
    static const char *refused[][2] = {{"zero", "a device"}, {"fifo", "a FIFO"},
                                       {"link.onnx", "a symbolic link"}, {"adir", "a directory"},
                                       {"''", "the path is empty"}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "export tiny.ini --weights " CKPT " -o %s", refused[i][0]);
        ck_assert_int_eq(cnnrun(cmd), 2);
        ck_assert_msg(strstr(out, refused[i][1]), "%s: %s", refused[i][0], out);
    }
    ck_assert(is_chardev("zero"));
    ssize_t n = readlink(p, target, sizeof target - 1);
    ck_assert_int_eq(n, 8);
    ck_assert(exists("fifo") && exists("adir"));
    ck_assert(no_temporaries());
    /* SIGXFSZ is not trapped here (test_export_errors traps it): cnnrun ignores it itself */
    ck_assert_int_eq(cnnrun_via("sh -c 'ulimit -f 2; exec \"$0\" \"$@\"'",
                                "export tiny.ini --weights " CKPT " -o big.onnx"), 1);
    ck_assert_msg(strstr(out, "big.onnx: cannot write the ONNX model: File too large"), "%s", out);
    ck_assert(!exists("big.onnx"));
    ck_assert(no_temporaries());
#endif
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits zero --db r.db"), 2);
    ck_assert_msg(strstr(out, "zero: cannot write the logits: it is a device"), "%s", out);
    ck_assert(is_chardev("zero"));
}
END_TEST

/* A checkpoint is read by its header first: a large file that is not one is
 * refused by its magic number, and one whose header is this network's but
 * whose size is far above what the header allows (a sparse 1 GiB file,
 * which was read whole) is refused by its size, without reading it; a
 * directory is named as one (exit 2, not an I/O error), a FIFO or device
 * is refused without blocking. */
START_TEST(test_checkpoint_read_by_header)
{
    train_tiny();
    ck_assert_int_eq(mkdir(dir_path("cdir"), 0755), 0);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights cdir/ --db r.db"), 2);
    ck_assert_msg(strstr(out, "cdir/: cannot read the checkpoint: it is a directory"), "%s", out);
    size_t len;
    char *ckpt = contents(CKPT, &len);
    FILE *f = fopen(dir_path("huge.ckpt"), "wb");
    ck_assert_uint_eq(fwrite(ckpt, 1, len, f), len);
    fclose(f);
    free(ckpt);
    ck_assert_int_eq(truncate(dir_path("huge.ckpt"), 1L << 30), 0);
    write_file("zeros.ckpt", "");
    ck_assert_int_eq(truncate(dir_path("zeros.ckpt"), 1L << 30), 0);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights huge.ckpt --db r.db"), 1);
    ck_assert_msg(strstr(out, "huge.ckpt: the checkpoint is damaged: 1073741824 bytes, and its "
                              "header allows at most"), "%s", out);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights zeros.ckpt --db r.db"), 2);
    ck_assert_msg(strstr(out, "zeros.ckpt: not a cnnrun checkpoint (wrong magic number)"), "%s",
                  out);
    make_node("zero.ckpt", S_IFCHR);
    make_node("fifo.ckpt", S_IFIFO);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights zero.ckpt --db r.db"), 2);
    ck_assert_msg(strstr(out, "zero.ckpt: cannot read the checkpoint: not a regular file"), "%s",
                  out);
    ck_assert_int_eq(cnnrun("run tiny.ini --resume fifo.ckpt --db r.db"), 2);
    ck_assert_msg(strstr(out, "fifo.ckpt: cannot read the checkpoint: not a regular file"), "%s",
                  out);
}
END_TEST

/* CKPT with its parameters set to v (only the first one when one), as name */
static void weights_set_to(const char *name, float v, int one)
{
    Experiment e;
    ck_assert_int_eq(experiment_load(dir_path("tiny.ini"), NULL, 0, &e), 0);
    Model m;
    ck_assert_int_eq(model_build(&e, 1, &m), 0);
    CheckpointMeta meta;
    ck_assert_int_eq(checkpoint_load(dir_path(CKPT), &m, NULL, &meta), 0);
    for (size_t i = 0; i < (one ? 1 : m.n_params); i++) m.params[i] = v;
    ck_assert_int_eq(checkpoint_save(dir_path(name), &m, NULL, &meta), 0);
    model_free(&m);
    experiment_free(&e);
}

/* predict (issue 23): --json is valid JSON whatever the file names hold —
 * a newline as \n, a byte 0xff as \ufffd — and weights that give NaN give
 * "probability": null, not nan; text mode prints such a name quoted, with C
 * escapes, on its one line. */
START_TEST(test_predict_names_and_nan)
{
    train_tiny();
    uint8_t *rgb = sample_rgb(1);
    write_png("odd\nname\xff.png", rgb, 32, 32);
    free(rgb);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT " --json odd*name*.png"), 0);
    ck_assert_msg(strstr(out, "{\"image\": \"odd\\nname\\ufffd.png\", \"width\": 32"), "%s", out);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT " odd*name*.png"), 0);
    ck_assert_msg(strstr(out, "\n\"odd\\nname\xff.png\" (32x32):"), "%s", out);
    /* weights so large (finite) that the logits overflow: NaN probabilities */
    weights_set_to("huge.ckpt", 1e38f, 0);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights huge.ckpt --json odd*name*.png"), 0);
    ck_assert_msg(strstr(out, "\"probability\": null}") && !strstr(out, "nan}"), "%s", out);
}
END_TEST

/* issue 34: weights that are NaN (a run that diverged between evaluations
 * wrote them) are refused by predict, eval and export, naming the file:
 * predict answered every image with no class (exit 0, no word). */
START_TEST(test_nan_weights_refused)
{
    train_tiny();
    uint8_t *rgb = sample_rgb(1);
    write_png("good.png", rgb, 32, 32);
    free(rgb);
    weights_set_to("nan.ckpt", NAN, 1);
    const char *cmds[] = {"predict tiny.ini --weights nan.ckpt good.png",
                          "eval tiny.ini --weights nan.ckpt --threads 1",
#ifdef CNNRUN_ONNX
                          "export tiny.ini --weights nan.ckpt -o nan.onnx",
#endif
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        ck_assert_int_eq(cnnrun(cmds[i]), 1);
        ck_assert_msg(strstr(out, "nan.ckpt: the checkpoint's weights are not finite: 1 of its ") &&
                          strstr(out, "parameters and 0 of its") &&
                          strstr(out, "HINT: use an earlier checkpoint"), "%s: %s", cmds[i], out);
        ck_assert_ptr_null(strstr(out, "good.png ("));
    }
    ck_assert(!exists("nan.onnx"));
}
END_TEST

/* A directory, a P3 value of 20 digits and a FIFO are each named for what
 * they are (they were "empty file", "truncated pixel data", and a wait for
 * a writer for ever) */
START_TEST(test_predict_not_images)
{
    train_tiny();
    ck_assert_int_eq(mkdir(dir_path("adir"), 0755), 0);
    write_file("big.ppm", "P3\n1 1\n255\n12345678901234567890 0 0\n");
    make_node("fifo.png", S_IFIFO);
    ck_assert_int_eq(cnnrun("predict tiny.ini --weights " CKPT " adir/ big.ppm fifo.png"), 1);
    ck_assert_msg(strstr(out, "adir/: cannot read: a directory, not an image"), "%s", out);
    ck_assert_msg(strstr(out, "big.ppm: cannot read: PPM: a value out of range"), "%s", out);
    ck_assert_msg(strstr(out, "fifo.png: cannot read: not a regular file"), "%s", out);
}
END_TEST

/* The filter: shrinking averages the covered pixels by area (3 -> 2: the
 * middle pixel split between both), enlarging interpolates (2 -> 4 at
 * centres 0.25, 0.75 of the way), equal sizes copy. */
START_TEST(test_resize_filter)
{
    uint8_t px[3 * 3] = {0, 0, 0, 90, 90, 90, 240, 240, 240}; /* a row of 3 grey pixels */
    Image img = {.w = 3, .h = 1, .rgb = px};
    uint8_t out2[2 * 2 * 3];
    image_resize_planes(&img, 2, out2);
    /* output 0 covers [0, 1.5): (0 * 1 + 90 * 0.5) / 1.5 = 30; output 1: (45 + 240) / 1.5 = 190 */
    ck_assert_int_eq(out2[0], 30);
    ck_assert_int_eq(out2[1], 190);
    ck_assert_int_eq(out2[2], 30); /* the one row, repeated (bilinear 1 -> 2) */
    ck_assert_int_eq(out2[4 + 1], 190); /* plane G */
    uint8_t two[2 * 3] = {0, 0, 0, 200, 200, 200};
    Image img2 = {.w = 2, .h = 1, .rgb = two};
    uint8_t out4[4 * 4 * 3];
    image_resize_planes(&img2, 4, out4);
    /* centres at -0.25 (clamped: 0), 0.25, 0.75, 1.25 (clamped: 1) */
    ck_assert_int_eq(out4[0], 0);
    ck_assert_int_eq(out4[1], 50);
    ck_assert_int_eq(out4[2], 150);
    ck_assert_int_eq(out4[3], 200);
    uint8_t *rgb = sample_rgb(1), planes[CIFAR_PIXELS];
    Image same = {.w = 32, .h = 32, .rgb = rgb};
    image_resize_planes(&same, 32, planes);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 1024; i++) ck_assert_int_eq(planes[c * 1024 + i], rgb[i * 3 + c]);
    free(rgb);
}
END_TEST

/* dir/to, a copy of dir/from */
static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *b = contents(from, &len);
    char p[256];
    path_in(p, sizeof p, to);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    free(b);
}

/* dir/name holds exactly len bytes b */
static void assert_holds(const char *name, const char *b, size_t len)
{
    size_t now_len;
    char *now = contents(name, &now_len);
    ck_assert_msg(now_len == len && memcmp(now, b, len) == 0, "%s was changed", name);
    free(now);
}

/* What an output must not replace (issue 34), made in dir: another results
 * database (not --db), a checkpoint (not --weights), an experiment file that
 * is not an input, a file of the user's; with what the message calls it. */
static const char *const victims[][2] = {{"r2/r.db", "an SQLite database"},
                                         {"old.ckpt", "a cnnrun checkpoint"},
                                         {"other.ini", "an experiment file (INI)"},
                                         {"notes.txt", "a file of another kind"}};

static void make_victim(int i)
{
    if (i == 0) ck_assert_msg(cnnrun("run tiny.ini --db r2/r.db") == 0, "%s", out);
    if (i == 1) copy_file(CKPT, "old.ckpt");
    if (i == 2) write_file("other.ini", other_ini);
    if (i == 3) write_file("notes.txt", "my notes\n");
}

/* An output replaces only an earlier output of its kind, or an empty file
 * (issue 34): eval --logits and export -o never replace victims[_i],
 * whatever its path — exit 2 before any work, a message naming the path and
 * what it is, the file as it was. */
START_TEST(test_outputs_replace_only_their_kind)
{
    train_tiny();
    make_victim(_i);
    const char *v = victims[_i][0];
    size_t len;
    char *before = contents(v, &len), cmd[256], says[256];
    snprintf(cmd, sizeof cmd, "eval tiny.ini --weights " CKPT " --logits %s --db r.db", v);
    ck_assert_msg(cnnrun(cmd) == 2, "%s: %s", cmd, out);
    snprintf(says, sizeof says, "%s: cannot write the logits there: it is %s, not a logits "
                                "file of cnnrun eval", v, victims[_i][1]);
    ck_assert_msg(strstr(out, says) && strstr(out, "remove it first"), "%s: %s", v, out);
    ck_assert_msg(!strstr(out, "test loss"), "evaluated first: %s", out);
#ifdef CNNRUN_ONNX
    snprintf(cmd, sizeof cmd, "export tiny.ini --weights " CKPT " -o %s --db r.db", v);
    ck_assert_msg(cnnrun(cmd) == 2, "%s: %s", cmd, out);
    snprintf(says, sizeof says, "%s: cannot write the ONNX model there: it is %s", v,
             victims[_i][1]);
    ck_assert_msg(strstr(out, says), "%s: %s", v, out);
#endif
    assert_holds(v, before, len);
    free(before);
    ck_assert(no_temporaries());
}
END_TEST

/* ... and an earlier output of the kind, or an empty file, it does replace */
START_TEST(test_outputs_replace_their_kind)
{
    train_tiny();
    write_file("empty.txt", "");
    static const char *again[] = {"l.txt", "l.txt", "empty.txt"};
    for (int i = 0; i < 3; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "eval tiny.ini --weights " CKPT " --logits %s --db r.db",
                 again[i]);
        ck_assert_msg(cnnrun(cmd) == 0, "%s: %s", cmd, out);
    }
#ifdef CNNRUN_ONNX
    ck_assert_msg(cnnrun("export tiny.ini --weights " CKPT " -o m.onnx") == 0, "%s", out);
    ck_assert_msg(cnnrun("export tiny.ini --weights " CKPT " -o m.onnx") == 0, "%s", out);
    ck_assert_int_eq(cnnrun("export tiny.ini --weights " CKPT " -o l.txt"), 2);
    ck_assert_msg(strstr(out, "l.txt: cannot write the ONNX model there: it is a logits file"),
                  "%s", out);
    ck_assert_int_eq(cnnrun("eval tiny.ini --weights " CKPT " --logits m.onnx --db r.db"), 2);
    ck_assert_msg(strstr(out, "m.onnx: cannot write the logits there: it is an ONNX model"),
                  "%s", out);
#endif
}
END_TEST

/* The report replaces its own page and plots; a file of another kind in
 * the way of one (a database named index.html, notes named like a plot) is
 * refused, exit 2, and nothing of the report is written (issue 34). */
START_TEST(test_report_replaces_only_its_files)
{
    train_tiny();
    ck_assert_msg(cnnrun("report --db r.db -o rep") == 0, "%s", out);
    ck_assert_msg(cnnrun("report --db r.db -o rep") == 0, "%s", out);
    ck_assert(exists("rep/index.html") && exists("rep/run-1.svg"));
    ck_assert_int_eq(mkdir(dir_path("rep2"), 0755), 0);
    copy_file("r.db", "rep2/index.html");
    write_file("rep2/run-1.svg", "my notes\n");
    size_t db_len;
    char *db = contents("r.db", &db_len);
    ck_assert_int_eq(cnnrun("report --db r.db -o rep2"), 2);
    ck_assert_msg(strstr(out, "rep2/index.html: cannot write the report's page there: it is an "
                              "SQLite database") &&
                      strstr(out, "rep2/run-1.svg: cannot write the report's plot there: it is "
                                  "a file of another kind"), "%s", out);
    assert_holds("rep2/index.html", db, db_len);
    assert_holds("rep2/run-1.svg", "my notes\n", 9);
    free(db);
    ck_assert(!exists("rep2/overlay.svg"));
    DIR *d = opendir(dir_path("rep2"));
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += de->d_name[0] != '.' || strlen(de->d_name) > 2;
    closedir(d);
    ck_assert_int_eq(n, 2); /* no staging directory left behind */
}
END_TEST

/* A run's checkpoint replaces only a checkpoint: a database where one goes
 * is refused before training, exit 2, and left as it is (issue 34). */
START_TEST(test_checkpoint_replaces_only_checkpoints)
{
    train_tiny();
    ck_assert_int_eq(mkdir(dir_path("c-checkpoints"), 0755), 0);
    copy_file("r.db", "c-checkpoints/tiny-1-best.ckpt");
    size_t db_len;
    char *db = contents("r.db", &db_len);
    ck_assert_int_eq(cnnrun("run tiny.ini --db c.db"), 2);
    ck_assert_msg(strstr(out, "c-checkpoints/tiny-1-best.ckpt: cannot write the checkpoint there: "
                              "it is an SQLite database"), "%s", out);
    ck_assert_msg(!strstr(out, "epoch 1"), "trained first: %s", out);
    assert_holds("c-checkpoints/tiny-1-best.ckpt", db, db_len);
    free(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("export");
    TCase *tc = tcase_create("export");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_set_timeout(tc, 600);
#ifdef CNNRUN_ONNX
    tcase_add_test(tc, test_export_parses_back);
    tcase_add_test(tc, test_onnx_table_complete);
#endif
    tcase_add_test(tc, test_export_errors);
    tcase_add_test(tc, test_predict_matches_eval);
    tcase_add_test(tc, test_predict_bad_images);
    tcase_add_test(tc, test_resize_filter);
    tcase_add_test(tc, test_outputs_refused);
    tcase_add_loop_test(tc, test_outputs_replace_only_their_kind, 0,
                        (int)(sizeof victims / sizeof victims[0]));
    tcase_add_test(tc, test_outputs_replace_their_kind);
    tcase_add_test(tc, test_report_replaces_only_its_files);
    tcase_add_test(tc, test_checkpoint_replaces_only_checkpoints);
    tcase_add_test(tc, test_checkpoint_read_by_header);
    tcase_add_test(tc, test_predict_not_images);
    tcase_add_test(tc, test_predict_names_and_nan);
    tcase_add_test(tc, test_nan_weights_refused);
    suite_add_tcase(s, tc);
    return check_run(s);
}
