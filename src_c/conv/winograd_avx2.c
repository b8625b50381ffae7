/* winograd_avx2.c: F(4x4, 3x3) input / output transforms, AVX2+FMA: 8 channels per ymm. Full
 * vectors take plain loads/stores, the channel tail maskload/maskstore. */
#include "winograd_kernels.h"

#include <immintrin.h>

#define WV __m256
#define W_ADD _mm256_add_ps
#define W_SUB _mm256_sub_ps
#define W_MUL _mm256_mul_ps
#define W_FMA _mm256_fmadd_ps
#define W_FMS _mm256_fmsub_ps
#define W_FNMA _mm256_fnmadd_ps
#define W_SET1 _mm256_set1_ps

/* full vectors */
#define WMASK int
#define W_LOAD(p, k) _mm256_loadu_ps(p)
#define W_STORE(p, v, k) _mm256_storeu_ps(p, v)
#define wino_in_vec wino_in_vec_full
#define wino_out_vec wino_out_vec_full
#include "winograd_tx.h"
#undef wino_in_vec
#undef wino_out_vec
#undef WMASK
#undef W_LOAD
#undef W_STORE
#undef FASTNORM_WINOGRAD_TX_H

/* the tail: lanes outside the mask neither read nor written */
#define WMASK __m256i
#define W_LOAD(p, k) _mm256_maskload_ps(p, k)
#define W_STORE(p, v, k) _mm256_maskstore_ps(p, k, v)
#define wino_in_1d wino_in_1d_tail
#define wino_out_1d wino_out_1d_tail
#include "winograd_tx.h"

static inline __attribute__((always_inline)) __m256i lanes(size_t left) {
    const int n = left >= 8 ? 8 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void fn_f32_wino_input__avx2(size_t c, const float *const *px, float *v, size_t ldv) {
    size_t ch = 0;
    for (; ch + 8 <= c; ch += 8) wino_in_vec_full(px, ch, v, ldv, 0);
    if (ch < c) wino_in_vec(px, ch, v, ldv, lanes(c - ch));
}

static inline __attribute__((always_inline)) void store_out(__m256 y, __m256 b, float *out,
                                                            const float *res, int full, __m256i k,
                                                            int clamp, __m256 lo, __m256 hi) {
    y = _mm256_add_ps(y, b);
    if (res) y = _mm256_add_ps(y, full ? _mm256_loadu_ps(res) : _mm256_maskload_ps(res, k));
    if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y)); /* NaN in y stays NaN */
    if (full)
        _mm256_storeu_ps(out, y);
    else
        _mm256_maskstore_ps(out, k, y);
}

void fn_f32_wino_output__avx2(size_t c, const float *m, size_t ldm, const float *bias,
                              float *const *out, const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const WV lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    for (size_t ch = 0; ch < c; ch += 8) {
        const int full = ch + 8 <= c;
        const __m256i k = lanes(c - ch);
        WV o[16];
        if (full)
            wino_out_vec_full(m, ldm, ch, o, 0);
        else
            wino_out_vec(m, ldm, ch, o, k);
        const WV b = full ? _mm256_loadu_ps(bias + ch) : _mm256_maskload_ps(bias + ch, k);
        for (int q = 0; q < 16; q++)
            if (out[q])
                store_out(o[q], b, out[q] + ch, res ? res[q] + ch : NULL, full, k, clamp, lo, hi);
    }
}

/* The 36 GEMMs on the conv's igemm micro-kernel (ks = 1, its bias row the panel's zero row). */
void fn_f32_wino_gemm__avx2(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                            const float *w, float *c, size_t ldc, const float *pf,
                            size_t npf) {
    (void)pf, (void)npf;
    const float *rows[FN_IGEMM_MR_avx2];
    for (size_t r = 0; r < FN_IGEMM_MR_avx2; r++) rows[r] = a + (r < mr ? r : mr - 1) * lda;
    const fn_act none = {FN_ACT_NONE, 0.0f, 0.0f};
    fn_f32_igemm__avx2(mr, nc, kc, 1, rows, w, c, ldc, NULL, 0, &none);
}
