/* igemm_avx2.c: indirect-GEMM micro-kernel, AVX2+FMA: an MR x (8*NV) tile of ymm accumulators. */
#include "igemm_generic.h"

#include <immintrin.h>

#define MR FN_IGEMM_MR_avx2
#define NR FN_IGEMM_NR_avx2
_Static_assert(NR % 8 == 0 && NR <= 32 && MR <= 16, "avx2 igemm tile: NR a multiple of 8");

/* y (+ residual) -> clamp -> c. A partial vector (n < 8 lanes) goes through maskload/maskstore so
 * nothing past lane n of res is read or of c written. */
static inline __attribute__((always_inline)) void store_vec(__m256 y, float *c, const float *res,
                                                            size_t n, int clamp, __m256 lo,
                                                            __m256 hi) {
    if (n >= 8) {
        if (res) y = _mm256_add_ps(y, _mm256_loadu_ps(res));
        if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y)); /* NaN in y stays NaN */
        _mm256_storeu_ps(c, y);
    } else {
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        if (res) y = _mm256_add_ps(y, _mm256_maskload_ps(res, mask));
        if (clamp) y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
        _mm256_maskstore_ps(c, mask, y);
    }
}

/* One tile for NV = 1..NR/8 live vectors per row; same structure as igemm_avx512.c. */
static inline __attribute__((always_inline)) void igemm_tile(
    const size_t ROWS, const int NV, size_t mr, size_t nc, size_t kc, size_t ks,
    const float *const *a, const float *w, float *c, size_t ldc, const float *res, size_t ldr,
    const fn_act *act) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 b0 = _mm256_loadu_ps(w);
    __m256 b1 = NV > 1 ? _mm256_loadu_ps(w + 8) : zero;
    __m256 b2 = NV > 2 ? _mm256_loadu_ps(w + 16) : zero;
    __m256 b3 = NV > 3 ? _mm256_loadu_ps(w + 24) : zero;
#define DECL(m) __m256 c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2, c##m##_3 = b3;
    FN_REP(MR, DECL)
#undef DECL
    w += NR;
    for (size_t t = 0; t < ks; t++) {
#define PTR(m) const float *a##m = m < ROWS ? a[t * MR + m] : NULL;
        FN_REP(MR, PTR)
#undef PTR
        for (size_t i = 0; i < kc; i++) {
            b0 = _mm256_loadu_ps(w);
            if (NV > 1) b1 = _mm256_loadu_ps(w + 8);
            if (NV > 2) b2 = _mm256_loadu_ps(w + 16);
            if (NV > 3) b3 = _mm256_loadu_ps(w + 24);
            w += NR;
#define FMA(m)                                                                                     \
    if (m < ROWS) {                                                                                \
        const __m256 av = _mm256_broadcast_ss(a##m + i);                                           \
        c##m##_0 = _mm256_fmadd_ps(av, b0, c##m##_0);                                              \
        if (NV > 1) c##m##_1 = _mm256_fmadd_ps(av, b1, c##m##_1);                                  \
        if (NV > 2) c##m##_2 = _mm256_fmadd_ps(av, b2, c##m##_2);                                  \
        if (NV > 3) c##m##_3 = _mm256_fmadd_ps(av, b3, c##m##_3);                                  \
    }
            FN_REP(MR, FMA)
#undef FMA
        }
    }
    const size_t n1 = nc > 8 ? nc - 8 : 0, n2 = nc > 16 ? nc - 16 : 0, n3 = nc > 24 ? nc - 24 : 0;
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        float *cm = c + m * ldc;                                                                   \
        const float *rm = res ? res + m * ldr : NULL;                                              \
        store_vec(c##m##_0, cm, rm, nc, clamp, lo, hi);                                            \
        if (NV > 1) store_vec(c##m##_1, cm + 8, rm ? rm + 8 : NULL, n1, clamp, lo, hi);            \
        if (NV > 2) store_vec(c##m##_2, cm + 16, rm ? rm + 16 : NULL, n2, clamp, lo, hi);          \
        if (NV > 3) store_vec(c##m##_3, cm + 24, rm ? rm + 24 : NULL, n3, clamp, lo, hi);          \
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
    if (NR > 24 && nc > 24)
        igemm_tile(ROWS, 4, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else if (NR > 16 && nc > 16)
        igemm_tile(ROWS, 3, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else if (NR > 8 && nc > 8)
        igemm_tile(ROWS, 2, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
    else
        igemm_tile(ROWS, 1, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act);
}

void fn_f32_igemm__avx2(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
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
