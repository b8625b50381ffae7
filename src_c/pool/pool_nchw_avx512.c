/* pool_nchw_avx512.c: NCHW row pooling kernels, AVX-512F. Stride 2: sixteen outputs from 32
 * consecutive inputs per tap (an even-lane permute); other strides: the plain C of pool_nchw.h. */
#include "pool_nchw.h"

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

AI __mmask16 lanes(size_t r) { return r >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << r) - 1u); }

/* x[2i] for the 16 outputs i (r of them valid): elements 0, 2, .., 2(r-1) of base, masked so no
 * byte past element 2(r-1) is read. */
AI __m512 even16(const float *base, size_t r, __m512i idx) {
    if (r >= 16) {
        const __m512 lo = _mm512_loadu_ps(base), hi = _mm512_maskz_loadu_ps(0x7FFF, base + 16);
        return _mm512_permutex2var_ps(lo, idx, hi);
    }
    const size_t need = 2 * r - 1; /* elements read */
    const __m512 lo = _mm512_maskz_loadu_ps(lanes(need), base);
    const __m512 hi = need > 16 ? _mm512_maskz_loadu_ps(lanes(need - 16), base + 16) : _mm512_setzero_ps();
    return _mm512_permutex2var_ps(lo, idx, hi);
}

/* max: max_ps(v, m) keeps m on NaN (an earlier NaN stays, ties keep the earlier tap); a NaN
 * arriving in v is caught by an unordered compare into a k-mask and written at the end. */
AI void max_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float *y) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (size_t i = 0; i < m; i += 16) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        __m512 a = even16(p, r, idx);
        __mmask16 nan = _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) {
                const __m512 v = even16(p + ky * rs + kx, r, idx);
                a = _mm512_max_ps(v, a);
                nan = _kor_mask16(nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
            }
        _mm512_mask_storeu_ps(y + i, lanes(r), _mm512_mask_mov_ps(a, nan, _mm512_set1_ps(__builtin_nanf(""))));
    }
}

/* avg: 0.0f + taps in row-major order, / div, / div2 unless 1 (fn_pool.h) */
AI void avg_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float div, float div2,
               float *y) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512 dv = _mm512_set1_ps(div), dv2 = _mm512_set1_ps(div2);
    for (size_t i = 0; i < m; i += 16) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        __m512 s = _mm512_setzero_ps();
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = 0; kx < kw; kx++) s = _mm512_add_ps(s, even16(p + ky * rs + kx, r, idx));
        s = _mm512_div_ps(s, dv);
        if (div2 != 1.0f) s = _mm512_div_ps(s, dv2);
        _mm512_mask_storeu_ps(y + i, lanes(r), s);
    }
}

// x: one plane's rows (see fn_pool.h), y: (m,)
void fn_f32_maxpool_nchw_row__avx512(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
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
void fn_f32_avgpool_nchw_row__avx512(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
                                     size_t rs, size_t dw, float div, float div2, float *y) {
    if (sw == 2 && dw == 1) {
        if (kh == 2 && kw == 2) avg_s2(m, 2, 2, x, rs, div, div2, y);
        else if (kh == 3 && kw == 3) avg_s2(m, 3, 3, x, rs, div, div2, y);
        else avg_s2(m, kh, kw, x, rs, div, div2, y);
    } else {
        fn_nchw_avg_row_any(m, kh, kw, x, sw, rs, dw, div, div2, y);
    }
}
