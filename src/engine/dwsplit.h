/* dwsplit.h — how a convolution's weight gradient is split over threads
 * (private to the engine; conv.c and winograd.c ask it). The mode itself
 * (CONV_DWSPLIT_*, ConvShape.dwsplit) is in cnnrun/kernels.h. */
#ifndef CNNRUN_DWSPLIT_H
#define CNNRUN_DWSPLIT_H

#include <stddef.h>

/* 1: split the weight gradient by its rows (blocks of dwsplit_block_rows)
 * over `threads` threads, as `mode` (CONV_DWSPLIT_*) says; 0: by the batch (each thread its own copy of the
 * gradient, added in thread order). `blocks`: the row blocks there are. */
int dwsplit_rows(int mode, int threads, size_t blocks);

/* Rows of one block of a gradient of `products` matrices of `rows` rows
 * each (im2col: 1 x K; Winograd: a*a x C_in): 64, 128 or 256, from the shape
 * alone, never from the thread count, so each block's product is the same
 * call whichever thread runs it and however many there are. */
size_t dwsplit_block_rows(size_t rows, size_t products);

/* The threads of the rows split: the engine's count, at most `cap` (> 0);
 * 1 without OpenMP. */
int dwsplit_threads(int cap);

#endif
