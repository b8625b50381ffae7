/* igemm.c: portable indirect-GEMM micro-kernel (the spec of igemm_avx2.c / igemm_avx512.c). */
#include "igemm_generic.h"

void fn_f32_igemm__scalar(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    fn_igemm_generic(FN_IGEMM_MR_scalar, FN_IGEMM_NR_scalar, mr, nc, kc, ks, a, w, c, ldc, res, ldr,
                     act, NULL);
}

void fn_f32_igemm_taps__scalar(size_t mr, size_t nc, size_t kc, size_t nt, const float *const *a,
                               const unsigned short *taps, const float *w, float *c, size_t ldc,
                               const float *res, size_t ldr, const fn_act *act) {
    fn_igemm_generic(FN_IGEMM_MR_scalar, FN_IGEMM_NR_scalar, mr, nc, kc, nt, a, w, c, ldc, res, ldr,
                     act, taps);
}

/* Dense rows: MR-row tiles of the kernel above, the rows of a short last tile repeating its last. */
void fn_f32_igemm_dense__scalar(size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                                const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                                const fn_act *act) {
    const size_t MR = FN_IGEMM_MR_scalar;
    const float *p[FN_IGEMM_MR_scalar];
    for (size_t m0 = 0; m0 < m; m0 += MR) {
        const size_t mr = m - m0 < MR ? m - m0 : MR;
        for (size_t r = 0; r < MR; r++) p[r] = a + (m0 + (r < mr ? r : mr - 1)) * lda;
        fn_f32_igemm__scalar(mr, nc, kc, 1, p, w, c + m0 * ldc, ldc, res ? res + m0 * ldr : NULL,
                             ldr, act);
    }
}

/* One row times np panels: each panel by the kernel above (every row pointer at a). */
void fn_f32_igemm_panels__scalar(size_t np, size_t kc, const float *a, const float *w, size_t ps,
                                 float *c, const float *res, const fn_act *act) {
    const size_t NR = FN_IGEMM_NR_scalar;
    const float *p[FN_IGEMM_MR_scalar];
    for (size_t r = 0; r < FN_IGEMM_MR_scalar; r++) p[r] = a;
    for (size_t j = 0; j < np; j++)
        fn_f32_igemm__scalar(1, NR, kc, 1, p, w + j * ps, c + j * NR, NR, res ? res + j * NR : NULL, NR,
                             act);
}
