/* igemm_avx2.c: indirect-GEMM micro-kernel, AVX2+FMA: an MR x (8*NV) tile of ymm accumulators. */
#include "../kernels.h"

#include <immintrin.h>

#define MR FN_IGEMM_MR_avx2
#define NR FN_IGEMM_NR_avx2
_Static_assert(NR % 8 == 0 && NR <= 32 && MR <= 16, "avx2 igemm tile: NR a multiple of 8");

/* Lane j of the result is all-ones when j < n (n clamped to 0..8): a maskload/maskstore mask. */
static inline __attribute__((always_inline)) __m256i lanes_below(size_t n) {
    const int k = n > 8 ? 8 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* One tile for NV = 1..NR/8 vectors (see igemm_avx512.c: same structure, ymm instead of zmm). */
static inline __attribute__((always_inline)) void igemm_tile(size_t NV, size_t mr, size_t nc, size_t kc,
                                                             size_t ks, const float *const *a,
                                                             const float *w, float *c, size_t ldc,
                                                             const float *res, size_t ldr,
                                                             const fn_act *act) {
    __m256 acc[MR][NR / 8];
    for (size_t v = 0; v < NV; v++) {
        const __m256 b = _mm256_loadu_ps(w + 8 * v);
        for (size_t m = 0; m < MR; m++) acc[m][v] = b;
    }
    w += NR;
    for (size_t t = 0; t < ks; t++) {
        const float *ap[MR];
        for (size_t m = 0; m < MR; m++) ap[m] = a[t * MR + m];
        for (size_t i = 0; i < kc; i++) {
            __m256 b[NR / 8];
            for (size_t v = 0; v < NV; v++) b[v] = _mm256_loadu_ps(w + 8 * v);
            w += NR;
            for (size_t m = 0; m < MR; m++) {
                const __m256 av = _mm256_broadcast_ss(ap[m] + i);
                for (size_t v = 0; v < NV; v++) acc[m][v] = _mm256_fmadd_ps(av, b[v], acc[m][v]);
            }
        }
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    if (nc == 8 * NV) {
        for (size_t m = 0; m < MR; m++) {
            if (m >= mr) break;
            for (size_t v = 0; v < NV; v++) {
                __m256 y = acc[m][v];
                if (res) y = _mm256_add_ps(y, _mm256_loadu_ps(res + m * ldr + 8 * v));
                if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y)); /* NaN in y stays NaN */
                _mm256_storeu_ps(c + m * ldc + 8 * v, y);
            }
        }
        return;
    }
    __m256i mask[NR / 8];
    for (size_t v = 0; v < NV; v++) mask[v] = lanes_below(nc > 8 * v ? nc - 8 * v : 0);
    for (size_t m = 0; m < MR; m++) {
        if (m >= mr) break;
        for (size_t v = 0; v < NV; v++) {
            __m256 y = acc[m][v];
            if (res) y = _mm256_add_ps(y, _mm256_maskload_ps(res + m * ldr + 8 * v, mask[v]));
            if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
            _mm256_maskstore_ps(c + m * ldc + 8 * v, mask[v], y);
        }
    }
}

void fn_f32_igemm__avx2(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                        const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                        const fn_act *act) {
    /* Narrow output panels skip the all-zero weight columns. */
#if NR >= 32
    if (nc > 24) {
        igemm_tile(4, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
#if NR >= 24
    if (nc > 16) {
        igemm_tile(3, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
#if NR >= 16
    if (nc > 8) {
        igemm_tile(2, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
    igemm_tile(1, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
}
