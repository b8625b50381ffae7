/* fastnorm.h: the whole C API the Cython bindings see (kernels, drivers, plan, status codes). */
#ifndef FASTNORM_H
#define FASTNORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FN_OK = 0,
    FN_ERR_NOMEM = 1,   /* scratch too small or allocation failed */
    FN_ERR_ARG = 2,     /* a size or descriptor the kernel cannot handle */
} fn_status;

/* The ISAs of this build, narrowest first: a chain per architecture (each runs where the next
 * does). setup.py compiles the x86 ISA files only for x86-64 and the NEON ones only for aarch64, so
 * the enum, and every per-ISA table (rows from FN_ISA_LIST), lists only what was compiled. */
#if defined(__x86_64__)
#define FN_ARCH_NAME "x86_64"
typedef enum {
    FN_ISA_SCALAR = 0,
    FN_ISA_AVX2 = 1,    /* AVX2 + FMA */
    FN_ISA_AVX512 = 2,  /* AVX-512 F/BW/DQ/VL */
    FN_ISA_COUNT = 3,
} fn_isa;
#define FN_ISA_LIST(X) X(FN_ISA_SCALAR, scalar) X(FN_ISA_AVX2, avx2) X(FN_ISA_AVX512, avx512)
#elif defined(__aarch64__)
#define FN_ARCH_NAME "aarch64"
typedef enum {
    FN_ISA_SCALAR = 0,
    FN_ISA_NEON = 1,    /* ASIMD: baseline on ARMv8-A */
    FN_ISA_COUNT = 2,
} fn_isa;
#define FN_ISA_LIST(X) X(FN_ISA_SCALAR, scalar) X(FN_ISA_NEON, neon)
#else
#define FN_ARCH_NAME "other"
typedef enum {
    FN_ISA_SCALAR = 0,
    FN_ISA_COUNT = 1,
} fn_isa;
#define FN_ISA_LIST(X) X(FN_ISA_SCALAR, scalar)
#endif

/* ------------------------------------------------------------------------------------------------
 * Epilogue activation. Every kernel that takes one applies y = min(max(y, lo), hi) when kind is
 * FN_ACT_CLAMP (relu is lo=0, hi=+inf; relu6 is lo=0, hi=6). NaN stays NaN: write max(lo, y) with y
 * as the operand that is returned on NaN (in SIMD: _mm*_max_ps(lo, y) then _mm*_min_ps(hi, y); in C:
 * y < lo ? lo : y). FN_ACT_NONE leaves y alone.
 * kind = FN_ACT_ACTK0 + k, k a parameterless kind of the act family (FN_ACTK_SILU, _GELU, _HARDSWISH,
 * _SIGMOID, ...: act/act_kinds.h): the kernels that take it (the conv driver and the depthwise conv)
 * apply it to each output tile / row right after storing it (after the residual add), while it is
 * in L1, through the act family's kernel of the same ISA; the other kernels ignore it, and the plan
 * lowering (fastnorm/plan/lower_conv.py) gives them a clamp or nothing and an ACTK record after.
 * ---------------------------------------------------------------------------------------------- */
typedef enum { FN_ACT_NONE = 0, FN_ACT_CLAMP = 1, FN_ACT_ACTK0 = 16 } fn_act_kind;
typedef struct fn_act {
    int kind;
    float lo, hi;
} fn_act;

/* ------------------------------------------------------------------------------------------------
 * Micro-kernels: pure functions on raw pointers, one set per ISA (files *_avx2.c, *_avx512.c hold the
 * wide ones; every function in such a file is named ..__avx2 / ..__avx512 so a test can check that
 * wide instructions live only there).
 * ---------------------------------------------------------------------------------------------- */

/* Indirect GEMM micro-kernel (conv and linear). Computes an mr x nc tile of C:
 *   c[m][j] = act( bias[j] + sum_{t<ks} sum_{i<kc} a[t*MR + m][i] * w[t][i][j] (+ res[m][j]) )
 *   a:   ks*MR row pointers (only the first mr of each group of MR are meaningful; the kernel may read
 *        rows mr..MR-1, so callers point them at a valid row, e.g. repeat the last one)
 *   w:   one packed NR-wide panel: NR bias floats, then ks*kc*NR weights, j fastest
 *   c:   mr rows of nc valid floats, row stride ldc (floats); nc <= NR, mr <= MR
 *   res: NULL or mr rows with stride ldr, added before the activation (fused residual) */
