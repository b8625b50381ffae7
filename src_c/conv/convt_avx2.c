/* convt_avx2.c: the conv_transpose2d scatter kernel, AVX2. */
#include "fn_convt.h"

#include <immintrin.h>

#include "convt_small.h"

/* Tail in 4 / 1 lanes, not a masked vector: see convt_avx512.c. */
void fn_f32_convt_addrows__avx2(size_t n, size_t c, const float *src, size_t ss, float *dst,
                                size_t ds) {
    if (c < 4) { /* a few channels: straight-line scalar code per pixel */
        addrows_small(n, c, src, ss, dst, ds);
        return;
    }
    const size_t c8 = c & ~(size_t)7;
    for (size_t i = 0; i < n; i++) {
        const float *s = src + i * ss;
        float *t = dst + i * ds;
        size_t j = 0;
        for (; j < c8; j += 8)
            _mm256_storeu_ps(t + j, _mm256_add_ps(_mm256_loadu_ps(t + j), _mm256_loadu_ps(s + j)));
        if (c - j >= 4) {
            _mm_storeu_ps(t + j, _mm_add_ps(_mm_loadu_ps(t + j), _mm_loadu_ps(s + j)));
            j += 4;
        }
        for (; j < c; j++) t[j] += s[j];
    }
}
