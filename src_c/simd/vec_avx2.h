/* vec_avx2.h: the SIMD vocabulary for AVX2+FMA (8 floats a vector). The same names as
 * vec_scalar.h and vec_avx512.h (what both x86 ISAs spell alike is vec_x86.h). Include only from
 * *_avx2.c files (built with -mavx2 -mfma). */
#ifndef FASTNORM_SIMD_VEC_H
#define FASTNORM_SIMD_VEC_H
#include <immintrin.h>

#include "common.h"

#define FN_ISA avx2
#define VW 8
#define FN_VDIV_FAST 1 /* vdivps ymm: one every 3.5 (Zen 3) to 5 (Skylake) cycles (vmath.h) */
typedef __m256 V;   /* 8 floats */
typedef __m256i VI; /* 8 int32 */
typedef __m256 VM;  /* compare result: all-ones / all-zeros per lane */
typedef __m256i VK; /* load/store lane mask (vmask_n) */
typedef __m256d VD; /* VW/2 doubles */
#define FN_MM(op) _mm256_##op
#define FN_MM_CMP(a, b, p) _mm256_cmp_ps((a), (b), (p))
#include "vec_x86.h"

FN_INLINE V vbroadcast(const float *p) { return _mm256_broadcast_ss(p); }
/* The first n lanes, 0 <= n <= 8: the one tail-mask table of the AVX2 kernels. */
FN_INLINE VK vmask_n(size_t n) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - n));
}
/* Lanes outside k read as 0 and are never written (no fault past the end of a buffer). */
FN_INLINE V vload_k(const float *p, VK k) { return _mm256_maskload_ps(p, k); }
/* The store goes out as plain pieces (all 8 lanes, or 4, 2 and 1 of the first n): vmaskmovps to
 * memory is microcoded on AMD. One thread, AMD EPYC Zen 4, 64 stores to L1-resident lines a pass,
 * min of 7 (bench/adhoc/maskstore.c): vmaskmovps 3.3 ns a store for 3-5 lanes, 5.4-6.4 for 1, 2, 6
 * or 7; the pieces 0.8-1.1 ns with n recovered from the mask (every VK is a prefix of lanes:
 * vmask_n), a plain 8-lane store 0.29. Masked loads stay: 0.4 ns, no slower than plain ones there. */
FN_INLINE void vstore_k(float *p, VK k, V v) {
    const unsigned n = (unsigned)__builtin_ctz(~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(k)));
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 lo = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(p, lo);
        lo = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (n & 2) {
        _mm_storel_pi((__m64 *)(void *)p, lo);
        lo = _mm_movehl_ps(lo, lo);
        p += 2;
    }
    if (n & 1) _mm_store_ss(p, lo);
}
/* Lanes >= n read as `fill`. */
FN_INLINE V vload_n_fill(const float *p, size_t n, float fill) {
    const VK k = vmask_n(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, k), _mm256_castsi256_ps(k));
}
/* Lane i < min(r, 8) holds p[2i] (the even elements: stride-2 pooling); reads no element past
 * p[2(r-1)], r >= 1. */
FN_INLINE V vload_even_n(const float *p, size_t r) {
    const size_t need = r >= 8 ? 15 : 2 * r - 1;
    const V lo = need >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, vmask_n(need));
    const V hi = need > 8 ? _mm256_maskload_ps(p + 8, vmask_n(need - 8)) : _mm256_setzero_ps();
    const V e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); /* lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}
FN_INLINE VI viload(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
FN_INLINE V vgather(const float *base, VI idx) { return _mm256_i32gather_ps(base, idx, 4); }
/* lane i of the result is lane idx[i] of a */
FN_INLINE V vperm(V a, VI idx) { return _mm256_permutevar8x32_ps(a, idx); }

/* about 1/a to 12 bits (only used to scale a tiny correction term) */
FN_INLINE V vrcp_approx(V a) { return _mm256_rcp_ps(a); }
FN_INLINE V vsel(VM m, V a, V b) { return _mm256_blendv_ps(b, a, m); } /* m ? a : b */
FN_INLINE VM vm_none(void) { return _mm256_setzero_ps(); }
FN_INLINE VM vm_or(VM a, VM b) { return _mm256_or_ps(a, b); }
FN_INLINE int vm_any(VM m) { return _mm256_movemask_ps(m) != 0; }

FN_INLINE VI vbits(V a) { return _mm256_castps_si256(a); }
FN_INLINE V vfrombits(VI a) { return _mm256_castsi256_ps(a); }

FN_INLINE float vhmax(V a) { return fn_x86_hmax4(_mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1))); }
FN_INLINE float vhsum(V a) { return fn_x86_hsum4(_mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1))); }

/* t[j] += s[j] for j < n < 8, in unmasked pieces (4 lanes, then single floats): a load that
 * overlaps a masked store still in flight is not store-forwarded, and rows a few channels wide sit
 * closer than that. */
FN_INLINE void vacc_tail(float *t, const float *s, size_t n) { fn_x86_acc7(t, s, n); }

FN_INLINE VD vd_cvt_lo(V v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
FN_INLINE VD vd_cvt_hi(V v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

#include "vec_ops.h"
#endif
