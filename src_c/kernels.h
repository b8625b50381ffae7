/* kernels.h: every micro-kernel symbol, per ISA; dispatch.c builds the tables from these names. */
#ifndef FASTNORM_KERNELS_H
#define FASTNORM_KERNELS_H

#include "fastnorm.h"
#include "simd/common.h"

#define FN_DECLARE_UKERNELS(isa)                                                                   \
    void fn_f32_igemm__##isa(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,    \
                             const float *w, float *c, size_t ldc, const float *res, size_t ldr,   \
                             const fn_act *act);                                                   \
    void fn_f32_igemm_taps__##isa(size_t mr, size_t nc, size_t kc, size_t nt, const float *const *a, \
                                  const unsigned short *taps, const float *w, float *c, size_t ldc,  \
                                  const float *res, size_t ldr, const fn_act *act);                  \
    void fn_f32_igemm_pf__##isa(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a, \
                                const float *w, float *c, size_t ldc, const float *res,            \
                                size_t ldr, const fn_act *act, const float *pf, size_t pf_rate);   \
    void fn_f32_igemm_dense__##isa(size_t m, size_t nc, size_t kc, const float *a, size_t lda,      \
                                   const float *w, float *c, size_t ldc, const float *res,         \
                                   size_t ldr, const fn_act *act);                                 \
    void fn_f32_igemm_panels__##isa(size_t np, size_t kc, const float *a, const float *w,          \
                                    size_t ps, float *c, const float *res, const fn_act *act);     \
    void fn_f32_scale_shift_rows__##isa(size_t rows, size_t n, const float *x, const float *scale, \
                                        const float *shift, const fn_act *act, float *y);          \
    void fn_f32_scale_shift_cols__##isa(size_t rows, size_t c, const float *x, const float *scale, \
                                        const float *shift, const fn_act *act, float *y);          \
    void fn_f32_post_cols__##isa(size_t rows, size_t c, float *y, size_t ldy, const float *scale,  \
                                 const float *shift, const float *res, size_t ldr);               \
    void fn_fold_scale_rows__##isa(size_t rows, size_t cols, const float *w, const double *s,      \
                                   float *out, double *err);                                      \
    void fn_f32_act__##isa(size_t n, const float *x, const fn_act *act, float *y);                 \
    void fn_f32_maxpool__##isa(size_t ks, size_t c, const float *const *taps, float *y);

/* The dense kernel with a prefetch stream (fn_igemm_dense_pf_ukernel; igemm_simd.h) */
#define FN_DECLARE_DENSE_PF(isa)                                                                   \
    void fn_f32_igemm_dense_pf__##isa(size_t m, size_t nc, size_t kc, const float *a, size_t lda,   \
                                      const float *w, float *c, size_t ldc, const float *res,      \
                                      size_t ldr, const fn_act *act, const float *pf,              \
                                      size_t pf_lines);
FN_DECLARE_DENSE_PF(avx2)
FN_DECLARE_DENSE_PF(avx512)
FN_DECLARE_DENSE_PF(neon)

FN_DECLARE_UKERNELS(scalar)
FN_DECLARE_UKERNELS(avx2)
FN_DECLARE_UKERNELS(avx512)
FN_DECLARE_UKERNELS(neon)

/* Micro-kernel tile geometry (rows x columns of C) per ISA. avx2: 6x16 = 12 of 16 ymm accumulate
 * (4x24 measured no better). avx512: 12x32 = 24 of 32 zmm; taller tiles read the streamed weight
 * panel fewer times per FMA, and 12x32 measured best in the conv driver of 6x32, 8x32, 10x32, 14x32,
 * 6x64 and 8x48 (6x64 matches it at cout % 64 == 0 but loses at 16/32 channels). */
#define FN_IGEMM_MR_scalar 4
#define FN_IGEMM_NR_scalar 8
#define FN_IGEMM_MR_avx2 6
#define FN_IGEMM_NR_avx2 16
#define FN_IGEMM_MR_avx512 12
#define FN_IGEMM_NR_avx512 32
/* neon: 6x16 = 24 of 32 q registers accumulate, 4 hold the weight row (not measured on hardware). */
#define FN_IGEMM_MR_neon 6
#define FN_IGEMM_NR_neon 16

