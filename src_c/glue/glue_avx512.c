/* glue_avx512.c: glue micro-kernels (binary op, copy/fill, row resampling), AVX-512F, 16 floats a vector. */
#include "glue_kernels.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* Every element goes through the same arithmetic in full vectors and masked tails, so a value never
 * depends on where it falls in a vector and the drivers may split work anywhere. */

AI __mmask16 tail16(size_t m) { return (__mmask16)((1u << m) - 1u); } /* m < 16 */

AI __m512 clamp16(__m512 v, int clamp, __m512 lo, __m512 hi) {
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN */
    return clamp ? _mm512_min_ps(hi, _mm512_max_ps(lo, v)) : v;
}

AI __m512 op16(int op, __m512 a, __m512 b, __m512 alpha) {
    return op == FN_BIN_MUL ? _mm512_mul_ps(a, b)
           : op == FN_BIN_RADD ? _mm512_fmadd_ps(a, alpha, b)
                               : _mm512_fmadd_ps(b, alpha, a);
}

/* b_step 1: b is a vector (b[i]); b_step 0: b[0] broadcast. op is a constant at each call site. */
AI void binary16(int op, size_t n, const float *a, const float *b, int b_vec, __m512 alpha, int clamp,
                 __m512 lo, __m512 hi, float *y) {
    const __m512 bs = b_vec ? _mm512_setzero_ps() : _mm512_set1_ps(b[0]);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 v0 = op16(op, _mm512_loadu_ps(a + i), b_vec ? _mm512_loadu_ps(b + i) : bs, alpha);
        __m512 v1 = op16(op, _mm512_loadu_ps(a + i + 16), b_vec ? _mm512_loadu_ps(b + i + 16) : bs, alpha);
        __m512 v2 = op16(op, _mm512_loadu_ps(a + i + 32), b_vec ? _mm512_loadu_ps(b + i + 32) : bs, alpha);
        __m512 v3 = op16(op, _mm512_loadu_ps(a + i + 48), b_vec ? _mm512_loadu_ps(b + i + 48) : bs, alpha);
        _mm512_storeu_ps(y + i, clamp16(v0, clamp, lo, hi));
        _mm512_storeu_ps(y + i + 16, clamp16(v1, clamp, lo, hi));
        _mm512_storeu_ps(y + i + 32, clamp16(v2, clamp, lo, hi));
        _mm512_storeu_ps(y + i + 48, clamp16(v3, clamp, lo, hi));
    }
    for (; i + 16 <= n; i += 16) {
        const __m512 v = op16(op, _mm512_loadu_ps(a + i), b_vec ? _mm512_loadu_ps(b + i) : bs, alpha);
        _mm512_storeu_ps(y + i, clamp16(v, clamp, lo, hi));
    }
    if (i < n) {
        const __mmask16 k = tail16(n - i);
        const __m512 v = op16(op, _mm512_maskz_loadu_ps(k, a + i), b_vec ? _mm512_maskz_loadu_ps(k, b + i) : bs, alpha);
        _mm512_mask_storeu_ps(y + i, k, clamp16(v, clamp, lo, hi));
    }
}

#define BINARY_DISPATCH(CALL)                                                                      \
    switch (op) {                                                                                  \
    case FN_BIN_MUL: CALL(FN_BIN_MUL); break;                                                      \
    case FN_BIN_RADD: CALL(FN_BIN_RADD); break;                                                    \
    default: CALL(FN_BIN_ADD); break;                                                              \
    }

void fn_f32_binary__avx512(int op, size_t n, const float *a, const float *b, float alpha,
                           const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi), al = _mm512_set1_ps(alpha);
#define CALL(OP) binary16(OP, n, a, b, 1, al, clamp, lo, hi, y)
    BINARY_DISPATCH(CALL)
#undef CALL
}

void fn_f32_binary_rows__avx512(int op, size_t rows, size_t n, const float *a, const float *b,
                                float alpha, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi), al = _mm512_set1_ps(alpha);
    for (size_t r = 0; r < rows; r++, a += n, y += n) {
#define CALL(OP) binary16(OP, n, a, b + r, 0, al, clamp, lo, hi, y)
        BINARY_DISPATCH(CALL)
#undef CALL
    }
}

void fn_f32_copy__avx512(size_t n, const float *x, float *y) {
    if (n >= 1024) { /* libc's copy picks the best strategy for long runs */
        memcpy(y, x, n * sizeof(float));
        return;
    }
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(y + i, v0);
        _mm512_storeu_ps(y + i + 16, v1);
    }
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_loadu_ps(x + i));
    if (i < n) {
        const __mmask16 k = tail16(n - i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_maskz_loadu_ps(k, x + i));
    }
}

