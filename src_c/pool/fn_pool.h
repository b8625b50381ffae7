/* fn_pool.h: the pool family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_POOL_H
#define FASTNORM_FN_POOL_H

/* ------------------------------------------------------------------------------------------------
 * Micro-kernels (one set per ISA: pool_row*.c, global_pool*.c).
 *
 * Row kernels: n output pixels along one output row, each a kh x kw window on NHWC data, every
 * tap inside the input (the driver clips edge windows and hands them over one at a time, with
 * their clipped kh, kw). Pixel i, tap (ky, kx), channel j reads x[i*xs + ky*rs + kx*cs + j]; y is
 * n pixels of c floats, contiguous. kh, kw >= 1.
 *   max: NaN in any tap gives NaN; between equal values the earlier tap (row-major) wins, as torch.
 *   avg: s = 0.0f; s += tap in row-major order (ky outer, kx inner), float32; y = s / div, then
 *        y = y / div2 unless div2 == 1. This is torch's order (avg_pool2d divides once, adaptive
 *        average pooling by the bin's height then its width), so results match it bit for bit.
 * ---------------------------------------------------------------------------------------------- */
typedef void (*fn_maxpool_row_ukernel)(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                       size_t xs, size_t rs, size_t cs, float *y);
typedef void (*fn_avgpool_row_ukernel)(size_t n, size_t kh, size_t kw, size_t c, const float *x,
                                       size_t xs, size_t rs, size_t cs, float div, float div2,
                                       float *y);

/* Global pooling, NHWC (column reduction): x: (rows, ldx) with c <= ldx channels read per row;
 * y[j] = reduce over r < rows of x[r*ldx + j], j < c. avg: s = 0.0f, then rows in order, / div. */
typedef void (*fn_global_pool_cols_ukernel)(size_t rows, size_t c, size_t ldx, const float *x,
                                            float div, float *y);
/* Global pooling, NCHW (per-plane reduction): x: (planes, hw); y[p] = reduce of plane p.
 * avg order (identical on every ISA, so the ISAs agree bit for bit): 64 partial sums, partial l
 * starting at 0.0f and adding the elements i = l (mod 64) in increasing i; then the partials fold
 * in halves (l += l + 32, l += l + 16, ... , l += l + 1); then / div.
 * max: NaN anywhere gives NaN; a zero maximum may differ from torch in sign (0.0 vs -0.0 ties are
 * broken per partial, not by first position). */
typedef void (*fn_global_pool_rows_ukernel)(size_t planes, size_t hw, const float *x, float div,
                                            float *y);

typedef struct fn_pool_kernels {
    fn_maxpool_row_ukernel maxpool_row;
    fn_avgpool_row_ukernel avgpool_row;
    fn_global_pool_cols_ukernel global_max_cols, global_avg_cols;
    fn_global_pool_rows_ukernel global_max_rows, global_avg_rows;
} fn_pool_kernels;

const fn_pool_kernels *fn_pool_kernels_for(fn_isa isa);

/* ------------------------------------------------------------------------------------------------
 * Drivers (pool2d.c, adaptive_pool.c). One OpenMP region each; every output is computed by one
 * task from its own inputs, so results never depend on nthreads. Output extents are the caller's
 * (torch's ceil_mode / adaptive rules are decided in Python).
 * ---------------------------------------------------------------------------------------------- */

/* avg_pool2d on NHWC, torch's divisor rules: with count_include_pad the window is clipped to the
 * padded input [-pad_top, h + pad_bottom) (the ceil_mode overhang past it is never counted),
 * otherwise to the input; divisor_override != 0 replaces the divisor. No dilation (torch has none).
 * x: (n, h, w, c), y: (n, oh, ow, c). */
typedef struct fn_avgpool2d_desc {
    size_t kh, kw, sh, sw;
    size_t pad_top, pad_left, pad_bottom, pad_right;
    int count_include_pad;
    long divisor_override; /* 0: none */
} fn_avgpool2d_desc;
fn_status fn_avgpool2d_nhwc(const fn_kernels *k, const fn_avgpool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads);

/* adaptive_{avg,max}_pool2d on NHWC, torch's bins: rows [floor(i*h/oh), ceil((i+1)*h/oh)), the
 * same for columns. oh = ow = 1 takes the global path. x: (n, h, w, c), y: (n, oh, ow, c). */
typedef enum { FN_POOL_MAX = 0, FN_POOL_AVG = 1 } fn_pool_kind;
fn_status fn_adaptive_pool2d_nhwc(const fn_kernels *k, int kind, size_t n, size_t h, size_t w,
                                  size_t c, size_t oh, size_t ow, const float *x, float *y,
                                  int nthreads);

/* Global pooling. NHWC: x: (n, hw, c) -> y: (n, c). NCHW: x: (n*c planes, hw) -> y: (n*c,). */
fn_status fn_global_pool_nhwc(const fn_kernels *k, int kind, size_t n, size_t hw, size_t c,
                              const float *x, float *y, int nthreads);
fn_status fn_global_pool_nchw(const fn_kernels *k, int kind, size_t planes, size_t hw,
                              const float *x, float *y, int nthreads);

#endif
