/* winograd_avx2.c: F(4x4, 3x3) input / output transforms, AVX2+FMA: 8 channels per ymm. */
#include "winograd_kernels.h"

#include <immintrin.h>

#define WV __m256
#define W_ADD _mm256_add_ps
#define W_SUB _mm256_sub_ps
#define W_MUL _mm256_mul_ps
#define W_FMA _mm256_fmadd_ps
#define W_SET1 _mm256_set1_ps
#include "winograd_tx.h"

static inline __attribute__((always_inline)) __m256i lanes(size_t left) {
    const int n = left >= 8 ? 8 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void fn_f32_wino_input__avx2(size_t c, const float *const *px, float *v, size_t ldv) {
    size_t ch = 0;
    WV d[36], o[36];
    for (; ch + 8 <= c; ch += 8) {
        for (int q = 0; q < 36; q++) d[q] = _mm256_loadu_ps(px[q] + ch);
        wino_in_tile(d, o);
        for (int q = 0; q < 36; q++) _mm256_storeu_ps(v + q * ldv + ch, o[q]);
    }
    if (ch < c) { /* masked tail: nothing past channel c is read or written */
        const __m256i k = lanes(c - ch);
        for (int q = 0; q < 36; q++) d[q] = _mm256_maskload_ps(px[q] + ch, k);
        wino_in_tile(d, o);
        for (int q = 0; q < 36; q++) _mm256_maskstore_ps(v + q * ldv + ch, k, o[q]);
    }
}

void fn_f32_wino_output__avx2(size_t c, const float *m, size_t ldm, const float *bias,
                              float *const *out, const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const WV lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    for (size_t ch = 0; ch < c; ch += 8) {
        const __m256i k = lanes(c - ch);
        WV t[36], o[16];
        for (int q = 0; q < 36; q++) t[q] = _mm256_maskload_ps(m + q * ldm + ch, k);
        wino_out_tile(t, o);
        const WV b = _mm256_maskload_ps(bias + ch, k);
        for (int q = 0; q < 16; q++) {
            if (!out[q]) continue;
            WV y = _mm256_add_ps(o[q], b);
            if (res) y = _mm256_add_ps(y, _mm256_maskload_ps(res[q] + ch, k));
            if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y)); /* NaN in y stays NaN */
            _mm256_maskstore_ps(out[q] + ch, k, y);
        }
    }
}
