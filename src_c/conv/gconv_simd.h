/* gconv_simd.h: the small-group conv micro-kernel (group width g dividing the vector width, cin ==
 * cout), written once over the SIMD vocabulary; gconv_<isa>.c includes vec_<isa>.h first.
 *
 * A vector holds VW consecutive output channels, that is VW/g whole groups; the input vector at the
 * same channels holds exactly their inputs. Input channel i of each lane's group is moved into the
 * lane by a permute (index (lane/g)*g + i), or read as a broadcast when g == VW (one group a vector:
 * every lane wants the same input), and multiplied by the packed weight vector of (tap, i). So all
 * groups of a block of pixels are computed at once, every lane useful, the row pointers built once
 * per pixel and tap (not once per group as on the generic GEMM path). */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#include "fn_gconv_kernels.h"

/* pixels a call (fn_gconv_kernels.h), the kernel's name: a file may set them (gconv_ymm_avx512.c) */
#ifdef GCONV_MR
#define GMR GCONV_MR
#else
#define GMR FN_ISAX(FN_GCONV_MR)
#endif
#ifndef GCONV_KNAME
#define GCONV_KNAME FN_KNAME(fn_f32_gconv)
#endif

/* One group a vector (G == VW: every lane wants the same input, a broadcast) on two channel blocks
 * at once where GMR pixels alone hold too few accumulator chains for the FMA latency: AVX2's and
 * NEON's 4 pixels are 4 chains of 72 dependent multiply-adds (a 3x3 conv of group width 8), one FMA
 * a cycle where the core issues two. Two blocks make 8 chains, the weights of both blocks loaded
 * once a (tap, input) for the 4 pixels. Each output is the same sum in the same order (bias, then
 * taps, then inputs ascending): the same bits as one block at a time. Measured (AMD Zen 4, AVX2 table,
 * 1 thread, _C.conv2d_nhwc alone, min of 300, RegNetY-200MF's width-8 3x3 convs): 24ch 112x112/2
 * 0.211 -> 0.190 ms, 56ch 56x56/2 0.115 -> 0.095, 152ch 28x28/2 0.076 -> 0.061, 368ch 14x14/2
 * 0.048 -> 0.037, 64ch 56x56/1 0.503 -> 0.386; in the model with every runtime on AVX2
 * (tools/cpuid_avx2.c, bench/profile_models.py regnety_200mf --no-ort, two alternating runs) its
 * grouped convs 0.99 -> 0.86 ms, the predict 4.86-4.91 -> 4.66-4.73 ms. (On Zen 4, where AVX-512's
 * pair kernel ran these at this kernel's speed, width 8 takes gconv_ymm_avx512.c: this template on
 * ymm with AVX-512's registers.) */
#ifdef GCONV_NB
#define GNB GCONV_NB
#else
#define GNB (GMR >= 8 ? 1 : 2)
#endif
FN_INLINE void gconv_bcast2(const size_t ROWS, size_t mr, size_t c0, size_t ks, const float *const *a,
                            const float *w, size_t blk, float *y, size_t ldy, const float *res,
                            size_t ldr, int clamp, V lo, V hi) {
    const V bias0 = vload(w), bias1 = vload(w + blk);
#define DECL(m) V acc##m = bias0, bcc##m = bias1;
    FN_REP(GMR, DECL)
#undef DECL
    const float *wt = w + VW, *ut = w + blk + VW;
    for (size_t t = 0; t < ks; t++) {
        const float *const *at = a + t * GMR;
        for (size_t i = 0; i < VW; i++, wt += VW, ut += VW) {
            const V wv = vload(wt), uv = vload(ut);
#define FMA(m)                                                                                     \
    if (m < ROWS) {                                                                                \
        acc##m = vfma(vbroadcast(at[m] + c0 + i), wv, acc##m);                                     \
        bcc##m = vfma(vbroadcast(at[m] + c0 + VW + i), uv, bcc##m);                                \
    }
            FN_REP(GMR, FMA)
#undef FMA
        }
    }
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        V v = acc##m, u = bcc##m;                                                                  \
        if (res) v = vadd(v, vload(res + m * ldr + c0)), u = vadd(u, vload(res + m * ldr + c0 + VW)); \
        vstore(y + m * ldy + c0, vclamp_if(v, clamp, lo, hi));                                     \
        vstore(y + m * ldy + c0 + VW, vclamp_if(u, clamp, lo, hi));                                \
    }
    FN_REP(GMR, STORE)
