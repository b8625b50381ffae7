/* adaptive_pool.c: adaptive avg/max pooling (torch's bins) and global pooling drivers. */
#include "pool_kernels.h"

/* Below this many floats read, one thread: waking the second costs more than the op. */
#define PAR_MIN_FLOATS 32768
/* Channels per task of the NHWC global reduction; planes per task of the NCHW one. */
#define GLOBAL_CB 256
#define GLOBAL_PB 16

// x: (n, hw, c) -> y: (n, c)
fn_status fn_global_pool_nhwc(const fn_kernels *k, int kind, size_t n, size_t hw, size_t c,
                              const float *x, float *y, int nthreads) {
    if (hw == 0 || (kind != FN_POOL_MAX && kind != FN_POOL_AVG)) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    const fn_global_pool_cols_ukernel kern = kind == FN_POOL_MAX ? pk->global_max_cols : pk->global_avg_cols;
    if (nthreads < 1 || n * hw * c < PAR_MIN_FLOATS) nthreads = 1;
    const size_t cb = (c + GLOBAL_CB - 1) / GLOBAL_CB, tasks = n * cb;
    const float div = (float)hw;
    /* A task is (image, block of channels), each channel reduced over all pixels in order by one
     * call: no dependence on nthreads. */
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t t = 0; t < tasks; t++) {
        const size_t b = t / cb, j0 = (t % cb) * GLOBAL_CB;
        const size_t nc = c - j0 < GLOBAL_CB ? c - j0 : GLOBAL_CB;
        kern(hw, nc, c, x + b * hw * c + j0, div, y + b * c + j0);
    }
    return FN_OK;
}

// x: (planes, hw) -> y: (planes,)
fn_status fn_global_pool_nchw(const fn_kernels *k, int kind, size_t planes, size_t hw,
                              const float *x, float *y, int nthreads) {
    if (hw == 0 || (kind != FN_POOL_MAX && kind != FN_POOL_AVG)) return FN_ERR_ARG;
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    const fn_global_pool_rows_ukernel kern = kind == FN_POOL_MAX ? pk->global_max_rows : pk->global_avg_rows;
    if (nthreads < 1 || planes * hw < PAR_MIN_FLOATS) nthreads = 1;
    const size_t tasks = (planes + GLOBAL_PB - 1) / GLOBAL_PB;
    const float div = (float)hw;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t t = 0; t < tasks; t++) {
        const size_t p0 = t * GLOBAL_PB, np = planes - p0 < GLOBAL_PB ? planes - p0 : GLOBAL_PB;
        kern(np, hw, x + p0 * hw, div, y + p0);
    }
    return FN_OK;
}

/* torch's adaptive bin i of `out` over `in`: [floor(i*in/out), ceil((i+1)*in/out)) */
static inline size_t bin_start(size_t i, size_t in, size_t out) { return i * in / out; }
static inline size_t bin_end(size_t i, size_t in, size_t out) { return ((i + 1) * in + out - 1) / out; }

// x: (n, h, w, c), y: (n, oh, ow, c)
fn_status fn_adaptive_pool2d_nhwc(const fn_kernels *k, int kind, size_t n, size_t h, size_t w,
                                  size_t c, size_t oh, size_t ow, const float *x, float *y,
                                  int nthreads) {
    if (h == 0 || w == 0 || oh == 0 || ow == 0 || (kind != FN_POOL_MAX && kind != FN_POOL_AVG))
        return FN_ERR_ARG;
    if (oh == 1 && ow == 1) return fn_global_pool_nhwc(k, kind, n, h * w, c, x, y, nthreads);
    const fn_pool_kernels *pk = fn_pool_kernels_for(k->isa);
    const size_t rows = n * oh;
    /* every input element is read about once per bin covering it: at most twice per axis */
    if (nthreads < 1 || n * h * w * c < PAR_MIN_FLOATS) nthreads = 1;
    const int uniform = w % ow == 0; /* equal bins side by side: one call covers the whole row */
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t r = 0; r < rows; r++) {
        const size_t b = r / oh, oy = r % oh;
        const size_t y0 = bin_start(oy, h, oh), y1 = bin_end(oy, h, oh);
        const float *xr = x + (b * h + y0) * w * c;
        float *yr = y + r * ow * c;
        if (uniform) {
            const size_t bw = w / ow;
            if (kind == FN_POOL_MAX) pk->maxpool_row(ow, y1 - y0, bw, c, xr, bw * c, w * c, c, yr);
            else pk->avgpool_row(ow, y1 - y0, bw, c, xr, bw * c, w * c, c, (float)(y1 - y0), (float)bw, yr);
            continue;
        }
        for (size_t ox = 0; ox < ow; ox++) {
            const size_t x0 = bin_start(ox, w, ow), x1 = bin_end(ox, w, ow);
            if (kind == FN_POOL_MAX) pk->maxpool_row(1, y1 - y0, x1 - x0, c, xr + x0 * c, 0, w * c, c, yr + ox * c);
            else pk->avgpool_row(1, y1 - y0, x1 - x0, c, xr + x0 * c, 0, w * c, c, (float)(y1 - y0),
                                 (float)(x1 - x0), yr + ox * c);
        }
    }
    return FN_OK;
}