/* The prefetching full-tile kernel (fn_igemm_pf_ukernel) per ISA; NULL: the conv driver keeps its
 * block order and does not prefetch (conv2d.c panel_major). Tuned on AVX-512 (Xeon, Sapphire Rapids
 * class, 1 thread, weights evicted from L2 as in a model; in-model per-step minima, EfficientNet-B0,
 * alternating builds): 1x1 320->1280 at 7x7 0.391 -> 0.319 ms, 192->1152 at 7x7 0.20-0.22 ->
 * 0.17-0.18, 1152->320 / 1152->192 at 7x7 and 672->112 at 14x14 1-5% faster; Inception-v3's
 * 2048->448 / 2048->384 / 1280->448 at 8x8 0.995 / 0.854 / 0.590 -> 0.870 / 0.711 / 0.502;
 * ConvNeXt-atto's 320->1280 / 1280->320 linears at 7x7 4-13%. avx2: 5% over the 7x7 / 8x8 1x1
 * convs with their weights in DRAM, once the prefetch was spread over all the tiles of a panel
 * (conv2d.c; the figures there); with weights in L3 no change either way. neon: not measured. */
#define FN_IGEMM_PF_scalar NULL
#define FN_IGEMM_PF_avx2 fn_f32_igemm_pf__avx2
#define FN_IGEMM_PF_avx512 fn_f32_igemm_pf__avx512
#define FN_IGEMM_PF_neon NULL
/* The dense kernel's (fn_igemm_dense_pf_ukernel), for the next record's weights (conv2d.c dense_run) */
#define FN_IGEMM_DENSE_PF_scalar NULL
#define FN_IGEMM_DENSE_PF_avx2 fn_f32_igemm_dense_pf__avx2
#define FN_IGEMM_DENSE_PF_avx512 fn_f32_igemm_dense_pf__avx512
#define FN_IGEMM_DENSE_PF_neon NULL

/* Rows of the dense kernel's one-vector tile (fn_igemm_dense, igemm_simd.h), used for a panel of at
 * most VW live columns (cout 24, 56, 72 on AVX2 end in one of 8): an MR-row tile of one vector has
 * MR accumulators, too few to hide the FMA latency, and a broadcast per FMA. avx2: 12 rows;
 * 1x1 conv 32->8 at 112x112, 1 thread: see the commit. avx512 and neon keep MR (not measured). */
#define FN_IGEMM_TALL_avx2 12
#define FN_IGEMM_TALL_avx512 12
#define FN_IGEMM_TALL_neon 6

/* Scalar epilogue shared by the portable kernels and the tails of wide ones. */
static inline float fn_apply_act_scalar(float y, const fn_act *act) {
    if (act->kind == FN_ACT_CLAMP) {
        y = y < act->lo ? act->lo : y;
        y = y > act->hi ? act->hi : y;
    }
    return y;
}

/* The table a conv with cout_g output channels a group packs and runs on: k, or on AVX-512 the AVX2
 * table for at most FN_NARROW_COUT (its 8 lanes all real channels, where a 16-lane vector would be half
 * zeros; conv2d.c conv_kernels, conv_first.c). */
#define FN_NARROW_COUT 8
static inline const fn_kernels *fn_narrow_kernels(const fn_kernels *k, size_t cout_g) {
#if defined(__x86_64__)
    if (k->isa == FN_ISA_AVX512 && cout_g <= FN_NARROW_COUT) {
        const fn_kernels *narrow = fn_kernels_for(FN_ISA_AVX2);
        if (narrow) return narrow;
    }
#else
    (void)cout_g; /* no narrower table to take on this architecture */
#endif
    return k;
}

