/* gconv_dispatch.c: the small-group conv kernel table per ISA (none for scalar: its vector is one
 * float, so the generic GEMM is already the right shape). */
#include "fn_gconv_kernels.h"

#define FN_GCONV_ROW_scalar {.vw = 1, .mr = FN_GCONV_MR_scalar, .pairs = FN_GCONV_PAIRS_scalar, .run = NULL}
#define FN_GCONV_ROW_avx2 {.vw = 8, .mr = FN_GCONV_MR_avx2, .pairs = FN_GCONV_PAIRS_avx2, .run = fn_f32_gconv__avx2}
#define FN_GCONV_ROW_avx512 {.vw = 16, .mr = FN_GCONV_MR_avx512, .pairs = FN_GCONV_PAIRS_avx512, .run = fn_f32_gconv__avx512}
#define FN_GCONV_ROW_neon {.vw = 4, .mr = FN_GCONV_MR_neon, .pairs = FN_GCONV_PAIRS_neon, .run = fn_f32_gconv__neon}
#define FN_GCONV_ROW(ISA_ENUM, ISA) FN_GCONV_ROW_##ISA,
static const fn_gconv_kernels gconv_tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_GCONV_ROW)};

const fn_gconv_kernels *fn_gconv_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &gconv_tables[isa];
}

size_t fn_gconv_tap_slot(const fn_gconv_kernels *gk, size_t g, size_t i, size_t j) {
    if (g != gk->pairs) return i * gk->vw + j;
    return (j / g * g / 2 + i / 2) * gk->vw + 2 * (j % g) + i % 2;
}

#if defined(__x86_64__)
/* one group a ymm, two groups and 8 pixels a step: 16 accumulators of AVX-512's 32 registers */
static const fn_gconv_kernels gconv_ymm = {.vw = 8, .mr = 8, .pairs = 0, .run = fn_f32_gconv_ymm__avx512};
const fn_gconv_kernels *fn_gconv_kernels_ymm(void) { return &gconv_ymm; }
#else
const fn_gconv_kernels *fn_gconv_kernels_ymm(void) { return NULL; }
#endif
