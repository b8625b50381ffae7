/* pool_row_avx2.c: pooling micro-kernels (row max/avg, global NHWC/NCHW), AVX2. */
#include "pool_kernels.h"

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

/* NaN handling of every max here: max_ps(v, m) keeps m when either is NaN, so a NaN already in m
 * stays and equal values keep the earlier tap (0.0 vs -0.0, as torch); a NaN arriving in v is
 * caught by an unordered compare OR-ed into a lane mask and written once at the end. */

/* lanes < r valid (r >= 8: all) */
AI __m256i tail_mask(size_t r) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - (r >= 8 ? 8 : r)));
}

AI __m256 load8(const float *p, int masked, __m256i k) {
    return masked ? _mm256_maskload_ps(p, k) : _mm256_loadu_ps(p);
}

AI void store8(float *p, __m256 v, int masked, __m256i k) {
    if (masked) _mm256_maskstore_ps(p, k, v);
    else _mm256_storeu_ps(p, v);
}

AI __m256 finish8(__m256 m, __m256 nan) {
    return _mm256_blendv_ps(m, _mm256_set1_ps(__builtin_nanf("")), nan);
}

AI void max_px8(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, int masked, __m256i k,
                float *y) {
    __m256 m = load8(x, masked, k);
    __m256 nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = ky == 0; kx < kw; kx++) {
            const __m256 v = load8(x + ky * rs + kx * cs, masked, k);
            m = _mm256_max_ps(v, m);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        }
    store8(y, finish8(m, nan), masked, k);
}

/* one pixel, 32 channels: four independent max chains */
AI void max_px32(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y) {
    __m256 m0 = _mm256_loadu_ps(x), m1 = _mm256_loadu_ps(x + 8);
    __m256 m2 = _mm256_loadu_ps(x + 16), m3 = _mm256_loadu_ps(x + 24);
    __m256 n0 = _mm256_cmp_ps(m0, m0, _CMP_UNORD_Q), n1 = _mm256_cmp_ps(m1, m1, _CMP_UNORD_Q);
    __m256 n2 = _mm256_cmp_ps(m2, m2, _CMP_UNORD_Q), n3 = _mm256_cmp_ps(m3, m3, _CMP_UNORD_Q);
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = ky == 0; kx < kw; kx++) {
            const float *p = x + ky * rs + kx * cs;
            const __m256 v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8);
            const __m256 v2 = _mm256_loadu_ps(p + 16), v3 = _mm256_loadu_ps(p + 24);
            m0 = _mm256_max_ps(v0, m0);
            m1 = _mm256_max_ps(v1, m1);
            m2 = _mm256_max_ps(v2, m2);
            m3 = _mm256_max_ps(v3, m3);
            n0 = _mm256_or_ps(n0, _mm256_cmp_ps(v0, v0, _CMP_UNORD_Q));
            n1 = _mm256_or_ps(n1, _mm256_cmp_ps(v1, v1, _CMP_UNORD_Q));
            n2 = _mm256_or_ps(n2, _mm256_cmp_ps(v2, v2, _CMP_UNORD_Q));
            n3 = _mm256_or_ps(n3, _mm256_cmp_ps(v3, v3, _CMP_UNORD_Q));
        }
    _mm256_storeu_ps(y, finish8(m0, n0));
    _mm256_storeu_ps(y + 8, finish8(m1, n1));
    _mm256_storeu_ps(y + 16, finish8(m2, n2));
    _mm256_storeu_ps(y + 24, finish8(m3, n3));
}

AI void max_pixel(size_t kh, size_t kw, size_t c, const float *x, size_t rs, size_t cs, float *y) {
    size_t j = 0;
    for (; j + 32 <= c; j += 32) max_px32(kh, kw, x + j, rs, cs, y + j);
    for (; j + 8 <= c; j += 8) max_px8(kh, kw, x + j, rs, cs, 0, _mm256_setzero_si256(), y + j);
    if (j < c) max_px8(kh, kw, x + j, rs, cs, 1, tail_mask(c - j), y + j);
}

/* A row of pixels; called with literal kh, kw for the common windows so the tap loops unroll. */
AI void max_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                size_t cs, float *y) {
    for (size_t i = 0; i < n; i++, x += xs, y += c) max_pixel(kh, kw, c, x, rs, cs, y);
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_maxpool_row__avx2(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs,
                              size_t rs, size_t cs, float *y) {
    if (kh == 2 && kw == 2) max_row(n, 2, 2, c, x, xs, rs, cs, y);
    else if (kh == 3 && kw == 3) max_row(n, 3, 3, c, x, xs, rs, cs, y);
    else max_row(n, kh, kw, c, x, xs, rs, cs, y);
}

/* Sums start at 0.0f and add the taps in row-major order, as torch; then / div (and / div2 when
 * div2 != 1: adaptive pooling divides by the bin's height, then its width, as torch). */
typedef struct { __m256 d, d2; int two; } divisor;

AI divisor make_div(float div, float div2) {
    divisor r = {_mm256_set1_ps(div), _mm256_set1_ps(div2), div2 != 1.0f};
    return r;
}

AI __m256 divide(__m256 s, divisor dv) {
    s = _mm256_div_ps(s, dv.d);
    return dv.two ? _mm256_div_ps(s, dv.d2) : s;
}
AI void avg_px8(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, int masked, __m256i k,
                divisor dv, float *y) {
    __m256 s = _mm256_setzero_ps();
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) s = _mm256_add_ps(s, load8(x + ky * rs + kx * cs, masked, k));
    store8(y, divide(s, dv), masked, k);
}

