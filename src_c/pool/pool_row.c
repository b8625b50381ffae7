/* pool_row.c: portable pooling micro-kernels (the readable spec of the wide versions). */
#include "pool_kernels.h"

/* m = (v > m || v != v) ? v : m takes a NaN from v and keeps one already in m (v > NaN is false);
 * equal values keep the earlier tap (0.0 vs -0.0), as torch. */
static inline float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_maxpool_row__scalar(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                size_t xs, size_t rs, size_t cs, float *y) {
    for (size_t i = 0; i < n; i++, x += xs, y += c) {
        for (size_t j = 0; j < c; j++) y[j] = x[j];
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) {
                const float *p = x + ky * rs + kx * cs;
                for (size_t j = 0; j < c; j++) y[j] = max_nan(y[j], p[j]);
            }
    }
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_avgpool_row__scalar(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                size_t xs, size_t rs, size_t cs, float div, float div2, float *y) {
    for (size_t i = 0; i < n; i++, x += xs, y += c) {
        for (size_t j = 0; j < c; j++) y[j] = 0.0f;
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = 0; kx < kw; kx++) {
                const float *p = x + ky * rs + kx * cs;
                for (size_t j = 0; j < c; j++) y[j] += p[j];
            }
        for (size_t j = 0; j < c; j++) y[j] /= div;
        if (div2 != 1.0f)
            for (size_t j = 0; j < c; j++) y[j] /= div2;
    }
}

// x: (rows, ldx), y: (c,)
void fn_f32_global_maxpool_nhwc__scalar(size_t rows, size_t c, size_t ldx, const float *x,
                                        float div, float *y) {
    (void)div;
    for (size_t j = 0; j < c; j++) y[j] = x[j];
    for (size_t r = 1; r < rows; r++)
        for (size_t j = 0; j < c; j++) y[j] = max_nan(y[j], x[r * ldx + j]);
}

// x: (rows, ldx), y: (c,)
void fn_f32_global_avgpool_nhwc__scalar(size_t rows, size_t c, size_t ldx, const float *x,
                                        float div, float *y) {
    for (size_t j = 0; j < c; j++) y[j] = 0.0f;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) y[j] += x[r * ldx + j];
    for (size_t j = 0; j < c; j++) y[j] /= div;
}

// x: (planes, hw), y: (planes,)
void fn_f32_global_maxpool_nchw__scalar(size_t planes, size_t hw, const float *x, float div,
                                        float *y) {
    (void)div;
    for (size_t p = 0; p < planes; p++, x += hw) {
        float m = x[0];
        for (size_t i = 1; i < hw; i++) m = max_nan(m, x[i]);
        y[p] = m;
    }
}

// x: (planes, hw), y: (planes,); the 64-partial order of fn_pool.h
void fn_f32_global_avgpool_nchw__scalar(size_t planes, size_t hw, const float *x, float div,
                                        float *y) {
    for (size_t p = 0; p < planes; p++, x += hw) {
        float s[FN_GPOOL_LANES];
        for (size_t l = 0; l < FN_GPOOL_LANES; l++) s[l] = 0.0f;
        size_t i = 0;
        for (; i + FN_GPOOL_LANES <= hw; i += FN_GPOOL_LANES)
            for (size_t l = 0; l < FN_GPOOL_LANES; l++) s[l] += x[i + l];
        for (size_t l = 0; i + l < hw; l++) s[l] += x[i + l];
        for (size_t half = FN_GPOOL_LANES / 2; half >= 1; half /= 2)
            for (size_t l = 0; l < half; l++) s[l] += s[l + half];
        y[p] = s[0] / div;
    }
}
