/* vec_neon.h: the SIMD vocabulary for AArch64 ASIMD ("NEON", 4 floats a vector). The same names as
 * vec_scalar.h, vec_avx2.h and vec_avx512.h. Include only from *_neon.c files (compiled for aarch64
 * only; ASIMD is baseline on ARMv8-A, so they need no flag and the CPU no run-time check).
 *
 * Two things NEON spells differently from x86, kept to x86's meaning here so the templates' results
 * do not depend on the ISA:
 * - vmax / vmin return the SECOND operand when either is NaN (fmax / fmin would return NaN);
 * - there are no masked loads / stores: a lane mask VK is the count n of leading lanes, and a
 *   partial vector goes through a 4-float buffer (no access past the n floats; tails only). */
#ifndef FASTNORM_SIMD_VEC_H
#define FASTNORM_SIMD_VEC_H
#include <arm_neon.h>
#include <string.h>

#include "common.h"

#define FN_ISA neon
#define VW 4
typedef float32x4_t V;   /* 4 floats */
typedef int32x4_t VI;    /* 4 int32 */
typedef uint32x4_t VM;   /* compare result: all-ones / all-zeros per lane */
typedef size_t VK;       /* load/store lane mask: the first VK lanes (vmask_n) */
typedef float64x2_t VD;  /* VW/2 doubles */

FN_INLINE V vset(float a) { return vdupq_n_f32(a); }
FN_INLINE V vload(const float *p) { return vld1q_f32(p); }
FN_INLINE void vstore(float *p, V v) { vst1q_f32(p, v); }
FN_INLINE V vzero(void) { return vdupq_n_f32(0.0f); }
FN_INLINE V vbroadcast(const float *p) { return vld1q_dup_f32(p); }

/* The first n lanes, 0 <= n <= 4. */
FN_INLINE VK vmask_n(size_t n) { return n; }
/* Lanes outside k read as 0 and are never written (no access past the end of a buffer). */
FN_INLINE V vload_k(const float *p, VK k) {
    if (k >= 4) return vld1q_f32(p);
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, p, k * sizeof(float));
    return vld1q_f32(t);
}
FN_INLINE void vstore_k(float *p, VK k, V v) {
    if (k >= 4) {
        vst1q_f32(p, v);
        return;
    }
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, k * sizeof(float));
}
/* Lanes >= n read as `fill`. */
FN_INLINE V vload_n_fill(const float *p, size_t n, float fill) {
    if (n >= 4) return vld1q_f32(p);
    float t[4] = {fill, fill, fill, fill};
    memcpy(t, p, n * sizeof(float));
    return vld1q_f32(t);
}
/* Lane i < min(r, 4) holds p[2i] (the even elements: stride-2 pooling); reads no element past
 * p[2(r-1)], r >= 1. */
FN_INLINE V vload_even_n(const float *p, size_t r) {
    if (r >= 4) return vuzp1q_f32(vld1q_f32(p), vload_k(p + 4, 3));
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t i = 0; i < r; i++) t[i] = p[2 * i];
    return vld1q_f32(t);
}
FN_INLINE VI viload(const int32_t *p) { return vld1q_s32(p); }
FN_INLINE V vgather(const float *base, VI idx) {
    const float t[4] = {base[vgetq_lane_s32(idx, 0)], base[vgetq_lane_s32(idx, 1)],
                        base[vgetq_lane_s32(idx, 2)], base[vgetq_lane_s32(idx, 3)]};
    return vld1q_f32(t);
}
/* lane i of the result is lane idx[i] of a (0 <= idx[i] < 4): a byte table lookup */
FN_INLINE V vperm(V a, VI idx) {
    const uint32x4_t b = vmlaq_n_u32(vdupq_n_u32(0x03020100u), vreinterpretq_u32_s32(idx), 0x04040404u);
    return vreinterpretq_f32_u8(vqtbl1q_u8(vreinterpretq_u8_f32(a), vreinterpretq_u8_u32(b)));
}

