/* maxpool_avx512.c: max over taps with NaN propagation (as torch), AVX-512F. */
#include "../kernels.h"

#include <immintrin.h>

/* max_ps(v, m) keeps m when either is NaN, so a NaN already in m stays; a NaN arriving in v is
 * caught by an unordered compare into a k-mask and written at the end. One max, one compare and
 * one kor per tap and vector; no blend in the loop. */
static inline __attribute__((always_inline)) void max_taps16(size_t ks, const float *const *taps,
                                                             size_t j, __mmask16 k, float *y) {
    __m512 m = _mm512_maskz_loadu_ps(k, taps[0] + j);
    __mmask16 nan = _mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q);
    for (size_t t = 1; t < ks; t++) {
        const __m512 v = _mm512_maskz_loadu_ps(k, taps[t] + j);
        m = _mm512_max_ps(v, m);
        nan = _kor_mask16(nan, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
    }
    _mm512_mask_storeu_ps(y + j, k, _mm512_mask_mov_ps(m, nan, _mm512_set1_ps(__builtin_nanf(""))));
}

/* taps: ks pointers to c floats each; y: (c,). taps[0] may equal y (the driver chains chunks). */
void fn_f32_maxpool__avx512(size_t ks, size_t c, const float *const *taps, float *y) {
    size_t j = 0;
    for (; j + 64 <= c; j += 64) {
        /* four vectors a tap: four independent max chains */
        __m512 m0 = _mm512_loadu_ps(taps[0] + j), m1 = _mm512_loadu_ps(taps[0] + j + 16);
        __m512 m2 = _mm512_loadu_ps(taps[0] + j + 32), m3 = _mm512_loadu_ps(taps[0] + j + 48);
        __mmask16 n0 = _mm512_cmp_ps_mask(m0, m0, _CMP_UNORD_Q), n1 = _mm512_cmp_ps_mask(m1, m1, _CMP_UNORD_Q);
        __mmask16 n2 = _mm512_cmp_ps_mask(m2, m2, _CMP_UNORD_Q), n3 = _mm512_cmp_ps_mask(m3, m3, _CMP_UNORD_Q);
        for (size_t t = 1; t < ks; t++) {
            const float *p = taps[t] + j;
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
        _mm512_storeu_ps(y + j, _mm512_mask_mov_ps(m0, n0, qnan));
        _mm512_storeu_ps(y + j + 16, _mm512_mask_mov_ps(m1, n1, qnan));
        _mm512_storeu_ps(y + j + 32, _mm512_mask_mov_ps(m2, n2, qnan));
        _mm512_storeu_ps(y + j + 48, _mm512_mask_mov_ps(m3, n3, qnan));
    }
    for (; j + 16 <= c; j += 16) max_taps16(ks, taps, j, (__mmask16)0xFFFF, y);
    if (j < c) max_taps16(ks, taps, j, (__mmask16)((1u << (c - j)) - 1u), y);
}
