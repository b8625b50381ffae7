/* glue_avx2.c: glue micro-kernels (binary op, copy/fill, row resampling), AVX2 + FMA, 8 floats a vector. */
#include "glue_kernels.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* Every element goes through the same arithmetic in full vectors and masked tails, so a value never
 * depends on where it falls in a vector and the drivers may split work anywhere. */

/* lanes < m set (m <= 8): maskload/maskstore never touch the others */
AI __m256i tail8(size_t m) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - m));
}

AI __m256 clamp8(__m256 v, int clamp, __m256 lo, __m256 hi) {
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN */
    return clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, v)) : v;
}

AI __m256 op8(int op, __m256 a, __m256 b, __m256 alpha) {
    return op == FN_BIN_MUL ? _mm256_mul_ps(a, b)
           : op == FN_BIN_RADD ? _mm256_fmadd_ps(a, alpha, b)
                               : _mm256_fmadd_ps(b, alpha, a);
}

AI void binary8(int op, size_t n, const float *a, const float *b, int b_vec, __m256 alpha, int clamp,
                __m256 lo, __m256 hi, float *y) {
    const __m256 bs = b_vec ? _mm256_setzero_ps() : _mm256_set1_ps(b[0]);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = op8(op, _mm256_loadu_ps(a + i), b_vec ? _mm256_loadu_ps(b + i) : bs, alpha);
        __m256 v1 = op8(op, _mm256_loadu_ps(a + i + 8), b_vec ? _mm256_loadu_ps(b + i + 8) : bs, alpha);
        __m256 v2 = op8(op, _mm256_loadu_ps(a + i + 16), b_vec ? _mm256_loadu_ps(b + i + 16) : bs, alpha);
        __m256 v3 = op8(op, _mm256_loadu_ps(a + i + 24), b_vec ? _mm256_loadu_ps(b + i + 24) : bs, alpha);
        _mm256_storeu_ps(y + i, clamp8(v0, clamp, lo, hi));
        _mm256_storeu_ps(y + i + 8, clamp8(v1, clamp, lo, hi));
        _mm256_storeu_ps(y + i + 16, clamp8(v2, clamp, lo, hi));
        _mm256_storeu_ps(y + i + 24, clamp8(v3, clamp, lo, hi));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 v = op8(op, _mm256_loadu_ps(a + i), b_vec ? _mm256_loadu_ps(b + i) : bs, alpha);
        _mm256_storeu_ps(y + i, clamp8(v, clamp, lo, hi));
    }
    if (i < n) {
        const __m256i k = tail8(n - i);
        const __m256 v = op8(op, _mm256_maskload_ps(a + i, k), b_vec ? _mm256_maskload_ps(b + i, k) : bs, alpha);
        _mm256_maskstore_ps(y + i, k, clamp8(v, clamp, lo, hi));
    }
}

#define BINARY_DISPATCH(CALL)                                                                      \
    switch (op) {                                                                                  \
    case FN_BIN_MUL: CALL(FN_BIN_MUL); break;                                                      \
    case FN_BIN_RADD: CALL(FN_BIN_RADD); break;                                                    \
    default: CALL(FN_BIN_ADD); break;                                                              \
    }

void fn_f32_binary__avx2(int op, size_t n, const float *a, const float *b, float alpha,
                         const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi), al = _mm256_set1_ps(alpha);
#define CALL(OP) binary8(OP, n, a, b, 1, al, clamp, lo, hi, y)
    BINARY_DISPATCH(CALL)
#undef CALL
}

void fn_f32_binary_rows__avx2(int op, size_t rows, size_t n, const float *a, const float *b,
                              float alpha, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi), al = _mm256_set1_ps(alpha);
    for (size_t r = 0; r < rows; r++, a += n, y += n) {
#define CALL(OP) binary8(OP, n, a, b + r, 0, al, clamp, lo, hi, y)
        BINARY_DISPATCH(CALL)
#undef CALL
    }
}

