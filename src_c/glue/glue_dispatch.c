/* glue_dispatch.c: the glue family's const kernel table per ISA. */
#include "glue_kernels.h"

#define FN_GLUE_TABLE(ISA_ENUM, ISA)                                                               \
    {                                                                                              \
        .isa = ISA_ENUM,                                                                           \
        .binary = fn_f32_binary__##ISA,                                                            \
        .binary_rows = fn_f32_binary_rows__##ISA,                                                  \
        .copy = fn_f32_copy__##ISA,                                                                \
        .fill = fn_f32_fill__##ISA,                                                                \
        .dup2 = fn_f32_dup2__##ISA,                                                                \
        .gather = fn_f32_gather__##ISA,                                                            \
        .bilinear_row = fn_f32_bilinear_row__##ISA,                                                \
        .lerp2d = fn_f32_lerp2d__##ISA,                                                            \
        .transpose = fn_f32_transpose__##ISA,                                                      \
    }

#define FN_GLUE_ROW(ISA_ENUM, ISA) FN_GLUE_TABLE(ISA_ENUM, ISA),
static const fn_glue_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_GLUE_ROW)};

const fn_glue_kernels *fn_glue_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}
