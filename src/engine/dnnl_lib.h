/* dnnl_lib.h — oneDNN (Debian libdnnl-dev), loaded when first asked for
 * (dlopen of libdnnl.so.2; the build needs its header only): the functions
 * the engine calls, as one table (`dn`), and what the CPU has. Used by
 * bf16.c (the matmul) and conv_dnnl.c (the convolution primitives). */
#ifndef CNNRUN_DNNL_LIB_H
#define CNNRUN_DNNL_LIB_H

#include "cnnrun/kernels.h"

/* The CPU has AVX512-BF16 (vcvtne2ps2bf16, vdpbf16ps); AMX-BF16 (cpuid leaf
 * 7 EDX bit 22: the kernel must also let the process use the tiles, which
 * oneDNN asks for itself). */
int cpu_has_bf16(void);
int cpu_has_amx_bf16(void);

/* The bf16 path, decided once: oneDNN where the CPU has AMX-BF16 or
 * AVX512-BF16 and the library loads, else emulated (always without
 * CNNRUN_DNNL). */
Bf16Path dnnl_lib_path(void);
/* 1 where that path is oneDNN's and the CPU has AVX512-BF16's conversions. */
int dnnl_lib_vcvt(void);

#ifdef CNNRUN_DNNL
#include <dnnl.h>

#define DNNL_FUNCTIONS(X)                                                                          \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_memory_desc_init_by_strides)              \
    X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_get_size) X(dnnl_matmul_desc_init)        \
    X(dnnl_convolution_forward_desc_init) X(dnnl_convolution_backward_data_desc_init)            \
    X(dnnl_convolution_backward_weights_desc_init) X(dnnl_reorder_primitive_desc_create)         \
    X(dnnl_primitive_desc_query_md) X(dnnl_primitive_attr_create) X(dnnl_post_ops_create)        \
    X(dnnl_post_ops_append_sum) X(dnnl_primitive_attr_set_post_ops) X(dnnl_primitive_desc_create) \
    X(dnnl_primitive_create) X(dnnl_memory_create) X(dnnl_primitive_execute) X(dnnl_stream_wait) \
    X(dnnl_memory_destroy) X(dnnl_primitive_destroy) X(dnnl_primitive_desc_destroy)              \
    X(dnnl_post_ops_destroy) X(dnnl_primitive_attr_destroy) X(dnnl_memory_set_data_handle)      \
    X(dnnl_memory_desc_equal) X(dnnl_memory_get_memory_desc)

typedef struct {
#define DNNL_FIELD(f) __typeof__(&f) f;
    DNNL_FUNCTIONS(DNNL_FIELD)
#undef DNNL_FIELD
} DnnlLib;

/* Filled by dnnl_lib_path() where it returns a oneDNN path. */
extern DnnlLib dn;
#endif

#endif
