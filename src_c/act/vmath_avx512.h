/* vmath_avx512.h: the vector vocabulary of vmath_generic.h / act_generic.h for AVX-512 F/DQ (16
 * floats). Include only from *_avx512.c files. Every helper is static inline always_inline, so no
 * wide code lands in a function without the __avx512 suffix. */
#ifndef FASTNORM_VMATH_AVX512_H
#define FASTNORM_VMATH_AVX512_H
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define FN_VINLINE static inline __attribute__((always_inline))
#define VW 16
typedef __m512 V;     /* 16 floats */
typedef __m512i VI;   /* 16 int32 */
typedef __mmask16 VM; /* lane mask */

FN_VINLINE V vset(float a) { return _mm512_set1_ps(a); }
FN_VINLINE V vload(const float *p) { return _mm512_loadu_ps(p); }
FN_VINLINE void vstore(float *p, V v) { _mm512_storeu_ps(p, v); }
/* Lanes >= n read as 0 and are never written (masked: no fault past the end). */
FN_VINLINE V vload_n(const float *p, size_t n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p); }
FN_VINLINE void vstore_n(float *p, size_t n, V v) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), v); }
FN_VINLINE V vload_n_fill(const float *p, size_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1u), p);
}

FN_VINLINE V vadd(V a, V b) { return _mm512_add_ps(a, b); }
FN_VINLINE V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
FN_VINLINE V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
FN_VINLINE V vdiv(V a, V b) { return _mm512_div_ps(a, b); }
FN_VINLINE V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
FN_VINLINE V vfnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
/* x86 max/min: the SECOND operand is returned when either is NaN. */
FN_VINLINE V vmax(V a, V b) { return _mm512_max_ps(a, b); }
FN_VINLINE V vmin(V a, V b) { return _mm512_min_ps(a, b); }
FN_VINLINE V vrcp_approx(V a) { return _mm512_rcp14_ps(a); }
FN_VINLINE V vabs(V a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a); }
FN_VINLINE V vcopysign(V mag, V sgn) {
    const V s = _mm512_set1_ps(-0.0f);
    return _mm512_or_ps(_mm512_andnot_ps(s, mag), _mm512_and_ps(s, sgn));
}
FN_VINLINE V vxor_sign(V a, V sgn) { return _mm512_xor_ps(a, _mm512_and_ps(_mm512_set1_ps(-0.0f), sgn)); }

FN_VINLINE VM vlt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
FN_VINLINE VM vle(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
FN_VINLINE VM vgt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
FN_VINLINE VM vge(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
FN_VINLINE VM veq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
FN_VINLINE VM vunord(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
FN_VINLINE V vsel(VM m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); } /* m ? a : b */

FN_VINLINE VI vcvt_f2i(V a) { return _mm512_cvtps_epi32(a); }
FN_VINLINE V vcvt_i2f(VI a) { return _mm512_cvtepi32_ps(a); }
FN_VINLINE VI vbits(V a) { return _mm512_castps_si512(a); }
FN_VINLINE V vfrombits(VI a) { return _mm512_castsi512_ps(a); }
FN_VINLINE VI viset(int32_t a) { return _mm512_set1_epi32(a); }
FN_VINLINE VI viadd(VI a, VI b) { return _mm512_add_epi32(a, b); }
FN_VINLINE VI visub(VI a, VI b) { return _mm512_sub_epi32(a, b); }
#define visra(a, s) _mm512_srai_epi32((a), (s))
#define visll(a, s) _mm512_slli_epi32((a), (s))

FN_VINLINE float vhmax(V a) {
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
FN_VINLINE float vhsum(V a) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m128 m = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#include "vmath_generic.h"
#endif
