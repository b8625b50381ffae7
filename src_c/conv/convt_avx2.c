/* convt_avx2.c: the conv_transpose2d scatter kernel, AVX2 (masked tail: no scalar loop). */
#include "fn_convt.h"

#include <immintrin.h>

void fn_f32_convt_addrows__avx2(size_t n, size_t c, const float *src, size_t ss, float *dst,
                                size_t ds) {
    const size_t cv = c & ~(size_t)7;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(c - cv)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (size_t i = 0; i < n; i++) {
        const float *s = src + i * ss;
        float *t = dst + i * ds;
        size_t j = 0;
        for (; j < cv; j += 8)
            _mm256_storeu_ps(t + j, _mm256_add_ps(_mm256_loadu_ps(t + j), _mm256_loadu_ps(s + j)));
        if (c > cv)
            _mm256_maskstore_ps(t + j, tail, _mm256_add_ps(_mm256_maskload_ps(t + j, tail),
                                                           _mm256_maskload_ps(s + j, tail)));
    }
}
