/* scale_shift_avx512.c: per-channel y = act(x * scale + shift), AVX-512F, 16 floats a vector. */
#include "../kernels.h"

#include <immintrin.h>
#include <stdint.h>

/* Every element is one FMA then the clamp, in every path (full vectors, masked tails, pattern
 * loop), so a value never depends on where it falls in a vector: the drivers may split work at
 * any row and stay bit-identical across thread counts. */

static inline __attribute__((always_inline)) __m512 clamp16(__m512 v, int clamp, __m512 lo, __m512 hi) {
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN */
    return clamp ? _mm512_min_ps(hi, _mm512_max_ps(lo, v)) : v;
}

static inline __attribute__((always_inline)) __mmask16 tail_mask16(size_t m) {
    return (__mmask16)((1u << m) - 1u); /* m < 16 */
}

/* Short rows (n < 16: 2x2, 3x3 planes): 16 rows of n floats are exactly n full vectors, and lane i
 * of vector v belongs to row (16v + i) / n of the group, so one load of 16 scales and shifts plus a
 * lane permute per vector replaces 16 masked single-row passes. Returns the rows handled. */
static inline __attribute__((always_inline)) size_t rows_short(size_t rows, size_t n, const float *x,
                                                               const float *scale, const float *shift,
                                                               int clamp, __m512 lo, __m512 hi, float *y) {
    __m512i idx[15];
    int32_t rowof[16 * 15];
    for (size_t f = 0, row = 0, col = 0; f < 16 * n; f++) { /* rowof[f] = f / n, without dividing */
        rowof[f] = (int32_t)row;
        if (++col == n) col = 0, row++;
    }
    for (size_t v = 0; v < n; v++) idx[v] = _mm512_loadu_si512(rowof + 16 * v);
    size_t r = 0;
    for (; r + 16 <= rows; r += 16, x += 16 * n, y += 16 * n) {
        const __m512 s16 = _mm512_loadu_ps(scale + r), b16 = _mm512_loadu_ps(shift + r);
        for (size_t v = 0; v < n; v++) {
            const __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * v), _mm512_permutexvar_ps(idx[v], s16),
                                             _mm512_permutexvar_ps(idx[v], b16));
            _mm512_storeu_ps(y + 16 * v, clamp16(t, clamp, lo, hi));
        }
    }
    return r;
}

/* x, y: (rows, n) contiguous; row r scaled by scale[r], shifted by shift[r] */
void fn_f32_scale_shift_rows__avx512(size_t rows, size_t n, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    if (n < 16 && rows >= 16) {
        const size_t done = rows_short(rows, n, x, scale, shift, clamp, lo, hi, y);
        rows -= done, x += done * n, y += done * n, scale += done, shift += done;
    }
    for (size_t r = 0; r < rows; r++, x += n, y += n) {
        const __m512 s = _mm512_set1_ps(scale[r]), b = _mm512_set1_ps(shift[r]);
        size_t i = 0;
        /* peel up to 15 floats so the stores below start on a 64-byte line: a zmm access that
         * straddles two lines costs a second cache access (numpy buffers are 16-byte aligned) */
        const size_t head = (size_t)((64 - (uintptr_t)y % 64) % 64) / sizeof(float);
        if (head && head < n && (uintptr_t)y % sizeof(float) == 0) {
            const __mmask16 k = tail_mask16(head);
            const __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x), s, b);
            _mm512_mask_storeu_ps(y, k, clamp16(v, clamp, lo, hi));
            i = head;
        }
        for (; i + 64 <= n; i += 64) {
            __m512 v0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), s, b);
            __m512 v1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), s, b);
            __m512 v2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), s, b);
            __m512 v3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), s, b);
            _mm512_storeu_ps(y + i, clamp16(v0, clamp, lo, hi));
            _mm512_storeu_ps(y + i + 16, clamp16(v1, clamp, lo, hi));
            _mm512_storeu_ps(y + i + 32, clamp16(v2, clamp, lo, hi));
            _mm512_storeu_ps(y + i + 48, clamp16(v3, clamp, lo, hi));
        }
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(y + i, clamp16(_mm512_fmadd_ps(_mm512_loadu_ps(x + i), s, b), clamp, lo, hi));
        if (i < n) {
            const __mmask16 k = tail_mask16(n - i);
            const __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), s, b);
            _mm512_mask_storeu_ps(y + i, k, clamp16(v, clamp, lo, hi));
        }
    }
}

