/* shape_dispatch.c: the shape family's const kernel table per ISA. */
#include "shape_kernels.h"

#define FN_SHAPE_TABLE(ISA_ENUM, ISA)                                                              \
    {                                                                                              \
        .isa = ISA_ENUM,                                                                           \
        .gather_row = fn_f32_gather_row__##ISA,                                                    \
        .acc_row = fn_f32_acc_row__##ISA,                                                          \
        .reduce_row = fn_f32_reduce_row__##ISA,                                                    \
        .scale_row = fn_f32_scale_row__##ISA,                                                      \
    }

#define FN_SHAPE_ROW(ISA_ENUM, ISA) FN_SHAPE_TABLE(ISA_ENUM, ISA),
static const fn_shape_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_SHAPE_ROW)};

const fn_shape_kernels *fn_shape_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}
