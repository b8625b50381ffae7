/* conv_first_dispatch.c: the first-layer conv kernel table per ISA. */
#include "conv_first_kernels.h"

#define FN_CONV_FIRST_ROW(ISA_ENUM, ISA)                                                           \
    {.isa = ISA_ENUM, .tile = fn_f32_conv_first__##ISA, .lanes = FN_CONV_FIRST_LANES_##ISA,        \
     .mr = FN_CONV_FIRST_MR_##ISA},
static const fn_conv_first_kernels conv_first_tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_CONV_FIRST_ROW)};

const fn_conv_first_kernels *fn_conv_first_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &conv_first_tables[isa];
}