/* The table a conv of a GEMM-family kernel (conv2d.c conv_kernels) packs and runs on: the narrow rule
 * above, and where AVX-512 computes no more per cycle than AVX2 (fn_avx512_half_rate: Zen 4) the AVX2
 * table too for cout_g whose last 32-wide AVX-512 panel wastes lanes that AVX2's 16- and 8-wide ones do
 * not: at least 9/8 as many columns computed (17-24, 33-40, 49-56 channels, mod 32 below 64: the
 * mobile nets' 24, 40 and 56). The columns an AVX-512 tile computes for n channels: 32 per full panel,
 * then 16 per started vector of the last; AVX2's: n rounded up to 8. Measured (AMD Zen 4, 1 thread,
 * AVX-512 -> AVX2 table, in-model step minima of 4 alternating processes): EfficientNet-B0's 144->24
 * at 56x56 +res 0.278 -> 0.230 ms, 96->24 0.178 -> 0.158, 240->40 at 28x28 0.168 -> 0.152, 144->40 0.102
 * -> 0.093; RegNetY-200MF's 32->24 at 112x112 0.243 -> 0.227, 24->24 at 56x56 0.070 -> 0.052;
 * MobileNetV3-Large's 120->40 at 28x28 0.085 -> 0.079. 72 channels (80 / 72 columns) measured no
 * better (24->72 at 56x56 0.118 -> 0.122), hence the 9/8. */
static inline int fn_avx512_wastes_lanes(size_t n) {
    const size_t c512 = n / 32 * 32 + (n % 32 + 15) / 16 * 16, c256 = (n + 7) / 8 * 8;
    return 8 * c512 >= 9 * c256;
}
static inline const fn_kernels *fn_conv_table(const fn_kernels *k, size_t cout_g) {
#if defined(__x86_64__)
    if (k->isa == FN_ISA_AVX512 && cout_g > FN_NARROW_COUT && fn_avx512_half_rate() &&
        fn_avx512_wastes_lanes(cout_g)) {
        const fn_kernels *half = fn_kernels_for(FN_ISA_AVX2);
        if (half) return half;
    }
#endif
    return fn_narrow_kernels(k, cout_g);
}

/* The epilogue kinds past the clamp (fn_act kind FN_ACT_ACTK0 + k, fastnorm.h): the act family's
 * apply of the ISA that runs, or NULL for NONE / CLAMP (which the micro-kernels apply themselves). */
static inline fn_actk_apply_fn fn_epilogue_actk(const fn_kernels *k, const fn_act *act) {
    if (!act || act->kind < FN_ACT_ACTK0) return NULL;
    const fn_act_kernels *ak = fn_act_kernels_for(k->isa);
    return ak ? ak->apply : NULL;
}

/* Whether the SIMD conv kernels (k->igemm, the depthwise row kernels) apply act themselves, in
 * registers as they store (silu and hardswish: igemm_simd.h, dwconv_simd.h; the act family's
 * formulas from vmath.h, so the same bits as the separate pass); the driver then runs no
 * fn_epilogue_rows after them. */
static inline int fn_act_in_kernel(const fn_kernels *k, const fn_act *act) {
    return act && k->isa != FN_ISA_SCALAR &&
           (act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU || act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH);
}

/* Whether the SIMD igemm tile applies act in registers: fn_act_in_kernel's kinds, and gelu in both
 * forms (the ConvNeXt MLP's fc1: as a separate pass over each stored tile gelu cost 3x the GEMM). */
static inline int fn_igemm_act_in_kernel(const fn_kernels *k, const fn_act *act) {
    return fn_act_in_kernel(k, act) ||
           (act && k->isa != FN_ISA_SCALAR &&
            (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU || act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU_TANH));
}

/* rows x n floats at y (row stride ld), in place, just written and still in L1. Rows that follow one
 * another (ld == n: a conv with few output channels, one a pixel for an attention gate's psi conv) are
 * one call: per row, a 1-channel output was one call and a scalar tail per pixel (10x the conv). */
static inline void fn_epilogue_rows(fn_actk_apply_fn f, const fn_act *act, float *y, size_t ld,
                                    size_t rows, size_t n) {
    const fn_act_params none = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    if (ld == n) {
        (void)f(act->kind - FN_ACT_ACTK0, rows * n, y, &none, y);
        return;
    }
    for (size_t r = 0; r < rows; r++) (void)f(act->kind - FN_ACT_ACTK0, n, y + r * ld, &none, y + r * ld);
}

#endif
