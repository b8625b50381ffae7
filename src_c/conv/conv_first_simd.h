/* conv_first_simd.h: the first-layer conv micro-kernel, MR pixels of a row x VW*NV outputs, written
 * once over the SIMD vocabulary. The including conv_first_<isa>.c includes src_c/simd/vec_<isa>.h
 * first; the tile rows per NV are FN_CONV_FIRST_MR<NV>_<isa> of conv_first_kernels.h. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#define CF_MR1 FN_ISAX(FN_CONV_FIRST_MR1)
#define CF_MR2 FN_ISAX(FN_CONV_FIRST_MR2)
#define CF_MR3 FN_ISAX(FN_CONV_FIRST_MR3)
#define CF_MR4 FN_ISAX(FN_CONV_FIRST_MR4)
#include "../simd/vmath.h"
_Static_assert(CF_MR1 <= 16 && FN_ISAX(FN_CONV_FIRST_LANES) == VW, "conv_first tile");

/* One tile: MR, NV and the stride S (0: the run-time s) are constants after inlining, so pixel m's
 * input is xk[m*S], an immediate displacement from one pointer per tap. Rows mr..MR-1 are computed
 * from the padded buffer's slack and not stored; columns past nc are masked. */
FN_INLINE void tile(const size_t MR, const int NV, const size_t S, size_t s, size_t mr, size_t nc, size_t K,
                    const int32_t *off, const float *x, const float *w, float *y, size_t ldy,
                    const fn_act *act) {
    const size_t st = S ? S : s;
    const size_t NR = VW * (size_t)NV;
    const V zero = vzero();
    V b0 = vload(w);
    V b1 = NV > 1 ? vload(w + VW) : zero;
    V b2 = NV > 2 ? vload(w + 2 * VW) : zero;
    V b3 = NV > 3 ? vload(w + 3 * VW) : zero;
#define DECL(m) V c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2, c##m##_3 = b3;
    FN_REP(CF_MR1, DECL)
#undef DECL
    w += NR;
    for (size_t k = 0; k < K; k++, w += NR) {
        const float *xk = x + off[k];
        b0 = vload(w);
        if (NV > 1) b1 = vload(w + VW);
        if (NV > 2) b2 = vload(w + 2 * VW);
        if (NV > 3) b3 = vload(w + 3 * VW);
#define FMA(m)                                                                                     \
    if (m < MR) {                                                                                  \
        const V av = vbroadcast(xk + m * st);                                                      \
        c##m##_0 = vfma(av, b0, c##m##_0);                                                         \
        if (NV > 1) c##m##_1 = vfma(av, b1, c##m##_1);                                             \
        if (NV > 2) c##m##_2 = vfma(av, b2, c##m##_2);                                             \
        if (NV > 3) c##m##_3 = vfma(av, b3, c##m##_3);                                             \
    }
        FN_REP(CF_MR1, FMA)
#undef FMA
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    /* hardswish in registers, silu by a second pass over the stored tile (kernels.h fn_act_in_kernel:
     * vmath.h's formulas, the bits of the act family's pass); other kinds past the clamp: the
     * driver's pass over the stored rows. silu in registers, beside the tile's accumulators, cost
     * more than the pass: 3->32 3x3/2 at 224x224 (AMD Zen 4, 1 thread, min of 300, the conv's record
     * in Model.profile) AVX-512 0.366 -> 0.334 ms with the once-a-tile fallback check and the pass
     * (relu 0.25), AVX2 0.376 -> 0.369. */
    const int silu = act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU;
    const int hswish = act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH;
    const V lo = vset(act->lo), hi = vset(act->hi);
    /* silu's fallback (lanes below -87: fn_silu) decided once a tile, on the minimum of its vectors,
     * as igemm_simd.h's epilogue does: a lane's result is fn_silu's either way */
    int fast = 0;
    if (silu) {
        V mn = vset(__builtin_inff()); /* min(v, mn) is mn where v is NaN: a NaN hides no low lane */
#define MINV(m)                                                                                    \
    if (m < MR && m < mr) {                                                                        \
        mn = vmin(c##m##_0, mn);                                                                   \
        if (NV > 1) mn = vmin(c##m##_1, mn);                                                       \
        if (NV > 2) mn = vmin(c##m##_2, mn);                                                       \
        if (NV > 3) mn = vmin(c##m##_3, mn);                                                       \
    }
        FN_REP(CF_MR1, MINV)
#undef MINV
        fast = !vm_any(vlt(mn, vset(FN_SILU_FAST_MIN)));
    }
    /* max(lo, y) then min(hi, .): a NaN y stays NaN, as torch's clamp */
#define ST(m, v)                                                                                   \
    {                                                                                              \
        const V r = silu ? c##m##_##v                                                              \
                    : hswish ? fn_hardswish(c##m##_##v) : vclamp_if(c##m##_##v, clamp, lo, hi);    \
        float *dst = y + m * ldy + VW * v;                                                         \
        if (nc >= VW * (size_t)(v + 1)) vstore(dst, r);                                            \
        else if (nc > VW * (size_t)v) vstore_k(dst, vmask_n(nc - VW * (size_t)v), r);              \
    }
#define STORE(m)                                                                                   \
    if (m < MR && m < mr) {                                                                        \
        ST(m, 0)                                                                                   \
        if (NV > 1) ST(m, 1)                                                                       \
        if (NV > 2) ST(m, 2)                                                                       \
        if (NV > 3) ST(m, 3)                                                                       \
    }
    FN_REP(CF_MR1, STORE)
#undef STORE
#undef ST
    if (silu) /* a second pass over the stored tile, from L1 */
        for (size_t m = 0; m < mr && m < MR; m++)
            for (int v = 0; v < NV && (size_t)v * VW < nc; v++) {
                float *dst = y + m * ldy + VW * (size_t)v;
                if (nc >= VW * (size_t)(v + 1)) {
                    const V t = vload(dst);
                    vstore(dst, fast ? fn_silu_fast(t) : fn_silu(t));
                } else {
                    const VK k = vmask_n(nc - VW * (size_t)v);
                    const V t = vload_k(dst, k);
                    vstore_k(dst, k, fast ? fn_silu_fast(t) : fn_silu(t));
                }
            }
}

void FN_KNAME(fn_f32_conv_first)(size_t nv, size_t s, size_t mr, size_t nc, size_t K, const int32_t *off,
                                 const float *x, const float *w, float *y, size_t ldy, const fn_act *act) {
    switch (nv) {
    case 1: FN_CONV_FIRST_STRIDES(CF_MR1, 1); break;
    case 2: FN_CONV_FIRST_STRIDES(CF_MR2, 2); break;
#if CF_MR4
    case 3: FN_CONV_FIRST_STRIDES(CF_MR3, 3); break;
    default: FN_CONV_FIRST_STRIDES(CF_MR4, 4); break;
#else
    default: FN_CONV_FIRST_STRIDES(CF_MR3, 3); break;
#endif
    }
}
