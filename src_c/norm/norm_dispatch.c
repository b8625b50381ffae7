/* norm_dispatch.c: the norm family's kernel table per ISA. */
#include "../kernels.h"

#define FN_NORM_DECLARE(isa)                                                                       \
    void fn_f32_norm_row_moments__##isa(size_t rows, size_t n, const float *x, size_t ldx,         \
                                        const float *shift, size_t lds, double *sums);             \
    void fn_f32_norm_col_moments__##isa(size_t rows, size_t cols, const float *x, size_t ldx,      \
                                        const float *shift, double *s1, double *s2);               \
    void fn_f32_norm_rows_apply__##isa(size_t rows, size_t n, const float *x, const float *cm,     \
                                       const float *a, const float *b, const float *w,             \
                                       const float *beta, const fn_act *act, float *y);            \
    void fn_f32_norm_cols_apply__##isa(size_t rows, size_t cols, const float *x, size_t ldx,       \
                                       const float *cm, const float *a, const float *b,            \
                                       const float *w, const float *beta, const fn_act *act,       \
                                       float *y, size_t ldy);
FN_NORM_DECLARE(scalar)
FN_NORM_DECLARE(avx2)
FN_NORM_DECLARE(avx512)
FN_NORM_DECLARE(neon)

#define FN_NORM_TABLE(ISA_ENUM, ISA)                                                               \
    {                                                                                              \
        .isa = ISA_ENUM,                                                                           \
        .row_moments = fn_f32_norm_row_moments__##ISA,                                             \
        .col_moments = fn_f32_norm_col_moments__##ISA,                                             \
        .rows_apply = fn_f32_norm_rows_apply__##ISA,                                               \
        .cols_apply = fn_f32_norm_cols_apply__##ISA,                                               \
    }

#define FN_NORM_ROW(ISA_ENUM, ISA) FN_NORM_TABLE(ISA_ENUM, ISA),
static const fn_norm_kernels norm_tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_NORM_ROW)};

const fn_norm_kernels *fn_norm_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &norm_tables[isa];
}
