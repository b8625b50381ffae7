/* conv_first_avx2.c: first-layer conv micro-kernel, AVX2+FMA: MR pixels of a row x 8*NV outputs. */
#include "conv_first_kernels.h"
#include "igemm_generic.h" /* FN_REP */

#include <immintrin.h>

/* As conv_first_avx512.c: MR, NV and the stride S (0: run-time s) fold after inlining; rows past
 * mr are computed from the padded buffer's slack and not stored; columns past nc are masked. */
static inline __attribute__((always_inline)) void tile(const size_t MR, const int NV, const size_t S,
                                                       size_t s, size_t mr, size_t nc, size_t K,
                                                       const int32_t *off, const float *x,
                                                       const float *w, float *y, size_t ldy,
                                                       const fn_act *act) {
    const size_t st = S ? S : s;
    const size_t NR = 8 * (size_t)NV;
    const __m256 zero = _mm256_setzero_ps();
    __m256 b0 = _mm256_loadu_ps(w);
    __m256 b1 = NV > 1 ? _mm256_loadu_ps(w + 8) : zero;
    __m256 b2 = NV > 2 ? _mm256_loadu_ps(w + 16) : zero;
#define DECL(m) __m256 c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2;
    FN_REP(12, DECL)
#undef DECL
    w += NR;
    for (size_t k = 0; k < K; k++, w += NR) {
        const float *xk = x + off[k];
        b0 = _mm256_loadu_ps(w);
        if (NV > 1) b1 = _mm256_loadu_ps(w + 8);
        if (NV > 2) b2 = _mm256_loadu_ps(w + 16);
#define FMA(m)                                                                                     \
    if (m < MR) {                                                                                  \
        const __m256 av = _mm256_broadcast_ss(xk + m * st);                                        \
        c##m##_0 = _mm256_fmadd_ps(av, b0, c##m##_0);                                              \
        if (NV > 1) c##m##_1 = _mm256_fmadd_ps(av, b1, c##m##_1);                                  \
        if (NV > 2) c##m##_2 = _mm256_fmadd_ps(av, b2, c##m##_2);                                  \
    }
        FN_REP(12, FMA)
#undef FMA
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    /* max(lo, y) then min(hi, .): a NaN y stays NaN, as torch's clamp */
#define ST(m, v)                                                                                   \
    {                                                                                              \
        __m256 r = c##m##_##v;                                                                     \
        if (clamp) r = _mm256_min_ps(hi, _mm256_max_ps(lo, r));                                    \
        float *dst = y + m * ldy + 8 * v;                                                          \
        if (nc >= 8 * (size_t)(v + 1)) {                                                           \
            _mm256_storeu_ps(dst, r);                                                              \
        } else if (nc > 8 * (size_t)v) {                                                           \
            float tmp[8];                                                                          \
            _mm256_storeu_ps(tmp, r);                                                              \
            for (size_t j = 0; j < nc - 8 * (size_t)v; j++) dst[j] = tmp[j];                       \
        }                                                                                          \
    }
#define STORE(m)                                                                                   \
    if (m < MR && m < mr) {                                                                        \
        ST(m, 0)                                                                                   \
        if (NV > 1) ST(m, 1)                                                                       \
        if (NV > 2) ST(m, 2)                                                                       \
    }
    FN_REP(12, STORE)
#undef STORE
#undef ST
}

void fn_f32_conv_first__avx2(size_t nv, size_t s, size_t mr, size_t nc, size_t K,
                             const int32_t *off, const float *x, const float *w, float *y,
                             size_t ldy, const fn_act *act) {
    switch (nv) {
    case 1: FN_CONV_FIRST_STRIDES(12, 1); break;
    case 2: FN_CONV_FIRST_STRIDES(6, 2); break;
    default: FN_CONV_FIRST_STRIDES(4, 3); break;
    }
}