/* Small c (< 16): the flat array repeats its channel pattern every L = lcm(c, 16) floats, i.e. every
 * L/16 = c/gcd(c,16) vectors (at most 15), so expand scale/shift to L floats once and stream the
 * flat rows*c floats with full vectors: c=3 (RGB NHWC) uses every lane instead of 3 of 16. */
static inline __attribute__((always_inline)) void cols_small_c(size_t rows, size_t c, const float *x,
                                                               const float *scale, const float *shift,
                                                               int clamp, __m512 lo, __m512 hi,
                                                               float *y) {
    size_t g = 16;
    while (c % g) g >>= 1; /* gcd(c, 16) */
    const size_t nv = c / g, period = 16 * nv;
    float sp[16 * 15], bp[16 * 15];
    for (size_t i = 0, j = 0; i < period; i++) {
        sp[i] = scale[j];
        bp[i] = shift[j];
        if (++j == c) j = 0;
    }
    const size_t total = rows * c;
    size_t i = 0;
    for (; i + period <= total; i += period)
        for (size_t v = 0; v < nv; v++) {
            const __m512 r = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * v), _mm512_loadu_ps(sp + 16 * v),
                                             _mm512_loadu_ps(bp + 16 * v));
            _mm512_storeu_ps(y + i + 16 * v, clamp16(r, clamp, lo, hi));
        }
    for (size_t v = 0; i < total; i += 16, v++) {
        const size_t m = total - i;
        const __mmask16 k = m >= 16 ? (__mmask16)0xFFFF : tail_mask16(m);
        const __m512 r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_loadu_ps(sp + 16 * v),
                                         _mm512_loadu_ps(bp + 16 * v));
        _mm512_mask_storeu_ps(y + i, k, clamp16(r, clamp, lo, hi));
    }
}

/* x, y: (rows, c) contiguous; channel j scaled by scale[j], shifted by shift[j] */
void fn_f32_scale_shift_cols__avx512(size_t rows, size_t c, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m512 lo = _mm512_set1_ps(act->lo), hi = _mm512_set1_ps(act->hi);
    if (c < 16) {
        cols_small_c(rows, c, x, scale, shift, clamp, lo, hi, y);
        return;
    }
    const size_t cf = c & ~(size_t)15;
    const __mmask16 kt = tail_mask16(c - cf);
    if (c <= 64) {
        /* up to 4 vectors of scale and shift live in registers across all rows */
        __m512 s[4], b[4];
        for (size_t v = 0; v < 4; v++) {
            const size_t j = 16 * v;
            const __mmask16 k = j + 16 <= c ? (__mmask16)0xFFFF : j < c ? tail_mask16(c - j) : 0;
            s[v] = _mm512_maskz_loadu_ps(k, scale + j);
            b[v] = _mm512_maskz_loadu_ps(k, shift + j);
        }
        for (size_t r = 0; r < rows; r++, x += c, y += c) {
            size_t v = 0;
            for (; 16 * v < cf; v++)
                _mm512_storeu_ps(y + 16 * v, clamp16(_mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * v), s[v], b[v]),
                                                     clamp, lo, hi));
            if (kt) {
                const __m512 t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kt, x + 16 * v), s[v], b[v]);
                _mm512_mask_storeu_ps(y + 16 * v, kt, clamp16(t, clamp, lo, hi));
            }
        }
        return;
    }
    for (size_t r = 0; r < rows; r++, x += c, y += c) {
        size_t j = 0;
        for (; j < cf; j += 16) {
            const __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(scale + j),
                                             _mm512_loadu_ps(shift + j));
            _mm512_storeu_ps(y + j, clamp16(t, clamp, lo, hi));
        }
        if (kt) {
            const __m512 t = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kt, x + j), _mm512_maskz_loadu_ps(kt, scale + j),
                                             _mm512_maskz_loadu_ps(kt, shift + j));
            _mm512_mask_storeu_ps(y + j, kt, clamp16(t, clamp, lo, hi));
        }
    }
}
