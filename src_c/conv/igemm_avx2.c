/* igemm_avx2.c: indirect-GEMM micro-kernel, avx2 (generic body until the intrinsics version lands). */
#include "igemm_generic.h"

void fn_f32_igemm__avx2(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    fn_igemm_generic(FN_IGEMM_MR_avx2, FN_IGEMM_NR_avx2, mr, nc, kc, ks, a, w, c, ldc, res, ldr,
                     act);
}
