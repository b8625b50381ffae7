/* glue_avx2.c: glue micro-kernels, AVX2 + FMA, 8 floats a vector: glue_simd.h, and the kernels
 * whose best AVX2 form differs from AVX-512's. */
#include "../simd/vec_avx2.h"
#include "glue_kernels.h"

#define GLUE_GATHER_GENERIC 1 /* gather and bilinear_row from glue_simd.h */
#include "glue_simd.h"

void fn_f32_dup2__avx2(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 a = _mm256_unpacklo_ps(v, v), b = _mm256_unpackhi_ps(v, v); /* 0011 4455, 2233 6677 */
        _mm256_storeu_ps(y + 2 * i, _mm256_permute2f128_ps(a, b, 0x20));
        _mm256_storeu_ps(y + 2 * i + 8, _mm256_permute2f128_ps(a, b, 0x31));
    }
    for (; i < n; i++) y[2 * i] = y[2 * i + 1] = x[i];
}

#include "transpose_avx.h"
