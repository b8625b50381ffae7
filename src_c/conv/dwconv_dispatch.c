/* dwconv_dispatch.c: the depthwise conv kernel table per ISA. */
#include "dwconv_kernels.h"

static const fn_dwconv_kernels dwconv_tables[FN_ISA_COUNT] = {
    {.isa = FN_ISA_SCALAR, .row = fn_f32_dwconv_row__scalar},
    {.isa = FN_ISA_AVX2, .row = fn_f32_dwconv_row__avx2},
    {.isa = FN_ISA_AVX512, .row = fn_f32_dwconv_row__avx512},
};

const fn_dwconv_kernels *fn_dwconv_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &dwconv_tables[isa];
}
