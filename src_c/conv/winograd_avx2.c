/* winograd_avx2.c: F(4x4, 3x3) transforms, AVX2+FMA, 8 channels per ymm (winograd_simd.h), and the
 * GEMM of the 36 products on the conv's igemm micro-kernel. */
#include "../simd/vec_avx2.h"
#include "winograd_kernels.h"
#include "winograd_simd.h"

/* The 36 GEMMs on the conv's igemm micro-kernel (ks = 1, its bias row the panel's zero row). */
void fn_f32_wino_gemm__avx2(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                            const float *w, float *c, size_t ldc, const float *pf,
                            size_t npf) {
    (void)pf, (void)npf;
    const float *rows[FN_IGEMM_MR_avx2];
    for (size_t r = 0; r < FN_IGEMM_MR_avx2; r++) rows[r] = a + (r < mr ? r : mr - 1) * lda;
    const fn_act none = {FN_ACT_NONE, 0.0f, 0.0f};
    fn_f32_igemm__avx2(mr, nc, kc, 1, rows, w, c, ldc, NULL, 0, &none);
}
#include "winograd1d_kernels.h"
#include "winograd1d_simd.h" /* the 1-D Winograd transforms (winograd1d.c) on this ISA */
