/* pool_row_avx512.c: pooling micro-kernels (row max/avg, global NHWC/NCHW), AVX-512F. */
#include "pool_kernels.h"

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

/* NaN handling of every max here: max_ps(v, m) keeps m when either is NaN, so a NaN already in m
 * stays and equal values keep the earlier tap (0.0 vs -0.0, as torch); a NaN arriving in v is
 * caught by an unordered compare into a k-mask and written once at the end. */

AI __mmask16 tail_mask(size_t r) { return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1u); }

/* one pixel, 16 channels (k: the valid ones) */
AI void max_px16(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, __mmask16 k, float *y) {
    __m512 m = _mm512_maskz_loadu_ps(k, x);
    __mmask16 nan = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = ky == 0; kx < kw; kx++) {
            const __m512 v = _mm512_maskz_loadu_ps(k, x + ky * rs + kx * cs);
            m = _mm512_max_ps(v, m);
            nan = _kor_mask16(nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
        }
    _mm512_mask_storeu_ps(y, k, _mm512_mask_mov_ps(m, nan, _mm512_set1_ps(__builtin_nanf(""))));
}

/* one pixel, 64 channels: four independent max chains */
AI void max_px64(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y) {
    __m512 m0 = _mm512_loadu_ps(x), m1 = _mm512_loadu_ps(x + 16);
    __m512 m2 = _mm512_loadu_ps(x + 32), m3 = _mm512_loadu_ps(x + 48);
    __mmask16 n0 = _mm512_cmp_ps_mask(m0, m0, _CMP_UNORD_Q), n1 = _mm512_cmp_ps_mask(m1, m1, _CMP_UNORD_Q);
    __mmask16 n2 = _mm512_cmp_ps_mask(m2, m2, _CMP_UNORD_Q), n3 = _mm512_cmp_ps_mask(m3, m3, _CMP_UNORD_Q);
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = ky == 0; kx < kw; kx++) {
            const float *p = x + ky * rs + kx * cs;
            const __m512 v0 = _mm512_loadu_ps(p), v1 = _mm512_loadu_ps(p + 16);
            const __m512 v2 = _mm512_loadu_ps(p + 32), v3 = _mm512_loadu_ps(p + 48);
            m0 = _mm512_max_ps(v0, m0);
            m1 = _mm512_max_ps(v1, m1);
            m2 = _mm512_max_ps(v2, m2);
            m3 = _mm512_max_ps(v3, m3);
            n0 = _kor_mask16(n0, _mm512_cmp_ps_mask(v0, v0, _CMP_UNORD_Q));
            n1 = _kor_mask16(n1, _mm512_cmp_ps_mask(v1, v1, _CMP_UNORD_Q));
            n2 = _kor_mask16(n2, _mm512_cmp_ps_mask(v2, v2, _CMP_UNORD_Q));
            n3 = _kor_mask16(n3, _mm512_cmp_ps_mask(v3, v3, _CMP_UNORD_Q));
        }
    const __m512 qnan = _mm512_set1_ps(__builtin_nanf(""));
    _mm512_storeu_ps(y, _mm512_mask_mov_ps(m0, n0, qnan));
    _mm512_storeu_ps(y + 16, _mm512_mask_mov_ps(m1, n1, qnan));
    _mm512_storeu_ps(y + 32, _mm512_mask_mov_ps(m2, n2, qnan));
    _mm512_storeu_ps(y + 48, _mm512_mask_mov_ps(m3, n3, qnan));
}