void fn_f32_copy__avx2(size_t n, const float *x, float *y) {
    if (n >= 1024) { /* libc's copy picks the best strategy for long runs */
        memcpy(y, x, n * sizeof(float));
        return;
    }
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        _mm256_storeu_ps(y + i, v0);
        _mm256_storeu_ps(y + i + 8, v1);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_loadu_ps(x + i));
    if (i < n) {
        const __m256i k = tail8(n - i);
        _mm256_maskstore_ps(y + i, k, _mm256_maskload_ps(x + i, k));
    }
}

void fn_f32_fill__avx2(size_t n, float v, float *y) {
    const __m256 s = _mm256_set1_ps(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, s);
    if (i < n) _mm256_maskstore_ps(y + i, tail8(n - i), s);
}

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
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_i32gather_ps(x, _mm256_loadu_si256((const __m256i *)(ix + i)), 4));
    for (; i < n; i++) y[i] = x[ix[i]];
}

AI __m256 blend4(__m256 a00, __m256 a01, __m256 a10, __m256 a11, __m256 l0, __m256 l1, __m256 w0, __m256 w1) {
    /* the portable kernel's order, no FMA: identical results in every ISA */
    const __m256 t0 = _mm256_add_ps(_mm256_mul_ps(l0, a00), _mm256_mul_ps(l1, a01));
    const __m256 t1 = _mm256_add_ps(_mm256_mul_ps(l0, a10), _mm256_mul_ps(l1, a11));
    return _mm256_add_ps(_mm256_mul_ps(w0, t0), _mm256_mul_ps(w1, t1));
}

void fn_f32_bilinear_row__avx2(size_t n, size_t w, const float *r0, const float *r1, float w0,
                               float w1, const int32_t *i0, const int32_t *i1, const float *l0,
                               const float *l1, float *y) {
    (void)w;
    const __m256 vw0 = _mm256_set1_ps(w0), vw1 = _mm256_set1_ps(w1);
    size_t o = 0;
    for (; o + 8 <= n; o += 8) {
        const __m256i j0 = _mm256_loadu_si256((const __m256i *)(i0 + o));
        const __m256i j1 = _mm256_loadu_si256((const __m256i *)(i1 + o));
        const __m256 v = blend4(_mm256_i32gather_ps(r0, j0, 4), _mm256_i32gather_ps(r0, j1, 4),
                                _mm256_i32gather_ps(r1, j0, 4), _mm256_i32gather_ps(r1, j1, 4),
                                _mm256_loadu_ps(l0 + o), _mm256_loadu_ps(l1 + o), vw0, vw1);
        _mm256_storeu_ps(y + o, v);
    }
    for (; o < n; o++) {
        const float t0 = l0[o] * r0[i0[o]] + l1[o] * r0[i1[o]];
        const float t1 = l0[o] * r1[i0[o]] + l1[o] * r1[i1[o]];
        y[o] = w0 * t0 + w1 * t1;
    }
}

void fn_f32_lerp2d__avx2(size_t c, const float *p00, const float *p01, const float *p10,
                         const float *p11, float w0, float w1, float l0, float l1, float *y) {
    const __m256 vw0 = _mm256_set1_ps(w0), vw1 = _mm256_set1_ps(w1);
    const __m256 vl0 = _mm256_set1_ps(l0), vl1 = _mm256_set1_ps(l1);
    size_t j = 0;
    for (; j + 8 <= c; j += 8)
        _mm256_storeu_ps(y + j, blend4(_mm256_loadu_ps(p00 + j), _mm256_loadu_ps(p01 + j), _mm256_loadu_ps(p10 + j),
                                       _mm256_loadu_ps(p11 + j), vl0, vl1, vw0, vw1));
    if (j < c) {
        const __m256i k = tail8(c - j);
        _mm256_maskstore_ps(y + j, k, blend4(_mm256_maskload_ps(p00 + j, k), _mm256_maskload_ps(p01 + j, k),
                                             _mm256_maskload_ps(p10 + j, k), _mm256_maskload_ps(p11 + j, k),
                                             vl0, vl1, vw0, vw1));
    }
}
