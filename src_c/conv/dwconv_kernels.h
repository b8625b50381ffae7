/* dwconv_kernels.h: the depthwise row micro-kernels of every ISA, and the tap clipping they share. */
#ifndef FASTNORM_DWCONV_KERNELS_H
#define FASTNORM_DWCONV_KERNELS_H
#include "../kernels.h"

#include <stddef.h>

#define FN_DWCONV_DECLARE(isa)                                                                     \
    void fn_f32_dwconv_row__##isa(const fn_dwconv_geom *g, size_t ky0, size_t ky1, const float *x, \
                                  const float *w, const float *res, float *y);                \
    void fn_f32_dwconv_rowsum__##isa(size_t ow, size_t c, const float *y, float *s);
FN_DWCONV_DECLARE(scalar)
FN_DWCONV_DECLARE(avx2)
FN_DWCONV_DECLARE(avx512)
FN_DWCONV_DECLARE(neon)

/* Taps k0 <= k < k1 of a window starting at input index i0 (may be negative), tap step d, that
 * fall inside [0, n). Empty ranges come back as k0 == k1. */
FN_INLINE void fn_dwconv_clip(ptrdiff_t i0, size_t k, size_t d,
                                                                 size_t n, size_t *k0, size_t *k1) {
    size_t lo = i0 < 0 ? ((size_t)(-i0) + d - 1) / d : 0;
    size_t hi = i0 >= (ptrdiff_t)n ? 0 : ((size_t)((ptrdiff_t)n - i0) + d - 1) / d;
    if (hi > k) hi = k;
    if (lo > hi) lo = hi;
    *k0 = lo, *k1 = hi;
}
#endif
