/* convt_avx512.c: the conv_transpose2d scatter kernel, AVX-512F. */
#include "fn_convt.h"

#include <immintrin.h>

#include "convt_small.h"

/* The tail goes down in 8 / 4 / 1 lanes rather than through a masked vector: rows of a few
 * channels (an RGB output) sit less than 64 bytes apart, and a load overlapping an earlier masked
 * store in flight is not store-forwarded (it waits for the store to retire): ~2x slower at c = 3. */
void fn_f32_convt_addrows__avx512(size_t n, size_t c, const float *src, size_t ss, float *dst,
                                  size_t ds) {
    if (c < 4) { /* a few channels: straight-line scalar code per pixel */
        addrows_small(n, c, src, ss, dst, ds);
        return;
    }
    const size_t c16 = c & ~(size_t)15;
    for (size_t i = 0; i < n; i++) {
        const float *s = src + i * ss;
        float *t = dst + i * ds;
        size_t j = 0;
        for (; j < c16; j += 16)
            _mm512_storeu_ps(t + j, _mm512_add_ps(_mm512_loadu_ps(t + j), _mm512_loadu_ps(s + j)));
        if (c - j >= 8) {
            _mm256_storeu_ps(t + j, _mm256_add_ps(_mm256_loadu_ps(t + j), _mm256_loadu_ps(s + j)));
            j += 8;
        }
        if (c - j >= 4) {
            _mm_storeu_ps(t + j, _mm_add_ps(_mm_loadu_ps(t + j), _mm_loadu_ps(s + j)));
            j += 4;
        }
        for (; j < c; j++) t[j] += s[j];
    }
}