FN_INLINE V vadd(V a, V b) { return vaddq_f32(a, b); }
FN_INLINE V vsub(V a, V b) { return vsubq_f32(a, b); }
FN_INLINE V vmul(V a, V b) { return vmulq_f32(a, b); }
FN_INLINE V vdiv(V a, V b) { return vdivq_f32(a, b); }
FN_INLINE V vsqrt(V a) { return vsqrtq_f32(a); }
FN_INLINE V vfma(V a, V b, V c) { return vfmaq_f32(c, a, b); }             /* a*b + c, one rounding */
FN_INLINE V vfms(V a, V b, V c) { return vfmaq_f32(vnegq_f32(c), a, b); } /* a*b - c, one rounding */
FN_INLINE V vfnma(V a, V b, V c) { return vfmsq_f32(c, a, b); }           /* c - a*b, one rounding */
/* As x86 max/min: the SECOND operand is returned when either is NaN (a compare and a select). */
FN_INLINE V vmax(V a, V b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
FN_INLINE V vmin(V a, V b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
FN_INLINE V vabs(V a) { return vabsq_f32(a); }
FN_INLINE V vcopysign(V mag, V sgn) { return vbslq_f32(vdupq_n_u32(0x80000000u), sgn, mag); }
FN_INLINE V vxor_sign(V a, V sgn) { /* a with its sign flipped where sgn is negative */
    const uint32x4_t s = vandq_u32(vreinterpretq_u32_f32(sgn), vdupq_n_u32(0x80000000u));
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a), s));
}
/* about 1/a to 16 bits (estimate plus one Newton step; only used to scale a tiny correction) */
FN_INLINE V vrcp_approx(V a) {
    const V r = vrecpeq_f32(a);
    return vmulq_f32(r, vrecpsq_f32(a, r));
}

/* Ordered compares: false when either operand is NaN. vunord: true where a or b is NaN. */
FN_INLINE VM vlt(V a, V b) { return vcltq_f32(a, b); }
FN_INLINE VM vle(V a, V b) { return vcleq_f32(a, b); }
FN_INLINE VM vgt(V a, V b) { return vcgtq_f32(a, b); }
FN_INLINE VM vge(V a, V b) { return vcgeq_f32(a, b); }
FN_INLINE VM veq(V a, V b) { return vceqq_f32(a, b); }
FN_INLINE VM vunord(V a, V b) { return vmvnq_u32(vandq_u32(vceqq_f32(a, a), vceqq_f32(b, b))); }
FN_INLINE V vsel(VM m, V a, V b) { return vbslq_f32(m, a, b); } /* m ? a : b */
FN_INLINE VM vm_none(void) { return vdupq_n_u32(0); }
FN_INLINE VM vm_or(VM a, VM b) { return vorrq_u32(a, b); }
FN_INLINE int vm_any(VM m) { return vmaxvq_u32(m) != 0; }

FN_INLINE VI vcvt_f2i(V a) { return vcvtnq_s32_f32(a); } /* a integral: exact */
FN_INLINE V vcvt_i2f(VI a) { return vcvtq_f32_s32(a); }
FN_INLINE VI vbits(V a) { return vreinterpretq_s32_f32(a); }
FN_INLINE V vfrombits(VI a) { return vreinterpretq_f32_s32(a); }
FN_INLINE VI viset(int32_t a) { return vdupq_n_s32(a); }
FN_INLINE V vand(V a, V b) {
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
FN_INLINE VI viadd(VI a, VI b) { return vaddq_s32(a, b); }
FN_INLINE VI visub(VI a, VI b) { return vsubq_s32(a, b); }
#define visra(a, s) vshrq_n_s32((a), (s))
#define visll(a, s) vshlq_n_s32((a), (s))

/* Pairwise, in the order of x86's 4-lane steps: (l0 op l2) op (l1 op l3). */
FN_INLINE float vhmax(V a) {
    const float32x2_t h = vget_low_f32(vmax(a, vcombine_f32(vget_high_f32(a), vget_high_f32(a))));
    const float x = vget_lane_f32(h, 0), y = vget_lane_f32(h, 1);
    return x > y ? x : y; /* x86 max_ss(lane 0, lane 1) */
}
FN_INLINE float vhsum(V a) {
    const float32x2_t h = vadd_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(h, 0) + vget_lane_f32(h, 1);
}

/* t[j] += s[j] for j < n < 4 */
FN_INLINE void vacc_tail(float *t, const float *s, size_t n) {
    for (size_t j = 0; j < n; j++) t[j] += s[j];
}

/* Doubles (the norm family's moments): VW/2 lanes, the low / high half of a V widened. */
FN_INLINE VD vd_cvt_lo(V v) { return vcvt_f64_f32(vget_low_f32(v)); }
FN_INLINE VD vd_cvt_hi(V v) { return vcvt_high_f64_f32(v); }
FN_INLINE VD vd_zero(void) { return vdupq_n_f64(0.0); }
FN_INLINE VD vd_set(double a) { return vdupq_n_f64(a); }
FN_INLINE VD vd_add(VD a, VD b) { return vaddq_f64(a, b); }
FN_INLINE VD vd_sub(VD a, VD b) { return vsubq_f64(a, b); }
FN_INLINE VD vd_fma(VD a, VD b, VD c) { return vfmaq_f64(c, a, b); }
FN_INLINE VD vd_load(const double *p) { return vld1q_f64(p); }
FN_INLINE void vd_store(double *p, VD v) { vst1q_f64(p, v); }

#include "vec_ops.h"
#endif
