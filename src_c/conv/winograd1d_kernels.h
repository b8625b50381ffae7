/* winograd1d_kernels.h: the 1-D Winograd transform kernels per ISA (the table is in winograd1d.c;
 * the kernels are compiled from winograd1d_simd.h in winograd1d.c and winograd_<isa>.c). */
#ifndef FASTNORM_WINOGRAD1D_KERNELS_H
#define FASTNORM_WINOGRAD1D_KERNELS_H
#include "../kernels.h"

#define FN_DECLARE_WINO1D(isa)                                                                     \
    void fn_f32_wino1d_input__##isa(int np, size_t c, const float *const *px, float *v, size_t ldv);        \
    void fn_f32_wino1d_output__##isa(int mo, size_t c, const float *m, size_t ldm, const float *bias, \
                                     float *const *out, const float *const *res, const fn_act *act);  \
    void fn_wino1d_pack_rows__##isa(size_t np, size_t kt, const double *g, const double *gt, size_t nr, \
                                    float *u, size_t ldu);

FN_DECLARE_WINO1D(scalar)
FN_DECLARE_WINO1D(avx2)
FN_DECLARE_WINO1D(avx512)
FN_DECLARE_WINO1D(neon)

#endif