typedef void (*fn_igemm_ukernel)(size_t mr, size_t nc, size_t kc, size_t ks,
                                 const float *const *a, const float *w,
                                 float *c, size_t ldc, const float *res, size_t ldr,
                                 const fn_act *act);

/* fn_igemm_ukernel over only nt of the panel's taps: taps[0..nt) (increasing, < the panel's ks),
 * a: nt*MR row pointers, a[t*MR + m] the row of tap taps[t]. The conv driver leaves out the taps whose
 * rows are all padding for the tile (a dilated conv's on a small map: most of them), whose products
 * are zeros; the listed taps are summed in the same order as fn_igemm_ukernel's, so the same bits for
 * finite weights. */
typedef void (*fn_igemm_taps_ukernel)(size_t mr, size_t nc, size_t kc, size_t nt,
                                      const float *const *a, const unsigned short *taps, const float *w,
                                      float *c, size_t ldc, const float *res, size_t ldr,
                                      const fn_act *act);

/* fn_igemm_ukernel on a full tile (mr = MR, nc = NR), which also prefetches into L2 the cache line
 * at pf + 16 * (s * pf_rate / 256) floats at each k-step s < ks*kc (pf_rate <= 256): the conv
 * driver hands it a share of the next weight panel, so that panel's fetch from memory overlaps this
 * one's FMAs. NULL where not built. */
typedef void (*fn_igemm_pf_ukernel)(size_t mr, size_t nc, size_t kc, size_t ks,
                                    const float *const *a, const float *w,
                                    float *c, size_t ldc, const float *res, size_t ldr,
                                    const fn_act *act, const float *pf, size_t pf_rate);

/* The same GEMM over dense rows (a 1x1 stride-1 conv, a strided 1x1's output row, a linear): m >= 1
 * rows of A at a constant stride, row r at a + r*lda (kc floats each), times one packed panel
 * (ks = 1), in tiles of MR rows inside the call:
 *   c[r][j] = act( bias[j] + sum_{i<kc} a[r*lda + i] * w[i][j] (+ res[r*ldr + j]) ),  r < m, j < nc
 * The same arithmetic per element as fn_igemm_ukernel, so the same bits; it saves the per-tile
 * pointer table and call, which a small kc cannot amortise. */
typedef void (*fn_igemm_dense_ukernel)(size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                                       const float *w, float *c, size_t ldc, const float *res,
                                       size_t ldr, const fn_act *act);
/* fn_igemm_dense_ukernel whose whole tiles also ask pf_lines cache lines from pf into L2, a hint that
 * never changes a result (a later record's weights: conv2d.c dense_run). */
typedef void (*fn_igemm_dense_pf_ukernel)(size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                                          const float *w, float *c, size_t ldc, const float *res,
                                          size_t ldr, const fn_act *act, const float *pf,
                                          size_t pf_lines);

/* One row of A (a batch-1 linear, a 1x1 conv of one pixel) times np >= 1 full packed panels, panel p
 * at w + p*ps (ks = 1, NR columns each), into c[p*NR + j] (res likewise, or NULL):
 *   c[p*NR + j] = act( bias[j] + sum_{i<kc} a[i] * w_p[i][j] (+ res[p*NR + j]) )
 * The same arithmetic per element as fn_igemm_ukernel's row, so the same bits; the panels run side
 * by side, which a one-row tile of one panel (too few accumulators, one weight stream) cannot. */
typedef void (*fn_igemm_panels_ukernel)(size_t np, size_t kc, const float *a, const float *w,
                                        size_t ps, float *c, const float *res, const fn_act *act);

/* rows x c block of a conv's output past its activation (fn_post), in place, row r at y + r*ldy:
 *   y[r][j] = y[r][j] * scale[j] + shift[j]   (one rounding, as fn_scale_shift_cols_ukernel; skipped
 *                                              when scale is NULL)
 *   y[r][j] += res[r*ldr + j]                  (when res is not NULL) */
typedef void (*fn_post_cols_ukernel)(size_t rows, size_t c, float *y, size_t ldy, const float *scale,
                                     const float *shift, const float *res, size_t ldr);
/* rows x n block, row r: y[r][i] = act(x[r][i] * scale[r] + shift[r])  (NCHW planes: n = H*W) */
typedef void (*fn_scale_shift_rows_ukernel)(size_t rows, size_t n, const float *x,
                                            const float *scale, const float *shift,
                                            const fn_act *act, float *y);
