/* layout.c: NCHW <-> NHWC at the plan's edges, on the glue table's transpose (register transposes
 * in strips, fn_glue.h), split into runs of pixels per task. */
#include "../fastnorm.h"

/* Pixels per task: a run whose NHWC rows (pix * c floats) stay within ~64 KiB, so that NHWC -> NCHW
 * reads them from L2 once per 32-channel strip; at least 64 pixels (each output row a 256-byte run),
 * a multiple of 32. */
static size_t run_pixels(size_t c, size_t hw) {
    size_t pix = (64u << 10) / (4 * (c ? c : 1));
    pix = pix < 64 ? 64 : pix / 32 * 32;
    return pix < hw ? pix : hw;
}

static void layout(const fn_kernels *k, int to_nhwc, size_t n, size_t c, size_t hw, const float *x, float *y,
                   int nthreads) {
    if (n == 0 || c == 0 || hw == 0) return; /* nothing to move */
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    const size_t pix = run_pixels(c, hw), runs = (hw + pix - 1) / pix, ntasks = n * runs;
    /* a fork/join costs more than transposing a small image, and on a loaded host a second thread
     * may not be scheduled for milliseconds: small tensors stay on the calling thread */
    if (nthreads < 1 || n * c * hw < 32768) nthreads = 1;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t task = 0; task < ntasks; task++) {
        const size_t b = task / runs, p0 = (task % runs) * pix, np = hw - p0 < pix ? hw - p0 : pix;
        const float *xb = x + b * c * hw;
        float *yb = y + b * c * hw;
        if (to_nhwc) /* x: (c, hw) -> y: (hw, c); strips of 16 pixels, every channel */
            g->transpose(c, np, 16, xb + p0, hw, yb + p0 * c, c);
        else /* x: (hw, c) -> y: (c, hw); strips of 32 channels over the run */
            g->transpose(np, c, 32, xb + p0 * c, c, yb + p0, hw);
    }
}

void fn_nchw_to_nhwc(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y,
                     int nthreads) {
    layout(k, 1, n, c, hw, x, y, nthreads);
}

void fn_nhwc_to_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y,
                     int nthreads) {
    layout(k, 0, n, c, hw, x, y, nthreads);
}
