/* pool2d.c: max_pool2d / avg_pool2d drivers on NHWC: a row of output pixels per micro-kernel call. */
#include "pool_kernels.h"
#include "pool_windows.h"

#include <math.h>
#include <string.h>

/* Below this many tap reads (floats), one thread: waking the second costs more than the op. */
#define PAR_MIN_FLOATS 65536

// x: (n, h, w, c), y: (n, oh, ow, c), both contiguous
fn_status fn_maxpool2d_nhwc(const fn_kernels *k, const fn_pool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0 || d->dh == 0 || d->dw == 0) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    if (nthreads < 1) nthreads = 1;
    const size_t rows = n * oh;
    if (rows * ow * c * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
    size_t ia, ib;
    interior(ow, d->sw, d->kw, d->dw, d->pad_left, w, &ia, &ib);
    const size_t xs = d->sw * c, rs = d->dh * w * c, cs = d->dw * c;
    /* A task is one output row (batch b, row oy): its valid kernel rows are found once, the interior
     * run of unclipped windows is one micro-kernel call, the clipped edge windows one call each.
     * Taps go in torch's scan order (row-major), which decides between equal values (0.0 vs -0.0)
     * the same way. Each output is computed alone from its own taps: no dependence on nthreads. */
#pragma omp parallel num_threads(nthreads)
    FN_FOR_ROWS(rows, oh, b, oy, r) {
        float *yr = y + r * ow * c;
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, d->dh, d->pad_top, h, &ky0, &ky1);
        if (ky0 == ky1) {
            /* no input under the window: only dilation does that with padding <= k/2, and torch
             * answers -inf (the max of nothing) */
            for (size_t j = 0; j < ow * c; j++) yr[j] = -INFINITY;
            continue;
        }
        /* input row of kernel row ky0 (iy = oy*sh + ky0*dh - pad_top, never negative here) */
        const float *xr = x + (b * h + (oy * d->sh + ky0 * d->dh - d->pad_top)) * w * c;
        const size_t khv = ky1 - ky0;
        for (size_t ox = 0; ox < ow; ox++) {
            if (ox == ia && ia < ib) {
                pk->maxpool_row(ib - ia, khv, d->kw, c, xr + (ia * d->sw - d->pad_left) * c, xs, rs, cs,
                                yr + ia * c);
                ox = ib - 1;
                continue;
            }
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, d->dw, d->pad_left, w, &kx0, &kx1);
            if (kx0 == kx1) {
                for (size_t j = 0; j < c; j++) yr[ox * c + j] = -INFINITY;
                continue;
            }
            const size_t ix0 = ox * d->sw + kx0 * d->dw - d->pad_left;
            pk->maxpool_row(1, khv, kx1 - kx0, c, xr + ix0 * c, xs, rs, cs, yr + ox * c);
        }
    }
    return FN_OK;
}

/* torch's divisor for one axis: (window clipped to the padded input) if count_include_pad, else
 * (window clipped to the input) = the valid count. */
static size_t axis_count(size_t o, size_t s, size_t k, size_t p0, size_t p1, size_t size, int incl,
                         size_t valid) {
    if (!incl) return valid;
    const size_t start = o * s, end = start + k < size + p0 + p1 ? start + k : size + p0 + p1;
    return end - start; /* in padded coordinates; start < size + p0 by the output-size rule */
}

// x: (n, h, w, c), y: (n, oh, ow, c), both contiguous
fn_status fn_avgpool2d_nhwc(const fn_kernels *k, const fn_avgpool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    if (nthreads < 1) nthreads = 1;
    const size_t rows = n * oh;
    if (rows * ow * c * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
    size_t ia, ib;
    interior(ow, d->sw, d->kw, 1, d->pad_left, w, &ia, &ib);
    const size_t xs = d->sw * c, rs = w * c, cs = c;
    const int incl = d->count_include_pad;
    const float over = (float)d->divisor_override;
    /* Tasks and order as in max pooling; the sum's order is fixed by the micro-kernel (fn_pool.h). */
#pragma omp parallel num_threads(nthreads)
    FN_FOR_ROWS(rows, oh, b, oy, r) {
        float *yr = y + r * ow * c;
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, 1, d->pad_top, h, &ky0, &ky1);
        const size_t khv = ky1 - ky0;
        if (khv == 0) { /* cannot happen with padding <= k/2 and torch's output size; torch writes 0 */
            for (size_t j = 0; j < ow * c; j++) yr[j] = 0.0f;
            continue;
        }
        const size_t ch = axis_count(oy, d->sh, d->kh, d->pad_top, d->pad_bottom, h, incl, khv);
        const float *xr = x + (b * h + (oy * d->sh + ky0 - d->pad_top)) * w * c;
        for (size_t ox = 0; ox < ow; ox++) {
            if (ox == ia && ia < ib) {
                const float div = d->divisor_override ? over : (float)(ch * d->kw);
                pk->avgpool_row(ib - ia, khv, d->kw, c, xr + (ia * d->sw - d->pad_left) * c, xs, rs, cs,
                                div, 1.0f, yr + ia * c);
                ox = ib - 1;
                continue;
            }
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, 1, d->pad_left, w, &kx0, &kx1);
            if (kx0 == kx1) {
                for (size_t j = 0; j < c; j++) yr[ox * c + j] = 0.0f;
                continue;
            }
            const size_t cw = axis_count(ox, d->sw, d->kw, d->pad_left, d->pad_right, w, incl, kx1 - kx0);
            const float div = d->divisor_override ? over : (float)(ch * cw);
            const size_t ix0 = ox * d->sw + kx0 - d->pad_left;
            pk->avgpool_row(1, khv, kx1 - kx0, c, xr + ix0 * c, xs, rs, cs, div, 1.0f, yr + ox * c);
        }
    }
    return FN_OK;
}

