/* dispatch.c: one const kernel table per ISA, and the one chosen at import. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#define FN_TABLE(ISA_ENUM, ISA)                                                                    \
    {                                                                                              \
        .isa = ISA_ENUM,                                                                           \
        .name = #ISA,                                                                              \
        .gemm_mr = FN_IGEMM_MR_##ISA,                                                              \
        .gemm_nr = FN_IGEMM_NR_##ISA,                                                              \
        .igemm = fn_f32_igemm__##ISA,                                                              \
        .igemm_taps = fn_f32_igemm_taps__##ISA,                                                    \
        .igemm_dense = fn_f32_igemm_dense__##ISA,                                                  \
        .igemm_pf = FN_IGEMM_PF_##ISA,                                                             \
        .igemm_dense_pf = FN_IGEMM_DENSE_PF_##ISA,                                                 \
        .igemm_panels = fn_f32_igemm_panels__##ISA,                                                \
        .scale_shift_rows = fn_f32_scale_shift_rows__##ISA,                                        \
        .scale_shift_cols = fn_f32_scale_shift_cols__##ISA,                                        \
        .post_cols = fn_f32_post_cols__##ISA,                                                      \
        .fold_scale_rows = fn_fold_scale_rows__##ISA,                                              \
        .act = fn_f32_act__##ISA,                                                                  \
        .maxpool = fn_f32_maxpool__##ISA,                                                          \
    }

#define FN_TABLE_ROW(ISA_ENUM, ISA) FN_TABLE(ISA_ENUM, ISA),
static const fn_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_TABLE_ROW)}; /* what this build compiled */

/* The only mutable globals: written once by fn_dispatch_init at import, read-only after. */
static const fn_kernels *active = &tables[FN_ISA_SCALAR];
static int half_rate_512 = 0; /* fn_avx512_half_rate */

const fn_kernels *fn_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}

const fn_kernels *fn_kernels_active(void) { return active; }

int fn_avx512_half_rate(void) { return half_rate_512; }

int fn_dispatch_init(void) {
    fn_cpu_features f;
    fn_cpu_detect(&f);
    /* Zen 4 (family 0x19; Zen 3 shares it but has no AVX-512) splits each 512-bit FMA into two halves
     * on its two 256-bit FMA pipes. Zen 5 (0x1a) and Intel's server cores have full-width units, so
     * they keep 0, as does any CPU this does not know. */
    int half = f.avx512f && f.vendor_amd && f.family == 0x19;
    const char *hr = getenv("FASTNORM_AVX512_HALF_RATE");
    if (hr && *hr) {
        if (strcmp(hr, "0") != 0 && strcmp(hr, "1") != 0) return -2;
        half = hr[0] == '1';
    }
    half_rate_512 = half;
    fn_isa best = fn_cpu_best_isa(&f);
    fn_isa chosen = best;
    const char *env = getenv("FASTNORM_ISA");
    if (env && *env) {
        int want = -1;
        for (int i = 0; i < FN_ISA_COUNT; i++)
            if (strcmp(env, tables[i].name) == 0) want = i;
        if (want < 0 || want > (int)best) return -1;
        chosen = (fn_isa)want;
    }
    active = &tables[chosen];
    return (int)chosen;
}

#ifdef _OPENMP
#include <omp.h>
int fn_omp_max_threads(void) { return omp_get_max_threads(); }
int fn_omp_enabled(void) { return 1; }
#else
int fn_omp_max_threads(void) { return 1; }
int fn_omp_enabled(void) { return 0; }
#endif
