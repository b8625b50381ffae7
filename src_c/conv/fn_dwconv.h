/* fn_dwconv.h: depthwise conv2d on NHWC (included by fastnorm.h): packing, driver, per-ISA table. */
#ifndef FASTNORM_FN_DWCONV_H
#define FASTNORM_FN_DWCONV_H

/* ------------------------------------------------------------------------------------------------
 * Depthwise conv2d, channel multiplier 1 (groups == cin == cout == c), channels-last: channels are
 * the vector axis, so every tap is a full-width multiply-add of contiguous memory and no lane is
 * wasted (the grouped GEMM path computes one useful column of its tile).
 *
 * Packed weights (fn_dwconv_pack): a header of FN_DWCONV_PACK_HEADER floats whose first holds the
 * offset off (1..16) of the data, chosen so that the data starts on a 64-byte line; then
 *   [cp bias][kh*kw taps][cp]           cp = c rounded up to 16, zero padded
 * Tap t = ky*kw + kx. The layout is the same for every ISA (16 floats cover both vector widths),
 * and a copy of the buffer at another alignment stays correct (off is stored, not recomputed).
 *
 * Result per output (b, oy, ox, j), the same on every SIMD ISA and thread count:
 *   s = bias[j]; for ky, for kx (only taps inside the input): s += x * w  (a fused multiply-add
 *   on the SIMD ISAs); s += res (if any); y = act(s)  (the fn_act clamp, NaN stays NaN).
 * The SIMD kernels' slide kernel (dwconv_simd.h: 3x3 / 5x5 / 7x7 kernels, the outputs of a row past
 * its last whole tile of 8 at stride 1, every output at stride 2) meets the taps column by column
 * instead (for kx, for ky); which outputs those are depends only on the shape, so AVX2 and AVX-512
 * still agree bit for bit.
 * Taps that fall on padding are skipped rather than multiplied by zero.
 * ---------------------------------------------------------------------------------------------- */
#define FN_DWCONV_PACK_HEADER 16
#define FN_DWCONV_CHANNEL_ROUND 16

/* What a row micro-kernel needs, built once per call by the driver. */
typedef struct fn_dwconv_geom {
    size_t c, cp;            /* channels (= floats between pixels); packed stride (c rounded up) */
    size_t w, ow;            /* input and output width */
    size_t kw, sw, dw;       /* kernel width, stride and dilation along x */
    size_t dh;               /* dilation along y */
    size_t pad_left;
    size_t ox_lo, ox_hi;     /* [ox_lo, ox_hi): outputs whose kw taps all lie inside the row;
                              * the others (0 <= ox < ox_lo, ox_hi <= ox < ow) clip their taps */
    size_t row;              /* floats between input rows: w * c */
    int wide;                /* the input is past L2 (FN_DWCONV_WIDE_MIN_BYTES a sample): AVX-512's
                              * 3x3 stride-2 slide takes four vectors of channels a pass */
    fn_act act;
} fn_dwconv_geom;

/* One output row of every channel. x points at (pixel 0, channel 0) of the input row under kernel
 * row ky0; kernel row ky (ky0 <= ky < ky1, the rows inside the input) reads the input row
 * x + (ky - ky0) * dh * row. w: the packed data (bias first). y, res: (ow, c); res may be NULL or
 * y itself (each res element is read before the same y element is written). ky0 == ky1 gives
 * act(bias (+ res)). */
typedef void (*fn_dwconv_row_ukernel)(const fn_dwconv_geom *g, size_t ky0, size_t ky1,
                                      const float *x, const float *w, const float *res, float *y);

/* s[j] = the sum over ox < ow of y[ox * c + j], j < c, in a fixed order (dwconv_simd.h rowsum):
 * four partials, partial q = 0.0f + y[ox] for ox = q (mod 4) ascending; s = (p0 + p1) + (p2 + p3). */
typedef void (*fn_dwconv_rowsum_ukernel)(size_t ow, size_t c, const float *y, float *s);

typedef struct fn_dwconv_kernels {
    fn_isa isa;
    fn_dwconv_row_ukernel row;
    fn_dwconv_rowsum_ukernel rowsum;
} fn_dwconv_kernels;

const fn_dwconv_kernels *fn_dwconv_kernels_for(fn_isa isa);

/* Floats fn_dwconv_pack writes for c channels and a kh x kw kernel. */
size_t fn_dwconv_packed_floats(size_t c, size_t kh, size_t kw);
/* w: (c, 1, kh, kw) as torch stores it; bias: (c,) or NULL. */
void fn_dwconv_pack(size_t c, size_t kh, size_t kw, const float *w, const float *bias,
                    float *packed);

/* d: a conv2d descriptor with groups == cin == cout (FN_ERR_ARG otherwise).
 * x: (n, h, w, c); res: (n, oh, ow, c) or NULL (may be y); y: (n, oh, ow, c), must not alias x.
 * Threads split (sample, output row) blocks; each row is computed by one kernel call whatever the
 * thread count, so results never depend on nthreads. */
fn_status fn_dwconv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                           size_t w, const float *x, const float *packed, const float *res,
                           const fn_act *act, float *y, int nthreads);

