/* igemm_avx512.c: indirect-GEMM micro-kernel, AVX-512F: an MR x (16*NV) tile of zmm accumulators. */
#include "../kernels.h"

#include <immintrin.h>

#define MR FN_IGEMM_MR_avx512
#define NR FN_IGEMM_NR_avx512
_Static_assert(NR % 16 == 0 && NR <= 64 && MR <= 16, "avx512 igemm tile: NR a multiple of 16");

/* One tile, written once for NV = 1..NR/16 vectors; constant MR and NV let gcc unroll the m and v
 * loops and keep acc in registers. Rows mr..MR-1 are computed (their pointers are valid) but not
 * stored; columns past nc are zero-padded weights, masked out of the loads of res and stores of c. */
static inline __attribute__((always_inline)) void igemm_tile(size_t NV, size_t mr, size_t nc, size_t kc,
                                                             size_t ks, const float *const *a,
                                                             const float *w, float *c, size_t ldc,
                                                             const float *res, size_t ldr,
                                                             const fn_act *act) {
    __m512 acc[MR][NR / 16];
    for (size_t v = 0; v < NV; v++) {
        const __m512 b = _mm512_loadu_ps(w + 16 * v);
        for (size_t m = 0; m < MR; m++) acc[m][v] = b;
    }
    w += NR;
    for (size_t t = 0; t < ks; t++) {
        const float *ap[MR];
        for (size_t m = 0; m < MR; m++) ap[m] = a[t * MR + m];
        for (size_t i = 0; i < kc; i++) {
            __m512 b[NR / 16];
            for (size_t v = 0; v < NV; v++) b[v] = _mm512_loadu_ps(w + 16 * v);
            w += NR;
            for (size_t m = 0; m < MR; m++) {
                const __m512 av = _mm512_set1_ps(ap[m][i]);
                for (size_t v = 0; v < NV; v++) acc[m][v] = _mm512_fmadd_ps(av, b[v], acc[m][v]);
            }
        }
    }
    __mmask16 mask[NR / 16];
    for (size_t v = 0; v < NV; v++) {
        const size_t left = nc > 16 * v ? nc - 16 * v : 0;
        mask[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    for (size_t m = 0; m < MR; m++) {
        if (m >= mr) break;
        for (size_t v = 0; v < NV; v++) {
            __m512 y = acc[m][v];
            if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask[v], res + m * ldr + 16 * v));
            if (clamp) y = _mm512_min_ps(hi, _mm512_max_ps(lo, y)); /* NaN in y stays NaN */
            _mm512_mask_storeu_ps(c + m * ldc + 16 * v, mask[v], y);
        }
    }
}

void fn_f32_igemm__avx512(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    /* Narrow output panels (cout % NR, or cout < NR) skip the all-zero weight columns. */
#if NR >= 64
    if (nc > 48) {
        igemm_tile(4, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
#if NR >= 48
    if (nc > 32) {
        igemm_tile(3, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
#if NR >= 32
    if (nc > 16) {
        igemm_tile(2, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
        return;
    }
#endif
    igemm_tile(1, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
}
