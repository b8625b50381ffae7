/* fn_winograd.h: Winograd F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 3x3) convolution (3x3 or 5x5, stride 1,
 * dilation 1, groups 1) on NHWC activations, its drivers (included by fastnorm.h) and its per-ISA
 * kernel table. One driver (winograd.c) serves all three: A x A transform positions (A = 6, or 4 for
 * F(2x2, 3x3)), A*A GEMMs.
 *
 * y = A^T [ (G g G^T) . (B^T d B) ] A per 4x4 output tile, d the tile's 6x6 input window, with the
 * interpolation points 0, 1/2, -1/2, 2, -2, inf (the least float32 error of the sets measured by
 * tools/winograd_points.py; matrices in winograd_tx.h). The weight transform G g G^T runs once, in
 * double, at pack time; the 36 element-wise products summed over input channels are 36 GEMMs
 * (tiles x cin) x (cin x cout) on a register-tiled micro-kernel (the conv's igemm on AVX2 and
 * portable C, an own 12x32 tile with weight prefetch on AVX-512).
 *
 * Numerics: the transforms add rounding, and every output of a tile mixes the tile's whole 6x6 input
 * window with all 9 taps: an output's error follows sum_ci max_window |x| * sum_taps |w| (measured
 * <= 2e-6 of that), not its own 3x3 window. On ResNet-18's layers (kaiming weights, post-ReLU
 * inputs) max |err| / max |y| vs float64 is 2.2e-6 (64ch 56x56) .. 6.4e-6 (512ch 7x7), 3-4x the
 * direct conv's 0.55e-6 .. 1.6e-6. NaN or Inf in an input pixel makes every output of each tile
 * whose 6x6 window holds that pixel NaN (torch: only outputs whose 3x3 window holds it, and an
 * Inf stays Inf there).
 *
 * F(2x2, 5x5): alpha = 2 + 5 - 1 = 6 at the same points, so the same B^T (input transform), the same
 * 36 GEMMs and packing; G is 6x5 (winograd.c, tools/winograd_f2x5.py) and A^T 2x6 (output2), the
 * tiles step by 2: 36 products per 4 outputs instead of the direct conv's 100 (Inception-v3's
 * 5x5 48->64 at 35x35: 1.55 -> 0.78 ms on AVX2, 0.92 -> 0.48 ms on AVX-512, 1 thread). Numerics on
 * Inception-like layers (kaiming weights, post-ReLU inputs, padding 2), max |err| / max |y| vs
 * float64, Winograd / direct: 48->64 35x35 1.5e-6 / 0.94e-6, 32ch 56x56 1.6e-6 / 0.82e-6, 128ch
 * 17x17 2.3e-6 / 1.1e-6, 192ch 17x17 3.3e-6 / 1.7e-6, 256ch 8x8 3.7e-6 / 2.3e-6, 16ch 35x35
 * 1.8e-6 / 0.55e-6 (AVX-512; every ISA gives the same to 2 digits). An output's error follows its
 * 2x2 tile's 6x6 window x all 25 taps (<= 4.5e-7 of that, tests/test_winograd5.py).
 * ---------------------------------------------------------------------------------------------- */
#ifndef FASTNORM_FN_WINOGRAD_H
#define FASTNORM_FN_WINOGRAD_H

typedef struct fn_winograd_kernels {
    fn_isa isa;
    /* Input transform of one tile, c channels: px[i*6 + j] is input pixel (i, j) of the 6x6 window
     * (c floats; padding pixels point at a zero row); v[p*ldv + ch] = (B^T d B)[p] for p < 36. */
    void (*input)(size_t c, const float *const *px, float *v, size_t ldv);
    /* Output transform of one tile, c channels: m[p*ldm + ch] for p < 36 is the tile's product;
     * out[i*4 + j] (NULL: outside the output, skipped) gets act((A^T m A)[i][j] + bias (+ res)),
     * res[i*4 + j] is read only when res is non-NULL (may equal out: read before written). */
    void (*output)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                   const float *const *res, const fn_act *act);
    /* The same for F(2x2, 5x5): a 2x2 output tile, out / res[i*2 + j]. */
    void (*output2)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                    const float *const *res, const fn_act *act);
    /* F(2x2, 3x3)'s: px[i*4 + j] pixel (i, j) of the 4x4 window, v[p*ldv + ch] for p < 16; the output
     * from m[p*ldm + ch], p < 16, into out / res[i*2 + j] as output2 does. */
    void (*input4)(size_t c, const float *const *px, float *v, size_t ldv);
    void (*output4)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                    const float *const *res, const fn_act *act);
    /* c[m*ldc + j] = sum_i a[m*lda + i] * w[NR + i*NR + j] for m < mr <= MR, j < nc <= NR (the
     * core table's gemm tile), w one packed panel (NR zeros, then kc rows of NR); the kernel may
     * prefetch the npf 64-byte lines from pf (a share of the next panel). */
    void (*gemm)(size_t mr, size_t nc, size_t kc, const float *a, size_t lda, const float *w,
                 float *c, size_t ldc, const float *pf, size_t npf);
    /* The weight transform of nb input channels from ci0 for the NR-wide panel of output channels
     * from co0 (nj of them real): vb[((i*A + c)*FN_WINO_PACK_CB + cb)*NR + j] = (G g G^T)[i][c]
     * (winograd_pack.h; A = 4 or 6, R = 3 or 5 taps; w: (cout, cin, R, R)). */
    void (*pack_block)(int A, int R, const float *w, size_t cin, size_t ci0, size_t nb, size_t co0,
                       size_t nj, size_t NR, float *vb);
} fn_winograd_kernels;