void fn_f32_fill__avx512(size_t n, float v, float *y) {
    const __m512 s = _mm512_set1_ps(v);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, s);
    if (i < n) _mm512_mask_storeu_ps(y + i, tail16(n - i), s);
}

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
        const __m512 v = _mm512_maskz_loadu_ps(tail16(m), x + i);
        const size_t m2 = 2 * m; /* < 32 */
        const __mmask16 k0 = m2 >= 16 ? (__mmask16)0xFFFF : tail16(m2);
        const __mmask16 k1 = m2 > 16 ? tail16(m2 - 16) : 0;
        _mm512_mask_storeu_ps(y + 2 * i, k0, _mm512_permutexvar_ps(lo, v));
        _mm512_mask_storeu_ps(y + 2 * i + 16, k1, _mm512_permutexvar_ps(hi, v));
    }
}

void fn_f32_gather__avx512(size_t n, const float *x, const int32_t *ix, float *y) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_i32gather_ps(_mm512_loadu_si512(ix + i), x, 4));
    if (i < n) {
        const __mmask16 k = tail16(n - i);
        const __m512i idx = _mm512_maskz_loadu_epi32(k, ix + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx, x, 4));
    }
}

AI __m512 blend4(__m512 a00, __m512 a01, __m512 a10, __m512 a11, __m512 l0, __m512 l1, __m512 w0, __m512 w1) {
    /* the portable kernel's order, no FMA: identical results in every ISA */
    const __m512 t0 = _mm512_add_ps(_mm512_mul_ps(l0, a00), _mm512_mul_ps(l1, a01));
    const __m512 t1 = _mm512_add_ps(_mm512_mul_ps(l0, a10), _mm512_mul_ps(l1, a11));
    return _mm512_add_ps(_mm512_mul_ps(w0, t0), _mm512_mul_ps(w1, t1));
}

/* Upsampling reads, for 16 outputs, a window of at most 32 consecutive source floats: two loads and
 * a two-register permute replace four gathers. Windows that are wider (downsampling) gather. */
void fn_f32_bilinear_row__avx512(size_t n, size_t w, const float *r0, const float *r1, float w0,
                                 float w1, const int32_t *i0, const int32_t *i1, const float *l0,
                                 const float *l1, float *y) {
    const __m512 vw0 = _mm512_set1_ps(w0), vw1 = _mm512_set1_ps(w1);
    for (size_t o = 0; o < n; o += 16) {
        const size_t m = n - o < 16 ? n - o : 16;
        const __mmask16 k = m == 16 ? (__mmask16)0xFFFF : tail16(m);
        const __m512i j0 = _mm512_maskz_loadu_epi32(k, i0 + o), j1 = _mm512_maskz_loadu_epi32(k, i1 + o);
        const __m512 vl0 = _mm512_maskz_loadu_ps(k, l0 + o), vl1 = _mm512_maskz_loadu_ps(k, l1 + o);
        const int32_t base = i0[o];
        __m512 a00, a01, a10, a11;
        if (i1[o + m - 1] - base < 32) {
            const size_t avail = w - (size_t)base; /* >= 1 */
            const __mmask16 ka = avail >= 16 ? (__mmask16)0xFFFF : tail16(avail);
            const __mmask16 kb = avail >= 32 ? (__mmask16)0xFFFF : avail > 16 ? tail16(avail - 16) : 0;
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

void fn_f32_lerp2d__avx512(size_t c, const float *p00, const float *p01, const float *p10,
                           const float *p11, float w0, float w1, float l0, float l1, float *y) {
    const __m512 vw0 = _mm512_set1_ps(w0), vw1 = _mm512_set1_ps(w1);
    const __m512 vl0 = _mm512_set1_ps(l0), vl1 = _mm512_set1_ps(l1);
    size_t j = 0;
    for (; j + 16 <= c; j += 16)
        _mm512_storeu_ps(y + j, blend4(_mm512_loadu_ps(p00 + j), _mm512_loadu_ps(p01 + j), _mm512_loadu_ps(p10 + j),
                                       _mm512_loadu_ps(p11 + j), vl0, vl1, vw0, vw1));
    if (j < c) {
        const __mmask16 k = tail16(c - j);
        _mm512_mask_storeu_ps(y + j, k, blend4(_mm512_maskz_loadu_ps(k, p00 + j), _mm512_maskz_loadu_ps(k, p01 + j),
                                               _mm512_maskz_loadu_ps(k, p10 + j), _mm512_maskz_loadu_ps(k, p11 + j),
                                               vl0, vl1, vw0, vw1));
    }
}
