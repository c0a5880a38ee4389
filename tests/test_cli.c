/* test_cli.c — the cnnrun command as a user meets it: exit statuses (0 ok,
 * 1 run failed, 2 bad command or file), `file:line` errors on stderr, no
 * database written when an experiment file is wrong, a directory batch
 * that reports a failing experiment and goes on with the next, the model
 * table's convolution algorithms and what `cnnrun bench` prints. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "cli_fixture.h"
#include "cnnrun/kernels.h"
#include "cnnrun/util.h"


#define TINY_LAYERS                                                                              \
    "[layer.c1]\ntype = conv\nfilters = 8\nstride = 2\nbatchnorm = true\nactivation = relu\n"   \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

static const char *good_ini = "[experiment]\nepochs = 1\n"
                              "[data]\nbatch_size = 50\ntrain_subset = 200\ntest_subset = 100\n"
                              "[schedule]\ntype = constant\nlr = 0.01\n" TINY_LAYERS;

START_TEST(test_usage_errors)
{
    ck_assert_int_eq(cnnrun(""), 2);
    ck_assert_int_eq(cnnrun("frobnicate"), 2);
    ck_assert_msg(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    ck_assert_int_eq(cnnrun("run --epochs 3 x.ini"), 2);
    ck_assert_msg(strstr(out, "--epochs is an option of runs, not of run"), "%s", out);
    ck_assert_int_eq(cnnrun("run --frobnicate x.ini"), 2);
    ck_assert_msg(strstr(out, "unknown option '--frobnicate'"), "%s", out);
    ck_assert_int_eq(cnnrun("run"), 2);
    ck_assert_msg(strstr(out, "no experiment file"), "%s", out);
    ck_assert_int_eq(cnnrun("run missing.ini"), 2);
    ck_assert_msg(strstr(out, "missing.ini"), "%s", out);
    ck_assert_int_eq(cnnrun("check --threads zero x.ini"), 2);
    ck_assert_int_eq(cnnrun("--version"), 0);
    ck_assert_msg(strstr(out, "cnnrun " CN_VERSION), "%s", out);
    ck_assert_int_eq(cnnrun("check --version"), 0);
    ck_assert_msg(strstr(out, "cnnrun " CN_VERSION), "%s", out);
    write_file("a.ini", good_ini);
    write_file("b.ini", good_ini);
    ck_assert_int_eq(cnnrun("bench a.ini b.ini"), 2);
    ck_assert_msg(strstr(out, "takes one experiment file"), "%s", out);
    ck_assert_int_eq(cnnrun("--help"), 0);
    ck_assert_msg(strstr(out, "usage: cnnrun") && strstr(out, "CNNRUN_CONV=tune|retune|rule"), "%s", out);
}
END_TEST

static int lines_of(const char *text)
{
    int n = 0;
    for (const char *p = text; *p; p++) n += *p == '\n';
    return n;
}

/* issue 36: a wrong command line is one line that names the option and
 * where help is, exit status 2 — an option a command does not take is named
 * as another command's; no usage dumped (`run` without a file printed 80
 * lines of it). The usage is per command, from the option table. */
