/* fn_winograd1d.h: 1-D Winograd convolution for 1xk and kx1 convs (k = 3, 5, 7; stride 1, dilation 1,
 * groups 1) on NHWC activations (included by fastnorm.h), and its per-ISA transform table.
 *
 * Along the kernel's axis only: y = A^T [ (G g) . (B^T d) ] per tile of m outputs, d the tile's np input
 * pixels along the axis: F(6,3) and F(4,5) on the 8 points 0, 1, -1, 2, -2, 1/2, -1/2, inf (one B^T for
 * both), F(3,7) on those and -1/4 (np = 9; matrices in winograd1d_simd.h and winograd1d.c, derived and
 * checked by tools/winograd1d.py). The weight transform G g runs once, in double, at pack time; the np
 * element-wise products summed over input channels are np GEMMs (tiles x cin) x (cin x cout) on the 3x3
 * Winograd's micro-kernel (fn_winograd_kernels.gemm). Multiplies per output: np / m of the direct
 * conv's k (1x3: 1.33 vs 3, 1x5: 2 vs 5, 1x7: 3 vs 7).
 *
 * Numerics (tools/winograd1d.py, float32 emulation, kaiming weights, post-ReLU inputs, padding k/2),
 * max |err| / max |y| vs float64 beside the float32 direct conv's:
 *   1x3 384ch 8x8 3.1e-6 (direct 0.8e-6); 1x5 48ch 35x35 1.1e-6 (0.4e-6), 128ch 17x17 1.5e-6 (0.7e-6);
 *   1x7 F(3,7) 128ch 17x17 6.4e-6 (0.8e-6), 192ch 8.3e-6 (0.7e-6); F(2,7) on the 8 points would be
 *   1.4e-6 there, at 4 multiplies per output instead of 3 (figures in winograd1d.c).
 * An output mixes its tile's whole 8-pixel window: NaN or Inf in an input pixel makes every output of
 * each tile whose window holds it NaN.
 * ---------------------------------------------------------------------------------------------- */
#ifndef FASTNORM_FN_WINOGRAD1D_H
#define FASTNORM_FN_WINOGRAD1D_H

typedef struct fn_winograd1d_kernels {
    fn_isa isa;
    /* Input transform of one tile on np = 8 or 9 points, c channels: px[j] is the tile's input pixel
     * j < np along the axis (c floats; padding pixels point at a zero row); v[p*ldv + ch] = (B^T d)[p]. */
    void (*input)(int np, size_t c, const float *const *px, float *v, size_t ldv);
    /* Output transform of one tile of mo = 6, 4, 2 (8 points) or 3 (9) outputs, c channels:
     * m[p*ldm + ch] for p < np is
     * the tile's product; out[i] (NULL: outside the output, skipped) gets act((A^T m)[i] + bias
     * (+ res[i])), res read only when non-NULL (may equal out: read before written). */
    void (*output)(int mo, size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                   const float *const *res, const fn_act *act);
    /* Weight transform of one input channel of one panel: for p < np, u[p*ldu + j] = (float) of the
     * double sum over i < kt, in order, of g[p*7 + i] * gt[i*FN_WINO1D_PACK_NR + j], j < nr (winograd1d.c's
     * packing; plain C at the ISA's width, so every table gives the same bits). */
    void (*pack_rows)(size_t np, size_t kt, const double *g, const double *gt, size_t nr, float *u, size_t ldu);
} fn_winograd1d_kernels;

#define FN_WINO1D_PACK_NR 64 /* gt's row length: the widest micro-kernel panel the packing takes */

const fn_winograd1d_kernels *fn_winograd1d_kernels_for(fn_isa isa);

/* The convs this driver takes: 1xk or kx1 with k = 3, 5 or 7, stride 1, dilation 1, groups 1, any
 * padding. */
int fn_winograd1d_supported(const fn_conv2d_desc *d);
/* Floats fn_winograd1d_pack writes for this table's micro-kernel geometry. */
size_t fn_winograd1d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
/* w: (cout, cin, kh, kw) as torch stores it; bias: (cout,) or NULL. FN_ERR_ARG for a conv
 * fn_winograd1d_supported rejects. */
fn_status fn_winograd1d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                             const float *bias, float *packed);
size_t fn_winograd1d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                   size_t w, int nthreads);
/* x: (n, h, w, cin); res: (n, oh, ow, cout) or NULL (may equal y when ldy == cout); y: (n, oh, ow)
 * pixels ldy >= cout floats apart, must not alias x. Bit-identical for any nthreads. */
fn_status fn_winograd1d_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                 size_t w, const float *x, const float *packed, const float *res,
                                 const fn_act *act, float *y, size_t ldy, void *scratch,
                                 size_t scratch_bytes, int nthreads);

#endif