/* rows x c block, channel j: y[r][j] = act(x[r][j] * scale[j] + shift[j])  (NHWC pixels, or (N,C)) */
typedef void (*fn_scale_shift_cols_ukernel)(size_t rows, size_t c, const float *x,
                                            const float *scale, const float *shift,
                                            const fn_act *act, float *y);
/* rows x cols weights times a per-row double scale: out[r][i] = (float)(w[r][i] * s[r]), the product in
 * double; err[r] (err may be NULL) = sum over the row of |out[r][i] - w[r][i] * s[r]| (fold_rows.h) */
typedef void (*fn_fold_rows_ukernel)(size_t rows, size_t cols, const float *w, const double *s, float *out,
                                     double *err);
/* y[i] = act(x[i]) for i < n */
typedef void (*fn_act_ukernel)(size_t n, const float *x, const fn_act *act, float *y);
/* y[j] = max over t < ks of taps[t][j], j < c. ks >= 1. NaN in any tap gives NaN (as torch). */
typedef void (*fn_maxpool_ukernel)(size_t ks, size_t c, const float *const *taps, float *y);

typedef struct fn_kernels {
    fn_isa isa;
    const char *name;
    size_t gemm_mr, gemm_nr;
    fn_igemm_ukernel igemm;
    fn_igemm_taps_ukernel igemm_taps;
    fn_igemm_dense_ukernel igemm_dense;
    fn_igemm_pf_ukernel igemm_pf; /* NULL: the ISA has none (the driver then does not prefetch) */
    fn_igemm_dense_pf_ukernel igemm_dense_pf; /* NULL: none */
    fn_igemm_panels_ukernel igemm_panels;
    fn_scale_shift_rows_ukernel scale_shift_rows;
    fn_scale_shift_cols_ukernel scale_shift_cols;
    fn_post_cols_ukernel post_cols;
    fn_fold_rows_ukernel fold_scale_rows;
    fn_act_ukernel act;
    fn_maxpool_ukernel maxpool;
} fn_kernels;

/* ------------------------------------------------------------------------------------------------
 * CPU features and dispatch (cpu.c, dispatch.c).
 * ---------------------------------------------------------------------------------------------- */
typedef struct fn_cpu_features {
    /* x86-64: CPUID */
    int sse2, avx, fma, avx2, avx512f, avx512bw, avx512dq, avx512vl, avx512_vnni, avx512_bf16;
    int os_avx, os_avx512; /* XGETBV: the OS saves the YMM / ZMM+opmask state */
    int vendor_amd;        /* CPUID leaf 0 says AuthenticAMD */
    int family;            /* CPUID leaf 1: the family, extended family added (AMD Zen 3 and 4: 0x19) */
    /* aarch64: the kernel's HWCAP / HWCAP2 (getauxval) */
    int asimd, asimd_dotprod, asimd_fp16, sve, sve2;
} fn_cpu_features;

/* "x86_64", "aarch64" or "other": the architecture this extension was compiled for. */
const char *fn_cpu_arch(void);

void fn_cpu_detect(fn_cpu_features *f);
/* The best ISA this CPU and OS can run. */
fn_isa fn_cpu_best_isa(const fn_cpu_features *f);
/* Kernel table for one ISA (a const table; NULL if isa is out of range). */
const fn_kernels *fn_kernels_for(fn_isa isa);
/* Called once at import: reads the CPU and FASTNORM_ISA, returns the chosen ISA, or -1 if
 * FASTNORM_ISA names an unknown ISA or one this CPU cannot run (the binding raises on that). */
int fn_dispatch_init(void);
/* The kernel table chosen at import (valid after fn_dispatch_init). */
const fn_kernels *fn_kernels_active(void);
/* 1 where a 512-bit FMA issues as two 256-bit halves, so that AVX-512 computes no more per cycle than
 * AVX2 (AMD Zen 4: family 0x19 with AVX-512), else 0; FASTNORM_AVX512_HALF_RATE=0 or 1 overrides it.
 * Set by fn_dispatch_init (which returns -2 for any other value of that variable). */
int fn_avx512_half_rate(void);

/* ------------------------------------------------------------------------------------------------
 * Drivers: portable C, threaded with one OpenMP region each (num_threads = nthreads), calling the
 * table's micro-kernels. Results never depend on nthreads. Tensors are contiguous float32.
 * ---------------------------------------------------------------------------------------------- */

/* conv2d on NHWC activations with weights packed once by fn_conv2d_pack. Linear is the 1x1 case
 * with h = w = 1 (x: (n, 1, 1, in)). */