/* x: (n, h, w, c), y and idx: (n, oh, ow, c). Per output element, the max of its window's taps and the
 * flat index iy * w + ix of that tap in its (sample, channel) plane, as float (exact below 2^24
 * positions: the plan refuses larger planes): torch's max_pool2d(return_indices=True). Taps in scan
 * order (ky, then kx); a tap replaces the running max when it is greater or NaN, starting from -inf at
 * the first tap inside the input, as torch's CPU kernels: equal values keep the earlier tap, a NaN
 * the last NaN. A window with no tap inside the input: -inf and index -1 (max_unpool2d refuses it). */
fn_status fn_maxpool2d_argmax_nhwc(const fn_pool2d_desc *d, size_t n, size_t h, size_t w, size_t c, size_t oh,
                                   size_t ow, const float *x, float *y, float *idx, int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0 || d->dh == 0 || d->dw == 0) return FN_ERR_ARG;
    if (h * w > ((size_t)1 << 24)) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    const size_t rows = n * oh;
    if (rows * ow * c * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
#pragma omp parallel num_threads(nthreads)
    FN_FOR_ROWS(rows, oh, b, oy, r) {
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, d->dh, d->pad_top, h, &ky0, &ky1);
        for (size_t ox = 0; ox < ow; ox++) {
            float *yo = y + (r * ow + ox) * c, *io = idx + (r * ow + ox) * c;
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, d->dw, d->pad_left, w, &kx0, &kx1);
            if (ky0 == ky1 || kx0 == kx1) {
                for (size_t j = 0; j < c; j++) yo[j] = -INFINITY, io[j] = -1.0f;
                continue;
            }
            const size_t iy0 = oy * d->sh + ky0 * d->dh - d->pad_top, ix0 = ox * d->sw + kx0 * d->dw - d->pad_left;
            const float first = (float)(iy0 * w + ix0);
            for (size_t j = 0; j < c; j++) yo[j] = -INFINITY, io[j] = first;
            for (size_t ky = ky0; ky < ky1; ky++) {
                const size_t iy = oy * d->sh + ky * d->dh - d->pad_top;
                for (size_t kx = kx0; kx < kx1; kx++) {
                    const size_t ix = ox * d->sw + kx * d->dw - d->pad_left;
                    const float *xp = x + ((b * h + iy) * w + ix) * c, at = (float)(iy * w + ix);
                    for (size_t j = 0; j < c; j++) {
                        const float v = xp[j];
                        const int take = v > yo[j] || v != v;
                        yo[j] = take ? v : yo[j];
                        io[j] = take ? at : io[j];
                    }
                }
            }
        }
    }
    return FN_OK;
}

/* x, idx: (n, h, w, c) (idx from fn_maxpool2d_argmax_nhwc: a flat position in an oh x ow plane), y:
 * (n, oh, ow, c): y = 0, then y[b, p / ow, p % ow, j] = x[b, iy, ix, j] for p = idx[b, iy, ix, j], in
 * input order (a later input wins a shared position, as torch's CPU kernel). FN_ERR_ARG if an index is
 * not a whole number in [0, oh * ow) (y is then partly written). Threads split samples x channel
 * blocks: each output element is written by one thread, in input order. */
fn_status fn_max_unpool2d_nhwc(size_t n, size_t h, size_t w, size_t c, size_t oh, size_t ow, const float *x,
                               const float *idx, float *y, int nthreads) {
    const size_t plane = oh * ow, cb = 64, ncb = (c + cb - 1) / cb;
    if (nthreads < 1) nthreads = 1;
    if (n * h * w * c < PAR_MIN_FLOATS) nthreads = 1;
    int bad = 0;
    memset(y, 0, n * plane * c * sizeof(float));
#pragma omp parallel for schedule(static) num_threads(nthreads) reduction(| : bad)
    for (size_t t = 0; t < n * ncb; t++) {
        const size_t b = t / ncb, j0 = t % ncb * cb, j1 = j0 + cb < c ? j0 + cb : c;
        const float *xb = x + b * h * w * c, *ib = idx + b * h * w * c;
        float *yb = y + b * plane * c;
        for (size_t p = 0; p < h * w; p++)
            for (size_t j = j0; j < j1; j++) {
                const float f = ib[p * c + j];
                if (!(f >= 0.0f && f < (float)plane) || f != (float)(size_t)f) {
                    bad = 1;
                    continue;
                }
                yb[(size_t)f * c + j] = xb[p * c + j];
            }
    }
    return bad ? FN_ERR_ARG : FN_OK;
}