/* A row of pixels; called with literal kh, kw for the common windows so the tap loops unroll. */
AI void max_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                size_t cs, float *y) {
    for (size_t i = 0; i < n; i++, x += xs, y += c) {
        size_t j = 0;
        for (; j + 64 <= c; j += 64) max_px64(kh, kw, x + j, rs, cs, y + j);
        for (; j < c; j += 16) max_px16(kh, kw, x + j, rs, cs, tail_mask(c - j), y + j);
    }
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_maxpool_row__avx512(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                size_t xs, size_t rs, size_t cs, float *y) {
    if (kh == 2 && kw == 2) max_row(n, 2, 2, c, x, xs, rs, cs, y);
    else if (kh == 3 && kw == 3) max_row(n, 3, 3, c, x, xs, rs, cs, y);
    else max_row(n, kh, kw, c, x, xs, rs, cs, y);
}

/* Sums start at 0.0f and add the taps in row-major order, as torch; then / div (and / div2 when
 * div2 != 1: adaptive pooling divides by the bin's height, then its width, as torch). */
typedef struct { __m512 d, d2; int two; } divisor;

AI divisor make_div(float div, float div2) {
    divisor r = {_mm512_set1_ps(div), _mm512_set1_ps(div2), div2 != 1.0f};
    return r;
}

AI __m512 divide(__m512 s, divisor dv) {
    s = _mm512_div_ps(s, dv.d);
    return dv.two ? _mm512_div_ps(s, dv.d2) : s;
}
AI void avg_px16(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, __mmask16 k, divisor dv,
                 float *y) {
    __m512 s = _mm512_setzero_ps();
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(k, x + ky * rs + kx * cs));
    _mm512_mask_storeu_ps(y, k, divide(s, dv));
}

AI void avg_px64(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, divisor dv, float *y) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
            const float *p = x + ky * rs + kx * cs;
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + 48));
        }
    _mm512_storeu_ps(y, divide(s0, dv));
    _mm512_storeu_ps(y + 16, divide(s1, dv));
    _mm512_storeu_ps(y + 32, divide(s2, dv));
    _mm512_storeu_ps(y + 48, divide(s3, dv));
}

AI void avg_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                size_t cs, float div, float div2, float *y) {
    const divisor dv = make_div(div, div2);
    for (size_t i = 0; i < n; i++, x += xs, y += c) {
        size_t j = 0;
        for (; j + 64 <= c; j += 64) avg_px64(kh, kw, x + j, rs, cs, dv, y + j);
        for (; j < c; j += 16) avg_px16(kh, kw, x + j, rs, cs, tail_mask(c - j), dv, y + j);
    }
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void fn_f32_avgpool_row__avx512(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                size_t xs, size_t rs, size_t cs, float div, float div2, float *y) {
    if (kh == 2 && kw == 2) avg_row(n, 2, 2, c, x, xs, rs, cs, div, div2, y);
    else if (kh == 3 && kw == 3) avg_row(n, 3, 3, c, x, xs, rs, cs, div, div2, y);
    else avg_row(n, kh, kw, c, x, xs, rs, cs, div, div2, y);
}

/* ------------------------------------------------------------------------------------- global */

// x: (rows, ldx), y: (c,). Channels in lanes; 64 at a time (four chains) over all rows.
void fn_f32_global_maxpool_nhwc__avx512(size_t rows, size_t c, size_t ldx, const float *x,
                                        float div, float *y) {
    (void)div;
    size_t j = 0;
    for (; j + 64 <= c; j += 64) max_px64(rows, 1, x + j, ldx, 0, y + j);
    for (; j < c; j += 16) max_px16(rows, 1, x + j, ldx, 0, tail_mask(c - j), y + j);
}

// x: (rows, ldx), y: (c,). Per channel: 0.0f, then the rows in order.
void fn_f32_global_avgpool_nhwc__avx512(size_t rows, size_t c, size_t ldx, const float *x,
                                        float div, float *y) {
    const divisor dv = make_div(div, 1.0f);
    size_t j = 0;
    for (; j + 64 <= c; j += 64) avg_px64(rows, 1, x + j, ldx, 0, dv, y + j);
    for (; j < c; j += 16) avg_px16(rows, 1, x + j, ldx, 0, tail_mask(c - j), dv, y + j);
}

/* 64 partials -> 16 -> 1 in fn_pool.h's fold order (l += l + half, half = 32, 16, ..., 1). */
AI float fold_sum(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    const __m512 b = _mm512_add_ps(_mm512_add_ps(a0, a2), _mm512_add_ps(a1, a3));
    const __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    const __m128 c4 = _mm_add_ps(_mm256_castps256_ps128(c8), _mm256_extractf128_ps(c8, 1));
    const __m128 c2 = _mm_add_ps(c4, _mm_movehl_ps(c4, c4));
    return _mm_cvtss_f32(_mm_add_ss(c2, _mm_movehdup_ps(c2)));
}

// x: (planes, hw), y: (planes,); the 64-partial order of fn_pool.h
void fn_f32_global_avgpool_nchw__avx512(size_t planes, size_t hw, const float *x, float div,
                                        float *y) {
    for (size_t p = 0; p < planes; p++, x += hw) {
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t i = 0;
        for (; i + 64 <= hw; i += 64) {
            a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
            a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
            a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
            a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
        }
        if (i < hw) { /* +0.0 in the missing lanes leaves a partial unchanged (never -0.0: it began at +0.0) */
            const size_t r = hw - i;
            a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(tail_mask(r), x + i));
            if (r > 16) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(tail_mask(r - 16), x + i + 16));
            if (r > 32) a2 = _mm512_add_ps(a2, _mm512_maskz_loadu_ps(tail_mask(r - 32), x + i + 32));
            if (r > 48) a3 = _mm512_add_ps(a3, _mm512_maskz_loadu_ps(tail_mask(r - 48), x + i + 48));
        }
        y[p] = fold_sum(a0, a1, a2, a3) / div;
    }
}

