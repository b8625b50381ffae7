/* conv_first_avx512.c: first-layer conv micro-kernel, AVX-512F: MR pixels of a row x 16*NV outputs. */
#include "conv_first_kernels.h"
#include "igemm_generic.h" /* FN_REP */

#include <immintrin.h>

/* One tile: MR, NV and the stride S (0: the run-time s) are constants after inlining, so pixel m's
 * input is xk[m*S], an immediate displacement from one pointer per tap. Rows mr..MR-1 are computed
 * from the padded buffer's slack and not stored; columns past nc are masked. */
static inline __attribute__((always_inline)) void tile(const size_t MR, const int NV, const size_t S,
                                                       size_t s, size_t mr, size_t nc, size_t K,
                                                       const int32_t *off, const float *x,
                                                       const float *w, float *y, size_t ldy,
                                                       const fn_act *act) {
    const size_t st = S ? S : s;
    const size_t NR = 16 * (size_t)NV;
    const __m512 zero = _mm512_setzero_ps();
    __m512 b0 = _mm512_loadu_ps(w);
    __m512 b1 = NV > 1 ? _mm512_loadu_ps(w + 16) : zero;
    __m512 b2 = NV > 2 ? _mm512_loadu_ps(w + 32) : zero;
    __m512 b3 = NV > 3 ? _mm512_loadu_ps(w + 48) : zero;
#define DECL(m) __m512 c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2, c##m##_3 = b3;
    FN_REP(16, DECL)
#undef DECL
    w += NR;
    for (size_t k = 0; k < K; k++, w += NR) {
        const float *xk = x + off[k];
        b0 = _mm512_loadu_ps(w);
        if (NV > 1) b1 = _mm512_loadu_ps(w + 16);
        if (NV > 2) b2 = _mm512_loadu_ps(w + 32);
        if (NV > 3) b3 = _mm512_loadu_ps(w + 48);
#define FMA(m)                                                                                     \
    if (m < MR) {                                                                                  \
        const __m512 av = _mm512_set1_ps(xk[m * st]);                                              \
        c##m##_0 = _mm512_fmadd_ps(av, b0, c##m##_0);                                              \
        if (NV > 1) c##m##_1 = _mm512_fmadd_ps(av, b1, c##m##_1);                                  \
        if (NV > 2) c##m##_2 = _mm512_fmadd_ps(av, b2, c##m##_2);                                  \
        if (NV > 3) c##m##_3 = _mm512_fmadd_ps(av, b3, c##m##_3);                                  \
    }
        FN_REP(16, FMA)
#undef FMA
    }
    __mmask16 km[4];
    for (int v = 0; v < 4; v++) {
        const size_t left = nc > 16 * (size_t)v ? nc - 16 * (size_t)v : 0;
        km[v] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    /* max(lo, y) then min(hi, .): a NaN y stays NaN, as torch's clamp */
#define ST(m, v)                                                                                   \
    {                                                                                              \
        __m512 r = c##m##_##v;                                                                     \
        if (clamp) r = _mm512_min_ps(hi, _mm512_max_ps(lo, r));                                    \
        _mm512_mask_storeu_ps(y + m * ldy + 16 * v, km[v], r);                                     \
    }
#define STORE(m)                                                                                   \
    if (m < MR && m < mr) {                                                                        \
        ST(m, 0)                                                                                   \
        if (NV > 1) ST(m, 1)                                                                       \
        if (NV > 2) ST(m, 2)                                                                       \
        if (NV > 3) ST(m, 3)                                                                       \
    }
    FN_REP(16, STORE)
#undef STORE
#undef ST
}

void fn_f32_conv_first__avx512(size_t nv, size_t s, size_t mr, size_t nc, size_t K,
                               const int32_t *off, const float *x, const float *w, float *y,
                               size_t ldy, const fn_act *act) {
    switch (nv) {
    case 1: FN_CONV_FIRST_STRIDES(16, 1); break;
    case 2: FN_CONV_FIRST_STRIDES(12, 2); break;
    case 3: FN_CONV_FIRST_STRIDES(8, 3); break;
    default: FN_CONV_FIRST_STRIDES(6, 4); break;
    }
}
