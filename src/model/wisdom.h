/* wisdom.h — the file of convolution algorithms measured on this machine
 * (private to src/model: tune.c reads and adds to it; wisdom.c owns it). */
#ifndef CNNRUN_WISDOM_H
#define CNNRUN_WISDOM_H

#include <stddef.h>

#include "cnnrun/kernels.h"

typedef struct {
    int fd;             /* the file, locked (flock) while open; -1: none */
    char path[1024];
    char machine[256];  /* this machine's key (wisdom_machine) */
    int n, cap;
    char **lines;       /* this machine's lines, without the machine key */
} Wisdom;

/* The key of everything a choice depends on beyond the shape. */
void wisdom_machine(char *buf, size_t size, int threads, const char *precision);
/* The key of a shape as the tuner times it (s->n: the batch). */
void wisdom_shape_key(char *buf, size_t size, const ConvShape *s, int need_din);
/* Opens (creating it and its directories) and locks the file at path, and
 * reads machine's lines. path NULL or "": an empty wisdom that keeps
 * nothing (0). -1 after a note when the file cannot be used (w is then an
 * empty one that keeps nothing: the run measures without keeping). */
int wisdom_open(Wisdom *w, const char *path, const char *machine);
/* The algorithm kept for shape (and its times as written, "NAME:MS,...",
 * into times when not NULL), or -1. */
int wisdom_find(const Wisdom *w, const char *shape, char *times, size_t size);
/* Appends a measured choice (and its times) to the file. */
void wisdom_add(Wisdom *w, const char *shape, int algo, const char *times);
/* Unlocks and closes. */
void wisdom_close(Wisdom *w);

#endif
