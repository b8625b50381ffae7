/* conv_first_dispatch.c: the first-layer conv kernel table per ISA. */
#include "conv_first_kernels.h"

static const fn_conv_first_kernels conv_first_tables[FN_ISA_COUNT] = {
    {.isa = FN_ISA_SCALAR, .tile = fn_f32_conv_first__scalar, .lanes = FN_CONV_FIRST_LANES_scalar,
     .mr = FN_CONV_FIRST_MR_scalar},
    {.isa = FN_ISA_AVX2, .tile = fn_f32_conv_first__avx2, .lanes = FN_CONV_FIRST_LANES_avx2,
     .mr = FN_CONV_FIRST_MR_avx2},
    {.isa = FN_ISA_AVX512, .tile = fn_f32_conv_first__avx512, .lanes = FN_CONV_FIRST_LANES_avx512,
     .mr = FN_CONV_FIRST_MR_avx512},
};

const fn_conv_first_kernels *fn_conv_first_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &conv_first_tables[isa];
}
