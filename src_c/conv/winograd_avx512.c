/* winograd_avx512.c: F(4x4, 3x3) input / output transforms, AVX-512F: 16 channels per zmm. */
#include "winograd_kernels.h"

#include <immintrin.h>

#define WV __m512
#define WMASK __mmask16
#define W_ADD _mm512_add_ps
#define W_SUB _mm512_sub_ps
#define W_MUL _mm512_mul_ps
#define W_FMA _mm512_fmadd_ps
#define W_FMS _mm512_fmsub_ps
#define W_FNMA _mm512_fnmadd_ps
#define W_SET1 _mm512_set1_ps
#define W_LOAD(p, k) _mm512_maskz_loadu_ps(k, p)
#define W_STORE(p, v, k) _mm512_mask_storeu_ps(p, k, v)
#include "winograd_tx.h"

static inline __attribute__((always_inline)) __mmask16 lanes(size_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

void fn_f32_wino_input__avx512(size_t c, const float *const *px, float *v, size_t ldv) {
    for (size_t ch = 0; ch < c; ch += 16) wino_in_vec(px, ch, v, ldv, lanes(c - ch));
}

void fn_f32_wino_output__avx512(size_t c, const float *m, size_t ldm, const float *bias,
                                float *const *out, const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const WV lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    for (size_t ch = 0; ch < c; ch += 16) {
        const __mmask16 k = lanes(c - ch);
        WV o[16];
        wino_out_vec(m, ldm, ch, o, k);
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

/* ------------------------------------------------------------------------------------------------
 * GEMM micro-kernel of the 36 products: c[m][j] = sum_i a[m*lda + i] * w[NR + i*NR + j], m < mr,
 * j < nc (w: an igemm panel, its first NR floats the zero bias row).
 * The conv's igemm tile (12 x 32, zmm accumulators, broadcast A) on plain strided rows, plus a
 * prefetch of npf 64-byte lines from pf (the driver's share of the next weight panel for this
 * call), two per k step: the transformed weights (36 x cin x cout) stream from L3 once per block
 * and the kernel would otherwise wait on them (at 256 channels, 16 tiles, ~1.3x faster GEMMs).
 * ---------------------------------------------------------------------------------------------- */
#include "igemm_generic.h"

#define GMR FN_IGEMM_MR_avx512
#define GNR FN_IGEMM_NR_avx512
_Static_assert(GNR == 32, "wino gemm: two zmm per row");

static inline __attribute__((always_inline)) void wino_gemm_tile(
    const size_t ROWS, const int NV, const int PF, size_t mr, size_t nc, size_t kc, const float *a,
    size_t lda, const float *w, float *c, size_t ldc, const float *pf, size_t npf) {
#define DECL(m)                                                                                    \
    __m512 c##m##_0 = _mm512_setzero_ps(), c##m##_1 = _mm512_setzero_ps();                         \
    const float *a##m = a + (m < mr ? m : mr - 1) * lda;
    FN_REP(GMR, DECL)
#undef DECL
    for (size_t i = 0; i < kc; i++) {
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
    const __mmask16 k0 = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1u);
    const __mmask16 k1 = nc >= 32 ? (__mmask16)0xFFFF
                                  : nc > 16 ? (__mmask16)((1u << (nc - 16)) - 1u) : (__mmask16)0;
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        _mm512_mask_storeu_ps(c + m * ldc, k0, c##m##_0);                                          \
        if (NV > 1) _mm512_mask_storeu_ps(c + m * ldc + 16, k1, c##m##_1);                         \
    }
    FN_REP(GMR, STORE)
#undef STORE
}

static inline __attribute__((always_inline)) void wino_gemm_rows(
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
