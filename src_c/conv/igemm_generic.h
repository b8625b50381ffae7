/* igemm_generic.h: the indirect-GEMM micro-kernel written once for any tile (the portable kernel
 * instantiates it), and FN_REP, which the wide kernels use to spell out one tile row per line. */
#ifndef FASTNORM_IGEMM_GENERIC_H
#define FASTNORM_IGEMM_GENERIC_H
#include "../kernels.h"

/* FN_REP(n, X) expands X(0) X(1) ... X(n-1); n must be a literal 1..16 (a tile's MR). The wide
 * kernels spell one named variable per accumulator with it: gcc keeps named vectors in registers,
 * where an array indexed in loops sometimes stays in memory (a store per FMA). */
#define FN_REP_1(X) X(0)
#define FN_REP_2(X) FN_REP_1(X) X(1)
#define FN_REP_3(X) FN_REP_2(X) X(2)
#define FN_REP_4(X) FN_REP_3(X) X(3)
#define FN_REP_5(X) FN_REP_4(X) X(4)
#define FN_REP_6(X) FN_REP_5(X) X(5)
#define FN_REP_7(X) FN_REP_6(X) X(6)
#define FN_REP_8(X) FN_REP_7(X) X(7)
#define FN_REP_9(X) FN_REP_8(X) X(8)
#define FN_REP_10(X) FN_REP_9(X) X(9)
#define FN_REP_11(X) FN_REP_10(X) X(10)
#define FN_REP_12(X) FN_REP_11(X) X(11)
#define FN_REP_13(X) FN_REP_12(X) X(12)
#define FN_REP_14(X) FN_REP_13(X) X(13)
#define FN_REP_15(X) FN_REP_14(X) X(14)
#define FN_REP_16(X) FN_REP_15(X) X(15)
#define FN_REP_(n, X) FN_REP_##n(X)
#define FN_REP(n, X) FN_REP_(n, X)

static inline __attribute__((always_inline)) void fn_igemm_generic(
    size_t MR, size_t NR, size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
    const float *w, float *c, size_t ldc, const float *res, size_t ldr, const fn_act *act) {
    float acc[16][64]; /* MR <= 16, NR <= 64 */
    for (size_t m = 0; m < MR; m++)
        for (size_t j = 0; j < NR; j++) acc[m][j] = w[j];
    w += NR;
    for (size_t t = 0; t < ks; t++) {
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
