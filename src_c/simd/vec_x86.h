/* vec_x86.h: the part of the vocabulary that AVX2 and AVX-512 spell alike but for the intrinsic
 * prefix: included by vec_avx2.h / vec_avx512.h after they define V, VI, VM, VD and
 * FN_MM(op) (_mm256_op or _mm512_op) and FN_MM_CMP(a, b, predicate). */
#ifndef FASTNORM_SIMD_VEC_X86_H
#define FASTNORM_SIMD_VEC_X86_H

FN_INLINE V vset(float a) { return FN_MM(set1_ps)(a); }
FN_INLINE V vload(const float *p) { return FN_MM(loadu_ps)(p); }
FN_INLINE void vstore(float *p, V v) { FN_MM(storeu_ps)(p, v); }
FN_INLINE V vzero(void) { return FN_MM(setzero_ps)(); }

FN_INLINE V vadd(V a, V b) { return FN_MM(add_ps)(a, b); }
FN_INLINE V vsub(V a, V b) { return FN_MM(sub_ps)(a, b); }
FN_INLINE V vmul(V a, V b) { return FN_MM(mul_ps)(a, b); }
FN_INLINE V vdiv(V a, V b) { return FN_MM(div_ps)(a, b); }
FN_INLINE V vsqrt(V a) { return FN_MM(sqrt_ps)(a); } /* correctly rounded, as sqrtf */
FN_INLINE V vfma(V a, V b, V c) { return FN_MM(fmadd_ps)(a, b, c); }   /* a*b + c, one rounding */
FN_INLINE V vfms(V a, V b, V c) { return FN_MM(fmsub_ps)(a, b, c); }   /* a*b - c, one rounding */
FN_INLINE V vfnma(V a, V b, V c) { return FN_MM(fnmadd_ps)(a, b, c); } /* c - a*b, one rounding */
/* x86 max/min: the SECOND operand is returned when either is NaN. */
FN_INLINE V vmax(V a, V b) { return FN_MM(max_ps)(a, b); }
FN_INLINE V vmin(V a, V b) { return FN_MM(min_ps)(a, b); }
FN_INLINE V vand(V a, V b) { return FN_MM(and_ps)(a, b); }
FN_INLINE V vabs(V a) { return FN_MM(andnot_ps)(vset(-0.0f), a); }
FN_INLINE V vcopysign(V mag, V sgn) {
    const V s = vset(-0.0f);
    return FN_MM(or_ps)(FN_MM(andnot_ps)(s, mag), FN_MM(and_ps)(s, sgn));
}
FN_INLINE V vxor_sign(V a, V sgn) { /* a with its sign flipped where sgn is negative */
    return FN_MM(xor_ps)(a, FN_MM(and_ps)(vset(-0.0f), sgn));
}

/* Ordered compares: false when either operand is NaN. vunord: true where a or b is NaN. */
FN_INLINE VM vlt(V a, V b) { return FN_MM_CMP(a, b, _CMP_LT_OQ); }
FN_INLINE VM vle(V a, V b) { return FN_MM_CMP(a, b, _CMP_LE_OQ); }
FN_INLINE VM vgt(V a, V b) { return FN_MM_CMP(a, b, _CMP_GT_OQ); }
FN_INLINE VM vge(V a, V b) { return FN_MM_CMP(a, b, _CMP_GE_OQ); }
FN_INLINE VM veq(V a, V b) { return FN_MM_CMP(a, b, _CMP_EQ_OQ); }
FN_INLINE VM vunord(V a, V b) { return FN_MM_CMP(a, b, _CMP_UNORD_Q); }

FN_INLINE VI vcvt_f2i(V a) { return FN_MM(cvtps_epi32)(a); } /* a integral: exact */
FN_INLINE V vcvt_i2f(VI a) { return FN_MM(cvtepi32_ps)(a); }
FN_INLINE VI viset(int32_t a) { return FN_MM(set1_epi32)(a); }
FN_INLINE VI viadd(VI a, VI b) { return FN_MM(add_epi32)(a, b); }
FN_INLINE VI visub(VI a, VI b) { return FN_MM(sub_epi32)(a, b); }
#define visra(a, s) FN_MM(srai_epi32)((a), (s))
#define visll(a, s) FN_MM(slli_epi32)((a), (s))

/* The last steps of vhmax / vhsum, on 4 lanes: the same order in every x86 ISA. */
FN_INLINE float fn_x86_hmax4(__m128 m) {
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
FN_INLINE float fn_x86_hsum4(__m128 m) {
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_add_ss(m, _mm_movehdup_ps(m)));
}
/* t[j] += s[j] for j < n < 8: 4 lanes, then single floats */
FN_INLINE void fn_x86_acc7(float *t, const float *s, size_t n) {
    size_t j = 0;
    if (n >= 4) _mm_storeu_ps(t, _mm_add_ps(_mm_loadu_ps(t), _mm_loadu_ps(s))), j = 4;
    for (; j < n; j++) t[j] += s[j];
}

/* Doubles (the norm family's moments): VW/2 lanes, the low / high half of a V widened. */
FN_INLINE VD vd_zero(void) { return FN_MM(setzero_pd)(); }
FN_INLINE VD vd_set(double a) { return FN_MM(set1_pd)(a); }
FN_INLINE VD vd_add(VD a, VD b) { return FN_MM(add_pd)(a, b); }
FN_INLINE VD vd_sub(VD a, VD b) { return FN_MM(sub_pd)(a, b); }
FN_INLINE VD vd_fma(VD a, VD b, VD c) { return FN_MM(fmadd_pd)(a, b, c); }
FN_INLINE VD vd_load(const double *p) { return FN_MM(loadu_pd)(p); }
FN_INLINE void vd_store(double *p, VD v) { FN_MM(storeu_pd)(p, v); }
#endif
