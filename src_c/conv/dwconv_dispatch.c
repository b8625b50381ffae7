/* dwconv_dispatch.c: the depthwise conv kernel table per ISA. */
#include "dwconv_kernels.h"

#define FN_DWCONV_ROW(ISA_ENUM, ISA)                                                               \
    {.isa = ISA_ENUM, .row = fn_f32_dwconv_row__##ISA, .rowsum = fn_f32_dwconv_rowsum__##ISA},
static const fn_dwconv_kernels dwconv_tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_DWCONV_ROW)};

const fn_dwconv_kernels *fn_dwconv_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &dwconv_tables[isa];
}
