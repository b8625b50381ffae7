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
                                           float *y);                                              \
    void fn_f32_maxpool_nchw_row__##isa(size_t m, size_t kh, size_t kw, const float *x, size_t sw, \
                                        size_t rs, size_t dw, float *y);                           \
    void fn_f32_avgpool_nchw_row__##isa(size_t m, size_t kh, size_t kw, const float *x, size_t sw, \
                                        size_t rs, size_t dw, float div, float div2, float *y);

FN_DECLARE_POOL_UKERNELS(scalar)
FN_DECLARE_POOL_UKERNELS(avx2)
FN_DECLARE_POOL_UKERNELS(avx512)
FN_DECLARE_POOL_UKERNELS(neon)

/* Row loops of the drivers: `#pragma omp parallel num_threads(nt)` then FN_FOR_ROWS(rows, oh, b,
 * oy, r) { ... } runs rows [0, rows) split into one contiguous static chunk per thread, with
 * b = r / oh and oy = r % oh kept by increments: a 64-bit divide per row cost more than a 7-pixel
 * output row on small images. Rows are independent, so the split never changes a result. */
#ifdef _OPENMP
#include <omp.h>
static inline size_t fn_chunk_begin(size_t n) {
    return n * (size_t)omp_get_thread_num() / (size_t)omp_get_num_threads();
}
static inline size_t fn_chunk_end(size_t n) {
    return n * (size_t)(omp_get_thread_num() + 1) / (size_t)omp_get_num_threads();
}
#else
static inline size_t fn_chunk_begin(size_t n) { (void)n; return 0; }
static inline size_t fn_chunk_end(size_t n) { return n; }
#endif
static inline void fn_next_row(size_t *b, size_t *oy, size_t oh) {
    if (++*oy == oh) *oy = 0, ++*b;
}
#define FN_FOR_ROWS(rows, oh, b, oy, r)                                                            \
    for (size_t r = fn_chunk_begin(rows), r##_end = fn_chunk_end(rows), b = r / (oh), oy = r % (oh); \
         r < r##_end; r++, fn_next_row(&b, &oy, (oh)))

/* Partial accumulators of the NCHW global reductions: the order is part of the result (see
 * fn_pool.h), so every ISA uses the same 64. */
#define FN_GPOOL_LANES 64

#endif
