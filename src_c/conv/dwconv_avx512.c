/* dwconv_avx512.c: depthwise conv row micro-kernel, AVX-512F, 16 channels a vector. */
#include "dwconv_kernels.h"

#include <immintrin.h>

#define W 16
typedef __m512 vf;
typedef __mmask16 vmask;
#define AIF static inline __attribute__((always_inline))
AIF vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
AIF void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
AIF vmask mask_for(size_t m) { return m >= 16 ? (vmask)0xFFFF : (vmask)((1u << m) - 1u); }
/* masked-off lanes are neither read (no fault past the end of a buffer) nor written */
AIF vf vf_maskload(const float *p, vmask k) { return _mm512_maskz_loadu_ps(k, p); }
AIF void vf_maskstore(float *p, vmask k, vf v) { _mm512_mask_storeu_ps(p, k, v); }
AIF vf vf_set1(float a) { return _mm512_set1_ps(a); }
AIF vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
AIF vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
AIF vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
AIF vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
/* outputs per tile of the general kernel (any width, stride, dilation) */
#define TILE 8
#define FN_NAME(op) fn_f32_dwconv_##op##__avx512

#include "dwconv_simd_generic.h"
