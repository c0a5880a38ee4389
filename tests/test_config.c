/* test_config.c — experiment files: every error class reported with its
 * `file:line:` place and wording, defaults, --set overrides, and the
 * experiment_print -> experiment_load round trip. Also keeps the key reference
 * in docs/experiment-format.md in sync with the schema.
 * `test_config --schema-markdown` prints the generated part of that doc. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "../src/config/schema.h"
#include "cnnrun/config.h"
#include "cnnrun/model.h"
#include "cnnrun/util.h"

static char tmp_dir[64];
static char path[256];
static char errs[32768];

static void setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cnnrun-test-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
}

/* Writes text to tmp_dir/name and sets `path`. */
static const char *write_ini(const char *name, const char *text)
{
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* experiment_load with stderr captured into errs. */
static int load_ov(const char *p, const ConfigOverride *ov, int n, Experiment *e)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    ck_assert_ptr_nonnull(tmp);
    dup2(fileno(tmp), 2);
    int rc = experiment_load(p, ov, n, e);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t got = fread(errs, 1, sizeof errs - 1, tmp);
    errs[got] = '\0';
    fclose(tmp);
    return rc;
}

static int load(const char *p, Experiment *e)
{
    return load_ov(p, NULL, 0, e);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

#define NET "[layer.c1]\ntype = conv\nfilters = 8\n"

/* Loads text (expecting failure) and checks that stderr contains the message
 * `path:line: msg` (line 0: `path: msg`). */
static void expect_error_at(const char *text, int line, const char *msg)
{
    Experiment e;
    write_ini("t.ini", text);
    int rc = load(path, &e);
    ck_assert_msg(rc == -1, "expected failure for:\n%s", text);
    ck_assert_ptr_null(e.layers);
    char want[1024];
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: %s", path, line, msg);
    else
        snprintf(want, sizeof want, "%s: %s", path, msg);
    ck_assert_msg(strstr(errs, want) != NULL, "wanted '%s'\ngot:\n%s", want, errs);
}

START_TEST(test_unknown_section)
{
    expect_error_at("[dat]\nbatch_size = 3\n" NET, 1, "unknown section [dat]; did you mean [data]?");
    expect_error_at("[Optimizer]\n" NET, 1, "unknown section [Optimizer]; did you mean [optimizer]?");
    expect_error_at("[layers.c0]\ntype = relu\n" NET, 1,
                    "unknown section [layers.c0]; layer sections are written [layer.NAME]");
    expect_error_at(NET "[layer]\n", 4,
                    "unknown section [layer]; layer sections are written [layer.NAME]");
    expect_error_at(NET "[zzzzz]\n", 4, "unknown section [zzzzz] (sections:");
    expect_error_at(NET "[layer.a b]\ntype = relu\n", 4, "invalid layer name 'a b'");
}
END_TEST

START_TEST(test_unknown_key)
{
    expect_error_at("[layer.c1]\ntype = conv\nfilter = 8\n", 3,
                    "unknown key 'filter' in [layer.c1] (conv); did you mean 'filters'?");
    /* the required key is then missing too, reported at the header */
    ck_assert_ptr_nonnull(strstr(errs, ":1: missing required key 'filters' in [layer.c1] (conv)"));
    expect_error_at(NET "outputs = 10\n", 4,
                    "unknown key 'outputs' in [layer.c1] (conv); 'outputs' is a key of linear "
                    "layers");
    expect_error_at("[optimizer]\nlr = 0.1\n" NET, 2,
                    "unknown key 'lr' in [optimizer]; it belongs in [schedule]");
    expect_error_at("[data]\nbatchsize = 64\n" NET, 2,
                    "unknown key 'batchsize' in [data]; did you mean 'batch_size'?");
    /* input vs inputs: valid for the layer type only */
    expect_error_at(NET "[layer.j]\ntype = add\ninput = c1\n", 6,
                    "unknown key 'input' in [layer.j] (add); did you mean 'inputs'?");
}
END_TEST

START_TEST(test_duplicates)
{
    expect_error_at("[experiment]\nseed = 1\nseed = 2\n" NET, 3,
                    "duplicate key 'seed' in [experiment] (first at line 2)");
    expect_error_at("[data]\nbatch_size = 1\n[data]\nbatch_size = 2\n" NET, 3,
                    "duplicate section [data] (first at line 1)");
    /* the second [data]'s keys are not reported as duplicates */
    ck_assert_int_eq(count_lines(errs), 1);
    expect_error_at(NET "[layer.c1]\ntype = relu\n", 4,
                    "duplicate section [layer.c1] (first at line 1); layer names must be unique");
}
END_TEST

START_TEST(test_key_before_section)
{
    expect_error_at("seed = 3\n[experiment]\nepochs = 2\n" NET, 1,
                    "key 'seed' comes before any [section]; it belongs under [experiment]");
    expect_error_at("; comment\nfoo = 3\n" NET, 2, "key 'foo' comes before any [section]");
}
END_TEST

START_TEST(test_bad_numbers)
{
    expect_error_at("[layer.c1]\ntype = conv\nfilters = 6x4\n", 3,
                    "expected an integer for 'filters', got '6x4'");
    expect_error_at("[layer.c1]\ntype = conv\nfilters = many\n", 3,
                    "expected an integer for 'filters', got 'many'");
    expect_error_at("[layer.c1]\ntype = conv\nfilters =\n", 3,
                    "missing value for 'filters' (expected an integer)");
    expect_error_at("[layer.c1]\ntype = conv\nfilters = 1.5\n", 3,
                    "expected an integer for 'filters', got '1.5'");
    expect_error_at("[schedule]\nlr = 0.1abc\n" NET, 2, "expected a number for 'lr', got '0.1abc'");
    expect_error_at("[schedule]\nlr = nan\n" NET, 2, "'lr' must be a finite number, got nan");
    expect_error_at("[experiment]\nseed = -1\n" NET, 2, "'seed' must be between 0 and");
    expect_error_at("[experiment]\nseed = 12abc\n" NET, 2, "expected an integer for 'seed'");
    expect_error_at("[layer.c1]\ntype = conv\nfilters = 8\nbias = maybe\n", 4,
                    "expected a boolean for 'bias' (true/false, yes/no, on/off, 1/0), got 'maybe'");
}
END_TEST

START_TEST(test_out_of_range)
{
    expect_error_at("[layer.c1]\ntype = conv\nfilters = 0\n", 3,
                    "'filters' must be between 1 and 65536, got 0");
    expect_error_at("[experiment]\nepochs = 99999999999999999999\n" NET, 2,
                    "'epochs' must be > 0 and <= 100000, got 99999999999999999999");
    expect_error_at("[optimizer]\nmomentum = 1\n" NET, 2, "'momentum' must be >= 0 and < 1, got 1");
    expect_error_at("[schedule]\nlr = 0\n" NET, 2, "'lr' must be > 0, got 0");
    expect_error_at("[schedule]\nlr = 1e40\n" NET, 2, "'lr' is too large for a 32-bit float, got 1e40");
    /* issue 34: a value > 0 that a float holds only as 0 was "must be > 0, got 1e-48" */
    expect_error_at("[schedule]\nlr = 1e-48\n" NET, 2,
                    "'lr' is too small for a 32-bit float: 1e-48 would be 0 (the smallest above 0 "
                    "is 1.4e-45)");
    /* a subnormal float is still a float above 0 */
    Experiment e;
    write_ini("t.ini", "[schedule]\ntype = constant\nlr = 1e-44\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert(e.lr > 0);
    experiment_free(&e);
    /* issue 34: bytes that are not UTF-8 in the name broke the runs table's columns */
    expect_error_at("[experiment]\nname = caf\xe9-run\n" NET, 2,
                    "'name' is not valid UTF-8 text: byte 0xe9 at byte 4 of its value");
    expect_error_at("[experiment]\nname = a\xc0\xaf" "b\n" NET, 2, /* an overlong '/' */
                    "'name' is not valid UTF-8 text: byte 0xc0 at byte 2");
    write_ini("t.ini", "[experiment]\nname = caf\xc3\xa9-\xe6\x97\xa5\n" NET);
    ck_assert_int_eq(load(path, &e), 0); /* UTF-8: taken as it is */
    ck_assert_str_eq(e.name, "caf\xc3\xa9-\xe6\x97\xa5");
    experiment_free(&e);
    expect_error_at(NET "size = 16\n", 4, "'size' must be between 1 and 15, got 16");
    expect_error_at(NET "size = 3\npad = 4\n", 5, "'pad' must be between 0 and size (3), got 4");
    expect_error_at(NET "[layer.p]\ntype = maxpool\nsize = 2\npad = 2\n", 7,
                    "'pad' must be at most size/2 = 1 for maxpool (as in PyTorch), got 2");
    expect_error_at("[data]\ntrain_subset = 50001\n" NET, 2,
                    "'train_subset' must be between 0 and 50000, got 50001");
    expect_error_at("[data]\naugment = crop:17\n" NET, 2,
                    "crop padding in 'augment' must be between 0 and 16, got 17");
    expect_error_at("[schedule]\nlr_start = 0.5\nlr_max = 0.1\n" NET, 2,
                    "one_cycle schedule: 'lr_start' (0.5) must not exceed 'lr_max' (0.1)");
    expect_error_at("[schedule]\ntype = step\nmilestones = 30, 20\n" NET, 3,
                    "'milestones' must be increasing, got 20 after 30");
    expect_error_at("[schedule]\ntype = step\n" NET, 2, "the step schedule needs 'milestones'");
    expect_error_at("[optimizer]\nnesterov = true\nmomentum = 0\n" NET, 2,
                    "'nesterov' needs momentum > 0");
}
END_TEST

START_TEST(test_unknown_type_and_enum)
{
    expect_error_at("[layer.c1]\ntype = convv\nfilters = 8\n", 2,
                    "unknown layer type 'convv'; did you mean 'conv'? (valid types: conv, "
                    "batchnorm, relu, leaky, gelu, maxpool, avgpool, global_avgpool, linear, "
                    "dropout, flatten, add, concat, residual, inception, silu)");
    expect_error_at(NET "activation = Relu\n", 4,
                    "unknown value 'Relu' for 'activation'; did you mean 'relu'? (expected one of: "
                    "none, relu, leaky, gelu, silu)");
    expect_error_at("[optimizer]\ntype = novograd\n" NET, 2,
                    "unknown value 'novograd' for 'type' (expected one of: sgd, adam, adamw, "
                    "rmsprop, muon)");
    expect_error_at("[data]\naugment = crop:4, flp\n" NET, 2,
                    "unknown augmentation 'flp' in 'augment' (expected crop:N, translate:N, flip, "
                    "flip_alternating or none); did you mean 'flip'?");
    expect_error_at("[data]\ndataset = imagenet\n" NET, 2,
                    "unknown value 'imagenet' for 'dataset' (expected one of: cifar10, cifar100, "
                    "folder)");
}
END_TEST

/* [data] dataset (issue 37): the classes the network must give, known from
 * the file for CIFAR (a folder's: counted by the command line), label and
 * normalize = dataset parsed, the keys of one data set refused on another. */
START_TEST(test_dataset_keys)
{
    Experiment e;
    write_ini("t.ini", "[data]\ndataset = cifar100\nlabel = coarse\nnormalize = dataset\n"
                       "validation = 40\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.classes, 20);
    ck_assert(e.label_coarse);
    ck_assert_int_eq(e.normalize, NORM_DATASET);
    experiment_free(&e);
    write_ini("t.ini", "[data]\ndataset = folder\nskip_bad_images = true\nvalidation = 7\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.classes, 0);
    ck_assert(e.skip_bad_images);
    experiment_free(&e);
    write_ini("t.ini", NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.classes, 10);
    ck_assert_int_eq(e.normalize, NORM_CIFAR10);
    ck_assert(!e.label_coarse && !e.skip_bad_images);
    experiment_free(&e);
    expect_error_at("[data]\ndataset = cifar100\nlabel = medium\n" NET, 3,
                    "unknown value 'medium' for 'label' (expected one of: fine, coarse)");
    expect_error_at("[data]\nlabel = coarse\n" NET, 2,
                    "'label' chooses CIFAR-100's fine or coarse labels; dataset = cifar10 has one "
                    "kind");
    expect_error_at("[data]\ndataset = cifar100\nskip_bad_images = yes\n" NET, 3,
                    "'skip_bad_images' is for dataset = folder");
    expect_error_at("[data]\ndataset = cifar100\nvalidation = 110\n" NET, 3,
                    "'validation' (110) must be a multiple of 100: it holds out validation / 100 "
                    "images of each class");
    expect_error_at("[data]\nnormalize = imagenet\n" NET, 2,
                    "unknown value 'imagenet' for 'normalize' (expected one of: none, cifar10, "
                    "dataset)");
}
END_TEST

START_TEST(test_inputs)
{
    /* dangling */
    expect_error_at(NET "[layer.r]\ntype = relu\ninput = c2\n", 6,
                    "layer 'c2' used as input is not defined before [layer.r]; did you mean 'c1'?");
    /* forward reference */
    expect_error_at(NET "[layer.r]\ntype = relu\ninput = later\n[layer.later]\ntype = relu\n", 6,
                    "layer 'later' used as input is not defined before [layer.r]; [layer.later] "
                    "comes later (line 7)");
    /* itself */
    expect_error_at(NET "[layer.r]\ntype = relu\ninput = r\n", 6,
                    "layer 'r' used as input is not defined before [layer.r]; a layer cannot read "
                    "its own output");
    /* the first layer cannot name an input */
    expect_error_at("[layer.a]\ntype = relu\ninput = a\n" NET, 3,
                    "layer 'a' used as input is not defined before [layer.a]");
    /* add/concat */
    expect_error_at(NET "[layer.j]\ntype = concat\ninputs = c1, nope\n", 6,
                    "layer 'nope' used as input is not defined before [layer.j]");
    expect_error_at(NET "[layer.j]\ntype = add\ninputs = c1\n", 6,
                    "'inputs' needs at least 2 names, got 1");
    expect_error_at(NET "[layer.j]\ntype = add\n", 4, "missing required key 'inputs' in [layer.j] (add)");

    Experiment e;
    write_ini("ok.ini", NET "[layer.c2]\ntype = conv\nfilters = 8\ninput = c1\n"
                        "[layer.j]\ntype = add\ninputs = c1 , c2\n");
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_int_eq(e.n_layers, 3);
    ck_assert_int_eq(e.layers[0].n_inputs, 0);
    ck_assert_int_eq(e.layers[0].inputs_line, 1);
    ck_assert_int_eq(e.layers[1].n_inputs, 1);
    ck_assert_str_eq(e.layers[1].inputs[0], "c1");
    ck_assert_int_eq(e.layers[1].inputs_line, 7);
    ck_assert_int_eq(e.layers[2].n_inputs, 2);
    ck_assert_str_eq(e.layers[2].inputs[1], "c2");
    ck_assert_int_eq(e.layers[2].inputs_line, 10);
    ck_assert_int_eq(e.layers[2].line, 8);
    experiment_free(&e);
}
END_TEST

START_TEST(test_long_line)
{
    char text[1024], value[300];
    memset(value, 'a', 250);
    value[250] = '\0';
    snprintf(text, sizeof text, "[experiment]\nname = %s\nepochs = 3\n" NET, value);
    expect_error_at(text, 2, "line is longer than 199 characters");
    /* the rest of the long line is not parsed as another line */
    ck_assert_int_eq(count_lines(errs), 1);

    /* a long comment line is harmless */
    Experiment e;
    snprintf(text, sizeof text, "; %s\n[experiment]\nepochs = 3\n" NET, value);
    write_ini("comment.ini", text);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_int_eq(e.epochs, 3);
    experiment_free(&e);

    /* exactly 199 characters is fine */
    memset(value, '1', 199 - 7);
    value[199 - 7] = '\0';
    snprintf(text, sizeof text, "[experiment]\nname = %s\n" NET, value);
    write_ini("199.ini", text);
    ck_assert_int_eq(load(path, &e), -1);
    ck_assert_ptr_null(strstr(errs, "longer than"));
    ck_assert_ptr_nonnull(strstr(errs, "'name' is too long (at most 127 characters)"));
}
END_TEST

START_TEST(test_syntax_errors)
{
    expect_error_at(NET "[layer.c2\ntype = relu\n", 4, "unclosed '[' in section header; expected [name]");
    /* the keys under the broken header are not blamed on [layer.c1] */
    ck_assert_int_eq(count_lines(errs), 1);
    expect_error_at("[data]\nbogus line\nbatch_size = 64\n" NET, 2,
                    "expected 'key = value' or '[section]', got 'bogus line'");
    expect_error_at("[data]\n= 64\n" NET, 2, "missing key name before '='");
    expect_error_at("[data] junk\n" NET, 1, "unexpected text 'junk' after [data]");
    expect_error_at("[]\n" NET, 1, "empty section name '[]'");
}
END_TEST

START_TEST(test_missing_required)
{
    expect_error_at("[layer.c1]\ntype = conv\n", 1, "missing required key 'filters' in [layer.c1] (conv)");
    expect_error_at("[layer.c1]\nfilters = 8\n", 1, "missing required key 'type' in [layer.c1] (valid types: conv,");
    expect_error_at(NET "[layer.i]\ntype = inception\nn1x1 = 8\n", 4,
                    "missing required key 'n3x3_reduce' in [layer.i] (inception)");
    expect_error_at(NET "[layer.fc]\ntype = linear\n", 4,
                    "missing required key 'outputs' in [layer.fc] (linear)");
}
END_TEST

START_TEST(test_empty_network)
{
    expect_error_at("[experiment]\nseed = 1\n", 0, "no [layer.*] sections: the network is empty");
    expect_error_at("", 0, "no [layer.*] sections: the network is empty");
}
END_TEST

START_TEST(test_cannot_open)
{
    Experiment e;
    snprintf(path, sizeof path, "%s/missing.ini", tmp_dir);
    ck_assert_int_eq(load(path, &e), -1);
    char want[512];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory\n", path);
    ck_assert_str_eq(errs, want);
    ck_assert_int_eq(load(tmp_dir, &e), -1);
    ck_assert_ptr_nonnull(strstr(errs, "cannot open: Is a directory"));
}
END_TEST

START_TEST(test_multiline)
{
    /* indented key lines are ordinary entries (inih would read them as
     * continuations of the previous value) */
    Experiment e;
    write_ini("indent.ini", "[data]\n  batch_size = 64\n  test_batch_size = 100\n"
                            "  [optimizer]\n  momentum = 0.5\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_int_eq(e.batch_size, 64);
    ck_assert_int_eq(e.test_batch_size, 100);
    ck_assert_float_eq(e.momentum, 0.5f);
    experiment_free(&e);

    /* an indented duplicate is a duplicate, not a silent continuation */
    expect_error_at("[data]\nbatch_size = 64\n  batch_size = 32\n" NET, 3,
                    "duplicate key 'batch_size' in [data] (first at line 2)");
    /* a real continuation line */
    expect_error_at("[data]\naugment = crop:4,\n   flip\n" NET, 3,
                    "expected 'key = value', got indented 'flip' (multi-line values are not "
                    "supported");
}
END_TEST

START_TEST(test_crlf_bom_spaces)
{
    Experiment e;
    write_ini("crlf.ini", "\xef\xbb\xbf[ experiment ]\r\nepochs = 3\r\n[layer.c1]\r\n"
                          "type = conv\r\nfilters = 4 ; inline\r\nbias=off;not a comment\r\n");
    ck_assert_int_eq(load(path, &e), -1); /* 'off;not' is the value */
    ck_assert_ptr_nonnull(strstr(errs, ":6: expected a boolean for 'bias'"));
    write_ini("crlf.ini", "\xef\xbb\xbf[ experiment ]\r\nepochs = 3\r\n[layer.c1]\r\n"
                          "type = conv\r\nfilters = 4 ; inline\r\nbias: off\r\n");
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.epochs, 3);
    ck_assert_int_eq(e.layers[0].filters, 4);
    ck_assert(!e.layers[0].bias);
    ck_assert_int_eq(e.layers[0].line, 3);
    experiment_free(&e);
}
END_TEST

START_TEST(test_overrides)
{
    char b1[] = "layer.c1.filters=32", b2[] = " optimizer.momentum = 0.5 ", b3[] = "nodot=1",
         b4[] = "data.batch_size", b5[] = "schedule.=1";
    ConfigOverride ov[4];
    ck_assert_int_eq(config_override_parse(b1, &ov[0]), 0);
    ck_assert_str_eq(ov[0].section, "layer.c1");
    ck_assert_str_eq(ov[0].key, "filters");
    ck_assert_str_eq(ov[0].value, "32");
    ck_assert_ptr_eq(ov[0].section, b1);
    ck_assert_int_eq(config_override_parse(b2, &ov[1]), 0);
    ck_assert_str_eq(ov[1].section, "optimizer");
    ck_assert_str_eq(ov[1].key, "momentum");
    ck_assert_str_eq(ov[1].value, "0.5");
    ck_assert_ptr_eq(ov[1].section, b2);
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    ck_assert_int_eq(config_override_parse(b3, &ov[2]), -1);
    ck_assert_int_eq(config_override_parse(b4, &ov[2]), -1);
    ck_assert_int_eq(config_override_parse(b5, &ov[2]), -1);
    dup2(saved, 2);
    close(saved);
    close(devnull);

    /* applied: replaces a file value, creates a missing section */
    Experiment e;
    write_ini("ov.ini", "[experiment]\nepochs = 3\n" NET);
    ConfigOverride good[] = {{"layer.c1", "filters", "32", NULL, 0},
                             {"optimizer", "momentum", "0.5", NULL, 0},
                             {"experiment", "epochs", "7", NULL, 0}};
    ck_assert_int_eq(load_ov(path, good, 3, &e), 0);
    ck_assert_int_eq(e.layers[0].filters, 32);
    ck_assert_float_eq(e.momentum, 0.5f);
    ck_assert_int_eq(e.epochs, 7);
    experiment_free(&e);

    /* errors name the override */
    ConfigOverride bad[] = {{"optimizer", "momentum", "2", NULL, 0},
                            {"optimizer", "momentun", "0.1", NULL, 0},
                            {"layer.c9", "filters", "3", NULL, 0},
                            {"optimiser", "type", "sgd", NULL, 0},
                            {"layer.c1", "filters", "6x4", NULL, 0}};
    ck_assert_int_eq(load_ov(path, bad, 5, &e), -1);
    ck_assert_ptr_null(e.layers);
    const char *want[] = {
        "--set optimizer.momentum: 'momentum' must be >= 0 and < 1, got 2\n",
        "--set optimizer.momentun: unknown key 'momentun' in [optimizer]; did you mean 'momentum'?\n",
        "--set layer.c9.filters: there is no [layer.c9] in the file (--set changes layers, it "
        "cannot add them); did you mean 'layer.c1'?\n",
        "--set optimiser.type: unknown section [optimiser]; did you mean [optimizer]?\n",
        "--set layer.c1.filters: expected an integer for 'filters', got '6x4'\n"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(strstr(errs, want[i]) != NULL, "wanted %s\ngot:\n%s", want[i], errs);
    ck_assert_int_eq(count_lines(errs), 5);
}
END_TEST

START_TEST(test_defaults)
{
    Experiment e;
    write_ini("my-net.ini", NET "[layer.bn]\ntype = conv\nfilters = 4\nbatchnorm = yes\n"
                            "[layer.p]\ntype = maxpool\n[layer.fc]\ntype = linear\noutputs = 10\n");
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_str_eq(e.name, "my-net");
    ck_assert_uint_eq(e.seed, 1);
    ck_assert_int_eq(e.epochs, 50);
    ck_assert_str_eq(e.dataset, "cifar10");
    ck_assert_str_eq(e.dir, "");
    ck_assert_int_eq(e.dir_line, 0);
    ck_assert_int_eq(e.batch_size, 128);
    ck_assert_int_eq(e.test_batch_size, 500);
    ck_assert_int_eq(e.augment_crop, 0);
    ck_assert(!e.augment_flip);
    ck_assert_int_eq(e.augment_translate, 0);
    ck_assert(!e.augment_flip_alternating);
    ck_assert(!e.drop_last);
    ck_assert(e.normalize);
    ck_assert_int_eq(e.train_subset, 0);
    ck_assert_int_eq(e.optimizer, OPT_SGD);
    ck_assert_float_eq(e.momentum, 0.9f);
    ck_assert(!e.nesterov);
    ck_assert_float_eq(e.weight_decay, 5e-4f);
    ck_assert_float_eq(e.beta1, 0.9f);
    ck_assert_float_eq(e.beta2, 0.999f);
    ck_assert_float_eq(e.eps, 1e-8f);
    ck_assert_int_eq(e.schedule, SCHED_ONE_CYCLE);
    ck_assert_float_eq(e.lr, 0.1f);
    ck_assert_float_eq(e.lr_start, 0.008f);
    ck_assert_float_eq(e.lr_max, 0.12f);
    ck_assert_float_eq(e.lr_end, 0.0008f);
    ck_assert_float_eq(e.cycle_epochs, 40.0f);
    ck_assert_int_eq(e.n_milestones, 0);
    ck_assert_float_eq(e.gamma, 0.1f);
    ck_assert_float_eq(e.warmup_epochs, 0.0f);
    ck_assert_int_eq(e.n_knots, 0);
    ck_assert_str_eq(e.knots_text, "");
    ck_assert_int_eq(e.n_layers, 4);
    const LayerSpec *c = &e.layers[0];
    ck_assert_int_eq(c->type, LT_CONV);
    ck_assert_int_eq(c->size, 3);
    ck_assert_int_eq(c->stride, 1);
    ck_assert_int_eq(c->pad, 1);
    ck_assert(c->bias);
    ck_assert(!c->batchnorm);
    ck_assert_int_eq(c->activation, ACT_NONE);
    ck_assert_float_eq(c->leaky_slope, 0.01f);
    ck_assert_float_eq(c->bn_eps, 1e-5f);
    ck_assert_float_eq(c->bn_momentum, 0.1f);
    ck_assert(!e.layers[1].bias); /* bias defaults to false with batchnorm */
    ck_assert(e.layers[1].batchnorm);
    ck_assert_int_eq(e.layers[2].size, 2);
    ck_assert_int_eq(e.layers[2].stride, 2);
    ck_assert_int_eq(e.layers[2].pad, 0);
    ck_assert_int_eq(e.layers[3].outputs, 10);
    ck_assert(e.layers[3].bias);
    ck_assert_str_eq(layer_type_name(LT_GLOBAL_AVGPOOL), "global_avgpool");
    ck_assert_str_eq(activation_name(ACT_LEAKY), "leaky");
    ck_assert_ptr_nonnull(e.text);
    ck_assert_str_eq(e.path, path);
    experiment_free(&e);
}
END_TEST

/* The resolved configuration of e (what runs.config stores and --resume compares). */
static char *resolved_text(const Experiment *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    experiment_print(e, f);
    fclose(f);
    return buf;
}

/* RMSProp's smoothing constant is beta2: PyTorch's alpha default 0.99 when
 * not given (Adam's 0.999 otherwise), also after --set optimizer.type; a
 * given beta2 is kept; the value is in the resolved configuration, so a
 * resume under another beta2 sees a different configuration. */
START_TEST(test_rmsprop_beta2_default)
{
    Experiment e;
    write_ini("rms.ini", "[optimizer]\ntype = rmsprop\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_float_eq(e.beta2, 0.99f);
    char *text = resolved_text(&e);
    ck_assert_msg(strstr(text, "\nbeta2 = 0.99\n"), "%s", text);
    free(text);
    experiment_free(&e);

    write_ini("rms2.ini", "[optimizer]\ntype = rmsprop\nbeta2 = 0.9\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_float_eq(e.beta2, 0.9f);
    experiment_free(&e);

    write_ini("adam.ini", "[optimizer]\ntype = adam\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    ck_assert_float_eq(e.beta2, 0.999f);
    experiment_free(&e);
    char buf[] = "optimizer.type=rmsprop";
    ConfigOverride ov;
    ck_assert_int_eq(config_override_parse(buf, &ov), 0);
    ck_assert_int_eq(load_ov(path, &ov, 1, &e), 0);
    ck_assert_int_eq(e.optimizer, OPT_RMSPROP);
    ck_assert_float_eq(e.beta2, 0.99f);
    experiment_free(&e);

    expect_error_at("[optimizer]\ntype = rmsprop\nbeta2 = 1\n" NET, 3,
                    "'beta2' must be >= 0 and < 1, got 1");
}
END_TEST

static void assert_same(const Experiment *a, const Experiment *b)
{
    ck_assert_str_eq(a->name, b->name);
    ck_assert_uint_eq(a->seed, b->seed);
    ck_assert(a->epochs == b->epochs);
    ck_assert_int_eq(a->steps, b->steps);
    ck_assert_str_eq(a->dataset, b->dataset);
    ck_assert_str_eq(a->dir, b->dir);
    ck_assert_int_eq(a->batch_size, b->batch_size);
    ck_assert_int_eq(a->test_batch_size, b->test_batch_size);
    ck_assert_int_eq(a->augment_crop, b->augment_crop);
    ck_assert_int_eq(a->augment_flip, b->augment_flip);
    ck_assert_int_eq(a->augment_translate, b->augment_translate);
    ck_assert_int_eq(a->augment_flip_alternating, b->augment_flip_alternating);
    ck_assert_int_eq(a->drop_last, b->drop_last);
    ck_assert_int_eq(a->normalize, b->normalize);
    ck_assert_int_eq(a->train_subset, b->train_subset);
    ck_assert_int_eq(a->test_subset, b->test_subset);
    ck_assert_int_eq(a->optimizer, b->optimizer);
    ck_assert(a->momentum == b->momentum && a->nesterov == b->nesterov);
    ck_assert(a->weight_decay == b->weight_decay && a->beta1 == b->beta1);
    ck_assert(a->beta2 == b->beta2 && a->eps == b->eps);
    ck_assert_int_eq(a->schedule, b->schedule);
    ck_assert(a->lr == b->lr && a->lr_start == b->lr_start && a->lr_max == b->lr_max);
    ck_assert(a->lr_end == b->lr_end && a->cycle_epochs == b->cycle_epochs);
    ck_assert_int_eq(a->n_milestones, b->n_milestones);
    for (int i = 0; i < a->n_milestones; i++) ck_assert(a->milestones[i] == b->milestones[i]);
    ck_assert(a->gamma == b->gamma && a->warmup_epochs == b->warmup_epochs);
    ck_assert_int_eq(a->n_knots, b->n_knots);
    for (int i = 0; i < a->n_knots; i++)
        ck_assert(a->knot_epoch[i] == b->knot_epoch[i] && a->knot_value[i] == b->knot_value[i]);
    ck_assert_str_eq(a->knots_text, b->knots_text);
    ck_assert_int_eq(a->n_layers, b->n_layers);
    for (int i = 0; i < a->n_layers; i++) {
        const LayerSpec *x = &a->layers[i], *y = &b->layers[i];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_int_eq(x->type, y->type);
        ck_assert_int_eq(x->n_inputs, y->n_inputs);
        for (int k = 0; k < x->n_inputs; k++) ck_assert_str_eq(x->inputs[k], y->inputs[k]);
        ck_assert_int_eq(x->filters, y->filters);
        ck_assert_int_eq(x->size, y->size);
        ck_assert_int_eq(x->stride, y->stride);
        ck_assert_int_eq(x->pad, y->pad);
        ck_assert_int_eq(x->bias, y->bias);
        ck_assert_int_eq(x->batchnorm, y->batchnorm);
        ck_assert_int_eq(x->activation, y->activation);
        ck_assert(x->leaky_slope == y->leaky_slope && x->bn_eps == y->bn_eps);
        ck_assert(x->bn_momentum == y->bn_momentum && x->probability == y->probability);
        ck_assert_int_eq(x->outputs, y->outputs);
        ck_assert_int_eq(x->n1x1, y->n1x1);
        ck_assert_int_eq(x->n3x3_reduce, y->n3x3_reduce);
        ck_assert_int_eq(x->n3x3, y->n3x3);
        ck_assert_int_eq(x->n5x5_reduce, y->n5x5_reduce);
        ck_assert_int_eq(x->n5x5, y->n5x5);
        ck_assert_int_eq(x->pool_proj, y->pool_proj);
    }
}

static const char *full_file =
    "[experiment]\nname = full test\nseed = 9223372036854775807\nepochs = 12\n"
    "[data]\ndataset = cifar10\ndir = /tmp/some dir\nbatch_size = 64\ntest_batch_size = 250\n"
    "augment = flip, crop:2\nnormalize = none\ntrain_subset = 1000\ntest_subset = 500\n"
    "[optimizer]\ntype = adamw\nmomentum = 0.85\nnesterov = on\nweight_decay = 0.01\n"
    "beta1 = 0.8\nbeta2 = 0.99\neps = 1e-7\n"
    "[schedule]\ntype = step\nlr = 0.05\nmilestones = 3, 6.5, 9\ngamma = 0.2\n"
    "warmup_epochs = 1.5\nlr_start = 0.01\nlr_max = 0.3\nlr_end = 0\ncycle_epochs = 10\n"
    "[layer.stem]\ntype = conv\nfilters = 16\nsize = 5\nstride = 2\npad = 0\nbias = true\n"
    "batchnorm = true\nactivation = leaky\nslope = 0.2\n"
    "[layer.bn]\ntype = batchnorm\neps = 1e-3\nmomentum = 0.01\n"
    "[layer.r]\ntype = relu\n[layer.lk]\ntype = leaky\nslope = 0.1\ninput = bn\n"
    "[layer.g]\ntype = gelu\ninput = r\n[layer.sum]\ntype = add\ninputs = g, lk\n"
    "[layer.res]\ntype = residual\nfilters = 32\nstride = 2\n"
    "[layer.inc]\ntype = inception\nn1x1 = 8\nn3x3_reduce = 4\nn3x3 = 8\nn5x5_reduce = 2\n"
    "n5x5 = 4\npool_proj = 4\n"
    "[layer.cat]\ntype = concat\ninputs = inc, res, inc\n"
    "[layer.mp]\ntype = maxpool\nsize = 3\nstride = 1\npad = 1\n"
    "[layer.ap]\ntype = avgpool\n[layer.gap]\ntype = global_avgpool\n"
    "[layer.fl]\ntype = flatten\n[layer.do]\ntype = dropout\nprobability = 0.25\n"
    "[layer.fc]\ntype = linear\noutputs = 10\nbias = no\n";

START_TEST(test_round_trip)
{
    Experiment a, b;
    write_ini("full.ini", full_file);
    ck_assert_msg(load(path, &a) == 0, "%s", errs);
    ck_assert_str_eq(a.name, "full test");
    ck_assert_uint_eq(a.seed, 9223372036854775807ull);
    ck_assert_int_eq(a.augment_crop, 2);
    ck_assert(a.augment_flip);
    ck_assert(!a.normalize);
    ck_assert_int_eq(a.n_milestones, 3);
    ck_assert_float_eq(a.milestones[1], 6.5f);
    ck_assert_int_eq(a.optimizer, OPT_ADAMW);
    ck_assert(a.nesterov);
    ck_assert_int_eq(a.layers[0].activation, ACT_LEAKY);
    ck_assert_int_eq(a.n_layers, 15);
    ck_assert_int_eq(a.dir_line, 7);

    char printed[256];
    snprintf(printed, sizeof printed, "%s/printed.ini", tmp_dir);
    FILE *f = fopen(printed, "w");
    experiment_print(&a, f);
    fclose(f);
    ck_assert_msg(load(printed, &b) == 0, "%s", errs);
    assert_same(&a, &b);

    /* and the defaults of a minimal file survive the trip too */
    Experiment c, d;
    write_ini("min.ini", NET "[layer.p]\ntype = avgpool\nsize = 3\n");
    ck_assert_int_eq(load(path, &c), 0);
    f = fopen(printed, "w");
    experiment_print(&c, f);
    fclose(f);
    ck_assert_msg(load(printed, &d) == 0, "%s", errs);
    assert_same(&c, &d);
    ck_assert_str_eq(d.dir, "");
    experiment_free(&a);
    experiment_free(&b);
    experiment_free(&c);
    experiment_free(&d);
}
END_TEST

/* product.md's example, completed with the layers its [layer.merge] names */
static const char *product_example =
    "[experiment]\n"
    "name = resnet18            ; unique label in the results database (default: file name)\n"
    "seed = 1\nepochs = 50\n\n"
    "[data]\n"
    "dataset = cifar10          ; CIFAR-10 binary layout (data_batch_*.bin, test_batch.bin)\n"
    "dir = data/cifar-10-batches-bin   ; default: $CNNRUN_DATA, then the embedded sample\n"
    "batch_size = 128\n"
    "augment = crop:4, flip     ; random 32x32 crop of the image zero-padded by 4; horizontal flip\n"
    "normalize = cifar10        ; per-channel mean/std\n\n"
    "[optimizer]\n"
    "type = sgd                 ; sgd | adam | adamw | rmsprop\n"
    "momentum = 0.9\nweight_decay = 5e-4\n\n"
    "[schedule]\n"
    "type = one_cycle           ; one_cycle | constant | step | cosine\n"
    "lr_start = 0.008           ; rises linearly to lr_max over half the cycle,\n"
    "lr_max = 0.12              ; falls back to lr_start over the other half,\n"
    "cycle_epochs = 40          ; then cools down linearly to lr_end\n"
    "lr_end = 0.0008            ; over the remaining epochs\n\n"
    "[layer.stem]               ; one section per layer, in order; names are unique\n"
    "type = conv\nfilters = 64\nsize = 3\npad = 1\n"
    "batchnorm = true           ; conv + BN + activation in one section (VGG in 19 sections)\n"
    "activation = relu\n\n"
    "[layer.res1]\n"
    "type = residual            ; composite blocks keep files short: residual, inception\n"
    "filters = 64\nstride = 1\n\n"
    "[layer.b1]\ntype = conv\nfilters = 16\nsize = 1\n"
    "[layer.b2]\ntype = conv\nfilters = 16\ninput = res1\n"
    "[layer.b3]\ntype = maxpool\nsize = 3\nstride = 1\npad = 1\ninput = res1\n"
    "[layer.b4]\ntype = avgpool\nsize = 3\nstride = 1\npad = 1\ninput = res1\n\n"
    "[layer.merge]\n"
    "type = concat              ; a DAG where needed: add / concat take `inputs = a, b, ...`;\n"
    "inputs = b1, b2, b3, b4    ; every other layer reads the previous section unless `input = name`\n"
    "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n";

START_TEST(test_product_example)
{
    Experiment e;
    write_ini("resnet18.ini", product_example);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_str_eq(errs, "");
    ck_assert_str_eq(e.name, "resnet18");
    ck_assert_str_eq(e.dir, "data/cifar-10-batches-bin");
    ck_assert_int_eq(e.dir_line, 8);
    ck_assert_int_eq(e.augment_crop, 4);
    ck_assert(e.augment_flip);
    ck_assert_float_eq(e.lr_end, 0.0008f);
    ck_assert_int_eq(e.n_layers, 9);
    ck_assert_str_eq(e.layers[0].name, "stem");
    ck_assert_int_eq(e.layers[0].line, 25);
    ck_assert(!e.layers[0].bias);
    ck_assert_int_eq(e.layers[0].activation, ACT_RELU);
    ck_assert_int_eq(e.layers[1].type, LT_RESIDUAL);
    ck_assert_int_eq(e.layers[6].type, LT_CONCAT);
    ck_assert_int_eq(e.layers[6].n_inputs, 4);
    ck_assert_str_eq(e.layers[6].inputs[3], "b4");
    experiment_free(&e);
}
END_TEST

START_TEST(test_many_errors)
{
    /* several independent errors are all reported, in line order, capped */
    char text[8192] = "";
    for (int i = 0; i < 30; i++) {
        char sec[64];
        snprintf(sec, sizeof sec, "[layer.l%d]\ntype = conv\nfilters = x%d\n", i, i);
        strcat(text, sec);
    }
    expect_error_at(text, 3, "expected an integer for 'filters', got 'x0'");
    ck_assert_ptr_nonnull(strstr(errs, ":6: expected an integer for 'filters', got 'x1'"));
    ck_assert_int_eq(count_lines(errs), 21);
    ck_assert_ptr_nonnull(strstr(errs, "10 more errors not shown (30 in total)"));
}
END_TEST

/* CPU seconds of what `check` does with a file of n layers: load it, read
 * its sweep, build the model, print its table. Each layer adds its
 * predecessor and the first layer (inputs found by name), so every lookup
 * by name is exercised. */
static double check_seconds(int n)
{
    size_t cap = (size_t)n * 48 + 256, used = 0;
    char *text = xmalloc(cap);
    used += (size_t)snprintf(text, cap, "[sweep]\nexperiment.seed = 1, 2\n"
                                        "[layer.c]\ntype=conv\nfilters=2\n"
                                        "[layer.a1]\ntype=relu\n");
    for (int i = 2; i <= n; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "[layer.a%d]\ntype=add\ninputs=a%d,c\n", i, i - 1);
    snprintf(text + used, cap - used, "[layer.g]\ntype=global_avgpool\n"
                                      "[layer.fc]\ntype=linear\noutputs=10\n");
    write_ini("deep.ini", text);
    free(text);
    clock_t t0 = clock();
    Experiment e;
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    Sweep sw;
    ck_assert_int_eq(sweep_load(path, NULL, 0, NULL, 0, &sw), 0);
    ck_assert_int_eq(sw.n_points, 2);
    sweep_free(&sw);
    Model m;
    ck_assert_int_eq(model_build(&e, 0, &m), 0);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    model_print_table(&m, f);
    fclose(f);
    model_free(&m);
    experiment_free(&e);
    return (double)(clock() - t0) / CLOCKS_PER_SEC;
}

/* `check` was quadratic in the number of layers (a linear search per section
 * header, per input and per table row: 20 k layers 2.9 s, 100 k > 120 s).
 * Four times the layers must cost about four times as much, not sixteen:
 * a ratio of CPU times, so neither the machine's speed nor a sanitizer
 * build matters; the best of three runs of each size. */
START_TEST(test_check_linear_in_layers)
{
    double small = 1e9, big = 1e9;
    for (int r = 0; r < 3; r++) {
        double t = check_seconds(4000);
        if (t < small) small = t;
        t = check_seconds(16000);
        if (t < big) big = t;
    }
    ck_assert_msg(big < 8 * small + 0.05, "4000 layers: %.3f s, 16000: %.3f s (%.1fx)", small,
                  big, big / small);
}
END_TEST

START_TEST(test_float_format)
{
    /* experiment_print's numbers read back exactly */
    unsigned state = 12345;
    char buf[64];
    for (int i = 0; i < 30000; i++) {
        state = state * 1664525u + 1013904223u;
        float v;
        memcpy(&v, &state, sizeof v);
        if (!isfinite(v)) continue;
        schema_format_float(v, buf, sizeof buf);
        ck_assert_msg((float)strtod(buf, NULL) == v, "%s", buf);
    }
    schema_format_float(40.0f, buf, sizeof buf);
    ck_assert_str_eq(buf, "40");
    schema_format_float(5e-4f, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.0005");
    schema_format_float(1e-8f, buf, sizeof buf);
    ck_assert_str_eq(buf, "1e-8");
    schema_format_float(65536.0f, buf, sizeof buf);
    ck_assert_str_eq(buf, "65536");
    /* doubles ([experiment] epochs) too: every bit, the shortest text */
    for (int i = 0; i < 30000; i++) {
        uint64_t bits = (uint64_t)(state = state * 1664525u + 1013904223u) << 32;
        bits |= state = state * 1664525u + 1013904223u;
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        schema_format_double(v, buf, sizeof buf);
        ck_assert_msg(strtod(buf, NULL) == v, "%s", buf);
    }
    static const struct {
        double v;
        const char *text;
    } d[] = {{9.9, "9.9"}, {50, "50"}, {2.5, "2.5"}, {100000, "100000"}, {0.1, "0.1"},
             {1.0 / 3, "0.3333333333333333"}, {1e-300, "1e-300"}};
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        schema_format_double(d[i].v, buf, sizeof buf);
        ck_assert_str_eq(buf, d[i].text);
    }
}
END_TEST

/* [experiment] epochs: a positive decimal (9.9: the last epoch partial) or a
 * whole number as before; steps = N instead of epochs (not both); every bad
 * value a file:line error; both through --set, where a --set of one replaces
 * the file's other. */
/* text with its first `from` replaced by `to` (caller frees) */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at, "'%s' not in:\n%s", from, text);
    size_t head = (size_t)(at - text), n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    ck_assert_ptr_nonnull(out);
    snprintf(out, n, "%.*s%s%s", (int)head, text, to, at + strlen(from));
    return out;
}

/* Whether now and then are the same run's (both ways round for a same) and,
 * if not, the difference named as want. */
static void expect_same_run(const char *now, const char *then, const char *want)
{
    char why[512] = "unset";
    int same = experiment_text_same_run(now, then, why, sizeof why);
    if (!want) {
        ck_assert_msg(same && !why[0], "not the same run's: %s\n%s", why, then);
        ck_assert_msg(experiment_text_same_run(then, now, why, sizeof why), "%s", why);
    } else {
        ck_assert_msg(!same && !strcmp(why, want), "wanted '%s', got '%s'", want, why);
    }
}

/* --resume's comparison of resolved configurations (src/config/resolved.c):
 * comments never count; a key line one side lacks counts unless its value
 * is the key's default (a run made before the key existed); a computed
 * default, an unknown key, another value or another section list count,
 * and the first difference is named. */
START_TEST(test_same_run)
{
    Experiment e;
    write_ini("r.ini", "[experiment]\nseed = 3\n[optimizer]\nweight_decay = 0.001\n"
                       "[group.head]\nlayers = fc\nlr_scale = 0.5\n" NET "activation = relu\n"
                       "[layer.fc]\ntype = linear\noutputs = 10\n");
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    char *now = experiment_text(&e);
    experiment_free(&e);
    expect_same_run(now, now, NULL);
    char *then = replaced(now, "; resolved configuration of ", "; resolved configuration of ./");
    expect_same_run(now, then, NULL);
    free(then);
    /* made before the key existed: a line of each kind of section, at its
     * default (a number, a bool, an empty list) */
    static const char *const new_keys[] = {"patience = 0\n", "label_smoothing = 0\n",
                                           "knots =\n", "slope = 0.01\n", "frozen = false\n"};
    for (size_t i = 0; i < sizeof new_keys / sizeof *new_keys; i++) {
        then = replaced(now, new_keys[i], "");
        expect_same_run(now, then, NULL);
        free(then);
    }
    /* not at the default: seed 3 (default 1); a computed default: a group's momentum */
    then = replaced(now, "seed = 3\n", "");
    expect_same_run(now, then, "[experiment] seed: now '3', then not there");
    free(then);
    const char *g = strstr(now, "[group.head]");
    ck_assert_ptr_nonnull(g);
    char *head = strndup(now, (size_t)(g - now));
    char *group = replaced(g, "\nmomentum = 0.9\n", "\n");
    size_t n = strlen(head) + strlen(group) + 1;
    then = malloc(n);
    snprintf(then, n, "%s%s", head, group);
    expect_same_run(now, then, "[group.head] momentum: now '0.9', then not there");
    free(then);
    free(group);
    free(head);
    /* another value; a key this cnnrun does not know; a section more, renamed */
    then = replaced(now, "weight_decay = 0.001\n", "weight_decay = 0.0005\n");
    expect_same_run(now, then, "[optimizer] weight_decay: now '0.001', then '0.0005'");
    free(then);
    then = replaced(now, "[data]\n", "[data]\nfuture_key = 0\n");
    expect_same_run(now, then, "[data] future_key: now not there, then '0'");
    free(then);
    size_t len = strlen(now) + 64;
    then = malloc(len);
    snprintf(then, len, "%s\n[layer.more]\ntype = dropout\n", now);
    expect_same_run(now, then, "section [layer.more] is there only then");
    free(then);
    then = replaced(now, "[layer.fc]", "[layer.head]");
    expect_same_run(now, then, "section 7: now [layer.fc], then [layer.head]");
    free(then);
    free(now);
}
END_TEST

START_TEST(test_fractional_epochs_and_steps)
{
    Experiment e, back;
    char printed[256];
    snprintf(printed, sizeof printed, "%s/printed.ini", tmp_dir);
    write_ini("f.ini", "[experiment]\nepochs = 9.9\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert(e.epochs == 9.9); /* the double, not a float's 9.8999996 */
    ck_assert_int_eq(e.steps, 0);
    char *text = experiment_text(&e);
    ck_assert_msg(strstr(text, "\nepochs = 9.9\n; steps = 0 (epochs decide)\n"), "%s", text);
    free(text);
    FILE *f = fopen(printed, "w");
    experiment_print(&e, f);
    fclose(f);
    ck_assert_msg(load(printed, &back) == 0, "%s", errs);
    assert_same(&e, &back);
    experiment_free(&e);
    experiment_free(&back);

    /* a whole number prints as before: runs recorded before `steps` existed
     * still --resume (it compares every line but comments) */
    write_ini("w.ini", "[experiment]\nepochs = 8\n" NET);
    ck_assert_int_eq(load(path, &e), 0);
    text = experiment_text(&e);
    ck_assert_msg(strstr(text, "\nepochs = 8\n"), "%s", text);
    ck_assert_msg(!strstr(text, "\nsteps"), "%s", text);
    free(text);
    experiment_free(&e);

    /* steps: epochs is not used, and the printed file reads back */
    write_ini("s.ini", "[experiment]\nsteps = 476\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.steps, 476);
    ck_assert(e.epochs == 0);
    text = experiment_text(&e);
    ck_assert_msg(strstr(text, "\n; epochs = (not used: steps = 476)\nsteps = 476\n"), "%s",
                  text);
    free(text);
    f = fopen(printed, "w");
    experiment_print(&e, f);
    fclose(f);
    ck_assert_msg(load(printed, &back) == 0, "%s", errs);
    assert_same(&e, &back);
    experiment_free(&back);
    /* --set experiment.epochs replaces the file's steps */
    ConfigOverride ep = {"experiment", "epochs", "2.5", NULL, 0};
    ck_assert_msg(load_ov(path, &ep, 1, &back) == 0, "%s", errs);
    ck_assert(back.epochs == 2.5 && back.steps == 0);
    experiment_free(&back);
    experiment_free(&e);
    /* steps = 0 (the default) leaves it to epochs */
    write_ini("z.ini", "[experiment]\nepochs = 3\nsteps = 0\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert(e.epochs == 3 && e.steps == 0);
    experiment_free(&e);
    /* --set experiment.steps replaces the file's epochs; --set of both is an error */
    write_ini("o.ini", "[experiment]\nepochs = 3\n" NET);
    ConfigOverride st = {"experiment", "steps", "100", NULL, 0};
    ck_assert_msg(load_ov(path, &st, 1, &e) == 0, "%s", errs);
    ck_assert(e.steps == 100 && e.epochs == 0);
    experiment_free(&e);
    ConfigOverride both[] = {{"experiment", "epochs", "2", NULL, 0},
                             {"experiment", "steps", "100", NULL, 0}};
    ck_assert_int_eq(load_ov(path, both, 2, &e), -1);
    ck_assert_msg(strstr(errs, "--set experiment.steps: 'steps' and 'epochs' both give the length "
                               "of the run; keep one of them (steps = 0 leaves it to epochs)"),
                  "%s", errs);
    ConfigOverride frac = {"experiment", "epochs", "2.5", NULL, 0};
    ck_assert_msg(load_ov(path, &frac, 1, &e) == 0, "%s", errs);
    ck_assert(e.epochs == 2.5);
    experiment_free(&e);
    ConfigOverride badset = {"experiment", "epochs", "0", NULL, 0};
    ck_assert_int_eq(load_ov(path, &badset, 1, &e), -1);
    ck_assert_msg(strstr(errs, "--set experiment.epochs: 'epochs' must be > 0 and <= 100000, "
                               "got 0"), "%s", errs);

    /* errors, with the line */
    expect_error_at("[experiment]\nepochs = 9.9\nsteps = 476\n" NET, 3,
                    "'steps' and 'epochs' both give the length of the run; keep one of them "
                    "(steps = 0 leaves it to epochs)");
    expect_error_at("[experiment]\nepochs = 0\n" NET, 2,
                    "'epochs' must be > 0 and <= 100000, got 0");
    expect_error_at("[experiment]\nepochs = -2.5\n" NET, 2,
                    "'epochs' must be > 0 and <= 100000, got -2.5");
    expect_error_at("[experiment]\nepochs = 100000.5\n" NET, 2,
                    "'epochs' must be > 0 and <= 100000, got 100000.5");
    expect_error_at("[experiment]\nepochs = nan\n" NET, 2,
                    "'epochs' must be a finite number, got nan");
    expect_error_at("[experiment]\nepochs = inf\n" NET, 2,
                    "'epochs' must be a finite number, got inf");
    expect_error_at("[experiment]\nepochs = 1e400\n" NET, 2,
                    "'epochs' must be a finite number, got 1e400");
    expect_error_at("[experiment]\nepochs = 9.9x\n" NET, 2,
                    "expected a number for 'epochs', got '9.9x'");
    expect_error_at("[experiment]\nepochs = 9/10\n" NET, 2,
                    "expected a number for 'epochs', got '9/10'");
    expect_error_at("[experiment]\nepochs =\n" NET, 2,
                    "missing value for 'epochs' (expected a number)");
    expect_error_at("[experiment]\nsteps = -1\n" NET, 2,
                    "'steps' must be between 0 and 1000000000, got -1");
    expect_error_at("[experiment]\nsteps = 47.5\n" NET, 2,
                    "expected an integer for 'steps', got '47.5'");
}
END_TEST

static bool numeric_type(SchemaType t)
{
    return t == SK_INT || t == SK_U64 || t == SK_FLOAT || t == SK_DOUBLE;
}

static const char *kind_of(SchemaType t)
{
    return t == SK_INT || t == SK_U64 ? "an integer" : "a number";
}

/* Only decimal numbers, as documented: strtod alone took "0x10" as 16 (and
 * hex floats), so `epochs = 0x10` ran 16 epochs. Every numeric key of every
 * section and layer type refuses hexadecimal at its line, naming the key;
 * inf/nan/infinity are not finite; --set values the same; the list keys
 * (milestones, knots, augment) too. */
START_TEST(test_decimal_only)
{
    int n_top;
    const SchemaSection *top = schema_sections(&n_top);
    char text[1024], want[256];
    int checked = 0;
    expect_error_at("[experiment]\nepochs = 0x10\n" NET, 2,
                    "expected a number for 'epochs', got '0x10'"); /* was 16 epochs */
    for (int t = 0; t < n_top; t++)
        for (int k = 0; k < top[t].n_keys; k++) {
            if (!numeric_type(top[t].keys[k].type)) continue;
            snprintf(text, sizeof text, "[%s]\n%s = 0x10\n" NET, top[t].name, top[t].keys[k].key);
            snprintf(want, sizeof want, "expected %s for '%s', got '0x10' (only decimal numbers "
                     "are accepted)", kind_of(top[t].keys[k].type), top[t].keys[k].key);
            expect_error_at(text, 2, want);
            checked++;
        }
    for (int lt = 0; lt < LT_COUNT; lt++) {
        const SchemaSection *ls = schema_layer((LayerType)lt);
        for (int k = 0; ls && k < ls->n_keys; k++) {
            if (!numeric_type(ls->keys[k].type)) continue;
            snprintf(text, sizeof text, "[layer.x]\ntype = %s\n%s = 0x1p3\n",
                     schema_layer_type_names[lt], ls->keys[k].key);
            snprintf(want, sizeof want, "expected %s for '%s', got '0x1p3' (only decimal "
                     "numbers are accepted)", kind_of(ls->keys[k].type), ls->keys[k].key);
            expect_error_at(text, 3, want);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 30);
    expect_error_at("[schedule]\ncycle_epochs = 0x10\n" NET, 2,
                    "expected a number for 'cycle_epochs', got '0x10'");
    expect_error_at("[experiment]\nepochs = -0X8\n" NET, 2,
                    "expected a number for 'epochs', got '-0X8' (only decimal");
    expect_error_at("[experiment]\nepochs = infinity\n" NET, 2,
                    "'epochs' must be a finite number, got infinity");
    expect_error_at("[experiment]\nepochs = -INF\n" NET, 2,
                    "'epochs' must be a finite number, got -INF");
    expect_error_at("[schedule]\nlr = NaN\n" NET, 2, "'lr' must be a finite number, got NaN");
    expect_error_at("[experiment]\nsteps = 0x10\n" NET, 2,
                    "expected an integer for 'steps', got '0x10' (only decimal");
    expect_error_at("[experiment]\nseed = 0x10\n" NET, 2, "expected an integer for 'seed'");
    expect_error_at("[schedule]\ntype = multistep\nmilestones = 0x2\n" NET, 3,
                    "expected a number in 'milestones', got '0x2'");
    expect_error_at("[schedule]\ntype = piecewise\nknots = 0:0.1, 0x2:0\n" NET, 3,
                    "expected a number or a fraction a/b as the epoch in 'knots', got '0x2'");
    expect_error_at("[schedule]\ntype = piecewise\nknots = 0:0.1, 2:inf\n" NET, 3,
                    "each knot's value must be a finite number >= 0, got 'inf'");
    expect_error_at("[data]\naugment = crop:0x4\n" NET, 2,
                    "expected an integer after 'crop:' in 'augment', got '0x4'");
    /* a --set value: the same parser */
    write_ini("ov.ini", "[experiment]\nepochs = 3\n" NET);
    char buf[] = "experiment.epochs=0x10";
    ConfigOverride ov;
    ck_assert_int_eq(config_override_parse(buf, &ov), 0);
    Experiment e;
    ck_assert_int_eq(load_ov(path, &ov, 1, &e), -1);
    ck_assert_msg(strstr(errs, "--set experiment.epochs: expected a number for 'epochs', got "
                               "'0x10' (only decimal numbers are accepted)"), "%s", errs);
    /* decimal forms stay: signs, a bare point, exponents */
    write_ini("ok.ini", "[experiment]\nepochs = +2.\nseed = +7\n[schedule]\nlr = .5e-1\n"
                        "warmup_epochs = 1E0\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_double_eq(e.epochs, 2.0);
    ck_assert_float_eq(e.lr, 0.05f);
    experiment_free(&e);
}
END_TEST

/* [data] augment translate:N and flip_alternating, drop_last: values, the
 * resolved configuration, and every misuse as file:line. */
START_TEST(test_augment_translate_alternating_drop_last)
{
    Experiment e, back;
    write_ini("a.ini", "[data]\naugment = translate:2 , flip_alternating\ndrop_last = true\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.augment_translate, 2);
    ck_assert(e.augment_flip_alternating);
    ck_assert_int_eq(e.augment_crop, 0);
    ck_assert(!e.augment_flip);
    ck_assert(e.drop_last);
    char *text = resolved_text(&e);
    ck_assert_msg(strstr(text, "\naugment = translate:2, flip_alternating\n"), "%s", text);
    ck_assert_msg(strstr(text, "\ndrop_last = true\n"), "%s", text);
    write_ini("back.ini", text);
    ck_assert_msg(load(path, &back) == 0, "%s", errs);
    assert_same(&e, &back);
    free(text);
    experiment_free(&e);
    experiment_free(&back);

    /* each combination prints back as it reads; old files print as before */
    static const char *const cases[][2] = {
        {"flip_alternating", "flip_alternating"},
        {"flip_alternating, crop:4", "crop:4, flip_alternating"},
        {"translate:3", "translate:3"}, {"flip, translate:1", "translate:1, flip"},
        {"crop:4, flip", "crop:4, flip"}, {"flip", "flip"}, {"none", "none"},
        {"translate:0", "none"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char ini[256], want[128];
        snprintf(ini, sizeof ini, "[data]\naugment = %s\n" NET, cases[i][0]);
        write_ini("c.ini", ini);
        ck_assert_msg(load(path, &e) == 0, "%s: %s", cases[i][0], errs);
        text = resolved_text(&e);
        snprintf(want, sizeof want, "\naugment = %s\n", cases[i][1]);
        ck_assert_msg(strstr(text, want), "%s: %s", cases[i][0], text);
        ck_assert_msg(strstr(text, "\ndrop_last = false\n"), "%s", text);
        free(text);
        experiment_free(&e);
    }

    expect_error_at("[data]\naugment = flip, flip_alternating\n" NET, 2,
                    "'flip' and 'flip_alternating' in 'augment' cannot be combined");
    expect_error_at("[data]\nbatch_size = 8\naugment = flip_alternating,flip\n" NET, 3,
                    "'flip' and 'flip_alternating' in 'augment' cannot be combined");
    expect_error_at("[data]\naugment = crop:4, translate:2\n" NET, 2,
                    "'crop' and 'translate' in 'augment' cannot be combined");
    expect_error_at("[data]\naugment = translate:17\n" NET, 2,
                    "translate distance in 'augment' must be between 0 and 16, got 17");
    expect_error_at("[data]\naugment = translate:-1\n" NET, 2,
                    "translate distance in 'augment' must be between 0 and 16, got -1");
    expect_error_at("[data]\naugment = translate:x\n" NET, 2,
                    "expected an integer after 'translate:' in 'augment', got 'x'");
    expect_error_at("[data]\naugment = translate\n" NET, 2,
                    "'translate' in 'augment' needs the largest shift in pixels, e.g. translate:2");
    expect_error_at("[data]\naugment = translate:2, translate:1\n" NET, 2,
                    "'translate' appears twice in 'augment'");
    expect_error_at("[data]\naugment = flip_alternating, flip_alternating\n" NET, 2,
                    "'flip_alternating' appears twice in 'augment'");
    expect_error_at("[data]\naugment = translat:2\n" NET, 2,
                    "unknown augmentation 'translat:2' in 'augment' (expected crop:N, translate:N, "
                    "flip, flip_alternating or none); did you mean 'translate:2'?");
    expect_error_at("[data]\ndrop_last = sometimes\n" NET, 2,
                    "expected a boolean for 'drop_last'");
    expect_error_at("[data]\nbatch_size = 64\ntrain_subset = 50\ndrop_last = yes\n" NET, 4,
                    "'drop_last' with batch_size (64) larger than train_subset (50) leaves no "
                    "training step in an epoch");
    /* batch_size = train_subset: one full step */
    write_ini("ok.ini", "[data]\nbatch_size = 50\ntrain_subset = 50\ndrop_last = yes\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    experiment_free(&e);
    /* --set reaches them like any key */
    char b1[] = "data.augment=translate:4,flip_alternating", b2[] = "data.drop_last=on";
    ConfigOverride ov[2];
    ck_assert_int_eq(config_override_parse(b1, &ov[0]), 0);
    ck_assert_int_eq(config_override_parse(b2, &ov[1]), 0);
    ck_assert_msg(load_ov(path, ov, 2, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.augment_translate, 4);
    ck_assert(e.augment_flip_alternating && e.drop_last);
    experiment_free(&e);
}
END_TEST

/* [schedule] type = linear / piecewise, knots: values, round trip, errors. */
START_TEST(test_schedule_linear_piecewise)
{
    Experiment e, back;
    write_ini("p.ini", "[schedule]\ntype = piecewise\nlr = 0.5\n"
                       "knots = 0:0.2, 109/48 : 1.0,476/48:0.07\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.schedule, SCHED_PIECEWISE);
    ck_assert_int_eq(e.n_knots, 3);
    ck_assert(e.knot_epoch[0] == 0.0 && e.knot_epoch[1] == 109.0 / 48 &&
              e.knot_epoch[2] == 476.0 / 48);
    ck_assert(e.knot_value[0] == 0.2f && e.knot_value[1] == 1.0f && e.knot_value[2] == 0.07f);
    char *text = resolved_text(&e);
    ck_assert_msg(strstr(text, "\nknots = 0:0.2, 109/48:1.0, 476/48:0.07\n"), "%s", text);
    ck_assert_msg(strstr(text, "\ntype = piecewise\n"), "%s", text);
    write_ini("back.ini", text);
    ck_assert_msg(load(path, &back) == 0, "%s", errs);
    assert_same(&e, &back);
    free(text);
    experiment_free(&e);
    experiment_free(&back);

    write_ini("l.ini", "[schedule]\ntype = linear\nlr = 0.24\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.schedule, SCHED_LINEAR);
    text = resolved_text(&e);
    ck_assert_msg(strstr(text, "\ntype = linear\n") && strstr(text, "\nknots =\n"), "%s", text);
    free(text);
    experiment_free(&e);
    /* a single knot is a constant; knots with another type are ignored */
    write_ini("one.ini", "[schedule]\ntype = piecewise\nknots = 0:3\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.n_knots, 1);
    experiment_free(&e);
    write_ini("cos.ini", "[schedule]\ntype = cosine\nknots = 0:1, 5:0\n" NET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    experiment_free(&e);

    expect_error_at("[schedule]\ntype = piecewise\n" NET, 2,
                    "the piecewise schedule needs 'knots' (epoch:value pairs from epoch 0");
    expect_error_at("[schedule]\ntype = piecewise\nknots =\n" NET, 3,
                    "the piecewise schedule needs at least one knot");
    expect_error_at("[schedule]\nknots = 1:0.5, 2:1\n" NET, 2,
                    "the first knot must be at epoch 0 (the rate at the start), got 1");
    expect_error_at("[schedule]\nknots = 0:0.5, 2:1, 2:0.1\n" NET, 2,
                    "knot epochs must be strictly increasing, got 2 after 2");
    expect_error_at("[schedule]\nknots = 0:0.5, 3:1, 5/2:0.1\n" NET, 2,
                    "knot epochs must be strictly increasing, got 5/2 after 3");
    expect_error_at("[schedule]\nknots = 0:0.5, 2\n" NET, 2,
                    "expected epoch:value in 'knots', got '2'");
    expect_error_at("[schedule]\nknots = 0:0.5,, 2:1\n" NET, 2,
                    "empty item in 'knots' (stray comma?)");
    expect_error_at("[schedule]\nknots = 0:0.5, 2:1,\n" NET, 2,
                    "empty item in 'knots' (stray comma?)");
    expect_error_at("[schedule]\nknots = 0:0.5, x:1\n" NET, 2,
                    "expected a number or a fraction a/b as the epoch in 'knots', got 'x'");
    expect_error_at("[schedule]\nknots = 0:0.5, 1/0:1\n" NET, 2,
                    "each knot's epoch must be between 0 and 1e6 (a fraction a/b with b > 0), got "
                    "'1/0'");
    expect_error_at("[schedule]\nknots = 0:0.5, 1/:1\n" NET, 2,
                    "expected a number or a fraction a/b as the epoch in 'knots', got '1/'");
    expect_error_at("[schedule]\nknots = -1:0.5\n" NET, 2, "each knot's epoch must be between 0");
    expect_error_at("[schedule]\nknots = 0:0.5, 2:-1\n" NET, 2,
                    "each knot's value must be a finite number >= 0, got '-1' (at epoch 2)");
    expect_error_at("[schedule]\nknots = 0:0.5, 2:nan\n" NET, 2,
                    "each knot's value must be a finite number >= 0, got 'nan'");
    expect_error_at("[schedule]\nknots = 0:0.5, 2:fast\n" NET, 2,
                    "expected a number as the value of knot '2' in 'knots', got 'fast'");
    expect_error_at("[schedule]\nknots = 0:1,1:1,2:1,3:1,4:1,5:1,6:1,7:1,8:1,9:1,10:1,11:1,12:1,"
                    "13:1,14:1,15:1,16:1\n" NET, 2, "too many 'knots' (at most 16)");
    expect_error_at("[schedule]\ntype = linera\n" NET, 2,
                    "unknown value 'linera' for 'type'; did you mean 'linear'? (expected one of: "
                    "one_cycle, constant, step, cosine, linear, piecewise)");
}
END_TEST

/* ---- [group.NAME] sections ---- */

#define GNET                                                                                  \
    "[layer.c1]\ntype = conv\nfilters = 8\nbatchnorm = true\n"                                \
    "[layer.c2]\ntype = conv\nfilters = 8\n"                                                  \
    "[layer.gap]\ntype = global_avgpool\n[layer.fc]\ntype = linear\noutputs = 10\n"

/* Keys a group does not give come from [optimizer] (after --set); params
 * defaults to every kind, or to the weights for muon; decay to decoupled for
 * adamw; layers to every layer. */
START_TEST(test_group_defaults)
{
    Experiment e;
    write_ini("g.ini", "[group.head]\nlayers = fc\nlr_scale = 0.67\n"
                       "[optimizer]\nmomentum = 0.85\nnesterov = true\nweight_decay = 0.01\n"
                       "[group.filters]\ntype = muon\nmomentum = 0.6\n"
                       "[group.w]\ntype = adamw\nparams = bias, bn_bias\nlayers = c*, f?\n"
                       "epochs = 1.5\nschedule = linear\nfrozen = yes\nns_steps = 5\n" GNET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    ck_assert_int_eq(e.n_groups, 3);
    const GroupSpec *h = &e.groups[0], *f = &e.groups[1], *w = &e.groups[2];
    ck_assert_str_eq(h->name, "head");
    ck_assert_int_eq(h->line, 1);
    ck_assert_int_eq(h->type, OPT_SGD);
    ck_assert_int_eq(h->type_line, 1);
    ck_assert_uint_eq(h->params, PK_ALL);
    ck_assert_int_eq(h->n_layers, 1);
    ck_assert_str_eq(h->layers[0], "fc");
    ck_assert_float_eq(h->lr_scale, 0.67f);
    ck_assert_float_eq(h->momentum, 0.85f); /* [optimizer]'s, given after the group */
    ck_assert(h->nesterov);
    ck_assert_float_eq(h->weight_decay, 0.01f);
    ck_assert_int_eq(h->decay, DECAY_COUPLED);
    ck_assert(!h->frozen);
    ck_assert_float_eq(h->epochs, 0.0f);
    ck_assert_int_eq(h->schedule, GROUP_SCHED_SHARED);
    ck_assert_int_eq(h->ns_steps, 3);
    ck_assert_int_eq(f->type, OPT_MUON);
    ck_assert_int_eq(f->type_line, 9);
    ck_assert_uint_eq(f->params, PK_CONV_WEIGHT | PK_LINEAR_WEIGHT);
    ck_assert_int_eq(f->n_layers, 1);
    ck_assert_str_eq(f->layers[0], "*");
    ck_assert_float_eq(f->momentum, 0.6f);
    ck_assert_int_eq(w->decay, DECAY_DECOUPLED);
    ck_assert_uint_eq(w->params, PK_BIAS | PK_BN_BIAS);
    ck_assert_int_eq(w->n_layers, 2);
    ck_assert_str_eq(w->layers[1], "f?");
    ck_assert_float_eq(w->epochs, 1.5f);
    ck_assert_int_eq(w->schedule, GROUP_SCHED_LINEAR);
    ck_assert(w->frozen);
    ck_assert_int_eq(w->ns_steps, 5);
    ck_assert_int_eq(e.optimizer_line, 4); /* no type key: the [optimizer] header */
    experiment_free(&e);

    /* --set reaches both: an inherited value follows [optimizer], a group key changes */
    ConfigOverride ov[] = {{"optimizer", "momentum", "0.5", NULL, 0},
                           {"group.head", "lr_scale", "2", NULL, 0}};
    ck_assert_msg(load_ov(path, ov, 2, &e) == 0, "%s", errs);
    ck_assert_float_eq(e.groups[0].momentum, 0.5f);
    ck_assert_float_eq(e.groups[0].lr_scale, 2.0f);
    ck_assert_float_eq(e.groups[1].momentum, 0.6f);
    experiment_free(&e);
    ConfigOverride bad[] = {{"group.nope", "lr_scale", "2", NULL, 0}};
    ck_assert_int_eq(load_ov(path, bad, 1, &e), -1);
    ck_assert_msg(strstr(errs, "--set group.nope.lr_scale: there is no [group.nope] in the file "
                               "(--set changes parameter groups, it cannot add them)"), "%s", errs);

    /* the resolved configuration lists every group key and reads back the same */
    write_ini("g2.ini", "[group.a]\nparams = bn_weight\nfrozen = true\n"
                        "[group.b]\nlayers = c2, fc\ntype = muon\nlr_scale = 0.24\n" GNET);
    ck_assert_msg(load(path, &e) == 0, "%s", errs);
    char *text = resolved_text(&e);
    ck_assert_msg(strstr(text, "\n[group.b]\nparams = conv_weight, linear_weight\nlayers = c2, fc\n"
                               "type = muon\nlr_scale = 0.24\nmomentum = 0.9\n"
                               "nesterov = false\nweight_decay = 0.0005\ndecay = coupled\n"
                               "frozen = false\nepochs = 0\nschedule = shared\nns_steps = 3\n"),
                  "%s", text);
    char printed[256];
    snprintf(printed, sizeof printed, "%s/printed.ini", tmp_dir);
    FILE *pf = fopen(printed, "w");
    fputs(text, pf);
    fclose(pf);
    free(text);
    Experiment b;
    ck_assert_msg(load(printed, &b) == 0, "%s", errs);
    ck_assert_int_eq(b.n_groups, 2);
    for (int g = 0; g < 2; g++) {
        const GroupSpec *x = &e.groups[g], *y = &b.groups[g];
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(x->params, y->params);
        ck_assert_int_eq(x->n_layers, y->n_layers);
        for (int k = 0; k < x->n_layers; k++) ck_assert_str_eq(x->layers[k], y->layers[k]);
        ck_assert_int_eq(x->type, y->type);
        ck_assert(x->lr_scale == y->lr_scale && x->momentum == y->momentum);
        ck_assert(x->nesterov == y->nesterov && x->weight_decay == y->weight_decay);
        ck_assert(x->decay == y->decay && x->frozen == y->frozen && x->epochs == y->epochs);
        ck_assert(x->schedule == y->schedule && x->ns_steps == y->ns_steps);
    }
    experiment_free(&b);
    experiment_free(&e);
}
END_TEST

START_TEST(test_group_errors)
{
    expect_error_at("[group.g]\nparams = conv_weights\n" GNET, 2,
                    "unknown parameter kind 'conv_weights' in 'params'; did you mean "
                    "'conv_weight'? (expected: conv_weight, linear_weight, bias, bn_weight, "
                    "bn_bias)");
    expect_error_at("[group.g]\nparams = bias,\n" GNET, 2, "empty item in 'params' (stray comma?)");
    expect_error_at("[group.g]\nparams = bias, bias\n" GNET, 2, "'bias' appears twice in 'params'");
    expect_error_at("[group.g]\nlayers = c1, g4_*\n" GNET, 2,
                    "no layer section matches 'g4_*' in 'layers' of [group.g]");
    expect_error_at("[group.g]\nlayers = c3\n" GNET, 2,
                    "no layer section matches 'c3' in 'layers' of [group.g]; did you mean 'c1'?");
    expect_error_at("[group.g]\nlayers = c[12\n" GNET, 2,
                    "'c[12' in 'layers' is not a layer name or pattern");
    expect_error_at("[group.g]\nlayers = c.1\n" GNET, 2,
                    "'c.1' in 'layers' is not a layer name or pattern");
    expect_error_at("[group.g]\nlayers =\n" GNET, 2, "missing value for 'layers'");
    expect_error_at("[group.g]\ntype = muon\nparams = conv_weight, bn_bias, bias\n" GNET, 3,
                    "muon updates conv and linear weights only, but 'params' has bias, bn_bias "
                    "(type = muon; give them a group of their own, e.g. with type = sgd)");
    expect_error_at("[optimizer]\ntype = muon\n[group.g]\nparams = bn_weight\n" GNET, 4,
                    "muon updates conv and linear weights only, but 'params' has bn_weight "
                    "(type = muon from [optimizer];");
    expect_error_at("[group.g]\nnesterov = true\nmomentum = 0\n" GNET, 2,
                    "'nesterov' needs momentum > 0");
    expect_error_at("[group.g]\nlr = 0.1\n" GNET, 2,
                    "unknown key 'lr' in [group.g]; a group scales the [schedule]'s rate with "
                    "'lr_scale'");
    expect_error_at("[group.g]\nbeta1 = 0.8\n" GNET, 2,
                    "unknown key 'beta1' in [group.g]; it belongs in [optimizer]");
    expect_error_at("[group.g]\nlr_scal = 2\n" GNET, 2,
                    "unknown key 'lr_scal' in [group.g]; did you mean 'lr_scale'?");
    expect_error_at("[group.g]\nlr_scale = 0\n" GNET, 2, "'lr_scale' must be > 0, got 0");
    expect_error_at("[group.g]\nepochs = -1\n" GNET, 2, "'epochs' must be >= 0, got -1");
    expect_error_at("[group.g]\ndecay = l2\n" GNET, 2,
                    "unknown value 'l2' for 'decay' (expected one of: coupled, decoupled)");
    expect_error_at("[group.g]\nschedule = cosine\n" GNET, 2,
                    "unknown value 'cosine' for 'schedule' (expected one of: shared, linear)");
    expect_error_at("[group.g]\nns_steps = 0\n" GNET, 2, "'ns_steps' must be between 1 and 20");
    expect_error_at("[optimizer]\nns_steps = 21\n" GNET, 2, "'ns_steps' must be between 1 and 20");
    expect_error_at("[group.a b]\nfrozen = true\n" GNET, 1, "invalid group name 'a b'");
    expect_error_at("[groups.x]\nfrozen = true\n" GNET, 1,
                    "unknown section [groups.x]; parameter groups are written [group.NAME]");
    expect_error_at("[group.x]\nfrozen = true\n[group.x]\nfrozen = false\n" GNET, 3,
                    "duplicate section [group.x] (first at line 1)");
    expect_error_at("[group.x]\nfrozen = true\nfrozen = false\n" GNET, 3,
                    "duplicate key 'frozen' in [group.x] (first at line 2)");
}
END_TEST

/* docs/experiment-format.md holds the schema's generated key reference */
START_TEST(test_docs_in_sync)
{
    const char *src = getenv("CNNRUN_SOURCE_DIR");
    ck_assert_msg(src && *src, "CNNRUN_SOURCE_DIR not set (run through meson test)");
    char doc_path[1024];
    snprintf(doc_path, sizeof doc_path, "%s/docs/experiment-format.md", src);
    char *doc = read_text_file(doc_path, NULL);
    ck_assert_msg(doc != NULL, "cannot read %s", doc_path);
    char *gen = NULL;
    size_t gen_len = 0;
    FILE *f = open_memstream(&gen, &gen_len);
    schema_print_markdown(f);
    fclose(f);
    ck_assert_msg(strstr(doc, gen) != NULL,
                  "docs/experiment-format.md is out of date with src/config/schema.c: regenerate "
                  "its key reference with `build/tests/test_config --schema-markdown`");
    free(gen);
    free(doc);
}
END_TEST

/* The fuzzing corpus (tests/fuzz/corpus: 574 inputs that cover everything
 * the 30-minute libFuzzer run reached, plus tests/fuzz/seeds) through the
 * parser and the builder, as the fuzz harness does: in the ASan+UBSan build
 * this replays the fuzz run's coverage on every CI run. */
START_TEST(test_fuzz_corpus)
{
    const char *src = getenv("CNNRUN_SOURCE_DIR");
    ck_assert_msg(src != NULL, "CNNRUN_SOURCE_DIR not set (run through meson test)");
    static const char *const dirs[] = {"tests/fuzz/corpus", "tests/fuzz/seeds"};
    int files = 0, parsed = 0;
    fflush(stderr);
    int saved = dup(2), null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 2); /* error messages are the expected outcome */
    for (int d = 0; d < 2; d++) {
        char dir[1024], path[2048];
        snprintf(dir, sizeof dir, "%s/%s", src, dirs[d]);
        DIR *dp = opendir(dir);
        if (!dp) continue;
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            if (de->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            files++;
            Experiment e;
            if (experiment_load(path, NULL, 0, &e) == 0) {
                Model m;
                if (model_build(&e, 0, &m) == 0) {
                    parsed++;
                    model_free(&m);
                }
                experiment_free(&e);
            }
        }
        closedir(dp);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null_fd);
    fprintf(stderr, "fuzz corpus: %d inputs, %d parse and build\n", files, parsed);
    ck_assert_int_ge(files, 500); /* the corpus is there */
    ck_assert_int_ge(parsed, 1);  /* and some of it is valid */
}
END_TEST

/* The name lists of enums (src/config/schema.c, optimizers.c) name every
 * value, at its own index: a value left without a name would end the list
 * early (the schema's lists are NULL-terminated), and one inserted in the
 * middle cannot shift the names after it (designated initializers). */
static int count_values(const char *section, const char *key)
{
    const SchemaSection *ss = strcmp(section, "group") == 0 ? schema_group()
                                                            : schema_find_section(section);
    ck_assert_ptr_nonnull(ss);
    const SchemaKey *k = schema_find_key(ss, key);
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(k->values);
    int n = 0;
    while (k->values[n]) n++;
    return n;
}

START_TEST(test_name_lists_complete)
{
    for (int t = 0; t < LT_COUNT; t++) ck_assert_str_ne(layer_type_name((LayerType)t), "?");
    ck_assert_ptr_null(schema_layer_type_names[LT_COUNT]);
    ck_assert_str_eq(layer_type_name(LT_CONV), "conv");
    ck_assert_str_eq(layer_type_name(LT_SILU), "silu");
    for (int a = 0; a < ACT_COUNT; a++) ck_assert_str_ne(activation_name((Activation)a), "?");
    ck_assert_ptr_null(schema_activation_names[ACT_COUNT]);
    ck_assert_str_eq(activation_name(ACT_NONE), "none");
    ck_assert_str_eq(activation_name(ACT_SILU), "silu");
    for (unsigned b = 1; b & PK_ALL; b <<= 1) ck_assert_str_ne(param_kind_name(b), "?");
    ck_assert_str_eq(param_kind_name(PK_BN_BIAS), "bn_bias");
    for (int t = 0; t < OPT_COUNT; t++)
        ck_assert_ptr_eq(schema_optimizer_names[t], optimizer_info((OptimizerType)t)->name);
    ck_assert_ptr_null(schema_optimizer_names[OPT_COUNT]);
    ck_assert_int_eq(count_values("optimizer", "type"), OPT_COUNT);
    ck_assert_int_eq(count_values("group", "type"), OPT_COUNT);
    ck_assert_int_eq(count_values("group", "decay"), DECAY_COUNT);
    ck_assert_int_eq(count_values("group", "schedule"), GROUP_SCHED_COUNT);
    ck_assert_int_eq(count_values("schedule", "type"), SCHED_COUNT);
    ck_assert_int_eq(count_values("experiment", "tta"), TTA_COUNT);
    const SchemaKey *init = schema_find_key(schema_layer(LT_CONV), "init");
    int n = 0;
    while (init->values[n]) n++;
    ck_assert_int_eq(n, CONV_INIT_COUNT);
    init = schema_find_key(schema_layer(LT_LINEAR), "init");
    for (n = 0; init->values[n];) n++;
    ck_assert_int_eq(n, LINEAR_INIT_COUNT);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--schema-markdown") == 0) {
        schema_print_markdown(stdout);
        return 0;
    }
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_name_lists_complete);
    tcase_add_test(tc, test_unknown_section);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_key_before_section);
    tcase_add_test(tc, test_bad_numbers);
    tcase_add_test(tc, test_decimal_only);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_unknown_type_and_enum);
    tcase_add_test(tc, test_dataset_keys);
    tcase_add_test(tc, test_inputs);
    tcase_add_test(tc, test_long_line);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_missing_required);
    tcase_add_test(tc, test_empty_network);
    tcase_add_test(tc, test_cannot_open);
    tcase_add_test(tc, test_multiline);
    tcase_add_test(tc, test_crlf_bom_spaces);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_rmsprop_beta2_default);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_product_example);
    tcase_add_test(tc, test_many_errors);
    tcase_add_test(tc, test_check_linear_in_layers);
    tcase_add_test(tc, test_float_format);
    tcase_add_test(tc, test_fractional_epochs_and_steps);
    tcase_add_test(tc, test_augment_translate_alternating_drop_last);
    tcase_add_test(tc, test_schedule_linear_piecewise);
    tcase_add_test(tc, test_group_defaults);
    tcase_add_test(tc, test_group_errors);
    tcase_add_test(tc, test_docs_in_sync);
    tcase_add_test(tc, test_same_run);
    tcase_add_test(tc, test_fuzz_corpus);
    suite_add_tcase(s, tc);
    return check_run(s);
}
