/* igemm_avx512.c: indirect-GEMM micro-kernel, avx512 (generic body until the intrinsics version lands). */
#include "igemm_generic.h"

void fn_f32_igemm__avx512(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    fn_igemm_generic(FN_IGEMM_MR_avx512, FN_IGEMM_NR_avx512, mr, nc, kc, ks, a, w, c, ldc, res, ldr,
                     act);
}
