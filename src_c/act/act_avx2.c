/* act_avx2.c: elementwise clamp activation (relu, relu6), AVX2. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

/* x, y: (n,); y may alias x */
void fn_f32_act__avx2(size_t n, const float *x, const fn_act *act, float *y) {
    if (act->kind != FN_ACT_CLAMP) {
        if (y != x) memmove(y, x, n * sizeof(float));
        return;
    }
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN; -0.0 stays -0.0
     * under relu (max(0, -0) returns the second operand), as torch */
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
        _mm256_storeu_ps(y + i, _mm256_min_ps(hi, _mm256_max_ps(lo, v0)));
        _mm256_storeu_ps(y + i + 8, _mm256_min_ps(hi, _mm256_max_ps(lo, v1)));
        _mm256_storeu_ps(y + i + 16, _mm256_min_ps(hi, _mm256_max_ps(lo, v2)));
        _mm256_storeu_ps(y + i + 24, _mm256_min_ps(hi, _mm256_max_ps(lo, v3)));
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_loadu_ps(x + i))));
    if (i < n) {
        static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        const __m256i k = _mm256_loadu_si256((const __m256i *)(bits + 8 - (n - i)));
        _mm256_maskstore_ps(y + i, k, _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_maskload_ps(x + i, k))));
    }
}