START_TEST(test_usage_one_line)
{
    write_file("a.ini", good_ini);
    struct {
        const char *args, *says;
    } bad[] = {
        {"run", "cnnrun run: no experiment file given (see `cnnrun run --help`)"},
        {"merge", "cnnrun merge: no database given (see `cnnrun merge --help`)"},
        {"frobnicate", "unknown command 'frobnicate' (see `cnnrun --help`)"},
        {"run a.ini --threads", "cnnrun run: --threads needs a value (N) (see `cnnrun run --help`)"},
        {"run a.ini --threads --db r.db", "--threads needs a value (N); got the option --db"},
        {"eval a.ini --jobs 2", "cnnrun eval: --jobs is an option of run, not of eval"},
        {"studies --threads 2", "--threads is an option of run, check, bench, tune, eval, export, "
                                "predict and lr-find, not of studies"},
        {"report --set data.batch_size=1", "--set is an option of run,"},
        {"check a.ini --skip-invalid", "--skip-invalid is an option of run, not of check"},
        {"run a.ini --skip-invalid=yes", "--skip-invalid takes no value, got 'yes'"},
        {"run a.ini --thread 2", "unknown option '--thread'; did you mean --threads?"},
        {"export a.ini -x", "unknown option '-x' (see `cnnrun export --help`)"},
        {"export a.ini -o", "-o needs a value (MODEL.onnx)"},
        {"eval a.ini --tta twice", "--tta expects none, mirror, flip or mirror_translate, got"},
        {"", "(see `cnnrun --help`)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(cnnrun(bad[i].args) == 2, "%s: %.400s", bad[i].args, out);
        ck_assert_msg(strstr(out, bad[i].says), "%s: %.400s", bad[i].args, out);
        ck_assert_msg(lines_of(out) == 1, "%s: %d lines:\n%.400s", bad[i].args, lines_of(out),
                      out);
    }
    ck_assert(!exists("results") && !exists("r.db"));
    /* --skip-invalid is run's: taken, then the missing file is what is wrong */
    ck_assert_int_eq(cnnrun("run --skip-invalid"), 2);
    ck_assert_msg(strstr(out, "no experiment file given"), "%s", out);
    /* each command's usage: its options (each line within 80 columns:
     * test_cli_table); `help run` the same */
    ck_assert_int_eq(cnnrun("run --help"), 0);
    ck_assert_msg(strstr(out, "usage: cnnrun run [options] FILE.ini|DIR ...") &&
                      strstr(out, "\n  --skip-invalid  ") && strstr(out, "\n  --jobs N  ") &&
                      !strstr(out, "--weights"), "%.2000s", out);
    char run_help[sizeof out];
    memcpy(run_help, out, sizeof out);
    ck_assert_int_eq(cnnrun("help run"), 0);
    ck_assert_str_eq(out, run_help);
    ck_assert_int_eq(cnnrun("eval --help"), 0);
    ck_assert_msg(strstr(out, "\n  --tta none|mirror|flip|mirror_translate\n") &&
                      !strstr(out, "--jobs"), "%s", out);
}
END_TEST

/* lr-find's --min and --max each set their own bound (checked before any
 * training: the range error prints both), and a bad value names its option. */
START_TEST(test_lr_find_range_options)
{
    write_file("a.ini", good_ini);
    ck_assert_int_eq(cnnrun("lr-find a.ini --min 0.5 --max 0.25"), 2);
    ck_assert_msg(strstr(out, "--min (0.5) must be below --max (0.25)"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --max 0.25 --min 0.5"), 2);
    ck_assert_msg(strstr(out, "--min (0.5) must be below --max (0.25)"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --min 20"), 2); /* default --max 10 */
    ck_assert_msg(strstr(out, "--min (20) must be below --max (10)"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --max 1e-6"), 2); /* default --min 1e-5 */
    ck_assert_msg(strstr(out, "--min (1e-05) must be below --max (1e-06)"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --min=0"), 2);
    ck_assert_msg(strstr(out, "--min expects a learning rate > 0, got '0'"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --max x"), 2);
    ck_assert_msg(strstr(out, "--max expects a learning rate > 0, got 'x'"), "%s", out);
}
END_TEST

/* Numeric options take decimal text only: strtod read "0x1p-10" (a hex
 * float), "inf" and "nan", strtol a leading blank. */
START_TEST(test_numeric_options_decimal_only)
{
    write_file("a.ini", good_ini);
    ck_assert_int_eq(cnnrun("lr-find a.ini --min 0x1p-10 --max 0x1p-11"), 2);
    ck_assert_msg(strstr(out, "--min expects a learning rate > 0, got '0x1p-10'"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find a.ini --max=infinity"), 2);
    ck_assert_msg(strstr(out, "--max expects a learning rate > 0, got 'infinity'"), "%s", out);
    ck_assert_int_eq(cnnrun("bench a.ini --seconds 0x10"), 2);
    ck_assert_msg(strstr(out, "--seconds expects a time in seconds in (0, 86400], got '0x10'"),
                  "%s", out);
    ck_assert_int_eq(cnnrun("check a.ini --threads ' 2'"), 2);
    ck_assert_msg(strstr(out, "--threads expects an integer in 1..1024, got ' 2'"), "%s", out);
    ck_assert_int_eq(cnnrun("bench a.ini --steps 1e3"), 2);
    ck_assert_msg(strstr(out, "--steps expects an integer"), "%s", out);
    ck_assert_int_eq(cnnrun("report --runs ' 1'"), 2);
    ck_assert_msg(strstr(out, "--runs expects run ids"), "%s", out);
    ck_assert_int_eq(cnnrun("check a.ini --threads +1"), 0); /* a sign is decimal */
}
END_TEST

START_TEST(test_bad_file_writes_nothing)
{
    write_file("bad.ini", "[experiment]\nepochs = 1\n[data]\nbatch_size = 12x\n" TINY_LAYERS);
    ck_assert_int_eq(cnnrun("check bad.ini"), 2);
    ck_assert_msg(strstr(out, "bad.ini:4:"), "%s", out);
    ck_assert_int_eq(cnnrun("run bad.ini --db results/r.db"), 2);
    ck_assert_msg(strstr(out, "bad.ini:4:"), "%s", out);
    ck_assert_msg(!exists("results"), "a bad file must not create the results directory");
    /* one bad file in a batch: nothing runs at all */
    write_file("good.ini", good_ini);
    ck_assert_int_eq(cnnrun("run good.ini bad.ini --db r.db"), 2);
    ck_assert(!exists("r.db"));
    /* a bad --set is a usage error too */
    ck_assert_int_eq(cnnrun("run good.ini --set data.batch_size=0 --db r.db"), 2);
    ck_assert_msg(strstr(out, "--set data.batch_size"), "%s", out);
    ck_assert(!exists("r.db"));
}
END_TEST

/* Experiment files that are not regular files — a FIFO, a device (a copy of
 * /dev/zero's node, 1,5, made here), a link to one in a directory given to
 * `run` — are refused with "not a regular file", exit status 2, without
 * blocking or reading (the device was read until memory ran out); a file
 * above the cap (a sparse 9 MiB one) is refused as too large. A --db that
 * is a device is refused: no journal is made beside it, it stays a device. */
START_TEST(test_inputs_not_regular)
{
    char p[256];
    snprintf(p, sizeof p, "%s/zero.ini", dir);
    ck_assert_int_eq(mknod(p, S_IFCHR | 0644, makedev(1, 5)), 0);
    snprintf(p, sizeof p, "%s/fifo.ini", dir);
    ck_assert_int_eq(mkfifo(p, 0644), 0);
    snprintf(p, sizeof p, "%s/exps", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/exps/x.ini", dir);
    ck_assert_int_eq(symlink("../zero.ini", p), 0);
    ck_assert_int_eq(cnnrun("check zero.ini"), 2);
    ck_assert_msg(strstr(out, "zero.ini: cannot open: not a regular file"), "%s", out);
    ck_assert_int_eq(cnnrun("check fifo.ini"), 2);
    ck_assert_msg(strstr(out, "fifo.ini: cannot open: not a regular file"), "%s", out);
    ck_assert_int_eq(cnnrun("run exps --db r.db"), 2);
    ck_assert_msg(strstr(out, "exps/x.ini: cannot open: not a regular file"), "%s", out);
    ck_assert(!exists("r.db"));
    write_file("big.ini", good_ini);
    snprintf(p, sizeof p, "%s/big.ini", dir);
    ck_assert_int_eq(truncate(p, 9 << 20), 0);
    ck_assert_int_eq(cnnrun("check big.ini"), 2);
    ck_assert_msg(strstr(out, "big.ini: cannot open: too large (cnnrun reads text files of at "
                              "most 8 MiB)"), "%s", out);
    write_file("good.ini", good_ini);
    ck_assert_int_ne(cnnrun("run good.ini --db zero.ini --threads 1"), 0);
    ck_assert_msg(strstr(out, "zero.ini: not a regular file"), "%s", out);
    ck_assert(!exists("zero.ini-journal") && !exists("zero.ini-wal"));
    struct stat st;
    snprintf(p, sizeof p, "%s/zero.ini", dir);
    ck_assert(lstat(p, &st) == 0 && S_ISCHR(st.st_mode));
}
END_TEST

/* drop_last with a batch larger than the training set: no step in an epoch,
 * refused (exit 2, naming the file) before training, by run and lr-find alike;
 * with train_subset the file itself is refused at its drop_last line. */
START_TEST(test_drop_last_without_a_full_batch)
{
    write_file("big.ini", "[experiment]\nepochs = 1\n"
                          "[data]\nbatch_size = 4000\ntest_subset = 100\ndrop_last = true\n"
                          TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run big.ini --db r.db"), 2);
    ck_assert_msg(strstr(out, "big.ini: drop_last = true with batch_size 4000 and only 2500 "
                              "training images: an epoch would have no step"), "%s", out);
    ck_assert_int_eq(cnnrun("lr-find big.ini --db r.db"), 2);
    ck_assert_msg(strstr(out, "an epoch would have no step"), "%s", out);
    write_file("sub.ini", "[data]\nbatch_size = 64\ntrain_subset = 50\ndrop_last = true\n"
                          TINY_LAYERS);
    ck_assert_int_eq(cnnrun("check sub.ini"), 2);
    ck_assert_msg(strstr(out, "sub.ini:4: 'drop_last' with batch_size (64) larger than "
                              "train_subset (50)"), "%s", out);
}
END_TEST

START_TEST(test_check_prints_table)
{
    write_file("good.ini", good_ini);
    ck_assert_int_eq(cnnrun("check good.ini"), 0);
    ck_assert_msg(strstr(out, "[layer.c1]") && strstr(out, "parameters: 322"), "%s", out);
    ck_assert_msg(strstr(out, "8x16x16"), "model table lacks the conv output shape: %s", out);
}
END_TEST

/* The memory plan is held against the memory available (issue 23; a fake
 * MemAvailable, CNNRUN_MEMAVAILABLE_MIB): check warns and says ok, run and
 * lr-find refuse before anything is written; they name the largest batch
 * size that fits, and that one does fit while one more image does not. */
START_TEST(test_memory_plan_against_the_machine)
{
    write_file("big.ini", "[experiment]\nepochs = 1\n"
                          "[data]\nbatch_size = 2000\ntrain_subset = 2000\ntest_subset = 100\n"
                          "[schedule]\ntype = constant\nlr = 0.01\n"
                          "[layer.c1]\ntype = conv\nfilters = 64\nbatchnorm = true\n"
                          "activation = relu\n"
                          "[layer.pool]\ntype = global_avgpool\n"
                          "[layer.fc]\ntype = linear\noutputs = 10\n");
    setenv("CNNRUN_MEMAVAILABLE_MIB", "200", 1);
    int rc = cnnrun("check big.ini");
    static char check_out[sizeof out]; /* all of it: a warning may come first */
    snprintf(check_out, sizeof check_out, "%s", out);
    int lr_find_rc = cnnrun("lr-find big.ini --db r.db --threads 1");
    int run_rc = cnnrun("run big.ini --db r.db --threads 1");
    static char run_out[sizeof out];
    snprintf(run_out, sizeof run_out, "%s", out);
    int fits = 0;
    const char *hint = strstr(run_out, "HINT: batch_size = ");
    if (hint) fits = atoi(hint + strlen("HINT: batch_size = "));
    char args[128];
    snprintf(args, sizeof args, "check big.ini --set data.batch_size=%d", fits);
    int fit_rc = cnnrun(args);
    int fit_warned = strstr(out, "warning: the memory plan") != NULL;
    snprintf(args, sizeof args, "check big.ini --set data.batch_size=%d", fits + 1);
    int over_rc = cnnrun(args);
    int over_warned = strstr(out, "warning: the memory plan") != NULL;
    unsetenv("CNNRUN_MEMAVAILABLE_MIB");
    ck_assert_msg(rc == 0 && strstr(check_out, "big.ini: warning: the memory plan needs ") &&
                      strstr(check_out, "more than the 200 MiB this machine has available") &&
                      strstr(check_out, "HINT: batch_size = ") && strstr(check_out, "big.ini: ok"),
                  "exit %d: %s", rc, check_out);
    ck_assert_msg(run_rc == 2 && strstr(run_out, "big.ini: the memory plan needs ") &&
                      strstr(run_out, "; not run"), "exit %d: %s", run_rc, run_out);
    ck_assert_int_eq(lr_find_rc, 2);
    ck_assert(!exists("r.db"));
    ck_assert_msg(fits > 1 && fits < 2000, "%s", run_out);
    ck_assert_int_eq(fit_rc, 0);
    ck_assert_msg(!fit_warned, "batch_size = %d (the hint) does not fit", fits);
    ck_assert_int_eq(over_rc, 0);
    ck_assert_msg(over_warned, "batch_size = %d fits too: the hint is not the largest", fits + 1);
}
END_TEST

/* TINY_LAYERS with a conv that has two algorithms (c2: 16 -> 16, 3x3, stride 1). */
#define WINO_LAYERS                                                                              \
    "[layer.c1]\ntype = conv\nfilters = 16\nstride = 2\nbatchnorm = true\nactivation = relu\n"  \
    "[layer.c2]\ntype = conv\nfilters = 16\nbatchnorm = true\nactivation = relu\n"              \
    "[layer.pool]\ntype = global_avgpool\n"                                                     \
    "[layer.fc]\ntype = linear\noutputs = 10\n"

/* The model table's algorithm column, as check (not measured: the
 * candidates), a forced choice and a run (measured) print it; a wrong
 * CNNRUN_CONV is a usage error. */
START_TEST(test_conv_algo_column)
{
    write_file("w.ini", "[experiment]\nepochs = 1\n"
                        "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 50\n"
                        "[schedule]\ntype = constant\nlr = 0.01\n" WINO_LAYERS);
    setenv("CNNRUN_CONV", "tune", 1);
    ck_assert_int_eq(cnnrun("check w.ini"), 0);
    ck_assert_msg(strstr(out, "conv algorithm") && strstr(out, "  im2col|winograd|winograd4\n") &&
                      strstr(out, "conv algorithms: measured when a run starts"), "%s", out);
    setenv("CNNRUN_CONV", "winograd", 1);
    ck_assert_int_eq(cnnrun("check w.ini"), 0);
    ck_assert_msg(strstr(out, "  winograd\n") && strstr(out, "CNNRUN_CONV=winograd"), "%s", out);
    setenv("CNNRUN_CONV", "tune", 1);
    ck_assert_int_eq(cnnrun("run w.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "conv algorithms: measured, the fastest of each (1 shape timed in"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "im2col|winograd"), "a measured table shows candidates: %s", out);
    setenv("CNNRUN_CONV", "fast", 1);
    ck_assert_int_eq(cnnrun("check w.ini"), 2);
    ck_assert_msg(strstr(out, "CNNRUN_CONV=fast: expected tune"), "%s", out);
    ck_assert_int_eq(cnnrun("run w.ini --db r2.db"), 2);
    ck_assert_msg(!exists("r2.db"), "a wrong CNNRUN_CONV must not create the database");
}
END_TEST

/* `cnnrun tune`: a line per convolution with its algorithms' times and the
 * choice, measured the first time and kept the second (the wisdom file of
 * the test's directory); a run then measures nothing; CNNRUN_CONV=retune
 * measures again; with CNNRUN_CONV=rule there is nothing to measure (exit 2). */
START_TEST(test_tune_command)
{
    write_file("w.ini", "[experiment]\nepochs = 1\n"
                        "[data]\nbatch_size = 50\ntrain_subset = 100\ntest_subset = 50\n"
                        "[schedule]\ntype = constant\nlr = 0.01\n" WINO_LAYERS);
    setenv("CNNRUN_CONV", "tune", 1);
    ck_assert_int_eq(cnnrun("tune w.ini --threads 1"), 0);
    ck_assert_msg(strstr(out, "measuring the convolution algorithms of 1 shape on 1 thread") &&
                      strstr(out, "\n  c2 ") && strstr(out, "im2col:") &&
                      strstr(out, "winograd4:") && strstr(out, "measured\n"), "%s", out);
    ck_assert_int_eq(cnnrun("tune w.ini --threads 1"), 0);
    ck_assert_msg(!strstr(out, "measuring") && strstr(out, "kept\n") &&
                      strstr(out, "measured on this machine before"), "%s", out);
    ck_assert_int_eq(cnnrun("run w.ini --db r.db --threads 1"), 0);
    ck_assert_msg(!strstr(out, "measuring") &&
                      strstr(out, "conv algorithms: measured on this machine before"), "%s", out);
    ck_assert_int_eq(cnnrun("tune w.ini --threads 2"), 0); /* another thread count */
    ck_assert_msg(strstr(out, "measuring the convolution algorithms of 1 shape on 2 threads"),
                  "%s", out);
    setenv("CNNRUN_CONV", "retune", 1);
    ck_assert_int_eq(cnnrun("tune w.ini --threads 1"), 0);
    ck_assert_msg(strstr(out, "measuring the convolution algorithms"), "%s", out);
    setenv("CNNRUN_CONV", "rule", 1);
    ck_assert_int_eq(cnnrun("tune w.ini"), 2);
    ck_assert_msg(strstr(out, "asks not to measure (conv=rule"), "%s", out);
    setenv("CNNRUN_CONV", "tune", 1);
    ck_assert_int_eq(cnnrun("tune"), 2);
    ck_assert_msg(strstr(out, "no experiment file given"), "%s", out);
}
END_TEST

/* bench: the sgemm peak it measured, the effective GFLOP/s and their ratio,
 * the step times' median and spread, how the algorithms were chosen and,
 * per node, each conv's algorithm; --seconds is checked. */
START_TEST(test_bench_fields)
{
    write_file("w.ini", "[data]\nbatch_size = 4\n" WINO_LAYERS);
    setenv("CNNRUN_CONV", "winograd", 1);
    setenv("CNNRUN_BENCH_NODES", "1", 1);
    ck_assert_int_eq(cnnrun("bench w.ini --steps 3 --threads 1"), 0);
    static const char *const keys[] = {
        "sgemm peak: ", "conv algorithms: CNNRUN_CONV=winograd", "sgemm_peak_gflops=",
        "effective_gflops=", "peak_ratio=", "step_ms_median=", "step_ms_min=", "step_ms_q1=",
        "step_ms_q3=", "step_ms_max=", "images_per_sec_median=", "\nimages_per_sec=",
        "of the sgemm peak", "batch 4, 3 steps after 2 warm-up", "OpenBLAS core: ", "\nblas_core="};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(out, keys[i]), "no '%s' in:\n%s", keys[i], out);
    ck_assert_msg(strstr(out, "algo") && strstr(out, "\nc1                           conv     "
                                                     "im2col") &&
                      strstr(out, "\nc2                           conv     winograd") &&
                      strstr(out, "\nc2.bn                        bn       -"),
                  "%s", out);
    double peak = 0, eff = 0, ratio = -1;
    const char *p = strstr(out, "sgemm_peak_gflops="), *q = strstr(out, "effective_gflops=");
    const char *r = strstr(out, "peak_ratio=");
    ck_assert(p && q && r);
    peak = atof(p + strlen("sgemm_peak_gflops="));
    eff = atof(q + strlen("effective_gflops="));
    ratio = atof(r + strlen("peak_ratio="));
    ck_assert_msg(peak > 0 && eff > 0, "%s", out);
    /* eff and peak are printed to 0.1, the ratio to 0.001: their rounding
     * bounds the difference (a loaded machine's few-GFLOP/s peak makes that
     * rounding large), with 1 % on top */
    double rounding = 0.0005 + (eff / peak) * (0.05 / eff + 0.05 / peak);
    ck_assert_msg(fabs(ratio - eff / peak) <= rounding + 0.01 * ratio, "%g vs %g / %g", ratio,
                  eff, peak);
    /* the median lies within the spread */
    double lo = atof(strstr(out, "step_ms_min=") + 12), med = atof(strstr(out, "step_ms_median=") + 15);
    double hi = atof(strstr(out, "step_ms_max=") + 12);
    ck_assert_msg(lo <= med && med <= hi, "%g %g %g", lo, med, hi);
    /* the core named is the library's own (issue 25) */
    char want[96];
    snprintf(want, sizeof want, "\nblas_core=%s\n", blas_core_name());
    ck_assert_msg(strstr(out, want), "no '%s' in:\n%s", want, out);
    /* measured: the line says how many shapes */
    setenv("CNNRUN_CONV", "tune", 1);
    unsetenv("CNNRUN_BENCH_NODES");
    ck_assert_int_eq(cnnrun("bench w.ini --steps 1 --threads 1 --seconds 0.01"), 0);
    ck_assert_msg(strstr(out, "conv algorithms: measured, the fastest of each (1 shape timed"),
                  "%s", out);
    ck_assert_int_eq(cnnrun("bench w.ini --seconds 0"), 2);
    ck_assert_msg(strstr(out, "--seconds expects a time in seconds"), "%s", out);
    ck_assert_int_eq(cnnrun("bench w.ini --seconds x"), 2);
}
END_TEST

START_TEST(test_directory_batch_goes_on)
{
    char sub[128];
    snprintf(sub, sizeof sub, "%s/exps", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    /* a.ini diverges (absurd learning rate), b.ini trains */
    char a[4096];
    snprintf(a, sizeof a, "%s", good_ini);
    char *lr = strstr(a, "lr = 0.01");
    ck_assert_ptr_nonnull(lr);
    memcpy(lr, "lr = 1e30", 9);
    write_file("exps/a.ini", a);
    write_file("exps/b.ini", good_ini);
    write_file("exps/notes.txt", "not an experiment");
    ck_assert_int_eq(cnnrun("run exps --db r.db --threads 1"), 1);
    ck_assert_msg(strstr(out, "1 of 2 experiments succeeded"), "%s", out);
    char dbp[256];
    snprintf(dbp, sizeof dbp, "%s/r.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbp, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select experiment, status, "
                                            "(select count(*) from epochs where run_id = runs.id) "
                                            "from runs order by id", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "a");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "diverged");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "b");
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "finished");
    ck_assert_int_eq(sqlite3_column_int(st, 2), 1);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
}
END_TEST

/* eval_every = 2 over 3 epochs: epoch 1 is not evaluated (NULL), 2 and the
 * last are; tta = mirror makes the final evaluation the run's final_test_acc
 * with final_views = 2, and a summed loss trains as well as the mean. */
START_TEST(test_eval_every_and_final_tta)
{
    write_file("e.ini", "[experiment]\nepochs = 3\neval_every = 2\ntta = mirror\n"
                        "[data]\nbatch_size = 50\ntrain_subset = 200\ntest_subset = 100\n"
                        "[optimizer]\nloss_reduction = sum\n"
                        "[schedule]\ntype = constant\nlr = 0.0002\n" TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run e.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "with test-time augmentation (2 views)"), "%s", out);
    char dbp[256];
    snprintf(dbp, sizeof dbp, "%s/r.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbp, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select epoch, test_acc is null, train_loss from epochs "
                                            "order by epoch", -1, &st, NULL), SQLITE_OK);
    for (int ep = 1; ep <= 3; ep++) {
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(st, 0), ep);
        ck_assert_int_eq(sqlite3_column_int(st, 1), ep == 1);
        ck_assert(sqlite3_column_double(st, 2) > 0);
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select final_views, final_test_acc, "
                                            "(select final_test_acc from run_summary) from runs",
                                            -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
    double acc = sqlite3_column_double(st, 1);
    ck_assert(acc >= 0 && acc <= 1);
    ck_assert(sqlite3_column_double(st, 2) == acc); /* the view shows the run's own */
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* the run's row and header name the OpenBLAS core that ran it (issue 25) */
    char *core = fixture_poll_text("r.db", "select blas_core from runs");
    ck_assert_msg(core && !strcmp(core, blas_core_name()), "%s", core ? core : "NULL");
    free(core);
    ck_assert_msg(strstr(out, "OpenBLAS core "), "%s", out);
}
END_TEST

/* The epoch line's rate: the [schedule]'s, or with [group.*] sections each
 * group's real rate (before: the schedule's factor alone, `lr 1.00000` in
 * flagship.ini); a frozen group is left out. */
START_TEST(test_epoch_line_rates)
{
    write_file("g.ini", good_ini);
    ck_assert_int_eq(cnnrun("run g.ini --db r.db --threads 1 --set experiment.steps=1"), 0);
    ck_assert_msg(strstr(out, "epoch   1/1  lr 0.01000  train"), "%s", out);
    write_file("g.ini", "[experiment]\nepochs = 1\n[data]\nbatch_size = 50\n"
                        "[schedule]\ntype = constant\nlr = 0.01\n"
                        "[group.head]\nlayers = fc\nlr_scale = 0.5\n"
                        "[group.still]\nlayers = c1\nparams = bn_weight\nfrozen = true\n"
                        TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run g.ini --db r.db --threads 1 --set experiment.steps=1"), 0);
    ck_assert_msg(strstr(out, "epoch   1/1  lr 0.01, head 0.005  train"), "%s", out);
    /* every parameter in a group of its own rate: no [optimizer] rate */
    write_file("g.ini", "[experiment]\nepochs = 1\n[data]\nbatch_size = 50\n"
                        "[schedule]\ntype = constant\nlr = 0.01\n"
                        "[group.all]\nlr_scale = 2\n" TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run g.ini --db r.db --threads 1 --set experiment.steps=1"), 0);
    ck_assert_msg(strstr(out, "epoch   1/1  lr all 0.02  train"), "%s", out);
}
END_TEST

/* The embedded sample (2,500 images, 50 steps of 50): epochs = 2.5 through
 * --set is 125 steps, the rows of epochs 1..3 with 50, 50 and 25 steps;
 * steps = 60 through --set replaces the file's epochs: 2 rows, 50 and 10. */
START_TEST(test_fractional_epochs_on_the_sample)
{
    write_file("f.ini", "[experiment]\nepochs = 1\n"
                        "[data]\nbatch_size = 50\ntest_subset = 100\n"
                        "[schedule]\ntype = linear\nlr = 0.01\n" TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set experiment.epochs=2.5"), 0);
    ck_assert_msg(strstr(out, "50 steps/epoch"), "%s", out);
    ck_assert_msg(strstr(out, "f.ini: 125 steps: 3 epochs, the last one of 25 steps"), "%s", out);
    ck_assert_msg(strstr(out, "epoch   3/3"), "%s", out);
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --threads 1 --set experiment.steps=60"), 0);
    ck_assert_msg(strstr(out, "f.ini: 60 steps: 2 epochs, the last one of 10 steps"), "%s", out);
    /* singular where it is one (before: "1 steps: 1 epochs", "of 1 steps") */
    ck_assert_int_eq(cnnrun("run f.ini --db o.db --threads 1 --set experiment.steps=1"), 0);
    ck_assert_msg(strstr(out, "f.ini: 1 step: 1 epoch (a partial one)\n"), "%s", out);
    ck_assert_int_eq(cnnrun("run f.ini --db o.db --threads 1 --set experiment.steps=51"), 0);
    ck_assert_msg(strstr(out, "f.ini: 51 steps: 2 epochs, the last one of 1 step\n"), "%s", out);
    char dbp[256];
    snprintf(dbp, sizeof dbp, "%s/r.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbp, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select run_id, epoch, steps, images, lr, "
                                            "test_acc is not null from epochs "
                                            "order by run_id, epoch", -1, &st, NULL), SQLITE_OK);
    static const int want[][4] = {{1, 1, 50, 2500}, {1, 2, 50, 2500}, {1, 3, 25, 1250},
                                  {2, 1, 50, 2500}, {2, 2, 10, 500}};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        for (int k = 0; k < 4; k++) ck_assert_int_eq(sqlite3_column_int(st, k), want[i][k]);
        ck_assert_int_eq(sqlite3_column_int(st, 5), 1);
    }
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    /* the last step's rate: lr (1 - 124/125) = lr / 125 */
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select lr from epochs where run_id = 1 and epoch = 3",
                                        -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_double_eq_tol(sqlite3_column_double(st, 0), 0.01 / 125, 1e-10);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select epochs_planned, status, config like "
                                            "'%epochs = 2.5\n; steps = 0 (epochs decide)%' from runs order by id",
                                        -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 3);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "finished");
    ck_assert_int_eq(sqlite3_column_int(st, 2), 1);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* a bad value is the file's (exit 2), named by its --set */
    ck_assert_int_eq(cnnrun("run f.ini --db r.db --set experiment.epochs=0"), 2);
    ck_assert_msg(strstr(out, "--set experiment.epochs: 'epochs' must be > 0 and <= 100000, got 0"),
                  "%s", out);
}
END_TEST

START_TEST(test_missing_data_is_run_failure)
{
    write_file("good.ini", good_ini);
    ck_assert_int_eq(cnnrun("run good.ini --data /nonexistent/cifar --db r.db"), 1);
    ck_assert_msg(strstr(out, "/nonexistent/cifar"), "%s", out);
    ck_assert_msg(strstr(out, "HINT") || strstr(out, "cifar.html"), "no hint: %s", out);
    ck_assert_msg(!exists("r.db"), "a missing data directory must not create the database");
    /* a file where the directory should be */
    ck_assert_int_eq(cnnrun("run good.ini --data good.ini --db r.db"), 1);
    ck_assert_msg(strstr(out, "Not a directory"), "%s", out);
    ck_assert(!exists("r.db"));
}
END_TEST

/* An empty --data or CNNRUN_DATA= (set to nothing: an unset shell variable)
 * trained on the embedded sample without a word, while `dir =` is an error:
 * now exit 2 with what to do, before any database is made. */
START_TEST(test_empty_data_is_an_error)
{
    write_file("good.ini", good_ini);
    ck_assert_int_eq(cnnrun("run good.ini --data '' --db r.db"), 2);
    ck_assert_msg(strstr(out, "--data is empty; give a CIFAR-10 directory"), "%s", out);
    ck_assert(!exists("r.db"));
    ck_assert_int_eq(cnnrun_via("CNNRUN_DATA=", "run good.ini --db r.db"), 2);
    ck_assert_msg(strstr(out, "CNNRUN_DATA is set but empty"), "%s", out);
    ck_assert_msg(strstr(out, "unset CNNRUN_DATA"), "%s", out);
    ck_assert(!exists("r.db"));
    ck_assert_int_eq(cnnrun_via("CNNRUN_DATA=", "lr-find good.ini --steps 2 --db r.db"), 2);
    ck_assert_msg(strstr(out, "CNNRUN_DATA is set but empty"), "%s", out);
    ck_assert(!exists("r.db"));
}
END_TEST

/* train_subset / test_subset above what the data has (the 2,500 + 1,000
 * images of the sample) were cut silently: a warning names the key, its
 * line and the number used. */
START_TEST(test_subset_larger_than_data_warns)
{
    write_file("big.ini", "[experiment]\nsteps = 1\n"
                          "[data]\nbatch_size = 50\ntrain_subset = 50000\ntest_subset = 10000\n"
                          "[schedule]\ntype = constant\nlr = 0.01\n" TINY_LAYERS);
    ck_assert_int_eq(cnnrun("run big.ini --db r.db --threads 1"), 0);
    ck_assert_msg(strstr(out, "big.ini:5: warning: train_subset = 50000, but the data has only "
                              "2500 training images: using all 2500"), "%s", out);
    ck_assert_msg(strstr(out, "big.ini:6: warning: test_subset = 10000, but the data has only "
                              "1000 test images: using all 1000"), "%s", out);
    /* a subset the data can give: no warning */
    ck_assert_int_eq(cnnrun("run big.ini --db r.db --threads 1 --set data.train_subset=2500 "
                            "--set data.test_subset=100"), 0);
    ck_assert_msg(!strstr(out, "warning: train_subset") && !strstr(out, "warning: test_subset"),
                  "%s", out);
}
END_TEST

START_TEST(test_two_processes_share_one_database)
{
    /* two runs writing the same database at the same time lose no rows */
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", good_ini);
    memcpy(strstr(a, "epochs = 1"), "epochs = 9", 10);
    snprintf(b, sizeof b, "%s", a);
    write_file("a.ini", a);
    write_file("b.ini", b);
    char cmd[4096];
    const char *bin = getenv("CNNRUN_BIN");
    snprintf(cmd, sizeof cmd,
             "cd %s && (env -u CNNRUN_DATA %s run a.ini --db r.db --threads 1 >a.log 2>&1 & "
             "env -u CNNRUN_DATA %s run b.ini --db r.db --threads 1 >b.log 2>&1; wb=$?; "
             "wait $!; wa=$?; exit $((wa + wb)))",
             dir, bin, bin);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a run failed");
    char dbp[256];
    snprintf(dbp, sizeof dbp, "%s/r.db", dir);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbp, &db), SQLITE_OK);
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "select count(*), sum(status = 'finished'), "
                                            "(select count(*) from epochs) from runs",
                                        -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), 2);
    ck_assert_int_eq(sqlite3_column_int(q, 1), 2);
    ck_assert_int_eq(sqlite3_column_int(q, 2), 18);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "pragma integrity_check", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, tmpdir_setup, tmpdir_teardown);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_usage_one_line);
    tcase_add_test(tc, test_bad_file_writes_nothing);
    tcase_add_test(tc, test_inputs_not_regular);
    tcase_add_test(tc, test_lr_find_range_options);
    tcase_add_test(tc, test_numeric_options_decimal_only);
    tcase_add_test(tc, test_drop_last_without_a_full_batch);
    tcase_add_test(tc, test_check_prints_table);
    tcase_add_test(tc, test_memory_plan_against_the_machine);
    tcase_add_test(tc, test_tune_command);
    tcase_add_test(tc, test_conv_algo_column);
    tcase_add_test(tc, test_bench_fields);
    tcase_add_test(tc, test_directory_batch_goes_on);
    tcase_add_test(tc, test_missing_data_is_run_failure);
    tcase_add_test(tc, test_empty_data_is_an_error);
    tcase_add_test(tc, test_subset_larger_than_data_warns);
    tcase_add_test(tc, test_eval_every_and_final_tta);
    tcase_add_test(tc, test_fractional_epochs_on_the_sample);
    tcase_add_test(tc, test_epoch_line_rates);
    tcase_add_test(tc, test_two_processes_share_one_database);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return check_run(s);
}
