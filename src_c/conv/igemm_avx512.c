/* igemm_avx512.c: indirect-GEMM micro-kernel, AVX-512F: an MR x (16*NV) tile of zmm registers. */
#include "igemm_generic.h"

#include <immintrin.h>

/* The weight panel is read once per k-step, 4*NR bytes; the first tile to meet a panel streams it
 * from DRAM (ResNet-50's layer4 convs hold 4-9 MB of weights each). Asking for the line 1 KiB
 * ahead costs a load slot (15 of the 24 a k-step's 12 cycles offer are in use) and keeps more
 * misses in flight than the hardware prefetcher alone: ResNet-50 batch 1, 1 thread, medians of
 * 15-20 predicts, alternating builds: 68.7 -> 66.7, 71.1 -> 64.4, 67.0 -> 64.7 ms; ResNet-18 flat
 * (25.3 / 25.0 -> 24.4 / 24.8 ms). 4 KiB ahead measured the same as 1 KiB. */
#define FN_IGEMM_PREFETCH_FLOATS 256
#define MR FN_IGEMM_MR_avx512
#define NR FN_IGEMM_NR_avx512
_Static_assert(NR % 16 == 0 && NR <= 64 && MR <= 16, "avx512 igemm tile: NR a multiple of 16");

/* y (+ residual) -> clamp -> c, lanes outside `mask` neither read from res nor written. */
static inline __attribute__((always_inline)) void store_vec(__m512 y, float *c, const float *res,
                                                            __mmask16 mask, int clamp, __m512 lo,
                                                            __m512 hi) {
    if (res) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, res));
    if (clamp) y = _mm512_min_ps(hi, _mm512_max_ps(lo, y)); /* NaN in y stays NaN */
    _mm512_mask_storeu_ps(c, mask, y);
}

/* One tile for NV = 1..NR/16 live vectors per row (a constant after inlining: the NV > k tests
 * fold away). Rows mr..ROWS-1 are computed (their pointers are valid) but not stored; columns
 * past nc hold zero-padded weights and are masked out of res loads and c stores. Each res element
 * is read before the same element of c is written, so res may be c (an in-place residual add). */
static inline __attribute__((always_inline)) void igemm_tile(
    const size_t ROWS, const int NV, size_t mr, size_t nc, size_t kc, size_t ks,
    const float *const *a, const float *w, float *c, size_t ldc, const float *res, size_t ldr,
    const fn_act *act) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 b0 = _mm512_loadu_ps(w);
    __m512 b1 = NV > 1 ? _mm512_loadu_ps(w + 16) : zero;
    __m512 b2 = NV > 2 ? _mm512_loadu_ps(w + 32) : zero;
    __m512 b3 = NV > 3 ? _mm512_loadu_ps(w + 48) : zero;
#define DECL(m) __m512 c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2, c##m##_3 = b3;
    FN_REP(MR, DECL)
#undef DECL
    w += NR;
    for (size_t t = 0; t < ks; t++) {
#define PTR(m) const float *a##m = m < ROWS ? a[t * MR + m] : NULL;
        FN_REP(MR, PTR)
#undef PTR
        for (size_t i = 0; i < kc; i++) {
            _mm_prefetch((const char *)(w + FN_IGEMM_PREFETCH_FLOATS), _MM_HINT_T0);
            b0 = _mm512_loadu_ps(w);
            if (NV > 1) b1 = _mm512_loadu_ps(w + 16);
            if (NV > 2) b2 = _mm512_loadu_ps(w + 32);
            if (NV > 3) b3 = _mm512_loadu_ps(w + 48);
            w += NR;
#define FMA(m)                                                                                     \
    if (m < ROWS) {                                                                                \
        const __m512 av = _mm512_set1_ps(a##m[i]);                                                 \
        c##m##_0 = _mm512_fmadd_ps(av, b0, c##m##_0);                                              \
        if (NV > 1) c##m##_1 = _mm512_fmadd_ps(av, b1, c##m##_1);                                  \
        if (NV > 2) c##m##_2 = _mm512_fmadd_ps(av, b2, c##m##_2);                                  \
        if (NV > 3) c##m##_3 = _mm512_fmadd_ps(av, b3, c##m##_3);                                  \
    }
            FN_REP(MR, FMA)
#undef FMA
        }
    }
    __mmask16 k[4];
    for (int v = 0; v < 4; v++) {
        const size_t left = nc > 16 * (size_t)v ? nc - 16 * (size_t)v : 0;
        k[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        float *cm = c + m * ldc;                                                                   \
        const float *rm = res ? res + m * ldr : NULL;                                              \
        store_vec(c##m##_0, cm, rm, k[0], clamp, lo, hi);                                          \
        if (NV > 1) store_vec(c##m##_1, cm + 16, rm ? rm + 16 : NULL, k[1], clamp, lo, hi);        \
        if (NV > 2) store_vec(c##m##_2, cm + 32, rm ? rm + 32 : NULL, k[2], clamp, lo, hi);        \
        if (NV > 3) store_vec(c##m##_3, cm + 48, rm ? rm + 48 : NULL, k[3], clamp, lo, hi);        \
    }
    FN_REP(MR, STORE)
#undef STORE
}

/* One tile shape: ROWS rows (MR, or fewer for a short last tile / batch-1 linear), NV vectors. */
static inline __attribute__((always_inline)) void igemm_nv(size_t ROWS, size_t mr, size_t nc,
                                                           size_t kc, size_t ks,
                                                           const float *const *a, const float *w,
                                                           float *c, size_t ldc, const float *res,
                                                           size_t ldr, const fn_act *act) {
    /* Narrow output panels (cout % NR, or cout < NR) skip the all-zero weight columns. */
    if (NR > 48 && nc > 48)
        igemm_tile(ROWS, 4, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else if (NR > 32 && nc > 32)
        igemm_tile(ROWS, 3, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else if (NR > 16 && nc > 16)
        igemm_tile(ROWS, 2, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else
        igemm_tile(ROWS, 1, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
}

void fn_f32_igemm__avx512(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    /* A short tile computes only the rows it stores: M = 1 (batch-1 linear) would otherwise do
     * MR times the FMAs it needs. */
    if (mr == 1)
        igemm_nv(1, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else if (mr <= 4 && MR > 4)
        igemm_nv(4, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else
        igemm_nv(MR, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
}