/* fn_dwconv2d_nhwc that also writes mean (n, c): the per-channel mean of its output y (after the
 * activation), the global average pool of y folded into the conv (the plan rewrite
 * fastnorm.plan.rewrites.dwconv_takes_pool): each output row is summed while it is still in L1,
 * instead of the pool reading the whole output back (EfficientNet-B0's 144ch 56x56 = 1.8 MB, past
 * L2). Summation order, fixed by the shape alone (never by nthreads): per (sample, output row,
 * channel) s_row = the row's sum in the order of fn_dwconv_rowsum_ukernel (float32, four
 * partials); then mean = (0.0f + s_row for oy ascending) / (float)(oh * ow) (the pool's
 * fn_global_pool_cols kernel), after the threads join.
 * scratch: at least fn_dwconv2d_mean_scratch_bytes (the row sums); mean must not alias x, res or y. FN_ERR_ARG for an empty image (oh * ow == 0), as the pool.
 * post: NULL, or the epilogue past the activation (fastnorm.h fn_post) on each output row before
 * its sum; its res must not be y (each row is written before the residual is added). */
size_t fn_dwconv2d_mean_scratch_bytes(const fn_conv2d_desc *d, size_t n, size_t h);
fn_status fn_dwconv2d_mean_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                size_t w, const float *x, const float *packed, const float *res,
                                const fn_act *act, const fn_post *post, float *y, float *mean,
                                void *scratch, size_t scratch_bytes, int nthreads);

/* A depthwise conv set up for row-at-a-time use (the fused depthwise + pointwise op below). */
typedef struct fn_dwconv_run {
    fn_dwconv_geom g;
    fn_dwconv_row_ukernel row;
    const float *wp;             /* packed data (bias first) */
    const fn_conv2d_desc *d;
    size_t h, oh;                /* input and output height */
    fn_actk_apply_fn actk;       /* an epilogue past the clamp (silu, ...) on each row, or NULL */
} fn_dwconv_run;

fn_status fn_dwconv_prepare(const fn_kernels *k, const fn_conv2d_desc *d, size_t h, size_t w,
                            const float *packed, const fn_act *act, fn_dwconv_run *p);
/* Output row oy of sample b: (ow, c) floats to y, res the same row of the residual or NULL. x holds
 * the input rows from row0 on, counting rows of all samples (b * h + iy); rows the window reads
 * must be among them. */
void fn_dwconv_row_at(const fn_dwconv_run *p, size_t b, size_t oy, const float *x, size_t row0,
                      const float *res, float *y);

/* ------------------------------------------------------------------------------------------------
 * Depthwise conv followed by a 1x1 conv (stride 1, no padding, groups 1) that alone reads its
 * output, optionally preceded by a 1x1 conv whose output only the depthwise conv reads: MobileNet's
 * (expand ->) depthwise -> project. The depthwise output is made a band of rows at a time in
 * per-thread scratch, where the 1x1 conv reads it while it is still in L2; with an expand conv, the
 * expanded rows the band's windows need (the band's rows plus the kernel's halo, which neighbouring
 * bands both compute) are made first, in scratch too. At batch 16 an early MobileNetV2 block's
 * expanded and depthwise tensors are 20-30 MB each, written to and read back from DRAM when the
 * three ops run one after the other.
 * ex: the expand conv's desc (NULL: none; x is then the depthwise input) with fn_conv2d_pack'ed
 * weights and act ex_act; x: (n, h, w, ex ? ex->cin : c), h and w the depthwise input's extents.
 * dw: depthwise desc and packing (act dw_act); pw: the 1x1 conv's desc (cin == dw channels) and
 * packed weights, act pw_act, residual res (n, oh, ow, pw->cout) or NULL.
 * Results are bit-identical to the ops run separately, at every thread count.
 * ---------------------------------------------------------------------------------------------- */
typedef struct fn_dwconv_pw_args {
    const fn_conv2d_desc *ex, *dw, *pw;
    const float *ex_packed, *dw_packed, *pw_packed;
    const fn_act *ex_act, *dw_act, *pw_act;
} fn_dwconv_pw_args;

size_t fn_dwconv_pw_scratch_bytes(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t h,
                                  size_t w, int nthreads);
fn_status fn_dwconv_pw_nhwc(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n, size_t h,
                            size_t w, const float *x, const float *res, float *y, void *scratch,
                            size_t scratch_bytes, int nthreads);

/* The same with pw NULL: the 1x1 expand conv (required) and the depthwise conv alone, a band of
 * rows at a time, the expanded rows in per-thread scratch and the depthwise rows written to y (n,
 * oh, ow, c); res must be NULL. mean (pw NULL only; else NULL): the (n, c) per-channel means of y,
 * summed as fn_dwconv2d_mean_nhwc sums them (each row while in L1, then the rows in order), so the
 * squeeze-and-excitation block's pool joins too (fastnorm.plan.rewrites.dwconv_takes_expand):
 * EfficientNet-B0's 16->96 expand at 112x112 (4.8 MB) never leaves L2 on its way to the stride-2
 * depthwise conv. Bits: those of the three ops run separately, at every thread count.
 * scratch: at least fn_dwconv_pw_mean_scratch_bytes (mean: whether one is asked). */
size_t fn_dwconv_pw_mean_scratch_bytes(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n,
                                       size_t h, size_t w, int mean, int nthreads);
fn_status fn_dwconv_pw_mean_nhwc(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n,
                                 size_t h, size_t w, const float *x, const float *res, float *y,
                                 float *mean, void *scratch, size_t scratch_bytes, int nthreads);

#endif
