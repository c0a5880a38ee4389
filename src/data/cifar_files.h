/* cifar_files.h — private to src/data: what the CIFAR-10 loader (cifar10.c)
 * shares with the CIFAR-100 one (cifar100.c): paths in a data directory, the
 * sample manifest `cnnrun-sample.txt` (smaller files than the real ones, the
 * counts listed) and splits' buffers; and the loaders dataset.c chooses
 * from. */
#ifndef CNNRUN_CIFAR_FILES_H
#define CNNRUN_CIFAR_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnnrun/data.h"

#define CIFAR_MANIFEST_MAX_FILES 8

/* The files a manifest may list: their names, the records each holds in
 * the real data set (the most a manifest may give), and the list for the
 * message on an unknown name. */
typedef struct {
    const char *const *names;
    const int *max_records;
    int n;                 /* at most CIFAR_MANIFEST_MAX_FILES */
    const char *expected;  /* "data_batch_1..5.bin or test_batch.bin" */
} ManifestFiles;

/* dir + "/" + name into buf; 0 if it does not fit. */
int cifar_join_path(char *buf, size_t size, const char *dir, const char *name);
/* 1 when dir/name is a regular file. */
int cifar_dir_has(const char *dir, const char *name);
/* Reads dir/cnnrun-sample.txt if present: counts[i] (and listed[i] = 1) for
 * each file it lists. 1 if read, 0 if there is none (counts untouched), -1
 * on an error (printed as `<dir>/cnnrun-sample.txt:<line>: ...`). */
int cifar_read_manifest(const char *dir, const ManifestFiles *m, int *counts, int *listed);
/* A binary layout: each record's label bytes (their class counts, the names
 * of those labels for messages: "" for CIFAR-10's one, "coarse ", "fine ")
 * then the 3072 pixel bytes. */
typedef struct {
    int n_labels;
    int classes[2];
    const char *label_names[2];
    const char *set; /* "CIFAR-10", "CIFAR-100" */
    const char *record_text; /* what a record holds, for a wrong size: "" or ": a coarse ..." */
} CifarLayout;
/* Opens path, a file of `records` records of layout l, into *out (NULL when
 * it cannot be opened: said, and *missing counted when it does not exist).
 * 1 when it holds exactly that many records; 0 after saying so (listed: the
 * count came from cnnrun-sample.txt) or when it could not be opened. */
int cifar_open_file(const char *path, int records, const CifarLayout *l, int listed, FILE **out,
                    int *missing);
/* Reads `records` records of f (named path in messages) into pixels and
 * labels (label byte `keep` of each), checking every label byte against
 * its count. 1, or 0 after printing what is wrong (file, record). */
int cifar_read_records(FILE *f, const char *path, int records, const CifarLayout *l, int keep,
                       uint8_t *pixels, uint8_t *labels);
/* n images' buffers (free with cifar_free). */
void cifar_split_alloc(CifarSplit *s, int n);

/* The loaders data_load (dataset.c) calls besides cifar_load: each fills
 * train, test and *names (classes strings, caller frees) or prints every
 * problem naming its file and returns -1 with nothing allocated. */
int cifar100_load(const char *dir, bool coarse, CifarSplit *train, CifarSplit *test,
                  char ***names);
int folder_load(const DataSpec *spec, CifarSplit *train, CifarSplit *test, DataInfo *info);
/* The class folders of DIR/train (folder.c): 0 with *classes, or -1 (printed). */
int folder_peek_classes(const char *dir, int *classes);

#endif
