/* fn_gconv_kernels.h: the small-group conv micro-kernels (gconv_simd.h) of every ISA and their table. */
#ifndef FASTNORM_FN_GCONV_KERNELS_H
#define FASTNORM_FN_GCONV_KERNELS_H
#include "../kernels.h"

#include <stddef.h>
#include <stdint.h>

/* mr <= MR pixels of a grouped conv with group width g (cin == cout == c, g divides the vector
 * width), every channel: a holds (ks, MR) pointers to the channel 0 of each tap's input pixel (or to
 * a zero row of c rounded up to the vector width); w the packed weights (fn_conv2d_pack's gconv
 * layout: per block of vw channels [vw bias][ks taps][g inputs x vw outputs], a tap's g * vw floats
 * in the order fn_gconv_tap_slot gives). y (+ res) -> clamp. */
typedef void (*fn_gconv_fn)(size_t mr, size_t g, size_t c, size_t ks, const float *const *a,
                            const float *w, float *y, size_t ldy, const float *res, size_t ldr,
                            const fn_act *act);
typedef struct fn_gconv_kernels {
    size_t vw, mr;   /* vector width (channels a block), pixels a call */
    size_t pairs;    /* the group width whose taps are packed in input pairs (FN_GCONV_PAIRS), or 0 */
    fn_gconv_fn run; /* NULL: the ISA has none (its grouped convs take the generic GEMM) */
} fn_gconv_kernels;
const fn_gconv_kernels *fn_gconv_kernels_for(fn_isa isa);

/* Where weight (input i of the group, output lane j of the block) of one tap goes among the tap's
 * g * vw packed floats: i * vw + j, or with group width gk->pairs (gconv_avx512.c's pair kernel:
 * per group of the block, per input pair p, vw lanes 2o + e = output o, input 2p + e)
 * (j / g * g / 2 + i / 2) * vw + 2 * (j % g) + i % 2. */
size_t fn_gconv_tap_slot(const fn_gconv_kernels *gk, size_t g, size_t i, size_t j);

/* Pixels a call: accumulators plus the loaded input pixels in registers (32 zmm / 16 ymm). */
#define FN_GCONV_MR_scalar 4
#define FN_GCONV_MR_avx2 4
#define FN_GCONV_MR_avx512 8
#define FN_GCONV_MR_neon 4
/* Group widths packed in input pairs (fn_gconv_tap_slot): 8 (= VW/2) on AVX-512, none elsewhere. */
#define FN_GCONV_PAIRS_scalar 0
#define FN_GCONV_PAIRS_avx2 0
#define FN_GCONV_PAIRS_avx512 8
#define FN_GCONV_PAIRS_neon 0

#define FN_GCONV_DECLARE(isa)                                                                      \
    void fn_f32_gconv__##isa(size_t mr, size_t g, size_t c, size_t ks, const float *const *a,      \
                             const float *w, float *y, size_t ldy, const float *res, size_t ldr,   \
                             const fn_act *act);
FN_GCONV_DECLARE(avx2)
FN_GCONV_DECLARE(avx512)
FN_GCONV_DECLARE(neon)
void fn_f32_gconv_ymm__avx512(size_t mr, size_t g, size_t c, size_t ks, const float *const *a,
                              const float *w, float *y, size_t ldy, const float *res, size_t ldr,
                              const fn_act *act); /* gconv_ymm_avx512.c */

/* Group width 8 where AVX-512 computes no more per cycle than AVX2 (fn_avx512_half_rate: Zen 4):
 * gconv_ymm_avx512.c's table (8-float vectors, 8 pixels a call), or NULL off x86-64. */
#define FN_GCONV_YMM_WIDTH 8
const fn_gconv_kernels *fn_gconv_kernels_ymm(void);
#endif
