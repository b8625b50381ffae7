/* maxpool_avx2.c: max over taps with NaN propagation (as torch), AVX2. */
#include "../kernels.h"

#include <immintrin.h>

/* max_ps(v, m) keeps m when either is NaN, so a NaN already in m stays; a NaN arriving in v is
 * caught by an unordered compare OR-ed into a lane mask and written at the end (one blend per
 * output vector, none in the tap loop). */
static inline __attribute__((always_inline)) __m256 finish8(__m256 m, __m256 nan) {
    return _mm256_blendv_ps(m, _mm256_set1_ps(__builtin_nanf("")), nan);
}

static inline __attribute__((always_inline)) __m256 max_taps8(size_t ks, const float *const *taps,
                                                              size_t j, int masked, __m256i k) {
    __m256 m = masked ? _mm256_maskload_ps(taps[0] + j, k) : _mm256_loadu_ps(taps[0] + j);
    __m256 nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    for (size_t t = 1; t < ks; t++) {
        const __m256 v = masked ? _mm256_maskload_ps(taps[t] + j, k) : _mm256_loadu_ps(taps[t] + j);
        m = _mm256_max_ps(v, m);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    return finish8(m, nan);
}

/* taps: ks pointers to c floats each; y: (c,). taps[0] may equal y (the driver chains chunks). */
void fn_f32_maxpool__avx2(size_t ks, size_t c, const float *const *taps, float *y) {
    size_t j = 0;
    for (; j + 32 <= c; j += 32) {
        /* four vectors a tap: four independent max chains */
        __m256 m0 = _mm256_loadu_ps(taps[0] + j), m1 = _mm256_loadu_ps(taps[0] + j + 8);
        __m256 m2 = _mm256_loadu_ps(taps[0] + j + 16), m3 = _mm256_loadu_ps(taps[0] + j + 24);
        __m256 n0 = _mm256_cmp_ps(m0, m0, _CMP_UNORD_Q), n1 = _mm256_cmp_ps(m1, m1, _CMP_UNORD_Q);
        __m256 n2 = _mm256_cmp_ps(m2, m2, _CMP_UNORD_Q), n3 = _mm256_cmp_ps(m3, m3, _CMP_UNORD_Q);
        for (size_t t = 1; t < ks; t++) {
            const float *p = taps[t] + j;
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
        _mm256_storeu_ps(y + j, finish8(m0, n0));
        _mm256_storeu_ps(y + j + 8, finish8(m1, n1));
        _mm256_storeu_ps(y + j + 16, finish8(m2, n2));
        _mm256_storeu_ps(y + j + 24, finish8(m3, n3));
    }
    for (; j + 8 <= c; j += 8) _mm256_storeu_ps(y + j, max_taps8(ks, taps, j, 0, _mm256_setzero_si256()));
    if (j < c) {
        static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        const __m256i k = _mm256_loadu_si256((const __m256i *)(bits + 8 - (c - j)));
        _mm256_maskstore_ps(y + j, k, max_taps8(ks, taps, j, 1, k));
    }
}
