/* act_avx512.c: elementwise clamp activation (relu, relu6), AVX-512F. */
#include "../kernels.h"

#include <immintrin.h>
#include <string.h>

/* x, y: (n,); y may alias x */
void fn_f32_act__avx512(size_t n, const float *x, const fn_act *act, float *y) {
    if (act->kind != FN_ACT_CLAMP) {
        if (y != x) memmove(y, x, n * sizeof(float));
        return;
    }
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN; -0.0 stays -0.0
     * under relu (max(0, -0) returns the second operand), as torch */
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
        _mm512_storeu_ps(y + i, _mm512_min_ps(hi, _mm512_max_ps(lo, v0)));
        _mm512_storeu_ps(y + i + 16, _mm512_min_ps(hi, _mm512_max_ps(lo, v1)));
        _mm512_storeu_ps(y + i + 32, _mm512_min_ps(hi, _mm512_max_ps(lo, v2)));
        _mm512_storeu_ps(y + i + 48, _mm512_min_ps(hi, _mm512_max_ps(lo, v3)));
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_loadu_ps(x + i))));
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(y + i, k, _mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_maskz_loadu_ps(k, x + i))));
    }
}
