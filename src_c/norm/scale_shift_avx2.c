/* scale_shift_avx2.c: per-channel y = act(x * scale + shift), AVX2 + FMA, 8 floats a vector. */
#include "../kernels.h"

#include <immintrin.h>

/* Every element is one FMA then the clamp, in every path (full vectors, masked tails, pattern
 * loop), so a value never depends on where it falls in a vector: the drivers may split work at
 * any row and stay bit-identical across thread counts. */

static inline __attribute__((always_inline)) __m256 clamp8(__m256 v, int clamp, __m256 lo, __m256 hi) {
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN */
    return clamp ? _mm256_min_ps(hi, _mm256_max_ps(lo, v)) : v;
}

/* lanes < m set (m <= 8): maskload/maskstore never touch the others */
static inline __attribute__((always_inline)) __m256i tail_mask8(size_t m) {
    static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(bits + 8 - m));
}

/* Short rows (n < 8: 2x2 planes): 8 rows of n floats are exactly n full vectors, and lane i of
 * vector v belongs to row (8v + i) / n of the group, so one load of 8 scales and shifts plus a lane
 * permute per vector replaces 8 masked single-row passes. Returns the rows handled. */
static inline __attribute__((always_inline)) size_t rows_short(size_t rows, size_t n, const float *x,
                                                               const float *scale, const float *shift,
                                                               int clamp, __m256 lo, __m256 hi, float *y) {
    __m256i idx[7];
    int32_t rowof[8 * 7];
    for (size_t f = 0, row = 0, col = 0; f < 8 * n; f++) { /* rowof[f] = f / n, without dividing */
        rowof[f] = (int32_t)row;
        if (++col == n) col = 0, row++;
    }
    for (size_t v = 0; v < n; v++) idx[v] = _mm256_loadu_si256((const __m256i *)(rowof + 8 * v));
    size_t r = 0;
    for (; r + 8 <= rows; r += 8, x += 8 * n, y += 8 * n) {
        const __m256 s8 = _mm256_loadu_ps(scale + r), b8 = _mm256_loadu_ps(shift + r);
        for (size_t v = 0; v < n; v++) {
            const __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8 * v), _mm256_permutevar8x32_ps(s8, idx[v]),
                                             _mm256_permutevar8x32_ps(b8, idx[v]));
            _mm256_storeu_ps(y + 8 * v, clamp8(t, clamp, lo, hi));
        }
    }
    return r;
}

/* x, y: (rows, n) contiguous; row r scaled by scale[r], shifted by shift[r] */
void fn_f32_scale_shift_rows__avx2(size_t rows, size_t n, const float *x, const float *scale,
                                   const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    const __m256i kt = tail_mask8(n & 7);
    if (n < 8 && rows >= 8) {
        const size_t done = rows_short(rows, n, x, scale, shift, clamp, lo, hi, y);
        rows -= done, x += done * n, y += done * n, scale += done, shift += done;
    }
    for (size_t r = 0; r < rows; r++, x += n, y += n) {
        const __m256 s = _mm256_set1_ps(scale[r]), b = _mm256_set1_ps(shift[r]);
        size_t i = 0;
        for (; i + 32 <= n; i += 32) {
            __m256 v0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b);
            __m256 v1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), s, b);
            __m256 v2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), s, b);
            __m256 v3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), s, b);
            _mm256_storeu_ps(y + i, clamp8(v0, clamp, lo, hi));
            _mm256_storeu_ps(y + i + 8, clamp8(v1, clamp, lo, hi));
            _mm256_storeu_ps(y + i + 16, clamp8(v2, clamp, lo, hi));
            _mm256_storeu_ps(y + i + 24, clamp8(v3, clamp, lo, hi));
        }
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, clamp8(_mm256_fmadd_ps(_mm256_loadu_ps(x + i), s, b), clamp, lo, hi));
        if (i < n) {
            const __m256 v = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, kt), s, b);
            _mm256_maskstore_ps(y + i, kt, clamp8(v, clamp, lo, hi));
        }
    }
}

/* Small c (< 16): the flat array repeats its channel pattern every L = lcm(c, 8) floats, i.e. every
 * L/8 = c/gcd(c,8) vectors (at most 15), so expand scale/shift to L floats once and stream the flat
 * rows*c floats with full vectors: c=3 (RGB NHWC) uses every lane instead of 3 of 8. */
static inline __attribute__((always_inline)) void cols_small_c(size_t rows, size_t c, const float *x,
                                                               const float *scale, const float *shift,
                                                               int clamp, __m256 lo, __m256 hi,
                                                               float *y) {
    size_t g = 8;
    while (c % g) g >>= 1; /* gcd(c, 8) */
    const size_t nv = c / g, period = 8 * nv;
    float sp[8 * 15], bp[8 * 15];
    for (size_t i = 0, j = 0; i < period; i++) {
        sp[i] = scale[j];
        bp[i] = shift[j];
        if (++j == c) j = 0;
    }
    const size_t total = rows * c;
    size_t i = 0;
    for (; i + period <= total; i += period)
        for (size_t v = 0; v < nv; v++) {
            const __m256 r = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * v), _mm256_loadu_ps(sp + 8 * v),
                                             _mm256_loadu_ps(bp + 8 * v));
            _mm256_storeu_ps(y + i + 8 * v, clamp8(r, clamp, lo, hi));
        }
    for (size_t v = 0; i < total; i += 8, v++) {
        const size_t m = total - i;
        const __m256 r = _mm256_fmadd_ps(m >= 8 ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, tail_mask8(m)),
                                         _mm256_loadu_ps(sp + 8 * v), _mm256_loadu_ps(bp + 8 * v));
        if (m >= 8) _mm256_storeu_ps(y + i, clamp8(r, clamp, lo, hi));
        else _mm256_maskstore_ps(y + i, tail_mask8(m), clamp8(r, clamp, lo, hi));
    }
}

/* x, y: (rows, c) contiguous; channel j scaled by scale[j], shifted by shift[j] */
void fn_f32_scale_shift_cols__avx2(size_t rows, size_t c, const float *x, const float *scale,
                                   const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const __m256 lo = _mm256_set1_ps(act->lo), hi = _mm256_set1_ps(act->hi);
    if (c < 16) {
        cols_small_c(rows, c, x, scale, shift, clamp, lo, hi, y);
        return;
    }
    const size_t cf = c & ~(size_t)7;
    const __m256i kt = tail_mask8(c - cf);
    for (size_t r = 0; r < rows; r++, x += c, y += c) {
        size_t j = 0;
        for (; j < cf; j += 8) {
            const __m256 t = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(scale + j),
                                             _mm256_loadu_ps(shift + j));
            _mm256_storeu_ps(y + j, clamp8(t, clamp, lo, hi));
        }
        if (j < c) {
            const __m256 t = _mm256_fmadd_ps(_mm256_maskload_ps(x + j, kt), _mm256_maskload_ps(scale + j, kt),
                                             _mm256_maskload_ps(shift + j, kt));
            _mm256_maskstore_ps(y + j, kt, clamp8(t, clamp, lo, hi));
        }
    }
}
