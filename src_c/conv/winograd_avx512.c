/* winograd_avx512.c: F(4x4, 3x3) input / output transforms, AVX-512F: 16 channels per zmm. */
#include "winograd_kernels.h"

#include <immintrin.h>

#define WV __m512
#define W_ADD _mm512_add_ps
#define W_SUB _mm512_sub_ps
#define W_MUL _mm512_mul_ps
#define W_FMA _mm512_fmadd_ps
#define W_SET1 _mm512_set1_ps
#include "winograd_tx.h"

static inline __attribute__((always_inline)) __mmask16 lanes(size_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

void fn_f32_wino_input__avx512(size_t c, const float *const *px, float *v, size_t ldv) {
    for (size_t ch = 0; ch < c; ch += 16) {
        const __mmask16 k = lanes(c - ch);
        WV d[36], o[36];
        for (int q = 0; q < 36; q++) d[q] = _mm512_maskz_loadu_ps(k, px[q] + ch);
        wino_in_tile(d, o);
        for (int q = 0; q < 36; q++) _mm512_mask_storeu_ps(v + q * ldv + ch, k, o[q]);
    }
}

void fn_f32_wino_output__avx512(size_t c, const float *m, size_t ldm, const float *bias,
                                float *const *out, const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const WV lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    for (size_t ch = 0; ch < c; ch += 16) {
        const __mmask16 k = lanes(c - ch);
        WV t[36], o[16];
        for (int q = 0; q < 36; q++) t[q] = _mm512_maskz_loadu_ps(k, m + q * ldm + ch);
        wino_out_tile(t, o);
        const WV b = _mm512_maskz_loadu_ps(k, bias + ch);
        for (int q = 0; q < 16; q++) {
            if (!out[q]) continue;
            WV y = _mm512_add_ps(o[q], b);
            if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(k, res[q] + ch));
            if (clamp) y = _mm512_min_ps(hi, _mm512_max_ps(lo, y)); /* NaN in y stays NaN */
            _mm512_mask_storeu_ps(out[q] + ch, k, y);
        }
    }
}
