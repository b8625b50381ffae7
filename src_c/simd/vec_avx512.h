/* vec_avx512.h: the SIMD vocabulary for AVX-512 F/DQ/BW/VL (16 floats a vector). The same names as
 * vec_scalar.h and vec_avx2.h (what both x86 ISAs spell alike is vec_x86.h). Include only from
 * *_avx512.c files. */
#ifndef FASTNORM_SIMD_VEC_H
#define FASTNORM_SIMD_VEC_H
#include <immintrin.h>

#include "common.h"

#define FN_ISA avx512
#define VW 16
typedef __m512 V;     /* 16 floats */
typedef __m512i VI;   /* 16 int32 */
typedef __mmask16 VM; /* compare result */
typedef __mmask16 VK; /* load/store lane mask (vmask_n) */
typedef __m512d VD;   /* VW/2 doubles */
#define FN_MM(op) _mm512_##op
#define FN_MM_CMP(a, b, p) _mm512_cmp_ps_mask((a), (b), (p))
#include "vec_x86.h"

FN_INLINE V vbroadcast(const float *p) { return _mm512_set1_ps(*p); }
FN_INLINE VK vmask_n(size_t n) { return (VK)((1u << n) - 1u); } /* the first n lanes, n <= 16 */
/* Lanes outside k read as 0 and are never written (no fault past the end of a buffer). */
FN_INLINE V vload_k(const float *p, VK k) { return _mm512_maskz_loadu_ps(k, p); }
FN_INLINE void vstore_k(float *p, VK k, V v) { _mm512_mask_storeu_ps(p, k, v); }
/* Lane i < min(r, 16) holds p[2i] (the even elements: stride-2 pooling); reads no element past
 * p[2(r-1)], r >= 1. */
FN_INLINE V vload_even_n(const float *p, size_t r) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    if (r >= 16) return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_maskz_loadu_ps(0x7FFF, p + 16));
    const size_t need = 2 * r - 1; /* elements read */
    const V lo = _mm512_maskz_loadu_ps(need >= 16 ? (VK)0xFFFF : vmask_n(need), p);
    const V hi = need > 16 ? _mm512_maskz_loadu_ps(vmask_n(need - 16), p + 16) : _mm512_setzero_ps();
    return _mm512_permutex2var_ps(lo, idx, hi);
}
FN_INLINE VI viload(const int32_t *p) { return _mm512_loadu_si512(p); }
FN_INLINE V vgather(const float *base, VI idx) { return _mm512_i32gather_ps(idx, base, 4); }
/* lane i of the result is lane idx[i] of a */
FN_INLINE V vperm(V a, VI idx) { return _mm512_permutexvar_ps(idx, a); }
/* Lanes >= n read as `fill`. */
FN_INLINE V vload_n_fill(const float *p, size_t n, float fill) { return _mm512_mask_loadu_ps(vset(fill), vmask_n(n), p); }

FN_INLINE V vrcp_approx(V a) { return _mm512_rcp14_ps(a); }
#define FN_VRCP_BITS 14 /* rcp14: relative error below 2^-14 (vmath.h) */
/* Optional ops (vmath.h tests FN_HAVE_*; other vocabularies spell them in two or three ops):
 * vscalef(a, k) = a 2^k for an integral float k (exact when the result is normal);
 * vabs_min(a, c) = min(|a|, c) for c > 0, NaN for NaN a (vrangeps: the operand of lesser magnitude,
 * sign cleared). One operation each instead of two in fn_gelu_fast. */
#define FN_HAVE_VSCALEF 1
FN_INLINE V vscalef(V a, V k) { return _mm512_scalef_ps(a, k); }
#define FN_HAVE_VRANGE 1
FN_INLINE V vabs_min(V a, V c) { return _mm512_range_ps(a, c, 0x0A); }

FN_INLINE V vsel(VM m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); } /* m ? a : b */
FN_INLINE VM vm_none(void) { return 0; }
FN_INLINE VM vm_or(VM a, VM b) { return _kor_mask16(a, b); }
FN_INLINE int vm_any(VM m) { return m != 0; }

FN_INLINE VI vbits(V a) { return _mm512_castps_si512(a); }
FN_INLINE V vfrombits(VI a) { return _mm512_castsi512_ps(a); }

FN_INLINE __m128 fn_avx512_fold4(V a, int max) { /* 16 lanes -> 4: halves combined twice */
    if (max) {
        const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
        return _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    }
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
FN_INLINE float vhmax(V a) { return fn_x86_hmax4(fn_avx512_fold4(a, 1)); }
FN_INLINE float vhsum(V a) { return fn_x86_hsum4(fn_avx512_fold4(a, 0)); }

/* t[j] += s[j] for j < n < 16, in unmasked pieces (8, 4 lanes, then single floats): a load that
 * overlaps a masked store still in flight is not store-forwarded (it waits for the store to
 * retire), and rows a few channels wide sit less than 64 bytes apart: ~2x slower at c = 3. */
FN_INLINE void vacc_tail(float *t, const float *s, size_t n) {
    if (n >= 8) _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), _mm256_loadu_ps(s))), t += 8, s += 8, n -= 8;
    fn_x86_acc7(t, s, n);
}

/* Doubles (the norm family's moments): VW/2 lanes, the low / high half of a V widened. */
FN_INLINE VD vd_cvt_lo(V v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
FN_INLINE VD vd_cvt_hi(V v) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); }

#include "vec_ops.h"
#endif
