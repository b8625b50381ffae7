/* convt_small.h: the scatter's rows of 1-3 channels (an RGB or grey output), one straight-line
 * body per count; shared by the portable and the wide scatter kernels. */
#ifndef FASTNORM_CONVT_SMALL_H
#define FASTNORM_CONVT_SMALL_H
#include <stddef.h>

#include "../simd/common.h"

/* dst[i*ds + j] += src[i*ss + j] for i < n, j < c, c in 1..3 */
FN_INLINE void addrows_small(size_t n, size_t c, const float *src, size_t ss, float *dst, size_t ds) {
    if (c == 3) {
        for (size_t i = 0; i < n; i++, src += ss, dst += ds) {
            const float a = src[0], b = src[1], d = src[2];
            dst[0] += a, dst[1] += b, dst[2] += d;
        }
    } else if (c == 2) {
        for (size_t i = 0; i < n; i++, src += ss, dst += ds) {
            const float a = src[0], b = src[1];
            dst[0] += a, dst[1] += b;
        }
    } else if (c == 1) {
        for (size_t i = 0; i < n; i++, src += ss, dst += ds) dst[0] += src[0];
    }
}
#endif
