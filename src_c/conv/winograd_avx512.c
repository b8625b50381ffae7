/* winograd_avx512.c: F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 3x3) transforms, AVX-512F, 16 channels per
 * zmm (winograd_simd.h), and the GEMM of the products with its weight prefetch. */
#include "../simd/vec_avx512.h"
#include "winograd_kernels.h"
#include "winograd_simd.h"

/* ------------------------------------------------------------------------------------------------
 * GEMM micro-kernel of the 36 products: c[m][j] = sum_i a[m*lda + i] * w[NR + i*NR + j], m < mr,
 * j < nc (w: an igemm panel, its first NR floats the zero bias row).
 * The conv's igemm tile (12 x 32, zmm accumulators, broadcast A) on plain strided rows, K summed in
 * blocks of FN_WINO_KB added to c (as winograd_gemm_simd.h, which says why), plus a
 * prefetch of npf 64-byte lines from pf (the driver's share of the next weight panel for this
 * call), two per k step: the transformed weights (36 x cin x cout) stream from L3 once per block
 * and the kernel would otherwise wait on them (at 256 channels, 16 tiles, ~1.3x faster GEMMs).
 * ---------------------------------------------------------------------------------------------- */
#include "igemm_generic.h"

#define GMR FN_IGEMM_MR_avx512
#define GNR FN_IGEMM_NR_avx512
_Static_assert(GNR == 32, "wino gemm: two zmm per row");

FN_INLINE void wino_gemm_tile(
    const size_t ROWS, const int NV, const int PF, size_t mr, size_t nc, size_t kc, const float *a,
    size_t lda, const float *w, float *c, size_t ldc, const float *pf, size_t npf) {
#define DECL(m)                                                                                    \
    __m512 c##m##_0, c##m##_1;                                                                     \
    const float *a##m = a + (m < mr ? m : mr - 1) * lda;
    FN_REP(GMR, DECL)
#undef DECL
    const __mmask16 k0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1u);
    const __mmask16 k1 = nc >= 32 ? (__mmask16)0xFFFF
                                  : nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1u) : (__mmask16)0;
    /* K in blocks of FN_WINO_KB, each summed from zero, then added to c (winograd_gemm_simd.h) */
    for (size_t kb = 0; kb < kc; kb += FN_WINO_KB) { /* kc = cin >= 1 */
        const size_t ke = kc - kb < FN_WINO_KB ? kc : kb + FN_WINO_KB;
#define ZERO(m) c##m##_0 = _mm512_setzero_ps(), c##m##_1 = _mm512_setzero_ps();
        FN_REP(GMR, ZERO)
#undef ZERO
        for (size_t i = kb; i < ke; i++) {
            const __m512 b0 = _mm512_loadu_ps(w);
            const __m512 b1 = NV > 1 ? _mm512_loadu_ps(w + 16) : _mm512_setzero_ps();
            if (PF && 2 * i < npf) { /* two lines per k step, npf lines in all */
                _mm_prefetch((const char *)(pf + 32 * i), _MM_HINT_T0);
                if (2 * i + 1 < npf) _mm_prefetch((const char *)(pf + 32 * i + 16), _MM_HINT_T0);
            }
            w += GNR;
#define FMA(m)                                                                                     \
    if (m < ROWS) {                                                                                \
        const __m512 av = _mm512_set1_ps(a##m[i]);                                                 \
        c##m##_0 = _mm512_fmadd_ps(av, b0, c##m##_0);                                              \
        if (NV > 1) c##m##_1 = _mm512_fmadd_ps(av, b1, c##m##_1);                                  \
    }
            FN_REP(GMR, FMA)
#undef FMA
        }
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        float *cm = c + m * ldc;                                                                   \
        if (kb) c##m##_0 = _mm512_add_ps(_mm512_maskz_loadu_ps(k0, cm), c##m##_0);                 \
        _mm512_mask_storeu_ps(cm, k0, c##m##_0);                                                   \
        if (NV > 1) {                                                                              \
            if (kb) c##m##_1 = _mm512_add_ps(_mm512_maskz_loadu_ps(k1, cm + 16), c##m##_1);        \
            _mm512_mask_storeu_ps(cm + 16, k1, c##m##_1);                                          \
        }                                                                                          \
    }
        FN_REP(GMR, STORE)
#undef STORE
    }
}

FN_INLINE void wino_gemm_rows(
    const size_t ROWS, size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
    const float *w, float *c, size_t ldc, const float *pf, size_t npf) {
    if (nc > 16) {
        if (pf)
            wino_gemm_tile(ROWS, 2, 1, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
        else
            wino_gemm_tile(ROWS, 2, 0, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
    } else {
        if (pf)
            wino_gemm_tile(ROWS, 1, 1, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
        else
            wino_gemm_tile(ROWS, 1, 0, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
    }
}

void fn_f32_wino_gemm__avx512(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                              const float *w, float *c, size_t ldc, const float *pf, size_t npf) {
    w += GNR;
    if (mr <= 4)
        wino_gemm_rows(4, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
    else
        wino_gemm_rows(GMR, mr, nc, kc, a, lda, w, c, ldc, pf, npf);
}
#include "winograd1d_kernels.h"
#include "winograd1d_simd.h" /* the 1-D Winograd transforms (winograd1d.c) on this ISA */
