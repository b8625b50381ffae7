/* fn_convt.h: transposed convolution (ConvTranspose2d) on NHWC activations: the driver's C API and
 * the small per-ISA kernel table it uses beside the core igemm micro-kernel. */
#ifndef FASTNORM_FN_CONVT_H
#define FASTNORM_FN_CONVT_H

#include "../fastnorm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------
 * Definition (torch's conv_transpose2d, ONNX ConvTranspose). With the fn_conv2d_desc fields read as
 *   cin, cout, groups      input / output channels, both divisible by groups
 *   kh, kw, sh, sw, dh, dw kernel, stride, dilation
 *   pad_top, pad_left      rows / columns cropped from the top / left of the full output
 *   pad_bottom, pad_right  only used by fn_conv_transpose_out_extent (the caller passes oh, ow)
 * input pixel (iy, ix) of channel ci = g*kc + i adds x * w[ci][co][ky][kx] to output pixel
 *   oy = iy*sh - pad_top + ky*dh,  ox = ix*sw - pad_left + kx*dw,  channel g*cout_g + co,
 * when that pixel lies in [0, oh) x [0, ow); every output pixel starts at bias and gets the epilogue
 * clamp after its last contribution. oh, ow are the caller's: torch's
 *   (h - 1)*sh - pad_top - pad_bottom + dh*(kh - 1) + output_padding + 1,
 * and rows / columns past the last contribution (output_padding) hold act(bias).
 *
 * Method: a GEMM per group, Ycol[pixel][tap][co] = sum_i x[pixel][i] * w[i][co][tap] (the packed
 * 1x1-conv igemm over input pixels, cout' = kh*kw*cout_g columns), then a scatter of Ycol rows into
 * the output rows. Input rows go in chunks whose Ycol fits a cache budget; output rows are shared out
 * to threads, each adding the taps that reach its rows in a fixed order (input row, then kx), so the
 * result does not depend on nthreads.
 * ---------------------------------------------------------------------------------------------- */

/* One output axis: (in - 1)*s - p0 - p1 + d*(k - 1) + op + 1, or 0 when that is below 1. */
size_t fn_conv_transpose_out_extent(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1,
                                    size_t op);
/* Floats fn_conv_transpose2d_pack writes for this table's micro-kernel geometry. */
size_t fn_conv_transpose2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
/* w: (cin, cout/groups, kh, kw) as torch stores it; bias: (cout,) or NULL. */
void fn_conv_transpose2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed);
/* Bytes of scratch fn_conv_transpose2d_nhwc needs (independent of oh, ow). */
size_t fn_conv_transpose2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                         size_t h, size_t w, int nthreads);
/* x: (n, h, w, cin); y: (n, oh, ow, cout). y must not alias x. */
fn_status fn_conv_transpose2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                   size_t w, size_t oh, size_t ow, const float *x,
                                   const float *packed, const fn_act *act, float *y, void *scratch,
                                   size_t scratch_bytes, int nthreads);

/* ------------------------------------------------------------------------------------------------
 * Per-ISA kernels of the scatter (convt.c, convt_avx2.c, convt_avx512.c).
 * ---------------------------------------------------------------------------------------------- */
/* dst[i*ds + j] += src[i*ss + j] for i < n, j < c (one tap into every ix of one output row). */
typedef void (*fn_convt_addrows_ukernel)(size_t n, size_t c, const float *src, size_t ss,
                                         float *dst, size_t ds);

typedef struct fn_convt_kernels {
    fn_isa isa;
    fn_convt_addrows_ukernel addrows;
} fn_convt_kernels;

const fn_convt_kernels *fn_convt_kernels_for(fn_isa isa);

#ifdef __cplusplus
}
#endif
#endif /* FASTNORM_FN_CONVT_H */
