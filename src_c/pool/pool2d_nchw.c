/* pool2d_nchw.c: max_pool2d / avg_pool2d straight on NCHW planes: one kernel call per run of
 * unclipped windows along an output row, one call per clipped edge window. */
#include "pool_kernels.h"
#include "pool_windows.h"

#include <math.h>

#define PAR_MIN_FLOATS 65536

// x: (planes, h, w), y: (planes, oh, ow)
fn_status fn_maxpool2d_nchw(const fn_kernels *k, const fn_pool2d_desc *d, size_t planes, size_t h,
                            size_t w, size_t oh, size_t ow, const float *x, float *y, int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0 || d->dh == 0 || d->dw == 0) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    const size_t rows = planes * oh;
    if (nthreads < 1 || rows * ow * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
    size_t ia, ib;
    interior(ow, d->sw, d->kw, d->dw, d->pad_left, w, &ia, &ib);
    /* A task is one output row of one plane; every output is computed alone: no dependence on
     * nthreads. */
#pragma omp parallel num_threads(nthreads)
    FN_FOR_ROWS(rows, oh, p, oy, r) {
        float *yr = y + r * ow;
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, d->dh, d->pad_top, h, &ky0, &ky1);
        if (ky0 == ky1) { /* no input under the window (dilation): -inf, as torch */
            for (size_t j = 0; j < ow; j++) yr[j] = -INFINITY;
            continue;
        }
        const float *xr = x + (p * h + (oy * d->sh + ky0 * d->dh - d->pad_top)) * w;
        const size_t khv = ky1 - ky0, rs = d->dh * w;
        if (ia < ib)
            pk->maxpool_nchw_row(ib - ia, khv, d->kw, xr + ia * d->sw - d->pad_left, d->sw, rs, d->dw,
                                 yr + ia);
        for (size_t ox = 0; ox < ow; ox++) {
            if (ox == ia && ia < ib) {
                ox = ib - 1;
                continue;
            }
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, d->dw, d->pad_left, w, &kx0, &kx1);
            if (kx0 == kx1) { /* no input under the window (dilation): -inf, as torch */
                yr[ox] = -INFINITY;
                continue;
            }
            /* the row kernel with one output: branch-free, where a scalar compare chain mispredicts */
            pk->maxpool_nchw_row(1, khv, kx1 - kx0, xr + ox * d->sw + kx0 * d->dw - d->pad_left, d->sw, rs,
                                 d->dw, yr + ox);
        }
    }
    return FN_OK;
}

// x: (planes, h, w), y: (planes, oh, ow)
fn_status fn_avgpool2d_nchw(const fn_kernels *k, const fn_avgpool2d_desc *d, size_t planes,
                            size_t h, size_t w, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    const size_t rows = planes * oh;
    if (nthreads < 1 || rows * ow * d->kh * d->kw < PAR_MIN_FLOATS) nthreads = 1;
    size_t ia, ib;
    interior(ow, d->sw, d->kw, 1, d->pad_left, w, &ia, &ib);
    const int incl = d->count_include_pad;
    const float over = (float)d->divisor_override;
    const size_t hp = h + d->pad_top + d->pad_bottom, wp = w + d->pad_left + d->pad_right;
#pragma omp parallel num_threads(nthreads)
    FN_FOR_ROWS(rows, oh, p, oy, r) {
        float *yr = y + r * ow;
        size_t ky0, ky1;
        valid_range(oy, d->sh, d->kh, 1, d->pad_top, h, &ky0, &ky1);
        const size_t khv = ky1 - ky0;
        if (khv == 0) { /* cannot happen with torch's output size; torch writes 0 */
            for (size_t j = 0; j < ow; j++) yr[j] = 0.0f;
            continue;
        }
        /* torch's divisor per axis: the window clipped to the padded input, or the valid count */
        const size_t sy = oy * d->sh, ch = incl ? (sy + d->kh < hp ? d->kh : hp - sy) : khv;
        const float *xr = x + (p * h + (sy + ky0 - d->pad_top)) * w;
        if (ia < ib)
            pk->avgpool_nchw_row(ib - ia, khv, d->kw, xr + ia * d->sw - d->pad_left, d->sw, w, 1,
                                 d->divisor_override ? over : (float)(ch * d->kw), 1.0f, yr + ia);
        for (size_t ox = 0; ox < ow; ox++) {
            if (ox == ia && ia < ib) {
                ox = ib - 1;
                continue;
            }
            size_t kx0, kx1;
            valid_range(ox, d->sw, d->kw, 1, d->pad_left, w, &kx0, &kx1);
            const size_t sx = ox * d->sw, cw = incl ? (sx + d->kw < wp ? d->kw : wp - sx) : kx1 - kx0;
            pk->avgpool_nchw_row(1, khv, kx1 - kx0, xr + sx + kx0 - d->pad_left, d->sw, w, 1,
                                 d->divisor_override ? over : (float)(ch * cw), 1.0f, yr + ox);
        }
    }
    return FN_OK;
}
