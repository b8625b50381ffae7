/* pool2d.c: max_pool2d driver on NHWC: gathers the valid taps of each window for the micro-kernel. */
#include "../kernels.h"

#include <math.h>

/* Taps handed to the micro-kernel at once; longer windows (9x9 = 81) are chained through the output:
 * the running max becomes tap 0 of the next chunk. */
#define TAP_CHUNK 64
/* Below this many tap reads (floats), one thread: waking the second costs more than the op. */
#define PAR_MIN_FLOATS 65536

/* Kernel offsets t < k whose input index o*s + t*dil - pad falls in [0, size): a contiguous range
 * [*lo, *hi) since the index grows with t. */
static void valid_range(size_t o, size_t s, size_t k, size_t dil, size_t pad, size_t size, size_t *lo,
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

// x: (n, h, w, c), y: (n, oh, ow, c), both contiguous
fn_status fn_maxpool2d_nhwc(const fn_kernels *k, const fn_pool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0 || d->dh == 0 || d->dw == 0) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    const size_t rows = n * oh;
    if (rows * ow * c * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
    /* A task is one output row (batch b, row oy); the valid kernel rows are found once per row, the
     * valid columns once per pixel, with no per-tap bounds checks. Taps go in torch's scan order
     * (row-major), which decides between equal values (0.0 vs -0.0) the same way. Each output is
     * computed alone from its own taps, so the result never depends on nthreads. */
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t r = 0; r < rows; r++) {
        const size_t b = r / oh, oy = r % oh;
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, d->dh, d->pad_top, h, &ky0, &ky1);
        /* x row of kernel row ky: xb + ky * dstep (iy = oy*sh + ky*dh - pad_top, never negative here) */
        const float *xb = ky0 < ky1 ? x + (b * h + (oy * d->sh + ky0 * d->dh - d->pad_top)) * w * c : x;
        const size_t dstep = d->dh * w * c;
        const float *taps[TAP_CHUNK];
        for (size_t ox = 0; ox < ow; ox++) {
            float *out = y + (r * ow + ox) * c;
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, d->dw, d->pad_left, w, &kx0, &kx1);
            size_t nt = 0, started = 0;
            if (kx0 < kx1 && ky0 < ky1) {
                const size_t ix0 = ox * d->sw + kx0 * d->dw - d->pad_left;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *p = xb + (ky - ky0) * dstep + ix0 * c;
                    for (size_t kx = kx0; kx < kx1; kx++, p += d->dw * c) {
                        taps[nt++] = p;
                        if (nt == TAP_CHUNK) {
                            k->maxpool(nt, c, taps, out);
                            started = 1;
                            taps[0] = out;
                            nt = 1;
                        }
                    }
                }
            }
            if (nt > started) k->maxpool(nt, c, taps, out);
            else if (!started)
                /* no input under the window: only dilation does that with padding <= k/2, and torch
                 * answers -inf (the max of nothing) */
                for (size_t j = 0; j < c; j++) out[j] = -INFINITY;
        }
    }
    return FN_OK;
}
