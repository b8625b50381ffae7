/* winograd_gemm_simd.h: the Winograd drivers' GEMM micro-kernel (fn_f32_wino_gemm__<isa>) written
 * once over the SIMD vocabulary, for the ISAs without a hand-written one (scalar, AVX2, NEON; AVX-512
 * has its own in winograd_avx512.c with the same summation). The includer includes
 * src_c/simd/vec_<isa>.h first.
 *
 *   c[m][j] = sum_i a[m*lda + i] * w[NR + i*NR + j],  m < mr, j < nc
 * (w: an igemm panel, its first NR floats the zero bias row, skipped), on the conv's igemm tile
 * (FN_IGEMM_MR x FN_IGEMM_NR).
 *
 * The sum over i runs in blocks of FN_WINO_KB terms, each block from zero in registers and then
 * added to c: sum = ((b0 + b1) + b2) + ... The transformed values are larger than the outputs they
 * cancel to (B^T's and A^T's entries reach 8), so the rounding of one long float32 running sum was
 * a wide Winograd conv's largest error. Single 3x3 convs, post-ReLU inputs, rms error over float64
 * / max |y| (session 17): 96 channels 2.5 -> 1.9e-7, 256 3.5 -> 1.9e-7, 512 4.8 -> 1.9e-7 (the
 * direct conv at 256: 1.5e-7). Below ~64 channels the transforms' own rounding dominates and blocks
 * change little. Blocks of 64 cost 0-2% of a Winograd-heavy model's time (ResNet-34, VGG-11,
 * Inception-v3; AVX2 and AVX-512); blocks of 16 cost 6-12% (the C tile's masked load, add and
 * store every 16 k-steps) for 1.3x less error again at 256 channels. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#include "winograd_kernels.h"

#define WG_MR FN_ISAX(FN_IGEMM_MR)
#define WG_NR FN_ISAX(FN_IGEMM_NR)
#define WG_NV (WG_NR / VW)

/* One block of k steps [k0, k1) of a WG_MR-row tile; FIRST (a constant): store, else add to c. */
FN_INLINE void wino_gemm_block(const int FIRST, size_t mr, size_t nc, size_t k0, size_t k1,
                               const float *const *ar, const float *w, float *c, size_t ldc) {
    V acc[WG_MR][WG_NV];
FN_UNROLL(WG_MR)
    for (int m = 0; m < WG_MR; m++)
FN_UNROLL(WG_NV)
        for (int v = 0; v < WG_NV; v++) acc[m][v] = vzero();
    /* unrolled: rolled, each k-step paid a pointer add, a counter add and a branch (igemm_avx2.c) */
FN_UNROLL(8)
    for (size_t i = k0; i < k1; i++) {
        V b[WG_NV];
FN_UNROLL(WG_NV)
        for (int v = 0; v < WG_NV; v++) b[v] = vload(w + i * WG_NR + v * VW);
FN_UNROLL(WG_MR)
        for (int m = 0; m < WG_MR; m++) {
            const V av = vbroadcast(ar[m] + i);
FN_UNROLL(WG_NV)
            for (int v = 0; v < WG_NV; v++) acc[m][v] = vfma(av, b[v], acc[m][v]);
        }
    }
FN_UNROLL(WG_MR)
    for (int m = 0; m < WG_MR; m++) {
        if ((size_t)m >= mr) break;
        float *cm = c + m * ldc;
FN_UNROLL(WG_NV)
        for (int v = 0; v < WG_NV; v++) {
            const size_t j = (size_t)v * VW;
            if (j >= nc) break;
            if (nc - j >= VW) {
                vstore(cm + j, FIRST ? acc[m][v] : vadd(vload(cm + j), acc[m][v]));
            } else {
                const VK k = vmask_n(nc - j);
                vstore_k(cm + j, k, FIRST ? acc[m][v] : vadd(vload_k(cm + j, k), acc[m][v]));
            }
        }
    }
}

void FN_KNAME(fn_f32_wino_gemm)(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                                const float *w, float *c, size_t ldc, const float *pf, size_t npf) {
    (void)pf, (void)npf;
    const float *ar[WG_MR];
    for (size_t r = 0; r < WG_MR; r++) ar[r] = a + (r < mr ? r : mr - 1) * lda;
    w += WG_NR; /* the zero bias row */
    const size_t k1 = kc < FN_WINO_KB ? kc : FN_WINO_KB;
    wino_gemm_block(1, mr, nc, 0, k1, ar, w, c, ldc);
    for (size_t k0 = k1; k0 < kc; k0 += FN_WINO_KB)
        wino_gemm_block(0, mr, nc, k0, kc - k0 < FN_WINO_KB ? kc : k0 + FN_WINO_KB, ar, w, c, ldc);
}

#undef WG_MR
#undef WG_NR
#undef WG_NV