typedef struct fn_conv2d_desc {
    size_t cin, cout, groups;                   /* cin, cout total; both divisible by groups */
    size_t kh, kw, sh, sw, dh, dw;              /* kernel, stride, dilation */
    size_t pad_top, pad_left, pad_bottom, pad_right;
} fn_conv2d_desc;

/* Output extent along one axis: floor((in + p0 + p1 - d*(k-1) - 1) / s) + 1, or 0 if none fits. */
size_t fn_conv_out_extent(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1);
/* The table whose micro-kernel, packing and scratch the conv d runs on, given the active one k: k, or
 * on AVX-512 the AVX2 table for at most 8 output channels a group (conv2d.c, conv_kernels). */
const fn_kernels *fn_conv2d_kernels(const fn_kernels *k, const fn_conv2d_desc *d);
/* Floats fn_conv2d_pack writes for this table's micro-kernel geometry. */
size_t fn_conv2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d);
/* w: (cout, cin/groups, kh, kw) as torch stores it; bias: (cout,) or NULL. */
void fn_conv2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w, const float *bias,
                    float *packed);
/* The same from wt: (cin, cout), a linear weight stored transposed (ONNX MatMul's B); 1x1, groups 1. */
void fn_conv2d_pack_kn(const fn_kernels *k, const fn_conv2d_desc *d, const float *wt, const float *bias,
                       float *packed);
/* Whether fn_conv2d_nhwc runs this conv on the dense-rows kernel (fn_igemm_dense_ukernel): 1x1,
 * groups 1, no padding, few input channels (ungated, without a pre-activation). */
int fn_conv2d_dense_fits(const fn_conv2d_desc *d);
/* Bytes of scratch fn_conv2d_nhwc needs for this input size and thread count. */
size_t fn_conv2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                               size_t w, int nthreads);
/* x: (n, h, w, cin); res: (n, oh, ow, cout) or NULL; y: (n, oh, ow, cout). y must not alias x. */
fn_status fn_conv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                         const float *x, const float *packed, const float *res, const fn_act *act,
                         float *y, void *scratch, size_t scratch_bytes, int nthreads);
/* The same with x's pixels ldx >= cin floats apart and y's ldy >= cout apart: channel windows of wider
 * NHWC images (a channel slice read in place; an output written into its block of a concat). */
/* fn_conv2d_nhwc_ldx with gate: NULL, or (n, cin) floats by which each sample's input channels are
 * multiplied as the driver copies a tile's rows, or, given fn_conv2d_gated_scratch_bytes of scratch on
 * a sample of at least 4 pixels a padded output channel, whose weights' input rows are scaled in a copy
 * per sample (a squeeze-and-excitation gate; 1x1 convs with groups 1 only, fn_conv2d_gate_fits, else
 * FN_ERR_ARG). */
int fn_conv2d_gate_fits(const fn_conv2d_desc *d);
/* Bytes of scratch a gated conv needs: fn_conv2d_scratch_bytes, and where the gate is folded into a
 * copy of the weights per sample (a sample with more pixels than padded output channels), that copy.
 * With only fn_conv2d_scratch_bytes the gate scales the input rows instead. */
size_t fn_conv2d_gated_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                     size_t w, int nthreads);
fn_status fn_conv2d_nhwc_gated(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                               const float *x, size_t ldx, const float *packed, const float *res,
                               const fn_act *act, float *y, size_t ldy, const float *gate, void *scratch,
                               size_t scratch_bytes, int nthreads);
/* fn_conv2d_nhwc_gated with a pre-activation: pre NULL, or (2, cin) floats, scale then shift, with
 * which the driver copies a tile's rows as pre_act(x * scale + shift): an eval BatchNorm (+ ReLU)
 * before the conv (DenseNet's BN -> ReLU -> conv), applied on the way into the GEMM instead of as a
 * pass over the image. Only where padding cannot show (fn_conv2d_pre_fits: 1x1, groups 1, no pads)
 * and not with a gate, else FN_ERR_ARG. pre_act: FN_ACT_NONE or FN_ACT_CLAMP. pf: NULL, or pf_floats
 * floats (a later conv's weights: fn_plan_link_prefetch) the conv asks into L2 as it runs; a hint only.
 */
