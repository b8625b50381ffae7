/* gconv_avx512.c: small-group conv micro-kernel, AVX-512F, 16 channels a vector (gconv_simd.h), and
 * for group width 8 (RegNet's) the pair kernel below. */
#include "../simd/vec_avx512.h"
#include "fn_gconv_kernels.h"

/* Group width 8 in input pairs (FN_GCONV_PAIRS_avx512): a zmm accumulator holds one group's 8
 * outputs x 2 partial sums, lane 2o + e summing input channels i = e (mod 2). Input pair (2p, 2p+1)
 * of a pixel is one 64-bit broadcast load (vbroadcastsd: a load port, no shuffle) against the packed
 * vector lane 2o + e = w[o][2p + e]; the two partials are added (two vpermt2ps per block of two
 * groups) once per pixel at the end. The permute kernel in gconv_simd.h spends a vpermps on port 5,
 * where the second 512-bit FMA unit sits, on every multiply-add, and at 24 channels its second
 * vector is half empty. RegNetY-200MF, AVX-512, Sapphire Rapids, 1 thread (harness, input just
 * written): 3x3/2 24ch 112x112 -> 56x56 0.190 -> 0.111 ms, 56ch 56 -> 28 0.084 -> 0.061, 152ch 28 -> 14
 * 0.049 -> 0.037.
 * Per output: s_even + s_odd + bias, s_e = the sum over taps (in order), then pairs p ascending of
 * x[2p + e] * w (a fused multiply-add). */
FN_INLINE V pair_bcast(const float *p) { return _mm512_castpd_ps(_mm512_broadcastsd_pd(_mm_load_sd((const double *)p))); }

/* one block of 16 channels: group 0 of the block always, group 1 when TWO */
FN_INLINE void pairs_block(const int TWO, size_t mr, size_t left, size_t c0, size_t ks,
                           const float *const *a, const float *w, float *y, size_t ldy,
                           const float *res, size_t ldr, int clamp, V lo, V hi) {
    const size_t MR = FN_GCONV_MR_avx512;
    V acc0[FN_GCONV_MR_avx512], acc1[FN_GCONV_MR_avx512];
FN_UNROLL(8)
    for (size_t m = 0; m < MR; m++) acc0[m] = acc1[m] = vzero();
    const float *wt = w + VW;
    for (size_t t = 0; t < ks; t++, wt += 8 * VW) {
        const float *const *at = a + t * MR;
        const float *xm[FN_GCONV_MR_avx512];
FN_UNROLL(8)
        for (size_t m = 0; m < MR; m++) xm[m] = at[m] + c0;
FN_UNROLL(4)
        for (size_t p = 0; p < 4; p++) {
            const V w0 = vload(wt + p * VW);
FN_UNROLL(8)
            for (size_t m = 0; m < MR; m++) acc0[m] = vfma(pair_bcast(xm[m] + 2 * p), w0, acc0[m]);
            if (TWO) {
                const V w1 = vload(wt + (4 + p) * VW);
FN_UNROLL(8)
                for (size_t m = 0; m < MR; m++) acc1[m] = vfma(pair_bcast(xm[m] + 8 + 2 * p), w1, acc1[m]);
            }
        }
    }
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
    const V bias = vload(w);
    const VK k = vmask_upto(left);
FN_UNROLL(8)
    for (size_t m = 0; m < MR; m++) {
        if (m >= mr) break;
        V v = vadd(vadd(_mm512_permutex2var_ps(acc0[m], ie, acc1[m]),
                        _mm512_permutex2var_ps(acc0[m], io, acc1[m])), bias);
        if (left >= VW) {
            if (res) v = vadd(v, vload(res + m * ldr + c0));
            vstore(y + m * ldy + c0, vclamp_if(v, clamp, lo, hi));
        } else {
            if (res) v = vadd(v, vload_k(res + m * ldr + c0, k));
            vstore_k(y + m * ldy + c0, k, vclamp_if(v, clamp, lo, hi));
        }
    }
}

static void gconv_pairs8(size_t mr, size_t c, size_t ks, const float *const *a, const float *w,
                         float *y, size_t ldy, const float *res, size_t ldr, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    const size_t blk = VW * (1 + ks * 8); /* packed floats a channel block */
    for (size_t c0 = 0; c0 < c; c0 += VW, w += blk) {
        if (c - c0 > 8)
            pairs_block(1, mr, c - c0, c0, ks, a, w, y, ldy, res, ldr, clamp, lo, hi);
        else
            pairs_block(0, mr, c - c0, c0, ks, a, w, y, ldy, res, ldr, clamp, lo, hi);
    }
}
#define FN_GCONV_PAIRS_KERNEL gconv_pairs8

#include "gconv_simd.h"
