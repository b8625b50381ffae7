/* dwconv_avx2.c: depthwise conv row micro-kernel, AVX2 + FMA, 8 channels a vector. */
#include "dwconv_kernels.h"

#include <immintrin.h>

#define W 8
typedef __m256 vf;
typedef __m256i vmask;
#define AIF static inline __attribute__((always_inline))
AIF vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
AIF void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
AIF vmask mask_for(size_t m) { /* lanes < m set, m <= 8: maskload/maskstore never touch the others */
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - m));
}
AIF vf vf_maskload(const float *p, vmask k) { return _mm256_maskload_ps(p, k); }
AIF void vf_maskstore(float *p, vmask k, vf v) { _mm256_maskstore_ps(p, k, v); }
AIF vf vf_set1(float a) { return _mm256_set1_ps(a); }
AIF vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
AIF vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
AIF vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
AIF vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
/* outputs per tile of the general kernel (any width, stride, dilation) */
#define TILE 8
#define FN_NAME(op) fn_f32_dwconv_##op##__avx2

#include "dwconv_simd_generic.h"
