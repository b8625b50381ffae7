/* act_dispatch.c: the act family's per-ISA kernel tables. */
#include "../kernels.h"

#define FN_ACT_DECLARE(isa)                                                                        \
    fn_status fn_f32_actk_apply__##isa(int kind, size_t n, const float *x, const fn_act_params *p, \
                                       float *y);                                                  \
    void fn_f32_prelu_rows__##isa(size_t rows, size_t n, const float *x, const float *w,          \
                                  float *y);                                                       \
    void fn_f32_prelu_cols__##isa(size_t rows, size_t c, const float *x, const float *w,          \
                                  float *y);                                                       \
    void fn_f32_softmax_rows__##isa(size_t rows, size_t len, const float *x, float *y, int log);   \
    void fn_f32_softmax_cols__##isa(size_t len, size_t stride, size_t nc, const float *x,         \
                                    float *y, int log);
FN_ACT_DECLARE(scalar)
FN_ACT_DECLARE(avx2)
FN_ACT_DECLARE(avx512)
FN_ACT_DECLARE(neon)

#define FN_ACT_TABLE(ISA_ENUM, ISA)                                                                \
    {                                                                                              \
        .isa = ISA_ENUM,                                                                           \
        .name = #ISA,                                                                              \
        .apply = fn_f32_actk_apply__##ISA,                                                         \
        .prelu_rows = fn_f32_prelu_rows__##ISA,                                                    \
        .prelu_cols = fn_f32_prelu_cols__##ISA,                                                    \
        .softmax_rows = fn_f32_softmax_rows__##ISA,                                                \
        .softmax_cols = fn_f32_softmax_cols__##ISA,                                                \
    }

#define FN_ACT_ROW(ISA_ENUM, ISA) FN_ACT_TABLE(ISA_ENUM, ISA),
static const fn_act_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_ACT_ROW)};

const fn_act_kernels *fn_act_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}
