/* fn_glue.h: the glue family's public C API (included by fastnorm.h) and its per-ISA kernel table:
 * broadcasting add/mul (+act), cat, pad, interpolate (nearest, nearest-exact, bilinear),
 * pixel_shuffle / pixel_unshuffle / channel_shuffle. */
#ifndef FASTNORM_FN_GLUE_H
#define FASTNORM_FN_GLUE_H

#include <stddef.h>
#include <stdint.h>

/* Binary ops. a is the operand the kernel streams, b the other one:
 *   FN_BIN_ADD:  y = a + alpha * b      (torch.add(a, b, alpha))
 *   FN_BIN_RADD: y = b + alpha * a      (torch.add(b, a, alpha) with the broadcast operand first)
 *   FN_BIN_MUL:  y = a * b
 *   FN_BIN_SUB:  y = a - alpha * b      FN_BIN_RSUB: y = b - alpha * a
 *   FN_BIN_DIV:  y = a / b              FN_BIN_RDIV: y = b / a
 *   FN_BIN_MAX:  y = max(a, b)          FN_BIN_MIN:  y = min(a, b)   (x86 max/min: b on NaN)
 *   comparisons, 1.0 where true and 0.0 where false (ONNX's bool values as floats), false on NaN but NE:
 *   FN_BIN_EQ: a == b   FN_BIN_NE: a != b   FN_BIN_LT: a < b   FN_BIN_GT: a > b   FN_BIN_LE, FN_BIN_GE
 *   selection by a 0 / non-0 condition (Where(c, x, y) = KEEP(x, c) + DROP(y, c): one term is exactly 0):
 *   FN_BIN_KEEP: y = b != 0 ? a : 0    FN_BIN_RKEEP: y = a != 0 ? b : 0
 *   FN_BIN_DROP: y = b != 0 ? 0 : a    FN_BIN_RDROP: y = a != 0 ? 0 : b
 * then the epilogue act. The wide kernels compute a + alpha*b as one FMA (as torch's vectorised add
 * does), the portable one in double then rounds once; alpha == 1 is exact in every ISA. */
enum {
    FN_BIN_ADD = 0, FN_BIN_RADD = 1, FN_BIN_MUL = 2, FN_BIN_SUB = 3, FN_BIN_RSUB = 4, FN_BIN_DIV = 5,
    FN_BIN_RDIV = 6, FN_BIN_MAX = 7, FN_BIN_MIN = 8, FN_BIN_EQ = 9, FN_BIN_NE = 10, FN_BIN_LT = 11,
    FN_BIN_GT = 12, FN_BIN_LE = 13, FN_BIN_GE = 14, FN_BIN_KEEP = 15, FN_BIN_RKEEP = 16, FN_BIN_DROP = 17,
    FN_BIN_RDROP = 18, FN_BIN_COUNT_ = 19
};
/* the op computing the same with the operands swapped */
static inline int fn_bin_swapped(int op) {
    static const int sw[FN_BIN_COUNT_] = {FN_BIN_RADD, FN_BIN_ADD, FN_BIN_MUL, FN_BIN_RSUB, FN_BIN_SUB,
                                          FN_BIN_RDIV, FN_BIN_DIV, FN_BIN_MAX, FN_BIN_MIN,
                                          FN_BIN_EQ, FN_BIN_NE, FN_BIN_GT, FN_BIN_LT, FN_BIN_GE,
                                          FN_BIN_LE, FN_BIN_RKEEP, FN_BIN_KEEP, FN_BIN_RDROP, FN_BIN_DROP};
    return sw[op];
}

/* Interpolation modes, and what fn_interp_axis fills for them. */
enum { FN_INTERP_NEAREST = 0, FN_INTERP_NEAREST_EXACT = 1, FN_INTERP_LINEAR = 2 };

/* Pad modes (torch.nn.functional.pad on 4D inputs). */
enum { FN_PAD_CONSTANT = 0, FN_PAD_REFLECT = 1, FN_PAD_REPLICATE = 2 };

