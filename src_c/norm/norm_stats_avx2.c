/* norm_stats_avx2.c: moments / normalise micro-kernels, AVX2 + FMA, 8 floats a vector. */
#include "../kernels.h"

#include <immintrin.h>

#define W 8
typedef __m256 vf;
typedef __m256d vd;
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
AIF vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
AIF vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
AIF vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
AIF vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
AIF vd vd_zero(void) { return _mm256_setzero_pd(); }
AIF vd vd_set1(double a) { return _mm256_set1_pd(a); }
AIF vd vd_cvt_lo(vf v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
AIF vd vd_cvt_hi(vf v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
AIF vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
AIF vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
AIF vd vd_fma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
AIF vd vd_load(const double *p) { return _mm256_loadu_pd(p); }
AIF void vd_store(double *p, vd v) { _mm256_storeu_pd(p, v); }
#define FN_NAME(op) fn_f32_norm_##op##__avx2

#include "norm_simd_generic.h"
