/* shape_kernels.h: the shape family's micro-kernel symbols per ISA (shape_dispatch.c builds the tables). */
#ifndef FASTNORM_SHAPE_KERNELS_H
#define FASTNORM_SHAPE_KERNELS_H

#include "../kernels.h"

#define FN_DECLARE_SHAPE_UKERNELS(isa)                                                             \
    void fn_f32_gather_row__##isa(size_t n, const float *x, ptrdiff_t sx, float *y);               \
    void fn_f32_acc_row__##isa(int kind, size_t n, const float *x, float *y);                      \
    float fn_f32_reduce_row__##isa(int kind, size_t n, const float *x);                            \
    void fn_f32_scale_row__##isa(size_t n, float s, float *y);

FN_DECLARE_SHAPE_UKERNELS(scalar)
FN_DECLARE_SHAPE_UKERNELS(avx2)
FN_DECLARE_SHAPE_UKERNELS(avx512)
FN_DECLARE_SHAPE_UKERNELS(neon)

#endif
