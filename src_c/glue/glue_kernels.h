/* glue_kernels.h: the glue family's micro-kernel symbols per ISA (glue_dispatch.c builds the tables). */
#ifndef FASTNORM_GLUE_KERNELS_H
#define FASTNORM_GLUE_KERNELS_H

#include "../kernels.h"

#define FN_DECLARE_GLUE_UKERNELS(isa)                                                              \
    void fn_f32_binary__##isa(int op, size_t n, const float *a, const float *b, float alpha,       \
                              const fn_act *act, float *y);                                        \
    void fn_f32_binary_rows__##isa(int op, size_t rows, size_t n, const float *a, const float *b,  \
                                   float alpha, const fn_act *act, float *y);                      \
    void fn_f32_copy__##isa(size_t n, const float *x, float *y);                                   \
    void fn_f32_fill__##isa(size_t n, float v, float *y);                                          \
    void fn_f32_dup2__##isa(size_t n, const float *x, float *y);                                   \
    void fn_f32_gather__##isa(size_t n, const float *x, const int32_t *ix, float *y);              \
    void fn_f32_bilinear_row__##isa(size_t n, size_t w, const float *r0, const float *r1, float w0, float w1, \
                                    const int32_t *i0, const int32_t *i1, const float *l0,         \
                                    const float *l1, float *y);                                    \
    void fn_f32_lerp2d__##isa(size_t c, const float *p00, const float *p01, const float *p10,      \
                              const float *p11, float w0, float w1, float l0, float l1, float *y); \
    void fn_f32_transpose__##isa(size_t rows, size_t cols, size_t strip, const float *x, size_t ldx, float *y, \
                                 size_t ldy);

FN_DECLARE_GLUE_UKERNELS(scalar)
FN_DECLARE_GLUE_UKERNELS(avx2)
FN_DECLARE_GLUE_UKERNELS(avx512)
FN_DECLARE_GLUE_UKERNELS(neon)

#endif
