/* glue_avx2.c: glue micro-kernels, AVX2 + FMA, 8 floats a vector: glue_simd.h, and the kernels
 * whose best AVX2 form differs from AVX-512's. */
#include "../simd/vec_avx2.h"
#include "glue_kernels.h"
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

void fn_f32_gather__avx2(size_t n, const float *x, const int32_t *ix, float *y) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) vstore(y + i, vgather(x, viload(ix + i)));
    for (; i < n; i++) y[i] = x[ix[i]];
}

void fn_f32_bilinear_row__avx2(size_t n, size_t w, const float *r0, const float *r1, float w0,
                               float w1, const int32_t *i0, const int32_t *i1, const float *l0,
                               const float *l1, float *y) {
    (void)w;
    const V vw0 = vset(w0), vw1 = vset(w1);
    size_t o = 0;
    for (; o + 8 <= n; o += 8) {
        const VI j0 = viload(i0 + o), j1 = viload(i1 + o);
        const V v = blend4(vgather(r0, j0), vgather(r0, j1), vgather(r1, j0), vgather(r1, j1),
                           vload(l0 + o), vload(l1 + o), vw0, vw1);
        vstore(y + o, v);
    }
    for (; o < n; o++) {
        const float t0 = l0[o] * r0[i0[o]] + l1[o] * r0[i1[o]];
        const float t1 = l0[o] * r1[i0[o]] + l1[o] * r1[i1[o]];
        y[o] = w0 * t0 + w1 * t1;
    }
}
