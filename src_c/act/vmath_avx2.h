/* vmath_avx2.h: the vector vocabulary of vmath_generic.h / act_generic.h for AVX2+FMA (8 floats).
 * Include only from *_avx2.c files. Every helper is static inline always_inline, so no wide code
 * lands in a function without the __avx2 suffix. */
#ifndef FASTNORM_VMATH_AVX2_H
#define FASTNORM_VMATH_AVX2_H
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define FN_VINLINE static inline __attribute__((always_inline))
#define VW 8
typedef __m256 V;   /* 8 floats */
typedef __m256i VI; /* 8 int32 */
typedef __m256 VM;  /* lane mask: all-ones / all-zeros per lane */

FN_VINLINE V vset(float a) { return _mm256_set1_ps(a); }
FN_VINLINE V vload(const float *p) { return _mm256_loadu_ps(p); }
FN_VINLINE void vstore(float *p, V v) { _mm256_storeu_ps(p, v); }
FN_VINLINE __m256i fn_tail_mask_avx2(size_t n) { /* first n lanes, 0 < n < 8 */
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - n));
}
/* Lanes >= n read as 0 and are never written. */
FN_VINLINE V vload_n(const float *p, size_t n) { return _mm256_maskload_ps(p, fn_tail_mask_avx2(n)); }
FN_VINLINE void vstore_n(float *p, size_t n, V v) { _mm256_maskstore_ps(p, fn_tail_mask_avx2(n), v); }
/* Lanes >= n read as `fill`. */
FN_VINLINE V vload_n_fill(const float *p, size_t n, float fill) {
    const __m256i k = fn_tail_mask_avx2(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}

FN_VINLINE V vadd(V a, V b) { return _mm256_add_ps(a, b); }
FN_VINLINE V vsub(V a, V b) { return _mm256_sub_ps(a, b); }
FN_VINLINE V vmul(V a, V b) { return _mm256_mul_ps(a, b); }
FN_VINLINE V vdiv(V a, V b) { return _mm256_div_ps(a, b); }
FN_VINLINE V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }   /* a*b + c, one rounding */
FN_VINLINE V vfnma(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); } /* c - a*b, one rounding */
/* x86 max/min: the SECOND operand is returned when either is NaN. */
FN_VINLINE V vmax(V a, V b) { return _mm256_max_ps(a, b); }
FN_VINLINE V vmin(V a, V b) { return _mm256_min_ps(a, b); }
/* about 1/a to 12 bits (only used to scale a tiny correction term) */
FN_VINLINE V vrcp_approx(V a) { return _mm256_rcp_ps(a); }
FN_VINLINE V vabs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
FN_VINLINE V vcopysign(V mag, V sgn) {
    const V s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sgn));
}
FN_VINLINE V vxor_sign(V a, V sgn) { /* a with its sign flipped where sgn is negative */
    return _mm256_xor_ps(a, _mm256_and_ps(_mm256_set1_ps(-0.0f), sgn));
}

/* Ordered compares: false when either operand is NaN. vunord: true where a or b is NaN. */
FN_VINLINE VM vlt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
FN_VINLINE VM vle(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
FN_VINLINE VM vgt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
FN_VINLINE VM vge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
FN_VINLINE VM veq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
FN_VINLINE VM vunord(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_UNORD_Q); }
FN_VINLINE V vsel(VM m, V a, V b) { return _mm256_blendv_ps(b, a, m); } /* m ? a : b */

FN_VINLINE VI vcvt_f2i(V a) { return _mm256_cvtps_epi32(a); } /* a integral: exact */
FN_VINLINE V vcvt_i2f(VI a) { return _mm256_cvtepi32_ps(a); }
FN_VINLINE VI vbits(V a) { return _mm256_castps_si256(a); }
FN_VINLINE V vfrombits(VI a) { return _mm256_castsi256_ps(a); }
FN_VINLINE VI viset(int32_t a) { return _mm256_set1_epi32(a); }
FN_VINLINE VI viadd(VI a, VI b) { return _mm256_add_epi32(a, b); }
FN_VINLINE VI visub(VI a, VI b) { return _mm256_sub_epi32(a, b); }
#define visra(a, s) _mm256_srai_epi32((a), (s))
#define visll(a, s) _mm256_slli_epi32((a), (s))

FN_VINLINE float vhmax(V a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
FN_VINLINE float vhsum(V a) {
    __m128 m = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#include "vmath_generic.h"
#endif