const fn_winograd_kernels *fn_winograd_kernels_for(fn_isa isa);

/* The convs this driver takes: 3x3 (F(4x4, 3x3)) or 5x5 (F(2x2, 5x5)), stride 1, dilation 1,
 * groups 1, any padding. The fn_winograd3x3_* names are kept for both (the kernel size is the
 * desc's). */
int fn_winograd3x3_supported(const fn_conv2d_desc *d);
/* Floats fn_winograd3x3_pack writes for this table's micro-kernel geometry. */
size_t fn_winograd3x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
/* w: (cout, cin, k, k) as torch stores it; bias: (cout,) or NULL. Returns FN_ERR_ARG for a conv
 * fn_winograd3x3_supported rejects. */
fn_status fn_winograd3x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed);
/* Bytes of scratch fn_winograd3x3_nhwc needs (independent of the thread count). */
size_t fn_winograd3x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                    size_t h, size_t w, int nthreads);
/* x: (n, h, w, cin); res: (n, oh, ow, cout) or NULL (may equal y); y: (n, oh, ow, cout), must not
 * alias x. Results are bit-identical for any nthreads. */
fn_status fn_winograd3x3_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                              size_t w, const float *x, const float *packed, const float *res,
                              const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                              int nthreads);
/* The same with output pixels ldy >= cout floats apart (a block of a wider NHWC image: a channel
 * concat's buffer); res, if any, stays dense (pixels cout apart) and then must not alias y unless
 * ldy == cout. */
fn_status fn_winograd3x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                  size_t w, const float *x, const float *packed, const float *res,
                                  const fn_act *act, float *y, size_t ldy, void *scratch,
                                  size_t scratch_bytes, int nthreads);

/* F(2x2, 3x3) (alpha 4, points 0, 1, -1, inf): the same API for 3x3 stride-1 convs. 16 products per
 * 2x2 outputs (F(4x4, 3x3): 36 per 4x4; the direct conv 36 per 4), transforms of additions only. Its
 * float32 error is the direct conv's where F(4x4, 3x3)'s is 3-4x that with few input channels (rms
 * over float64 / max |y|, 32 -> 32 channels: direct 5.2e-8, F(2x2, 3x3) 4.3e-8, F(4x4, 3x3) 1.7e-7;
 * F(4x4, 3x3)'s GEMM sums products larger than the outputs they cancel to). Time, 1 thread: 1.45-1.6x
 * F(4x4, 3x3)'s, 1.1-1.6x faster than the direct conv (16-64 channels, 28x28 to 256x256, AVX2 and
 * AVX-512). The plan takes it below WINOGRAD2_MAX_CIN input channels among a graph's first
 * WINOGRAD2_FIRST_CONVS convs (fastnorm/plan/lower_conv.py says why).
 * Packed layout as fn_winograd3x3_pack's with 16 positions. */
int fn_winograd2x3_supported(const fn_conv2d_desc *d);
size_t fn_winograd2x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
fn_status fn_winograd2x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed);
size_t fn_winograd2x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                    size_t h, size_t w, int nthreads);
fn_status fn_winograd2x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                  size_t w, const float *x, const float *packed, const float *res,
                                  const fn_act *act, float *y, size_t ldy, void *scratch,
                                  size_t scratch_bytes, int nthreads);

#endif
