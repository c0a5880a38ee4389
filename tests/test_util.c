/* test_util.c — rng determinism, ranges and jumps, edit distance, string copy;
 * files (files.h): only regular files read, with a cap; what a file holds
 * (file_kind), and only absent files, empty ones or earlier outputs of the
 * kind replaced; names escaped for JSON and text (escape.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check_run.h"
#include "cnnrun/escape.h"
#include "cnnrun/files.h"
#include "cnnrun/rng.h"
#include "cnnrun/util.h"

START_TEST(test_rng_deterministic)
{
    Rng a, b;
    rng_seed(&a, 42, 1);
    rng_seed(&b, 42, 1);
    for (int i = 0; i < 1000; i++) ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
    rng_seed(&b, 42, 2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += rng_u32(&a) == rng_u32(&b);
    ck_assert_int_lt(same, 5);
}
END_TEST

START_TEST(test_rng_ranges)
{
    Rng r;
    rng_seed(&r, 7, 0);
    double sum = 0, sq = 0;
    int n = 100000;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        ck_assert_uint_lt(rng_below(&r, 10), 10);
        float z = rng_normal(&r);
        sum += z;
        sq += (double)z * z;
    }
    ck_assert_double_lt(fabs(sum / n), 0.02);
    ck_assert_double_lt(fabs(sq / n - 1.0), 0.03);
    int idx[50];
    for (int i = 0; i < 50; i++) idx[i] = i;
    rng_shuffle(&r, idx, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++) seen[idx[i]]++;
    for (int i = 0; i < 50; i++) ck_assert_int_eq(seen[i], 1);
}
END_TEST

/* rng_advance(d) lands where d draws do (dropout's ranks skip each other's) */
START_TEST(test_rng_advance)
{
    static const uint64_t d[] = {0, 1, 2, 3, 7, 64, 1000, 12345, 100003};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        Rng a, b;
        rng_seed(&a, 1601, 7);
        b = a;
        for (uint64_t k = 0; k < d[i]; k++) rng_u32(&a);
        rng_advance(&b, d[i]);
        ck_assert_msg(a.state == b.state && a.inc == b.inc, "advance %llu",
                      (unsigned long long)d[i]);
        ck_assert_uint_eq(rng_u32(&a), rng_u32(&b));
    }
    Rng a, b; /* a jump of 2^40 is two of 2^39 */
    rng_seed(&a, 3, 9);
    b = a;
    rng_advance(&a, (uint64_t)1 << 40);
    rng_advance(&b, (uint64_t)1 << 39);
    rng_advance(&b, (uint64_t)1 << 39);
    ck_assert(a.state == b.state);
}
END_TEST

START_TEST(test_strings)
{
    ck_assert_int_eq(edit_distance("filters", "filter"), 1);
    ck_assert_int_eq(edit_distance("stride", "strde"), 1);
    ck_assert_int_eq(edit_distance("abc", "abc"), 0);
    char buf[4];
    ck_assert_int_eq(str_copy(buf, sizeof buf, "abcdef"), 0);
    ck_assert_str_eq(buf, "abc");
    ck_assert_int_eq(str_copy(buf, sizeof buf, "ab"), 1);
}
END_TEST

static char tmp[64];

static const char *in_tmp(const char *name)
{
    static char p[2][128]; /* two at a time */
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp, name);
    return p[k];
}

