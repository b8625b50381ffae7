/* glue_avx512.c: glue micro-kernels, AVX-512F, 16 floats a vector: glue_simd.h, and the kernels
 * whose best AVX-512 form uses its lane masks and two-register permutes. */
#include "../simd/vec_avx512.h"
#include "glue_kernels.h"
#include "glue_simd.h"

void fn_f32_dup2__avx512(size_t n, const float *x, float *y) {
    const __m512i lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i hi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + 2 * i, _mm512_permutexvar_ps(lo, v));
        _mm512_storeu_ps(y + 2 * i + 16, _mm512_permutexvar_ps(hi, v));
    }
    if (i < n) {
        const size_t m = n - i;
        const __m512 v = _mm512_maskz_loadu_ps(vmask_n(m), x + i);
        const size_t m2 = 2 * m; /* < 32 */
        const VK k0 = vmask_upto(m2);
        const VK k1 = vmask_upto(m2 > 16 ? m2 - 16 : 0);
        _mm512_mask_storeu_ps(y + 2 * i, k0, _mm512_permutexvar_ps(lo, v));
        _mm512_mask_storeu_ps(y + 2 * i + 16, k1, _mm512_permutexvar_ps(hi, v));
    }
}

void fn_f32_gather__avx512(size_t n, const float *x, const int32_t *ix, float *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_i32gather_ps(_mm512_loadu_si512(ix + i), x, 4));
    if (i < n) {
        const VK k = vmask_n(n - i);
        const __m512i idx = _mm512_maskz_loadu_epi32(k, ix + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, x, 4));
    }
}

/* Upsampling reads, for 16 outputs, a window of at most 32 consecutive source floats: two loads and
 * a two-register permute replace four gathers. Windows that are wider (downsampling) gather. */
void fn_f32_bilinear_row__avx512(size_t n, size_t w, const float *r0, const float *r1, float w0,
                                 float w1, const int32_t *i0, const int32_t *i1, const float *l0,
                                 const float *l1, float *y) {
    const __m512 vw0 = _mm512_set1_ps(w0), vw1 = _mm512_set1_ps(w1);
    for (size_t o = 0; o < n; o += 16) {
        const size_t m = n - o < 16 ? n - o : 16;
        const VK k = vmask_n(m);
        const __m512i j0 = _mm512_maskz_loadu_epi32(k, i0 + o), j1 = _mm512_maskz_loadu_epi32(k, i1 + o);
        const __m512 vl0 = _mm512_maskz_loadu_ps(k, l0 + o), vl1 = _mm512_maskz_loadu_ps(k, l1 + o);
        const int32_t base = i0[o];
        __m512 a00, a01, a10, a11;
        if (i1[o + m - 1] - base < 32) {
            const size_t avail = w - (size_t)base; /* >= 1 */
            const VK ka = vmask_upto(avail);
            const VK kb = vmask_upto(avail > 16 ? avail - 16 : 0);
            const __m512i b = _mm512_set1_epi32(base);
            const __m512i p0 = _mm512_sub_epi32(j0, b), p1 = _mm512_sub_epi32(j1, b);
            const __m512 s0 = _mm512_maskz_loadu_ps(ka, r0 + base), s1 = _mm512_maskz_loadu_ps(kb, r0 + base + 16);
            const __m512 t0 = _mm512_maskz_loadu_ps(ka, r1 + base), t1 = _mm512_maskz_loadu_ps(kb, r1 + base + 16);
            a00 = _mm512_permutex2var_ps(s0, p0, s1);
            a01 = _mm512_permutex2var_ps(s0, p1, s1);
            a10 = _mm512_permutex2var_ps(t0, p0, t1);
            a11 = _mm512_permutex2var_ps(t0, p1, t1);
        } else {
            const __m512 z = _mm512_setzero_ps();
            a00 = _mm512_mask_i32gather_ps(z, k, j0, r0, 4);
            a01 = _mm512_mask_i32gather_ps(z, k, j1, r0, 4);
            a10 = _mm512_mask_i32gather_ps(z, k, j0, r1, 4);
            a11 = _mm512_mask_i32gather_ps(z, k, j1, r1, 4);
        }
        _mm512_mask_storeu_ps(y + o, k, blend4(a00, a01, a10, a11, vl0, vl1, vw0, vw1));
    }
}

#include "transpose_avx.h"