#undef STORE
}

/* ROWS pixels (the first mr stored), every channel block; a: (ks, GMR) pixel pointers. */
FN_INLINE void gconv_tile(const size_t ROWS, const size_t G, size_t mr, size_t c, size_t ks,
                          const float *const *a, const float *w, const int32_t *idx, float *y,
                          size_t ldy, const float *res, size_t ldr, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    const size_t blk = VW * (1 + ks * G); /* packed floats a channel block */
    size_t c0 = 0;
    if (G == VW && GNB == 2) /* two whole blocks at a time (gconv_bcast2), then what is left */
        for (; c0 + 2 * VW <= c; c0 += 2 * VW, w += 2 * blk)
            gconv_bcast2(ROWS, mr, c0, ks, a, w, blk, y, ldy, res, ldr, clamp, lo, hi);
    for (; c0 < c; c0 += VW, w += blk) {
        const size_t left = c - c0;
        const VK k = vmask_upto(left);
        const V bias = vload(w);
#define DECL(m) V acc##m = bias;
        FN_REP(GMR, DECL)
#undef DECL
        const float *wt = w + VW;
        for (size_t t = 0; t < ks; t++) {
            const float *const *at = a + t * GMR;
            if (G == VW) {
                for (size_t i = 0; i < G; i++, wt += VW) {
                    const V wv = vload(wt);
#define FMA(m) if (m < ROWS) acc##m = vfma(vbroadcast(at[m] + c0 + i), wv, acc##m);
                    FN_REP(GMR, FMA)
#undef FMA
                }
            } else {
#define LD(m) const V x##m = m < ROWS ? (left >= VW ? vload(at[m] + c0) : vload_k(at[m] + c0, k)) : vzero();
                FN_REP(GMR, LD)
#undef LD
                for (size_t i = 0; i < G; i++, wt += VW) {
                    const V wv = vload(wt);
                    const VI ix = viload(idx + i * VW);
#define FMA(m) if (m < ROWS) acc##m = vfma(vperm(x##m, ix), wv, acc##m);
                    FN_REP(GMR, FMA)
#undef FMA
                }
            }
        }
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        V v = acc##m;                                                                              \
        if (left >= VW) {                                                                          \
            if (res) v = vadd(v, vload(res + m * ldr + c0));                                       \
            vstore(y + m * ldy + c0, vclamp_if(v, clamp, lo, hi));                           \
        } else {                                                                                   \
            if (res) v = vadd(v, vload_k(res + m * ldr + c0, k));                                  \
            vstore_k(y + m * ldy + c0, k, vclamp_if(v, clamp, lo, hi));                            \
        }                                                                                          \
    }
        FN_REP(GMR, STORE)
#undef STORE
    }
}

/* A short last tile computes all GMR rows (the driver repeats its last pixel's pointers). */
#define gconv_g(G, mr, c, ks, a, w, idx, y, ldy, res, ldr, act)                                    \
    gconv_tile(GMR, G, mr, c, ks, a, w, idx, y, ldy, res, ldr, act)

void GCONV_KNAME(size_t mr, size_t g, size_t c, size_t ks, const float *const *a,
                            const float *w, float *y, size_t ldy, const float *res, size_t ldr,
                            const fn_act *act) {
    int32_t idx[VW * VW]; /* (i, lane): the lane of the input vector lane `lane` reads for input i */
    for (size_t i = 0; i < g; i++)
        for (size_t l = 0; l < VW; l++) idx[i * VW + l] = (int32_t)(l / g * g + i);
    /* the group widths a vector holds whole, as constants (the i-loop unrolled) */
#define CASE(G) case G: gconv_g(G, mr, c, ks, a, w, idx, y, ldy, res, ldr, act); break;
    switch (g) {
    CASE(1)
#if VW >= 4
    CASE(2) CASE(4)
#endif
#if defined(FN_GCONV_PAIRS_KERNEL)
    case 8: FN_GCONV_PAIRS_KERNEL(mr, c, ks, a, w, y, ldy, res, ldr, act); break; /* FN_GCONV_PAIRS */
#elif VW >= 8
    CASE(8)
#endif
#if VW >= 16
    CASE(16)
#endif
    default: break; /* conv2d.c's gconv_for keeps other widths away */
    }
}
#undef CASE
#undef gconv_g
#undef GNB
#undef GMR
#undef GCONV_KNAME
