/* igemm.c: portable indirect-GEMM micro-kernel (the spec of igemm_avx2.c / igemm_avx512.c). */
#include "igemm_generic.h"

void fn_f32_igemm__scalar(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                          const fn_act *act) {
    fn_igemm_generic(FN_IGEMM_MR_scalar, FN_IGEMM_NR_scalar, mr, nc, kc, ks, a, w, c, ldc, res, ldr,
                     act);
}
