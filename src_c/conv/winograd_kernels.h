/* winograd_kernels.h: the Winograd transform kernels per ISA (the table is in winograd.c). */
#ifndef FASTNORM_WINOGRAD_KERNELS_H
#define FASTNORM_WINOGRAD_KERNELS_H
#include "../kernels.h"

/* The Winograd GEMMs sum their K (input channels) in blocks of FN_WINO_KB, each block from zero and
 * then added to C (winograd_gemm_simd.h says why). */
#ifndef FN_WINO_KB
#define FN_WINO_KB 64
#endif

/* The weight packing (winograd_pack.h): the widest panel (NR) its buffers take, and its block of
 * input channels. */
#define FN_WINO_PACK_MAX_NR 64
#define FN_WINO_PACK_CB 8

#define FN_DECLARE_WINO(isa)                                                                       \
    void fn_f32_wino_input__##isa(size_t c, const float *const *px, float *v, size_t ldv);          \
    void fn_f32_wino_output__##isa(size_t c, const float *m, size_t ldm, const float *bias,         \
                                   float *const *out, const float *const *res, const fn_act *act); \
    void fn_f32_wino_output2__##isa(size_t c, const float *m, size_t ldm, const float *bias,        \
                                    float *const *out, const float *const *res, const fn_act *act); \
    void fn_f32_wino_input4__##isa(size_t c, const float *const *px, float *v, size_t ldv);         \
    void fn_f32_wino_output4__##isa(size_t c, const float *m, size_t ldm, const float *bias,        \
                                    float *const *out, const float *const *res, const fn_act *act); \
    void fn_f32_wino_gemm__##isa(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,      \
                                 const float *w, float *c, size_t ldc, const float *pf, size_t npf);    \
    void fn_wino_pack_block__##isa(int A, int R, const float *w, size_t cin, size_t ci0, size_t nb,      \
                                   size_t co0, size_t nj, size_t NR, float *vb);

/* The thread count and task split of the Winograd drivers (winograd.c, winograd1d.c), given their
 * tiles, transform positions np, channels, tile blocks and output panels. Small convs run on one
 * thread (a fork/join costs more): >= ~256K multiply-adds per thread. Tasks are (tile block, group of
 * gp output panels): few blocks are split over panel groups so every thread has work. Returns the
 * task count; *nthreads and *gp are set. */
static inline size_t fn_wino_tasks(size_t tiles, size_t np, size_t cin, size_t cout, size_t nblocks,
                                   size_t npanels, int *nthreads, size_t *gp) {
    const size_t macs = tiles * np * cin * cout, per = (size_t)1 << 18;
    if (macs / per < (size_t)*nthreads) *nthreads = macs / per > 1 ? (int)(macs / per) : 1;
    size_t ng = 1;
    if (*nthreads > 1 && nblocks < 4 * (size_t)*nthreads) {
        ng = (4 * (size_t)*nthreads + nblocks - 1) / nblocks;
        if (ng > npanels) ng = npanels;
    }
    *gp = (npanels + ng - 1) / ng; /* panels per group */
    ng = (npanels + *gp - 1) / *gp;
    return nblocks * ng;
}

FN_DECLARE_WINO(scalar)
FN_DECLARE_WINO(avx2)
FN_DECLARE_WINO(avx512)
FN_DECLARE_WINO(neon)

#endif
