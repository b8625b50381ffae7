/* pool_windows.h: which taps of a pooling window, and which output columns, lie inside the input;
 * shared by the NHWC (pool2d.c) and NCHW (pool2d_nchw.c) drivers. Portable code only. */
#ifndef FASTNORM_POOL_WINDOWS_H
#define FASTNORM_POOL_WINDOWS_H

#include <stddef.h>

/* Kernel offsets t < k whose input index o*s + t*dil - pad falls in [0, size): a contiguous range
 * [*lo, *hi) since the index grows with t. */
static inline void valid_range(size_t o, size_t s, size_t k, size_t dil, size_t pad, size_t size, size_t *lo,
                        size_t *hi) {
    const size_t start = o * s; /* input index of t = 0, plus pad */
    size_t a = start >= pad ? 0 : pad - start, b = start >= pad + size ? 0 : pad + size - start;
    if (dil > 1) { /* ceil(a / dil), ceil(b / dil); a 64-bit divide costs tens of cycles a pixel */
        a = (a + dil - 1) / dil;
        b = (b + dil - 1) / dil;
    }
    if (b > k) b = k;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* Output columns [*a, *b) whose whole window lies inside the input (no clipping): the run one
 * micro-kernel call covers. Columns outside it are the clipped edges, done one at a time. */
static inline void interior(size_t ow, size_t s, size_t k, size_t dil, size_t pad, size_t size, size_t *a,
                     size_t *b) {
    const size_t span = dil * (k - 1); /* last tap's offset from the first */
    size_t lo = (pad + s - 1) / s, hi = size + pad >= span + 1 ? (size + pad - span - 1) / s + 1 : 0;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    *a = lo;
    *b = hi;
}

#endif
