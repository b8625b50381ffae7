/* convt_dispatch.c: the conv_transpose2d scatter kernels, one const table per ISA. */
#include "fn_convt.h"

#define FN_CONVT_DECLARE(isa)                                                                      \
    void fn_f32_convt_addrows__##isa(size_t n, size_t c, const float *src, size_t ss, float *dst, \
                                     size_t ds);
FN_CONVT_DECLARE(scalar)
FN_CONVT_DECLARE(avx2)
FN_CONVT_DECLARE(avx512)
FN_CONVT_DECLARE(neon)

#define FN_CONVT_ROW(ISA_ENUM, ISA) {ISA_ENUM, fn_f32_convt_addrows__##ISA},
static const fn_convt_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_CONVT_ROW)};

const fn_convt_kernels *fn_convt_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return &tables[FN_ISA_SCALAR];
    return &tables[isa];
}