AI void avg_px32(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, divisor dv, float *y) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
            const float *p = x + ky * rs + kx * cs;
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + 24));
        }
    _mm256_storeu_ps(y, divide(s0, dv));
    _mm256_storeu_ps(y + 8, divide(s1, dv));
    _mm256_storeu_ps(y + 16, divide(s2, dv));
    _mm256_storeu_ps(y + 24, divide(s3, dv));
}

AI void avg_pixel(size_t kh, size_t kw, size_t c, const float *x, size_t rs, size_t cs, divisor dv,
                  float *y) {
    size_t j = 0;
    for (; j + 32 <= c; j += 32) avg_px32(kh, kw, x + j, rs, cs, dv, y + j);
    for (; j + 8 <= c; j += 8) avg_px8(kh, kw, x + j, rs, cs, 0, _mm256_setzero_si256(), dv, y + j);
    if (j < c) avg_px8(kh, kw, x + j, rs, cs, 1, tail_mask(c - j), dv, y + j);
}

AI void avg_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                size_t cs, float div, float div2, float *y) {
    const divisor dv = make_div(div, div2);
    for (size_t i = 0; i < n; i++, x += xs, y += c) avg_pixel(kh, kw, c, x, rs, cs, dv, y);
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_avgpool_row__avx2(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs,
                              size_t rs, size_t cs, float div, float div2, float *y) {
    if (kh == 2 && kw == 2) avg_row(n, 2, 2, c, x, xs, rs, cs, div, div2, y);
    else if (kh == 3 && kw == 3) avg_row(n, 3, 3, c, x, xs, rs, cs, div, div2, y);
    else avg_row(n, kh, kw, c, x, xs, rs, cs, div, div2, y);
}

/* ------------------------------------------------------------------------------------- global */

// x: (rows, ldx), y: (c,). Channels in lanes, all rows at once per 32 channels.
void fn_f32_global_maxpool_nhwc__avx2(size_t rows, size_t c, size_t ldx, const float *x, float div,
                                      float *y) {
    (void)div;
    max_pixel(rows, 1, c, x, ldx, 0, y);
}

// x: (rows, ldx), y: (c,). Per channel: 0.0f, then the rows in order.
void fn_f32_global_avgpool_nhwc__avx2(size_t rows, size_t c, size_t ldx, const float *x, float div,
                                      float *y) {
    avg_pixel(rows, 1, c, x, ldx, 0, make_div(div, 1.0f), y);
}

// x: (planes, hw), y: (planes,); the 64-partial order of fn_pool.h (lane l of a[q]: partial 8q + l)
void fn_f32_global_avgpool_nchw__avx2(size_t planes, size_t hw, const float *x, float div, float *y) {
    for (size_t p = 0; p < planes; p++, x += hw) {
        __m256 a[8];
        for (int q = 0; q < 8; q++) a[q] = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 64 <= hw; i += 64)
            for (int q = 0; q < 8; q++) a[q] = _mm256_add_ps(a[q], _mm256_loadu_ps(x + i + 8 * q));
        /* +0.0 in the missing lanes leaves a partial unchanged (never -0.0: it began at +0.0) */
        for (int q = 0; i + 8 * q < hw && q < 8; q++)
            a[q] = _mm256_add_ps(a[q], _mm256_maskload_ps(x + i + 8 * q, tail_mask(hw - i - 8 * q)));
        for (int q = 0; q < 4; q++) a[q] = _mm256_add_ps(a[q], a[q + 4]);
        for (int q = 0; q < 2; q++) a[q] = _mm256_add_ps(a[q], a[q + 2]);
        const __m256 b = _mm256_add_ps(a[0], a[1]);
        const __m128 c4 = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
        const __m128 c2 = _mm_add_ps(c4, _mm_movehl_ps(c4, c4));
        y[p] = _mm_cvtss_f32(_mm_add_ss(c2, _mm_movehdup_ps(c2))) / div;
    }
}

// x: (planes, hw), y: (planes,)
void fn_f32_global_maxpool_nchw__avx2(size_t planes, size_t hw, const float *x, float div, float *y) {
    (void)div;
    const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
    for (size_t p = 0; p < planes; p++, x += hw) {
        __m256 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf, nan = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= hw; i += 32) {
            const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
            const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
            a0 = _mm256_max_ps(v0, a0);
            a1 = _mm256_max_ps(v1, a1);
            a2 = _mm256_max_ps(v2, a2);
            a3 = _mm256_max_ps(v3, a3);
            /* v0+v1+v2+v3 is NaN if any is (or on inf - inf, which the exact check below rules out) */
            const __m256 s = _mm256_add_ps(_mm256_add_ps(v0, v1), _mm256_add_ps(v2, v3));
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(s, s, _CMP_UNORD_Q));
        }
        for (; i < hw; i += 8) { /* -inf in the missing lanes never wins */
            const __m256i k = tail_mask(hw - i);
            const __m256 v = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, k), _mm256_castsi256_ps(k));
            a0 = _mm256_max_ps(v, a0);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        }
        float m = 0.0f;
        int found = 0;
        if (_mm256_movemask_ps(nan)) /* a NaN, or only +inf meeting -inf: decide exactly */
            for (size_t t = 0; t < hw && !found; t++)
                if (x[t] != x[t]) m = x[t], found = 1;
        if (!found) {
            const __m256 b = _mm256_max_ps(_mm256_max_ps(a0, a2), _mm256_max_ps(a1, a3));
            const __m128 c4 = _mm_max_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
            const __m128 c2 = _mm_max_ps(c4, _mm_movehl_ps(c4, c4));
            m = _mm_cvtss_f32(_mm_max_ss(c2, _mm_movehdup_ps(c2)));
        }
        y[p] = m;
    }
}
