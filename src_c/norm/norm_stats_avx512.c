/* norm_stats_avx512.c: moments / normalise micro-kernels, AVX-512F, 16 floats a vector. */
#include "../kernels.h"

#include <immintrin.h>

#define W 16
typedef __m512 vf;
typedef __m512d vd;
typedef __mmask16 vmask;
#define AIF static inline __attribute__((always_inline))
AIF vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
AIF void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
AIF vmask mask_for(size_t m) { return (vmask)((1u << m) - 1u); } /* m <= 16 */
AIF vf vf_maskload(const float *p, vmask k) { return _mm512_maskz_loadu_ps(k, p); }
AIF void vf_maskstore(float *p, vmask k, vf v) { _mm512_mask_storeu_ps(p, k, v); }
AIF vf vf_set1(float a) { return _mm512_set1_ps(a); }
AIF vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
AIF vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
AIF vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
AIF vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
AIF vd vd_zero(void) { return _mm512_setzero_pd(); }
AIF vd vd_set1(double a) { return _mm512_set1_pd(a); }
AIF vd vd_cvt_lo(vf v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
AIF vd vd_cvt_hi(vf v) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); }
AIF vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
AIF vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
AIF vd vd_fma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
AIF vd vd_load(const double *p) { return _mm512_loadu_pd(p); }
AIF void vd_store(double *p, vd v) { _mm512_storeu_pd(p, v); }
#define FN_NAME(op) fn_f32_norm_##op##__avx512

#include "norm_simd_generic.h"
