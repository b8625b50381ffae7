/* fn_norm.h: the norm family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_NORM_H
#define FASTNORM_FN_NORM_H

/* ------------------------------------------------------------------------------------------------
 * Statistics. Every mean/variance in this family is a *shifted* one-pass sum accumulated in double:
 *   s1 = sum (x - K),  s2 = sum (x - K)^2,   mean = K + s1/m,  var = s2/m - (s1/m)^2  (biased)
 * with K an element of the same statistic (its first one). Why: one read of the tensor instead of the
 * two a two-pass variance needs when the slab does not stay in cache; the shift makes the
 * cancellation in s2/m - (s1/m)^2 harmless (x = 1e4 + noise sums (x - K) ~ noise, and a constant
 * slab gives s1 = s2 = 0 exactly, so var = 0 exactly); double makes x near 1e30 safe ((x-K)^2 ~ 1e60
 * fits a double, where x*x overflows float) and keeps the sum's rounding ~1e-16 relative, far below
 * float32 resolution at any realistic count.
 *
 * Normalisation. With mean, rstd = 1/sqrt(var + eps) (eps inside the sqrt, on the biased variance,
 * as torch) and A = rstd * gamma, each element is  y = act((x - cm) * a + b)  where cm = (float)mean,
 * a = (float)A and b = (float)(beta + (cm - mean) * a): the subtraction is exact when x is near the
 * mean (Sterbenz), so the error is a few ulp of the *result*, not of |x * a| as with the folded
 * x * a + (beta - mean * a) (which loses everything when |mean| >> std, e.g. 1e4 + noise). One read
 * and one write per element after the statistics; the clamp epilogue (relu) rides along.
 * ---------------------------------------------------------------------------------------------- */

/* Row r < rows of x (row stride ldx, n floats each) with shift k = shift[r * lds]:
 * sums[2r] = sum_i (x[r][i] - k), sums[2r+1] = sum_i (x[r][i] - k)^2, in double. lds = 0 shares one
 * shift; shift = x, lds = ldx shifts each row by its first element. */
typedef void (*fn_row_moments_ukernel)(size_t rows, size_t n, const float *x, size_t ldx,
                                       const float *shift, size_t lds, double *sums);
/* For each column j < cols: s1[j] = sum_r (x[r*ldx + j] - shift[j]), s2[j] = sum of squares, r < rows,
 * in row order (so a column's sums never depend on which block of columns holds it). Overwrites. */
typedef void (*fn_col_moments_ukernel)(size_t rows, size_t cols, const float *x, size_t ldx,
                                       const float *shift, double *s1, double *s2);
/* x, y: (rows, n) contiguous. Row r: t = (x - cm[r]) * a[r] + b[r]; if w: t = t * w[i] + beta[i]
 * (w, beta: (n,), both or neither); y = act(t). */
typedef void (*fn_norm_rows_apply_ukernel)(size_t rows, size_t n, const float *x, const float *cm,
                                           const float *a, const float *b, const float *w,
                                           const float *beta, const fn_act *act, float *y);
/* x: (rows, cols) row stride ldx; y likewise with ldy. Column j: t = (x - cm[j]) * a[j] + b[j]; if w:
 * t = t * w[r] + beta[r] (w, beta: (rows,), both or neither); y = act(t). */
typedef void (*fn_norm_cols_apply_ukernel)(size_t rows, size_t cols, const float *x, size_t ldx,
                                           const float *cm, const float *a, const float *b,
                                           const float *w, const float *beta, const fn_act *act,
                                           float *y, size_t ldy);

typedef struct fn_norm_kernels {
    fn_isa isa;
    fn_row_moments_ukernel row_moments;
    fn_col_moments_ukernel col_moments;
    fn_norm_rows_apply_ukernel rows_apply;
    fn_norm_cols_apply_ukernel cols_apply;
} fn_norm_kernels;

const fn_norm_kernels *fn_norm_kernels_for(fn_isa isa);

/* Drivers. gamma/beta may be NULL (1 / 0) unless said otherwise. eps >= 0. y may alias x (in place):
 * every statistic is complete before its elements are written. Every statistic is computed by one
 * task in a fixed order: results never depend on nthreads. */

/* group_norm, NCHW. x, y: (n, c, hw); groups divides c (instance norm: groups = c). */
fn_status fn_group_norm_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                             const float *x, const float *gamma, const float *beta, double eps,
                             const fn_act *act, float *y, int nthreads);
/* group_norm, NHWC. x, y: (n, hw, c). scratch: fn_group_norm_nhwc_scratch_bytes(n, hw, c) bytes. */
size_t fn_group_norm_nhwc_scratch_bytes(size_t n, size_t hw, size_t c);
/* group_norm (+ act) then max_pool2d, NHWC, without writing the normalised tensor: x (n, h, w, c),
 * y (n, oh, ow, c) with oh/ow the pool's output extents. scratch: fn_group_norm_nhwc_scratch_bytes
 * (n, h*w, c) + fn_group_norm_maxpool_band_bytes(d, w, c, nthreads) bytes. */
size_t fn_group_norm_maxpool_band_bytes(const fn_pool2d_desc *d, size_t w, size_t c, int nthreads);
fn_status fn_group_norm_maxpool_nhwc(const fn_kernels *k, size_t n, size_t h, size_t w, size_t c,
                                     size_t groups, const float *x, const float *gamma,
                                     const float *beta, double eps, const fn_act *act,
                                     const fn_pool2d_desc *d, size_t oh, size_t ow, float *y,
                                     void *scratch, size_t scratch_bytes, int nthreads);
fn_status fn_group_norm_nhwc(const fn_kernels *k, size_t n, size_t hw, size_t c, size_t groups,
                             const float *x, const float *gamma, const float *beta, double eps,
                             const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                             int nthreads);
/* layer_norm over the last d floats of each of m rows: x, y: (m, d). gamma, beta: (d,), both or
 * neither (pass ones/zeros for the missing one). Also LayerNorm over channels of NHWC: (n*hw, c). */
fn_status fn_layer_norm_rows(const fn_kernels *k, size_t m, size_t d, const float *x,
                             const float *gamma, const float *beta, double eps, const fn_act *act,
                             float *y, int nthreads);
/* LayerNorm over the channels of NCHW (ConvNeXt channels_first): x, y: (n, c, hw); statistics per
 * (sample, pixel) over c, affine per channel. gamma, beta: (c,), both or neither. */
fn_status fn_layer_norm_channels_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw,
                                      const float *x, const float *gamma, const float *beta,
                                      double eps, const fn_act *act, float *y, int nthreads);
/* BatchNorm with batch statistics (biased variance): x, y: (n, c, hw), statistics per channel over
 * n and hw (n * hw >= 1), as torch's BatchNorm with track_running_stats=False. */
fn_status fn_batch_norm_stats(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x,
                              const float *gamma, const float *beta, double eps, const fn_act *act,
                              float *y, int nthreads);

#endif