int fn_conv2d_pre_fits(const fn_conv2d_desc *d);
/* A conv's epilogue past its activation, applied to each output tile or row while it is in L1 or L2
 * (k->post_cols): y = act(conv + bias (+ res)) * scale + shift (+ post res). An eval BatchNorm after
 * the activation (ConvMixer's conv -> GELU -> BN), and a residual added after both (its Residual
 * block: x + BN(GELU(dwconv(x)))), one pass over the output instead of three. scale, shift: cout
 * floats each, or both NULL (the residual alone: x + relu(conv(x))); res: NULL or (n, oh, ow, cout)
 * dense. A post NULL, or with all three NULL: none. */
typedef struct fn_post {
    const float *scale, *shift, *res;
} fn_post;
fn_status fn_conv2d_nhwc_pre(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                             const float *x, size_t ldx, const float *packed, const float *res,
                             const fn_act *act, float *y, size_t ldy, const float *gate, const float *pre,
                             const fn_act *pre_act, const fn_post *post, const float *pf, size_t pf_floats,
                             void *scratch, size_t scratch_bytes, int nthreads);
fn_status fn_conv2d_nhwc_ldx(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                             const float *x, size_t ldx, const float *packed, const float *res,
                             const fn_act *act, float *y, size_t ldy, void *scratch, size_t scratch_bytes,
                             int nthreads);

/* Eval-mode BatchNorm as per-channel scale/shift, computed in double once:
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale. gamma/beta may be NULL (1 / 0). */
void fn_bnorm_prepare(size_t c, const float *mean, const float *var, const float *gamma,
                      const float *beta, double eps, float *scale, float *shift);
/* Weights (rows, cols) times a per-row double scale, rounded once to float: out = (float)(w * s[r]);
 * err[r] (err may be NULL) = sum over the row of |out - w * s[r]|, in double. out must not alias w. */
void fn_fold_scale_rows(const fn_kernels *k, size_t rows, size_t cols, const float *w, const double *s,
                        float *out, double *err);
/* x, y: (outer, c, inner); y = act(x * scale[c] + shift[c]). y may alias x. */
void fn_scale_shift(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                    const float *scale, const float *shift, const fn_act *act, float *y,
                    int nthreads);
/* y = act(x) elementwise on n floats. y may alias x. */
void fn_activation(const fn_kernels *k, size_t n, const float *x, const fn_act *act, float *y,
                   int nthreads);

/* max_pool2d on NHWC. Output extents oh, ow are the caller's (ceil_mode is decided there); windows
 * are clipped to the input (padding never wins a max). A window with no input element (possible
 * with dilation) gives -inf, as torch does. */
typedef struct fn_pool2d_desc {
    size_t kh, kw, sh, sw, dh, dw;
    size_t pad_top, pad_left;
} fn_pool2d_desc;
fn_status fn_maxpool2d_nhwc(const fn_kernels *k, const fn_pool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads);
/* max_pool2d with indices and its inverse, max_unpool2d (SegNet, ENet): pool/pool2d.c */
fn_status fn_maxpool2d_argmax_nhwc(const fn_pool2d_desc *d, size_t n, size_t h, size_t w, size_t c, size_t oh,
                                   size_t ow, const float *x, float *y, float *idx, int nthreads);
fn_status fn_max_unpool2d_nhwc(size_t n, size_t h, size_t w, size_t c, size_t oh, size_t ow, const float *x,
                               const float *idx, float *y, int nthreads);

/* Layout changes at the plan's edges. x: (n, c, hw) -> y: (n, hw, c) and back. */
void fn_nchw_to_nhwc(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads);
void fn_nhwc_to_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x, float *y, int nthreads);

/* ------------------------------------------------------------------------------------------------
 * Op families with their own headers: each declares its drivers and a per-ISA kernel table of its
 * own (looked up with the fn_kernels' isa), so a family is added without touching the core table.
 * ---------------------------------------------------------------------------------------------- */
#include "norm/fn_norm.h"
#include "act/fn_act.h"
#include "pool/fn_pool.h"
#include "glue/fn_glue.h"
#include "shape/fn_shape.h"
#include "conv/fn_dwconv.h"
#include "conv/fn_winograd.h"
#include "conv/fn_winograd1d.h"
#include "conv/fn_conv_first.h"

#include "plan/fn_plan.h" /* the plan: op records over numbered buffers (plan/plan.c) */


/* OpenMP facts for the thread-count policy (0/1 when built without OpenMP). */
int fn_omp_max_threads(void);
int fn_omp_enabled(void);

#ifdef __cplusplus
}
#endif
#endif /* FASTNORM_H */
