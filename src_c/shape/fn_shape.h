/* fn_shape.h: the shape family's public C API (included by fastnorm.h) and its per-ISA kernel table:
 * strided copies (slice, split, permute up to 8-D, channel windows of NHWC images) and reductions
 * (sum, mean, max over one axis of an (outer, len, inner) view). */
#ifndef FASTNORM_FN_SHAPE_H
#define FASTNORM_FN_SHAPE_H

#include <stddef.h>

/* MIN, PROD and the index reductions run portable code (rare ops: a model's last step); ARG*: the
 * position along the axis as a float (exact below 2^24), the first of equal extremes or, _LAST, the
 * last; NaN counts as the extreme (torch.argmax / argmin) */
enum {
    FN_REDUCE_SUM = 0, FN_REDUCE_MEAN = 1, FN_REDUCE_MAX = 2, FN_REDUCE_MIN = 3, FN_REDUCE_PROD = 4,
    FN_REDUCE_ARGMAX = 5, FN_REDUCE_ARGMIN = 6, FN_REDUCE_ARGMAX_LAST = 7, FN_REDUCE_ARGMIN_LAST = 8,
    FN_REDUCE_COUNT_ = 9
};
#define FN_STRIDED_MAX_DIMS 8

typedef struct fn_shape_kernels {
    fn_isa isa;
    /* y[i] = x[i * sx], i < n (sx may be any sign, 0 broadcasts) */
    void (*gather_row)(size_t n, const float *x, ptrdiff_t sx, float *y);
    /* y[i] = y[i] + x[i] (FN_REDUCE_SUM, _MEAN) or max(y[i], x[i]) (FN_REDUCE_MAX), i < n */
    void (*acc_row)(int kind, size_t n, const float *x, float *y);
    /* the sum (SUM, MEAN) or max (MAX) of x[0..n), n >= 1 */
    float (*reduce_row)(int kind, size_t n, const float *x);
    /* y[i] *= s, i < n */
    void (*scale_row)(size_t n, float s, float *y);
} fn_shape_kernels;

const fn_shape_kernels *fn_shape_kernels_for(fn_isa isa);

/* Strided copy: y (contiguous, shape[0..ndim)) = x read at element offsets sum_d idx[d] * sx[d].
 * A slice, a split piece, a permute (any rank up to 8) or a channel window of an NHWC image are all
 * one call. Dims merge where they chain; rows along the last dim are copied (stride 1) or gathered.
 * Work is split into blocks of whole rows, so the result never depends on nthreads. y must not
 * overlap x. */
fn_status fn_strided_copy(const fn_kernels *k, size_t ndim, const size_t *shape, const ptrdiff_t *sx,
                          const float *x, float *y, int nthreads);

/* Reduction over the middle axis: x: (outer, len, inner) contiguous -> y: (outer, inner).
 * SUM: the sum, MEAN: the sum times 1/len, MAX / MIN: the max / min (x86 max order: NaN is not
 * propagated unless it is the last candidate), PROD: the product in axis order, ARG*: above. inner == 1 reduces contiguous rows; else rows of inner floats
 * accumulate. len == 0: FN_ERR_ARG. */
fn_status fn_reduce(const fn_kernels *k, int kind, size_t outer, size_t len, size_t inner, const float *x,
                    float *y, int nthreads);

#endif
