/* pool_nchw_avx2.c: NCHW row pooling kernels, AVX2. Stride 2: eight outputs from 16 consecutive
 * inputs per tap (even lanes by shuffle + permute); other strides: the plain C of pool_nchw.h. */
#include "pool_nchw.h"

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

/* lanes < r valid (r >= 8: all) */
AI __m256i lanes(size_t r) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - (r >= 8 ? 8 : r)));
}

/* x[2i] for the 8 outputs i (r of them valid), reading no element past 2(r-1) */
AI __m256 even8(const float *base, size_t r) {
    const size_t need = r >= 8 ? 15 : 2 * r - 1;
    const __m256 lo = need >= 8 ? _mm256_loadu_ps(base) : _mm256_maskload_ps(base, lanes(need));
    const __m256 hi = need > 8 ? _mm256_maskload_ps(base + 8, lanes(need - 8)) : _mm256_setzero_ps();
    const __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); /* lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

AI void store(float *y, __m256 v, size_t r) {
    if (r >= 8) _mm256_storeu_ps(y, v);
    else _mm256_maskstore_ps(y, lanes(r), v);
}

/* max: max_ps(v, m) keeps m on NaN (an earlier NaN stays, ties keep the earlier tap); a NaN
 * arriving in v is caught by an unordered compare OR-ed into a lane mask, written at the end. */
AI void max_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float *y) {
    for (size_t i = 0; i < m; i += 8) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        __m256 a = even8(p, r);
        __m256 nan = _mm256_cmp_ps(a, a, _CMP_UNORD_Q);
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) {
                const __m256 v = even8(p + ky * rs + kx, r);
                a = _mm256_max_ps(v, a);
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            }
        store(y + i, _mm256_blendv_ps(a, _mm256_set1_ps(__builtin_nanf("")), nan), r);
    }
}

/* avg: 0.0f + taps in row-major order, / div, / div2 unless 1 (fn_pool.h) */
AI void avg_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float div, float div2,
               float *y) {
    const __m256 dv = _mm256_set1_ps(div), dv2 = _mm256_set1_ps(div2);
    for (size_t i = 0; i < m; i += 8) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        __m256 s = _mm256_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = 0; kx < kw; kx++) s = _mm256_add_ps(s, even8(p + ky * rs + kx, r));
        s = _mm256_div_ps(s, dv);
        if (div2 != 1.0f) s = _mm256_div_ps(s, dv2);
        store(y + i, s, r);
    }
}

// x: one plane's rows (see fn_pool.h), y: (m,)
void fn_f32_maxpool_nchw_row__avx2(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
                                   size_t rs, size_t dw, float *y) {
    if (sw == 2 && dw == 1) {
        if (kh == 2 && kw == 2) max_s2(m, 2, 2, x, rs, y);
        else if (kh == 3 && kw == 3) max_s2(m, 3, 3, x, rs, y);
        else max_s2(m, kh, kw, x, rs, y);
    } else {
        fn_nchw_max_row_any(m, kh, kw, x, sw, rs, dw, y);
    }
}

// x: one plane's rows (see fn_pool.h), y: (m,)
void fn_f32_avgpool_nchw_row__avx2(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
                                   size_t rs, size_t dw, float div, float div2, float *y) {
    if (sw == 2 && dw == 1) {
        if (kh == 2 && kw == 2) avg_s2(m, 2, 2, x, rs, div, div2, y);
        else if (kh == 3 && kw == 3) avg_s2(m, 3, 3, x, rs, div, div2, y);
        else avg_s2(m, kh, kw, x, rs, div, div2, y);
    } else {
        fn_nchw_avg_row_any(m, kh, kw, x, sw, rs, dw, div, div2, y);
    }
}
