/* winograd_kernels.h: the Winograd transform kernels per ISA (the table is in winograd.c). */
#ifndef FASTNORM_WINOGRAD_KERNELS_H
#define FASTNORM_WINOGRAD_KERNELS_H
#include "../kernels.h"

#define FN_DECLARE_WINO(isa)                                                                       \
    void fn_f32_wino_input__##isa(size_t c, const float *const *px, float *v, size_t ldv);          \
    void fn_f32_wino_output__##isa(size_t c, const float *m, size_t ldm, const float *bias,         \
                                   float *const *out, const float *const *res, const fn_act *act); \
    void fn_f32_wino_output2__##isa(size_t c, const float *m, size_t ldm, const float *bias,        \
                                    float *const *out, const float *const *res, const fn_act *act); \
    void fn_f32_wino_gemm__##isa(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,      \
                                 const float *w, float *c, size_t ldc, const float *pf, size_t npf);

FN_DECLARE_WINO(scalar)
FN_DECLARE_WINO(avx2)
FN_DECLARE_WINO(avx512)
FN_DECLARE_WINO(neon)

#endif