typedef struct fn_glue_kernels {
    fn_isa isa;
    /* y[i] = act(a[i] op b[i]), i < n */
    void (*binary)(int op, size_t n, const float *a, const float *b, float alpha, const fn_act *act,
                   float *y);
    /* a, y: (rows, n); b: (rows,): y[r][i] = act(a[r][i] op b[r]) (a scalar per NCHW plane) */
    void (*binary_rows)(int op, size_t rows, size_t n, const float *a, const float *b, float alpha,
                        const fn_act *act, float *y);
    /* y[i] = x[i] (x, y do not overlap); y[i] = v */
    void (*copy)(size_t n, const float *x, float *y);
    void (*fill)(size_t n, float v, float *y);
    /* y[2i] = y[2i+1] = x[i], i < n (nearest 2x along a row) */
    void (*dup2)(size_t n, const float *x, float *y);
    /* y[o] = x[ix[o]], o < n (nearest along a row) */
    void (*gather)(size_t n, const float *x, const int32_t *ix, float *y);
    /* bilinear along an NCHW row, o < n (r0, r1: source rows of w floats; i0 <= i1 < w, both
     * non-decreasing in o):
     * y[o] = w0 * (l0[o]*r0[i0[o]] + l1[o]*r0[i1[o]]) + w1 * (l0[o]*r1[i0[o]] + l1[o]*r1[i1[o]])
     * (products and sums in this order, no FMA, in every ISA: results are identical across ISAs) */
    void (*bilinear_row)(size_t n, size_t w, const float *r0, const float *r1, float w0, float w1,
                         const int32_t *i0, const int32_t *i1, const float *l0, const float *l1,
                         float *y);
    /* bilinear for one NHWC output pixel, j < c: same formula with the four source pixels
     * p00 = (y0, x0), p01 = (y0, x1), p10 = (y1, x0), p11 = (y1, x1) and scalars l0, l1 */
    void (*lerp2d)(size_t c, const float *p00, const float *p01, const float *p10, const float *p11,
                   float w0, float w1, float l0, float l1, float *y);
    /* y[c*ldy + r] = x[r*ldx + c], r < rows, c < cols, in strips of `strip` columns (16 or 32; the
     * rows inner), so that each strip's rows are read as short runs and its output rows written as
     * whole lines (fn_nchw_to_nhwc). A copy: every ISA gives the same bits. */
    void (*transpose)(size_t rows, size_t cols, size_t strip, const float *x, size_t ldx, float *y,
                      size_t ldy);
} fn_glue_kernels;

const fn_glue_kernels *fn_glue_kernels_for(fn_isa isa);

/* Every driver below: contiguous float32, one OpenMP region, work split into (sample, row) or
 * fixed-size blocks (~64 KiB) whose values never depend on the split, so the output is
 * bit-identical for any nthreads; under 256K output floats (1 MiB: these ops only move memory) it
 * runs on the calling thread. y never aliases an input unless said. Layouts: fn_binary and fn_cat
 * take any layout (NCHW and NHWC wrappers below), fn_pad2d NCHW or NHWC, fn_interp2d_* one driver
 * per layout, pixel shuffles NCHW only, channel shuffle both. */

/* Broadcasting binary op, any layout: y (contiguous, shape[0..ndim)) = act(a op b) where a and b
 * are read at element offsets sum_d idx[d] * sa[d] (resp. sb[d]); a stride 0 broadcasts. Callers
 * pass the dims merged as far as they go (adjacent dims merge when a's and b's strides both
 * chain); ndim <= 8. Fast paths: the innermost dim contiguous in both (equal shapes: one streaming
 * pass; NHWC per-channel vector: a row per pixel), or contiguous in one and 0 in the other (a
 * scalar per row: NCHW per-channel, scalars). y may alias a when a has y's shape and strides. */
#define FN_BINARY_MAX_DIMS 8
fn_status fn_binary(const fn_kernels *k, int op, float alpha, size_t ndim, const size_t *shape,
                    const ptrdiff_t *sa, const ptrdiff_t *sb, const float *a, const float *b,
                    const fn_act *act, float *y, int nthreads);
/* The executor's three cases, as wrappers of fn_binary:
 * equal shapes: a, b, y: (n,) (a residual add, with act = relu fused); y may alias a or b */
fn_status fn_binary_same(const fn_kernels *k, int op, float alpha, size_t n, const float *a,
                         const float *b, const fn_act *act, float *y, int nthreads);
/* NCHW per-channel: x, y: (n, c, hw); s: (n, c) (squeeze-and-excitation) or (c,) if s_per_sample 0 */
fn_status fn_binary_channel_nchw(const fn_kernels *k, int op, float alpha, size_t n, size_t c,
                                 size_t hw, const float *x, const float *s, int s_per_sample,
                                 const fn_act *act, float *y, int nthreads);
/* NHWC per-channel: x, y: (n, hw, c); s: (n, c) or (c,) if s_per_sample 0 */
fn_status fn_binary_channel_nhwc(const fn_kernels *k, int op, float alpha, size_t n, size_t hw,
                                 size_t c, const float *x, const float *s, int s_per_sample,
                                 const fn_act *act, float *y, int nthreads);

