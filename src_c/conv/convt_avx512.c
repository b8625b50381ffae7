/* convt_avx512.c: the conv_transpose2d scatter kernel, AVX-512F (masked tail: no scalar loop). */
#include "fn_convt.h"

#include <immintrin.h>

void fn_f32_convt_addrows__avx512(size_t n, size_t c, const float *src, size_t ss, float *dst,
                                  size_t ds) {
    const size_t cv = c & ~(size_t)15;
    const __mmask16 tail = (__mmask16)((1u << (c - cv)) - 1u);
    for (size_t i = 0; i < n; i++) {
        const float *s = src + i * ss;
        float *t = dst + i * ds;
        size_t j = 0;
        for (; j < cv; j += 16)
            _mm512_storeu_ps(t + j, _mm512_add_ps(_mm512_loadu_ps(t + j), _mm512_loadu_ps(s + j)));
        if (tail)
            _mm512_mask_storeu_ps(t + j, tail, _mm512_add_ps(_mm512_maskz_loadu_ps(tail, t + j),
                                                             _mm512_maskz_loadu_ps(tail, s + j)));
    }
}
