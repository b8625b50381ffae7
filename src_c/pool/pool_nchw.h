/* pool_nchw.h: the NCHW row kernels' body, written once in plain C and compiled per ISA by
 * pool_nchw.c / pool_nchw_avx2.c / pool_nchw_avx512.c (each with its own flags), where gcc
 * vectorises the loop over output columns (the wide files take stride 2 to pool_nchw_simd.h). Only always-inline
 * functions here, so no wide instruction lands outside a __avx2 / __avx512 function. */
#ifndef FASTNORM_POOL_NCHW_H
#define FASTNORM_POOL_NCHW_H

#include "pool_kernels.h"

/* y[i] = max over ky < kh, kx < kw of x[ky*rs + i*sw + kx*dw], i < m. NaN propagates; between
 * equal values the earlier tap wins (as torch): m = (v > m || v != v) ? v : m. */
FN_INLINE void fn_nchw_max_row(size_t m, size_t kh, size_t kw, const float *restrict x, size_t sw,
                           size_t rs, size_t dw, float *restrict y) {
    for (size_t i = 0; i < m; i++) y[i] = x[i * sw];
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = ky == 0; kx < kw; kx++) {
            const float *restrict p = x + ky * rs + kx * dw;
            for (size_t i = 0; i < m; i++) {
                const float v = p[i * sw], a = y[i];
                y[i] = (v > a || v != v) ? v : a;
            }
        }
}

/* y[i] = (0.0f + taps in row-major order) / div, then / div2 unless div2 == 1 (fn_pool.h). */
FN_INLINE void fn_nchw_avg_row(size_t m, size_t kh, size_t kw, const float *restrict x, size_t sw,
                           size_t rs, size_t dw, float div, float div2, float *restrict y) {
    for (size_t i = 0; i < m; i++) y[i] = 0.0f;
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
            const float *restrict p = x + ky * rs + kx * dw;
            for (size_t i = 0; i < m; i++) y[i] += p[i * sw];
        }
    for (size_t i = 0; i < m; i++) y[i] /= div;
    if (div2 != 1.0f)
        for (size_t i = 0; i < m; i++) y[i] /= div2;
}

/* Generic dispatch to the plain-C rows, with literal strides so the loops vectorise with known
 * strides. The wide files handle stride 2 themselves (gcc's even/odd permutes there were slower
 * than scalar code) and use these for everything else. */
FN_INLINE void fn_nchw_max_row_any(size_t m, size_t kh, size_t kw, const float *x, size_t sw, size_t rs,
                               size_t dw, float *y) {
    if (sw == 1 && dw == 1) fn_nchw_max_row(m, kh, kw, x, 1, rs, 1, y);
    else fn_nchw_max_row(m, kh, kw, x, sw, rs, dw, y);
}

FN_INLINE void fn_nchw_avg_row_any(size_t m, size_t kh, size_t kw, const float *x, size_t sw, size_t rs,
                               size_t dw, float div, float div2, float *y) {
    if (sw == 1 && dw == 1) fn_nchw_avg_row(m, kh, kw, x, 1, rs, 1, div, div2, y);
    else fn_nchw_avg_row(m, kh, kw, x, sw, rs, dw, div, div2, y);
}

/* The portable kernels: literal strides and windows for the common cases. */
#define FN_DEFINE_NCHW_ROW_KERNELS(isa)                                                            \
    void fn_f32_maxpool_nchw_row__##isa(size_t m, size_t kh, size_t kw, const float *x, size_t sw, \
                                        size_t rs, size_t dw, float *y) {                          \
        if (sw == 2 && dw == 1 && kh == 2 && kw == 2) fn_nchw_max_row(m, 2, 2, x, 2, rs, 1, y);     \
        else if (sw == 2 && dw == 1 && kh == 3 && kw == 3) fn_nchw_max_row(m, 3, 3, x, 2, rs, 1, y);\
        else if (sw == 2 && dw == 1) fn_nchw_max_row(m, kh, kw, x, 2, rs, 1, y);                    \
        else if (sw == 1 && dw == 1) fn_nchw_max_row(m, kh, kw, x, 1, rs, 1, y);                    \
        else fn_nchw_max_row(m, kh, kw, x, sw, rs, dw, y);                                          \
    }                                                                                              \
    void fn_f32_avgpool_nchw_row__##isa(size_t m, size_t kh, size_t kw, const float *x, size_t sw, \
                                        size_t rs, size_t dw, float div, float div2, float *y) {   \
        if (sw == 2 && dw == 1 && kh == 2 && kw == 2) fn_nchw_avg_row(m, 2, 2, x, 2, rs, 1, div, div2, y); \
        else if (sw == 2 && dw == 1 && kh == 3 && kw == 3)                                         \
            fn_nchw_avg_row(m, 3, 3, x, 2, rs, 1, div, div2, y);                                   \
        else if (sw == 2 && dw == 1) fn_nchw_avg_row(m, kh, kw, x, 2, rs, 1, div, div2, y);         \
        else if (sw == 1 && dw == 1) fn_nchw_avg_row(m, kh, kw, x, 1, rs, 1, div, div2, y);         \
        else fn_nchw_avg_row(m, kh, kw, x, sw, rs, dw, div, div2, y);                               \
    }

#endif
