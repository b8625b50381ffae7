/* conv_first_kernels.h: the first-layer conv micro-kernels per ISA, and the portable tile. */
#ifndef FASTNORM_CONV_FIRST_KERNELS_H
#define FASTNORM_CONV_FIRST_KERNELS_H
#include "../kernels.h"

#define FN_DECLARE_CONV_FIRST(isa)                                                                 \
    void fn_f32_conv_first__##isa(size_t nv, size_t s, size_t mr, size_t nc, size_t K,            \
                                  const int32_t *off, const float *x, const float *w, float *y,   \
                                  size_t ldy, const fn_act *act);
FN_DECLARE_CONV_FIRST(scalar)
FN_DECLARE_CONV_FIRST(avx2)
FN_DECLARE_CONV_FIRST(avx512)
FN_DECLARE_CONV_FIRST(neon)

/* Tile rows per vectors-per-row (index nv = 1..4; 0: that nv is not offered). The wide ones keep
 * MR x nv accumulators plus the nv weight vectors and a broadcast in registers: 24 + 4 of 32 zmm,
 * 12 + 3 + 1 of 16 ymm. */
#define FN_CONV_FIRST_LANES_scalar 8
#define FN_CONV_FIRST_MR_scalar {0, 4, 0, 0, 0}
#define FN_CONV_FIRST_LANES_avx2 8
#define FN_CONV_FIRST_MR1_avx2 12
#define FN_CONV_FIRST_MR2_avx2 6
#define FN_CONV_FIRST_MR3_avx2 4
#define FN_CONV_FIRST_MR4_avx2 0
#define FN_CONV_FIRST_LANES_avx512 16
#define FN_CONV_FIRST_MR1_avx512 16
#define FN_CONV_FIRST_MR2_avx512 12
#define FN_CONV_FIRST_MR3_avx512 8
#define FN_CONV_FIRST_MR4_avx512 6
#define FN_CONV_FIRST_LANES_neon 4 /* 32 q registers: the AVX-512 rows */
#define FN_CONV_FIRST_MR1_neon 16
#define FN_CONV_FIRST_MR2_neon 12
#define FN_CONV_FIRST_MR3_neon 8
#define FN_CONV_FIRST_MR4_neon 6
#define FN_CONV_FIRST_MR_(isa)                                                                     \
    {0, FN_CONV_FIRST_MR1_##isa, FN_CONV_FIRST_MR2_##isa, FN_CONV_FIRST_MR3_##isa, FN_CONV_FIRST_MR4_##isa}
#define FN_CONV_FIRST_MR_avx2 FN_CONV_FIRST_MR_(avx2)
#define FN_CONV_FIRST_MR_avx512 FN_CONV_FIRST_MR_(avx512)
#define FN_CONV_FIRST_MR_neon FN_CONV_FIRST_MR_(neon)

/* In a wide kernel file: call its tile(MR_, NV_, S, s, ...) with the stride a constant for the
 * common strides 1 and 2 (S = 0: s at run time), so the compiler folds the input addressing. */
#define FN_CONV_FIRST_STRIDES(MR_, NV_)                                                            \
    do {                                                                                           \
        if (s == 1)                                                                                \
            tile(MR_, NV_, 1, s, mr, nc, K, off, x, w, y, ldy, act);                               \
        else if (s == 2)                                                                           \
            tile(MR_, NV_, 2, s, mr, nc, K, off, x, w, y, ldy, act);                               \
        else                                                                                       \
            tile(MR_, NV_, 0, s, mr, nc, K, off, x, w, y, ldy, act);                               \
    } while (0)

/* The portable tile, the readable spec of the wide ones: y[m][j] = act(bias[j] +
 * sum_k x[off[k] + m*s] * w[k][j]) for m < mr, j < nc (NR = lanes * nv). */
FN_INLINE void fn_conv_first_tile_generic(
    size_t MR, size_t NR, size_t s, size_t mr, size_t nc, size_t K, const int32_t *off,
    const float *x, const float *w, float *y, size_t ldy, const fn_act *act) {
    float acc[16][64]; /* MR <= 16, NR <= 64 */
    for (size_t m = 0; m < MR; m++)
        for (size_t j = 0; j < NR; j++) acc[m][j] = w[j];
    w += NR;
    for (size_t k = 0; k < K; k++, w += NR) {
        const float *xk = x + off[k];
        for (size_t m = 0; m < mr; m++) {
            const float av = xk[m * s];
            for (size_t j = 0; j < NR; j++) acc[m][j] += av * w[j];
        }
    }
    for (size_t m = 0; m < mr; m++)
        for (size_t j = 0; j < nc; j++) y[m * ldy + j] = fn_apply_act_scalar(acc[m][j], act);
}
#endif