static void make_files(void)
{
    strcpy(tmp, "/tmp/cnnrun_test_util_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    FILE *f = fopen(in_tmp("100"), "w");
    for (int i = 0; i < 100; i++) fputc('a' + i % 26, f);
    fclose(f);
    ck_assert_int_eq(mkfifo(in_tmp("fifo"), 0644), 0);
    ck_assert_int_eq(mknod(in_tmp("zero"), S_IFCHR | 0644, makedev(1, 5)), 0); /* /dev/zero's */
    ck_assert_int_eq(mkdir(in_tmp("dir"), 0755), 0);
    ck_assert_int_eq(symlink("100", in_tmp("link")), 0);
    ck_assert_int_eq(symlink("zero", in_tmp("link-zero")), 0);
}

static void remove_files(void)
{
    static const char *names[] = {"100", "fifo", "zero", "link", "link-zero", "new"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(in_tmp(names[i]));
    rmdir(in_tmp("dir"));
    rmdir(tmp);
}

/* Reading: a cap (the whole file up to it, nothing above it); a FIFO, a
 * device (a copy of /dev/zero's node) or a link to one, and a directory are
 * refused without blocking or reading (alarm: a FIFO opened blocking would
 * hang the test; /dev/zero read whole would exhaust memory). */
START_TEST(test_read_regular_capped)
{
    make_files();
    alarm(20);
    size_t len = 0;
    char *t = read_file_max(in_tmp("100"), 100, &len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(len, 100);
    ck_assert_int_eq(t[99], 'a' + 99 % 26);
    free(t);
    errno = 0;
    ck_assert_ptr_null(read_file_max(in_tmp("100"), 99, &len));
    ck_assert_int_eq(errno, CN_ETOOBIG);
    ck_assert_str_eq(cn_strerror(CN_ETOOBIG),
                     "too large (cnnrun reads text files of at most 8 MiB)");
    static const char *refused[] = {"fifo", "zero", "link-zero"};
    for (size_t i = 0; i < 3; i++) {
        errno = 0;
        ck_assert_ptr_null(read_text_file(in_tmp(refused[i]), &len));
        ck_assert_msg(errno == CN_ENOTREG, "%s: %s", refused[i], cn_strerror(errno));
        ck_assert_int_lt(open_regular(in_tmp(refused[i]), NULL), 0);
    }
    ck_assert_str_eq(cn_strerror(CN_ENOTREG), "not a regular file");
    ck_assert_ptr_null(read_text_file(in_tmp("dir"), &len));
    ck_assert_int_eq(errno, EISDIR);
    t = read_text_file(in_tmp("link"), &len); /* a link to a regular file is read */
    ck_assert_ptr_nonnull(t);
    free(t);
    t = read_text_file("/proc/self/stat", &len); /* st_size 0: read to the end */
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_gt(len, 0);
    free(t);
    alarm(0);
    remove_files();
}
END_TEST

#define LOGITS CN_LOGITS_SIGNATURE "x --weights y: label, then the 10 logits\n"

/* Writing: a device, FIFO, symbolic link or directory is refused (-1: the
 * path is wrong), left as it was; an empty path too; so is a regular file
 * of another kind (issue 34); an absent one, or an earlier output of the
 * kind, is written. */
START_TEST(test_write_refuses_non_regular)
{
    make_files();
    alarm(20);
    static const char *refused[] = {"fifo", "zero", "link", "link-zero", "dir", "", "100"};
    struct stat before, after;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *p = refused[i][0] ? in_tmp(refused[i]) : "";
        int had = lstat(p, &before) == 0;
        ck_assert_int_eq(write_file_atomic(p, FILE_LOGITS, LOGITS, strlen(LOGITS), "the test"),
                         -1);
        if (had) {
            ck_assert_int_eq(lstat(p, &after), 0);
            ck_assert_msg(after.st_ino == before.st_ino && after.st_mode == before.st_mode &&
                              after.st_size == before.st_size,
                          "%s was replaced", refused[i]);
        }
    }
    ck_assert_int_eq(write_file_atomic(in_tmp("new"), FILE_LOGITS, LOGITS, strlen(LOGITS),
                                       "the test"), 0);
    ck_assert_int_eq(lstat(in_tmp("new"), &before), 0);
    ck_assert_int_eq(write_file_atomic(in_tmp("new"), FILE_LOGITS, "#", 1, "the test"), 0);
    ck_assert_int_eq(lstat(in_tmp("new"), &after), 0);
    ck_assert(after.st_ino != before.st_ino && after.st_size == 1); /* replaced */
    ck_assert(same_file(in_tmp("link"), in_tmp("100")));
    ck_assert(!same_file(in_tmp("new"), in_tmp("100")));
    ck_assert(!same_file(in_tmp("absent"), in_tmp("absent")));
    alarm(0);
    remove_files();
}
END_TEST

/* dir/name holding the n bytes b */
static void put_bytes(const char *name, const void *b, size_t n)
{
    FILE *f = fopen(in_tmp(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* What a file holds, from its first bytes (issue 34): each kind cnnrun
 * writes, and the ones an output must never replace; an output of a kind
 * replaces only an empty file or one of its kind. */
START_TEST(test_file_kinds)
{
    make_files();
    static const unsigned char onnx[] = {0x08, 0x07, 0x12, 0x06, 'c', 'n', 'n', 'r', 'u', 'n',
                                         0x3a, 0xff, 0x7f}; /* a graph longer than the head */
    static const unsigned char not_onnx[] = {0x08, 0x07, 0x12, 0x06, 'c', 'n', 'n', 'r', 'u',
                                             'n', 0x18, 0x01}; /* field 3 as a varint */
    static const char sqlite[32] = "SQLite format 3";
    static const struct {
        const char *name, *text;
        size_t len;
        FileKind kind;
    } files[] = {
        {"db", sqlite, sizeof sqlite, FILE_SQLITE},
        {"ckpt", CN_CHECKPOINT_MAGIC "\4\0\0\0", 12, FILE_CHECKPOINT},
        {"ini", "# a comment\n\n  ; another\n[experiment]\nname = x\n", 0, FILE_EXPERIMENT},
        {"ini2", "[layer.c1]", 0, FILE_EXPERIMENT},
        {"key-first", "name = x\n[experiment]\n", 0, FILE_OTHER},
        {"onnx", (const char *)onnx, sizeof onnx, FILE_ONNX},
        {"onnx-short", (const char *)onnx, 2, FILE_OTHER},
        {"not-onnx", (const char *)not_onnx, sizeof not_onnx, FILE_OTHER},
        {"logits", LOGITS "3 0.5 0.25\n", 0, FILE_LOGITS},
        {"report", CN_REPORT_SIGNATURE "; the plots -->\n<html>", 0, FILE_REPORT},
        {"svg", "<?xml version=\"1.0\"?>\n<!-- PLplot -->\n<svg\n  width=\"1\">", 0,
         FILE_SVG},
        {"svg2", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 0, FILE_SVG},
        {"html", "<!DOCTYPE html>\n<html>", 0, FILE_OTHER},
        {"empty", "", 0, FILE_EMPTY},
        {"nul", "[a]\0", 4, FILE_OTHER},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n = files[i].len ? files[i].len : strlen(files[i].text);
        put_bytes(files[i].name, files[i].text, n);
        ck_assert_msg(file_kind(in_tmp(files[i].name)) == files[i].kind, "%s: kind %d, not %d",
                      files[i].name, file_kind(in_tmp(files[i].name)), files[i].kind);
        ck_assert_str_ne(file_kind_name(files[i].kind), "?");
        /* replaced by an output of its own kind; by another only when empty */
        FileKind other = files[i].kind == FILE_LOGITS ? FILE_ONNX : FILE_LOGITS;
        ck_assert_int_eq(output_target_ok(in_tmp(files[i].name), files[i].kind, "it"), 0);
        ck_assert_int_eq(output_target_ok(in_tmp(files[i].name), other, "it"),
                         files[i].kind == FILE_EMPTY ? 0 : -1);
        unlink(in_tmp(files[i].name));
    }
    ck_assert_int_eq(file_kind(in_tmp("absent")), FILE_ABSENT);
    ck_assert_int_eq(file_kind(in_tmp("dir")), FILE_UNREADABLE);
    ck_assert_int_eq(file_kind(in_tmp("100")), FILE_OTHER);
    ck_assert_str_eq(file_kind_name(FILE_SQLITE), "an SQLite database");
    ck_assert_str_eq(file_kind_name(FILE_KIND_COUNT), "?");
    remove_files();
}
END_TEST

static char *escaped(void (*put)(FILE *, const char *), const char *s)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    put(f, s);
    fclose(f);
    return buf;
}

/* JSON: quotes, backslashes and control characters escaped, valid UTF-8
 * (é, €, 😀) kept, each byte of invalid UTF-8 (0xff, a stray continuation
 * byte, an overlong '/', a surrogate, a sequence cut short) as \ufffd. Text:
 * a name without control characters as it is, else quoted with C escapes. */
START_TEST(test_escape_names)
{
    char *j = escaped(json_put_string, "a\nb\xff\"c\\\x01\x7f");
    ck_assert_str_eq(j, "\"a\\nb\\ufffd\\\"c\\\\\\u0001\\u007f\"");
    free(j);
    j = escaped(json_put_string, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ck_assert_str_eq(j, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    free(j);
    j = escaped(json_put_string, "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
    ck_assert_str_eq(j, "\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
    free(j);
    j = escaped(text_put_name, "plain name\xff \\.png");
    ck_assert_str_eq(j, "plain name\xff \\.png");
    free(j);
    j = escaped(text_put_name, "a\nb\"\\\x01.png");
    ck_assert_str_eq(j, "\"a\\nb\\\"\\\\\\x01.png\"");
    free(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_rng_deterministic);
    tcase_add_test(tc, test_rng_ranges);
    tcase_add_test(tc, test_rng_advance);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_read_regular_capped);
    tcase_add_test(tc, test_write_refuses_non_regular);
    tcase_add_test(tc, test_file_kinds);
    tcase_add_test(tc, test_escape_names);
    suite_add_tcase(s, tc);
    return check_run(s);
}