/* Concatenation: y: (outer, sum_i inner[i]); input i: (outer, inner[i]) copied to its column
 * block. torch.cat along dim d: outer = prod(shape[:d]), inner[i] = prod(shape_i[d:]).
 * NCHW channel concat: outer = N, inner[i] = C_i*H*W (per-sample block copies); NHWC channel
 * concat: outer = N*H*W, inner[i] = C_i (interleaved row copies). xs[i] NULL: block i is left as it is
 * (its producer wrote it in place). */
void fn_cat(const fn_kernels *k, size_t outer, size_t ninputs, const float *const *xs,
            const size_t *inner, float *y, int nthreads);
/* fn_cat whose input i has its rows ld[i] >= inner[i] floats apart (ld NULL: inner): a channel window
 * of an NHWC image read in place. */
void fn_cat_ld(const fn_kernels *k, size_t outer, size_t ninputs, const float *const *xs,
               const size_t *inner, const size_t *ld, float *y, int nthreads);

/* 2D pad, NCHW or NHWC: x: (planes, h, w, e) -> y: (planes, h + top + bottom, w + left + right, e).
 * NCHW: planes = N*C, e = 1; NHWC: planes = N, e = C. Output index o reads input o - pad, mapped
 * by the mode: constant -> value outside [0, size); reflect -> mirrored without repeating the edge
 * (needs |pad| < size); replicate -> clamped (needs size >= 1). Negative pads crop. Returns
 * FN_ERR_ARG if the output extent is negative or the mode's precondition fails. */
fn_status fn_pad2d(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w, size_t e,
                   ptrdiff_t top, ptrdiff_t bottom, ptrdiff_t left, ptrdiff_t right, float value,
                   const float *x, float *y, int nthreads);

/* Source indices and weights along one axis, torch's float32 rules (aten/src/ATen/native/UpSample.h):
 * scale > 0 is the user's scale_factor (torch uses 1/scale), else in/out. Nearest fills i0 only:
 * i0[o] = min(floor(o * s), in - 1) (out == in: o; out == 2 in: o >> 1), nearest-exact
 * min(floor((o + 0.5) * s), in - 1). Linear fills i0, i1, l0, l1 with i1 = min(i0 + 1, in - 1),
 * l1 = clamp(src - i0, 0, 1), l0 = 1 - l1, src = align_corners ? o * (in-1)/(out-1)
 * : max((o + 0.5) * s - 0.5, 0); out == in is the identity. align_corners == 2 (linear only): ONNX's
 * 'asymmetric' coordinates, src = o * s, with no identity shortcut (opset 9-10 Upsample / Resize
 * 'linear', TF1's resize_bilinear, Keras UpSampling2D bilinear). */
void fn_interp_axis(int mode, size_t in, size_t out, double scale, int align_corners, int32_t *i0,
                    int32_t *i1, float *l0, float *l1);

typedef struct fn_interp_tables {
    const int32_t *iy0, *iy1, *ix0, *ix1; /* (oh,), (oh,), (ow,), (ow,) from fn_interp_axis */
    const float *ly0, *ly1, *lx0, *lx1;   /* linear only */
} fn_interp_tables;
/* NCHW: x: (planes, h, w) -> y: (planes, oh, ow). Nearest with ow == 2w and ix0[o] = o>>1 widens
 * rows with dup2; an output row equal to the one above (nearest, same source row) is a copy. */
fn_status fn_interp2d_nchw(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w,
                           size_t oh, size_t ow, const fn_interp_tables *t, const float *x,
                           float *y, int nthreads);
/* NHWC: x: (n, h, w, c) -> y: (n, oh, ow, c); vectorised over channels. */
fn_status fn_interp2d_nhwc(const fn_kernels *k, int mode, size_t n, size_t h, size_t w, size_t c,
                           size_t oh, size_t ow, const fn_interp_tables *t, const float *x,
                           float *y, int nthreads);

/* pixel_shuffle, NCHW: x: (n, c*r*r, h, w) -> y: (n, c, h*r, w*r), y[n,c,h*r+i,w*r+j] =
 * x[n, c*r*r + i*r + j, h, w]. inverse = 1 is pixel_unshuffle: x: (n, c, h*r, w*r) ->
 * y: (n, c*r*r, h, w) (here c, h, w are the small extents). */
void fn_pixel_shuffle_nchw(size_t n, size_t c, size_t h, size_t w, size_t r, int inverse,
                           const float *x, float *y, int nthreads);
/* channel_shuffle: channel g*(c/groups) + j of x goes to channel j*groups + g of y.
 * NCHW: x, y: (n, c, hw) (plane copies); NHWC: x, y: (n*hw, c) (a permutation per pixel). */
void fn_channel_shuffle_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                             const float *x, float *y, int nthreads);
void fn_channel_shuffle_nhwc(size_t pixels, size_t c, size_t groups, const float *x, float *y,
                             int nthreads);

#endif
