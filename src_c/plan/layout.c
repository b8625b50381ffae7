/* layout.c: NCHW <-> NHWC at the plan's edges, in cache-sized tiles. */
#include "../fastnorm.h"

#define TILE 32

static void transpose_tiles(size_t n, size_t rows, size_t cols, const float *x, float *y,
                            int nthreads) {
    /* per image: x (rows, cols) -> y (cols, rows) */
    const size_t tr = (rows + TILE - 1) / TILE, tc = (cols + TILE - 1) / TILE;
    const size_t ntasks = n * tr * tc;
    /* a fork/join costs more than transposing a small image, and on a loaded host a second thread
     * may not be scheduled for milliseconds: small tensors stay on the calling thread */
    if (nthreads < 1 || n * rows * cols < 32768) nthreads = 1;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t task = 0; task < ntasks; task++) {
        const size_t b = task / (tr * tc), rem = task % (tr * tc);
        const size_t r0 = (rem / tc) * TILE, c0 = (rem % tc) * TILE;
        const size_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
        const float *xb = x + b * rows * cols;
        float *yb = y + b * rows * cols;
        /* Through a tile buffer, so that both sides move whole lines: reading x and writing y
         * element by element along the strided side touches TILE lines a large power-of-two
         * stride apart (a 128x128 image is a 64 KiB stride), which all fall in the same L1 set and
         * evict each other before their next element (4K aliasing: ~10 ns per float). */
        float buf[TILE][TILE];
        const size_t nr = r1 - r0, nc = c1 - c0;
        for (size_t r = 0; r < nr; r++)
            for (size_t c = 0; c < nc; c++) buf[r][c] = xb[(r0 + r) * cols + c0 + c];
        for (size_t c = 0; c < nc; c++)
            for (size_t r = 0; r < nr; r++) yb[(c0 + c) * rows + r0 + r] = buf[r][c];
    }
}

void fn_nchw_to_nhwc(size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads) {
    transpose_tiles(n, c, hw, x, y, nthreads);
}

void fn_nhwc_to_nchw(size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads) {
    transpose_tiles(n, hw, c, x, y, nthreads);
}
