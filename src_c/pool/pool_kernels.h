/* pool_kernels.h: every pool micro-kernel symbol, per ISA (pool_dispatch.c builds the tables). */
#ifndef FASTNORM_POOL_KERNELS_H
#define FASTNORM_POOL_KERNELS_H

#include "../kernels.h"

#define FN_DECLARE_POOL_UKERNELS(isa)                                                              \
    void fn_f32_maxpool_row__##isa(size_t n, size_t kh, size_t kw, size_t c, const float *x,       \
                                   size_t xs, size_t rs, size_t cs, float *y);                     \
    void fn_f32_avgpool_row__##isa(size_t n, size_t kh, size_t kw, size_t c, const float *x,       \
                                   size_t xs, size_t rs, size_t cs, float div, float div2,         \
                                   float *y);                                                      \
    void fn_f32_global_maxpool_nhwc__##isa(size_t rows, size_t c, size_t ldx, const float *x,      \
                                           float div, float *y);                                   \
    void fn_f32_global_avgpool_nhwc__##isa(size_t rows, size_t c, size_t ldx, const float *x,      \
                                           float div, float *y);                                   \
    void fn_f32_global_maxpool_nchw__##isa(size_t planes, size_t hw, const float *x, float div,    \
                                           float *y);                                              \
    void fn_f32_global_avgpool_nchw__##isa(size_t planes, size_t hw, const float *x, float div,    \
                                           float *y);

FN_DECLARE_POOL_UKERNELS(scalar)
FN_DECLARE_POOL_UKERNELS(avx2)
FN_DECLARE_POOL_UKERNELS(avx512)

/* Partial accumulators of the NCHW global reductions: the order is part of the result (see
 * fn_pool.h), so every ISA uses the same 64. */
#define FN_GPOOL_LANES 64

#endif
