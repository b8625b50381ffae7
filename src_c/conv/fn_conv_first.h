/* fn_conv_first.h: the first-layer conv (Cin <= 4): reads the model's NCHW input in place (tiles at
 * the image's edges through a small zero-padded band) or an NHWC one through a zero-padded planar
 * copy, and computes a row of output pixels per tile with fixed tap offsets. */
#ifndef FASTNORM_CONV_FIRST_H
#define FASTNORM_CONV_FIRST_H

/* The indirect GEMM gives a Cin = 3 conv only kc = 3 multiply-adds per row pointer it loads, so
 * its setup outweighs the FMAs (3x3 Cin=3 ran at ~30% of the FMA peak). Here the taps of every
 * pixel of a row tile sit at one offset table off[k] = ci*Hp*Wp + ky*Wp + kx from the tile's
 * top-left padded input, pixel m at + m*stride: no pointers per tap, and the NCHW->NHWC change of
 * the plan's input is folded into the padding copy. */
#define FN_CONV_FIRST_MAX_CIN 4
#define FN_CONV_FIRST_MAX_K 1024 /* cin * kh * kw: the offset table lives on the stack */

/* Micro-kernel: an mr x (lanes*nv) tile. x: the tile's top-left padded input (channel 0);
 * x[off[k] + m*s] is pixel m's k-th input value (the kernel may read rows m >= mr: the padded
 * buffer has slack for a full tile). w: [lanes*nv bias][K][lanes*nv] (one packed panel). y: row m
 * at y + m*ldy, columns 0..nc-1 written with act applied. */
typedef void (*fn_conv_first_ukernel)(size_t nv, size_t s, size_t mr, size_t nc, size_t K,
                                      const int32_t *off, const float *x, const float *w, float *y,
                                      size_t ldy, const fn_act *act);

typedef struct fn_conv_first_kernels {
    fn_isa isa;
    fn_conv_first_ukernel tile;
    size_t lanes;  /* floats per vector */
    size_t mr[5];  /* tile rows for nv = 1..4 vectors per row */
} fn_conv_first_kernels;

const fn_conv_first_kernels *fn_conv_first_kernels_for(fn_isa isa);

/* Packed weights for this ISA: floats to allocate, then the packing (w: (cout, cin, kh, kw) as
 * torch stores it; bias (cout,) or NULL). Groups 1, dilation 1, cin <= 4, cin*kh*kw <= MAX_K. */
size_t fn_conv_first_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
void fn_conv_first_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                        const float *bias, float *packed);
/* Floats of the padded planar copy of the input the driver fills from NHWC (the plan's arena
 * provides it; from NCHW the driver uses a few bands of it). */
size_t fn_conv_first_pad_floats(const fn_conv2d_desc *d, size_t n, size_t h, size_t w);
/* x: (n, cin, h, w) if nhwc_in == 0, else (n, h, w, cin); y: (n, oh, ow, cout) NHWC.
 * xpad: fn_conv_first_pad_floats scratch. Results do not depend on nthreads. */
fn_status fn_conv_first(const fn_kernels *k, const fn_conv2d_desc *d, int nhwc_in, size_t n,
                        size_t h, size_t w, const float *x, const float *packed, const fn_act *act,
                        float *xpad, float *y, int nthreads);

#endif
