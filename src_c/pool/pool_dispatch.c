/* pool_dispatch.c: the pool family's kernel table per ISA. */
#include "pool_kernels.h"

#define FN_POOL_TABLE(ISA)                                                                         \
    {                                                                                              \
        .maxpool_row = fn_f32_maxpool_row__##ISA,                                                  \
        .avgpool_row = fn_f32_avgpool_row__##ISA,                                                  \
        .global_max_cols = fn_f32_global_maxpool_nhwc__##ISA,                                      \
        .global_avg_cols = fn_f32_global_avgpool_nhwc__##ISA,                                      \
        .global_max_rows = fn_f32_global_maxpool_nchw__##ISA,                                      \
        .global_avg_rows = fn_f32_global_avgpool_nchw__##ISA,                                      \
        .maxpool_nchw_row = fn_f32_maxpool_nchw_row__##ISA,                                        \
        .avgpool_nchw_row = fn_f32_avgpool_nchw_row__##ISA,                                        \
    }

#define FN_POOL_ROW(ISA_ENUM, ISA) FN_POOL_TABLE(ISA),
static const fn_pool_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_POOL_ROW)};

const fn_pool_kernels *fn_pool_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}