// x: (planes, hw), y: (planes,)
void fn_f32_global_maxpool_nchw__avx512(size_t planes, size_t hw, const float *x, float div,
                                        float *y) {
    (void)div;
    const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
    for (size_t p = 0; p < planes; p++, x += hw) {
        __m512 a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
        __mmask16 nan = 0;
        size_t i = 0;
        for (; i + 64 <= hw; i += 64) {
            const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
            const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
            a0 = _mm512_max_ps(v0, a0);
            a1 = _mm512_max_ps(v1, a1);
            a2 = _mm512_max_ps(v2, a2);
            a3 = _mm512_max_ps(v3, a3);
            /* v0+v1+v2+v3 is NaN if any is (or on inf - inf, which the exact check below rules out) */
            const __m512 s = _mm512_add_ps(_mm512_add_ps(v0, v1), _mm512_add_ps(v2, v3));
            nan = _kor_mask16(nan, _mm512_cmp_ps_mask(s, s, _CMP_UNORD_Q));
        }
        for (; i < hw; i += 16) { /* -inf in the missing lanes never wins */
            const __m512 v = _mm512_mask_loadu_ps(ninf, tail_mask(hw - i), x + i);
            a0 = _mm512_max_ps(v, a0);
            nan = _kor_mask16(nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
        }
        float m = 0.0f;
        int found = 0;
        if (nan) /* a NaN, or only +inf meeting -inf in the cheap check: decide exactly */
            for (size_t t = 0; t < hw && !found; t++)
                if (x[t] != x[t]) m = x[t], found = 1;
        if (!found) {
            const __m512 b = _mm512_max_ps(_mm512_max_ps(a0, a2), _mm512_max_ps(a1, a3));
            const __m256 c8 = _mm256_max_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
            const __m128 c4 = _mm_max_ps(_mm256_castps256_ps128(c8), _mm256_extractf128_ps(c8, 1));
            const __m128 c2 = _mm_max_ps(c4, _mm_movehl_ps(c4, c4));
            m = _mm_cvtss_f32(_mm_max_ss(c2, _mm_movehdup_ps(c2)));
        }
        y[p] = m;
    }
}
