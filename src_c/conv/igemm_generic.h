/* igemm_generic.h: the portable indirect-GEMM micro-kernel for any tile (igemm.c instantiates it);
 * the wide kernels are igemm_simd.h. */
#ifndef FASTNORM_IGEMM_GENERIC_H
#define FASTNORM_IGEMM_GENERIC_H
#include "../kernels.h"

FN_INLINE void fn_igemm_generic(
    size_t MR, size_t NR, size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
    const float *w, float *c, size_t ldc, const float *res, size_t ldr, const fn_act *act,
    const unsigned short *taps) {
    float acc[16][64]; /* MR <= 16, NR <= 64 */
    for (size_t m = 0; m < MR; m++)
        for (size_t j = 0; j < NR; j++) acc[m][j] = w[j];
    w += NR;
    const float *const w_taps = w;
    for (size_t t = 0; t < ks; t++) {
        if (taps) w = w_taps + (size_t)taps[t] * kc * NR; /* only the listed taps (fn_igemm_taps_ukernel) */
        const float *const *at = a + t * MR;
        for (size_t i = 0; i < kc; i++) {
            for (size_t m = 0; m < MR; m++) {
                const float av = at[m][i];
                for (size_t j = 0; j < NR; j++) acc[m][j] += av * w[j];
            }
            w += NR;
        }
    }
    for (size_t m = 0; m < mr; m++) {
        for (size_t j = 0; j < nc; j++) {
            float y = acc[m][j];
            if (res) y += res[m * ldr + j];
            c[m * ldc + j] = fn_apply_act_scalar(y, act);
        }
    }
}
#endif
