/* igemm_simd.h: the indirect-GEMM micro-kernel, an MR x (VW*NV) tile of vector accumulators,
 * written once over the SIMD vocabulary. The including igemm_<isa>.c includes
 * src_c/simd/vec_<isa>.h first and defines IGEMM_FULL_UNMASKED (1: whole
 * vectors of the epilogue skip the mask), optionally IGEMM_PREFETCH_FLOATS (prefetch distance of
 * the weight panel in the k-loop) and IGEMM_KLOOP (a pragma before the k-loop: FN_UNROLL(n)). */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#define MR FN_ISAX(FN_IGEMM_MR) /* the tile: kernels.h */
#define NR FN_ISAX(FN_IGEMM_NR)
#define TALL FN_ISAX(FN_IGEMM_TALL) /* rows of the dense one-vector tile: kernels.h */
_Static_assert(NR % VW == 0 && NR <= 4 * VW && MR <= 16, "igemm tile: NR a multiple of VW, at most 4 vectors");
_Static_assert(TALL >= MR && TALL <= 16, "igemm dense tile: MR..16 rows");
#include "../simd/vmath.h"
#ifndef IGEMM_KLOOP
#define IGEMM_KLOOP
#endif
#ifndef IGEMM_DENSE_LDA
#define IGEMM_DENSE_LDA 0
#endif
#ifndef IGEMM_PANELS_KLOOP
#define IGEMM_PANELS_KLOOP
#endif
#ifndef IGEMM_PF_CHUNK
#define IGEMM_PF_CHUNK 1
#endif
#ifndef IGEMM_EPI_TWO_PASS
#define IGEMM_EPI_TWO_PASS 0
#endif

/* The activation the tile applies in registers as it stores (EPI, a constant after inlining): 0 the
 * clamp (or none), else silu, hardswish, gelu or gelu_tanh: the act family's formulas (vmath.h), so
 * the bits are those of the separate pass it replaces (kernels.h, fn_igemm_act_in_kernel). */
#define EPI_SILU 1
#define EPI_HARDSWISH 2
#define EPI_GELU 3
#define EPI_GELU_TANH 4
#define EPI_SILU_FAST 5 /* fn_silu_fast, fn_gelu_fast: for tiles without a lane below their threshold */
#define EPI_GELU_FAST 6
FN_INLINE V epi_apply(const int EPI, V y, int clamp, V lo, V hi) {
    if (EPI == EPI_SILU) return fn_silu(y);
    if (EPI == EPI_SILU_FAST) return fn_silu_fast(y);
    if (EPI == EPI_HARDSWISH) return fn_hardswish(y);
    if (EPI == EPI_GELU) return fn_gelu(y);
    if (EPI == EPI_GELU_FAST) return fn_gelu_fast(y);
    if (EPI == EPI_GELU_TANH) return fn_gelu_tanh(y);
    return vclamp_if(y, clamp, lo, hi); /* NaN in y stays NaN */
}

/* y + res for the n >= 1 columns left (store_vec's loads) */
FN_INLINE V add_res(V y, const float *res, size_t n) {
    if (IGEMM_FULL_UNMASKED && n >= VW) return vadd(y, vload(res));
    return vadd(y, vload_k(res, vmask_upto(n)));
}

/* y (+ residual) -> clamp -> c for the n >= 1 columns left: lanes >= n neither read from res nor
 * written. IGEMM_FULL_UNMASKED: whole vectors go through plain loads and stores. */
FN_INLINE void store_vec(const int EPI, V y, float *c, const float *res, size_t n, int clamp, V lo,
                         V hi) {
    if (IGEMM_FULL_UNMASKED && n >= VW) {
        if (res) y = vadd(y, vload(res));
        vstore(c, epi_apply(EPI, y, clamp, lo, hi));
    } else {
        const VK k = vmask_upto(n);
        if (res) y = vadd(y, vload_k(res, k));
        vstore_k(c, k, epi_apply(EPI, y, clamp, lo, hi));
    }
}

/* The activation of IGEMM_EPI_TWO_PASS: rows x nc outputs of c (ldc apart), already stored, read
 * back (from L1) and stored again through the act. */
FN_INLINE void epi_pass(const int EPI, const int NV, size_t rows, size_t nc, float *c, size_t ldc) {
    const V z = vzero();
    for (size_t m = 0; m < rows; m++, c += ldc)
        for (int j = 0; j < NV && (size_t)j * VW < nc; j++) {
            const size_t n = nc - (size_t)j * VW;
            float *p = c + (size_t)j * VW;
            const V y = n >= VW ? vload(p) : vload_k(p, vmask_upto(n));
            store_vec(EPI, y, p, NULL, n, 0, z, z);
        }
}

/* One tile for NV = 1..NR/VW live vectors per row (a constant after inlining: the NV > k tests
 * fold away). ROWS <= MR, or up to TALL with ks = 1 (the dense kernel: a holds ROWS pointers).
 * DENSE (a constant; ks = 1): row r is ad + r*lda and a is unused (dense_tile).
 * PF (a constant): each k-step also asks for one line of pf (the next weight panel) into L2,
 * pf_rate / 256 lines per step (fn_f32_igemm_pf).
 * Rows mr..ROWS-1 are computed (their pointers are valid) but not stored; columns
 * past nc hold zero-padded weights and are masked out of res loads and c stores. Each res element
 * is read before the same element of c is written, so res may be c (an in-place residual add). */
FN_INLINE void igemm_tile_x(
    const int DENSE, const size_t ROWS, const int NV, const int EPI, const int PF, size_t mr, size_t nc,
    size_t kc, size_t ks, const float *const *a, const float *ad, size_t lda, const float *w, float *c,
    size_t ldc, const float *res, size_t ldr, const fn_act *act, const float *pf, size_t pf_rate,
    const unsigned short *taps) {
    const V zero = vzero();
    V b0 = vload(w);
    V b1 = NV > 1 ? vload(w + VW) : zero;
    V b2 = NV > 2 ? vload(w + 2 * VW) : zero;
    V b3 = NV > 3 ? vload(w + 3 * VW) : zero;
#define DECL(m) V c##m##_0 = b0, c##m##_1 = b1, c##m##_2 = b2, c##m##_3 = b3;
    FN_REP(TALL, DECL)
#undef DECL
    w += NR;
    const float *const w_taps = w;
    for (size_t t = 0; t < ks; t++) {
        if (taps) w = w_taps + (size_t)taps[t] * kc * NR; /* fn_igemm_taps_ukernel: tap taps[t]'s rows */
#define PTR(m) const float *a##m = m < ROWS ? (DENSE ? ad + m * lda : a[t * MR + m]) : NULL;
        FN_REP(TALL, PTR)
#undef PTR
#define KSTEP(i)                                                                                   \
    do {                                                                                           \
        b0 = vload(w);                                                                             \
        if (NV > 1) b1 = vload(w + VW);                                                            \
        if (NV > 2) b2 = vload(w + 2 * VW);                                                        \
        if (NV > 3) b3 = vload(w + 3 * VW);                                                        \
        w += NR;                                                                                   \
        FN_REP(TALL, FMA)                                                                          \
    } while (0)
#define FMA(m)                                                                                     \
    if (m < ROWS) {                                                                                \
        const V av = vbroadcast(a##m + (i));                                                       \
        c##m##_0 = vfma(av, b0, c##m##_0);                                                         \
        if (NV > 1) c##m##_1 = vfma(av, b1, c##m##_1);                                             \
        if (NV > 2) c##m##_2 = vfma(av, b2, c##m##_2);                                             \
        if (NV > 3) c##m##_3 = vfma(av, b3, c##m##_3);                                             \
    }
        size_t i0 = 0;
        if (PF && IGEMM_PF_CHUNK > 1) {
            /* The prefetch's lines asked once per IGEMM_PF_CHUNK k-steps: those of the chunk's
             * steps (the same lines as one per step) */
            for (; i0 + IGEMM_PF_CHUNK <= kc; i0 += IGEMM_PF_CHUNK) {
                const size_t s = t * kc + i0;
                for (size_t l = s * pf_rate / 256; l <= (s + IGEMM_PF_CHUNK - 1) * pf_rate / 256; l++)
                    __builtin_prefetch(pf + 16 * l, 0, 2);
                FN_UNROLL(IGEMM_PF_CHUNK)
                for (size_t i = i0; i < i0 + IGEMM_PF_CHUNK; i++) KSTEP(i);
            }
        }
        IGEMM_KLOOP
        for (size_t i = i0; i < kc; i++) {
#ifdef IGEMM_PREFETCH_FLOATS
            fn_prefetch(w + IGEMM_PREFETCH_FLOATS);
#endif
            if (PF) /* a line into L2 */
                __builtin_prefetch(pf + 16 * ((t * kc + i) * pf_rate / 256), 0, 2);
            KSTEP(i);
        }
#undef FMA
#undef KSTEP
    }
    const size_t n1 = nc > VW ? nc - VW : 0, n2 = nc > 2 * VW ? nc - 2 * VW : 0;
    const size_t n3 = nc > 3 * VW ? nc - 3 * VW : 0;
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
#define STORE(m)                                                                                   \
    if (m < ROWS && m < mr) {                                                                      \
        float *cm = c + m * ldc;                                                                   \
        const float *rm = res ? res + m * ldr : NULL;                                              \
        store_vec(TILE_EPI, c##m##_0, cm, rm, nc, clamp, lo, hi);                                  \
        if (NV > 1) store_vec(TILE_EPI, c##m##_1, cm + VW, rm ? rm + VW : NULL, n1, clamp, lo, hi); \
        if (NV > 2) store_vec(TILE_EPI, c##m##_2, cm + 2 * VW, rm ? rm + 2 * VW : NULL, n2, clamp, lo, hi); \
        if (NV > 3) store_vec(TILE_EPI, c##m##_3, cm + 3 * VW, rm ? rm + 3 * VW : NULL, n3, clamp, lo, hi); \
    }
    if (EPI == EPI_SILU || EPI == EPI_GELU) {
        /* silu's and gelu's fallbacks (fn_silu: lanes below -87, fn_gelu: below -12.5) are decided
         * once per tile, on the minimum of its stored vectors, instead of a compare and a branch per
         * vector: those cost ~2.3 of the ~10 cycles silu added per vector (1x1 16->96 at 112x112,
         * AVX2, Zen 3). A lane's result is still the act kernel's: fn_silu and fn_gelu choose per
         * lane, and the fast formula is their choice above the threshold. The residual is added
         * first, so the check sees what the act gets. */
        if (res) {
#define ADDRES(m)                                                                                  \
    if (m < ROWS && m < mr) {                                                                      \
        const float *rm = res + m * ldr;                                                           \
        c##m##_0 = add_res(c##m##_0, rm, nc);                                                      \
        if (NV > 1) c##m##_1 = add_res(c##m##_1, rm + VW, n1);                                     \
        if (NV > 2) c##m##_2 = add_res(c##m##_2, rm + 2 * VW, n2);                                 \
        if (NV > 3) c##m##_3 = add_res(c##m##_3, rm + 3 * VW, n3);                                 \
    }
            FN_REP(TALL, ADDRES)
#undef ADDRES
            res = NULL;
        }
        /* min(v, mn) returns mn where v is NaN: a NaN lane cannot hide a low one in another row */
        V mn = vset(__builtin_inff());
#define MINV(m)                                                                                    \
    if (m < ROWS && m < mr) {                                                                      \
        mn = vmin(c##m##_0, mn);                                                                   \
        if (NV > 1) mn = vmin(c##m##_1, mn);                                                       \
        if (NV > 2) mn = vmin(c##m##_2, mn);                                                       \
        if (NV > 3) mn = vmin(c##m##_3, mn);                                                       \
    }
        FN_REP(TALL, MINV)
#undef MINV
        const int fast = !vm_any(vlt(mn, vset(EPI == EPI_SILU ? FN_SILU_FAST_MIN : FN_GELU_FAST_MIN)));
        if (IGEMM_EPI_TWO_PASS) {
#define TILE_EPI 0
            FN_REP(TALL, STORE)
#undef TILE_EPI
            const size_t rows = ROWS < mr ? ROWS : mr;
            if (fast)
                epi_pass(EPI == EPI_SILU ? EPI_SILU_FAST : EPI_GELU_FAST, NV, rows, nc, c, ldc);
            else
                epi_pass(EPI, NV, rows, nc, c, ldc);
            return;
        }
        if (fast) {
#define TILE_EPI (EPI == EPI_SILU ? EPI_SILU_FAST : EPI_GELU_FAST)
            FN_REP(TALL, STORE)
#undef TILE_EPI
            return;
        }
    }
    if (IGEMM_EPI_TWO_PASS && EPI == EPI_GELU_TANH) {
#define TILE_EPI 0
        FN_REP(TALL, STORE)
#undef TILE_EPI
        epi_pass(EPI, NV, ROWS < mr ? ROWS : mr, nc, c, ldc);
        return;
    }
#define TILE_EPI EPI
    FN_REP(TALL, STORE)
#undef TILE_EPI
#undef STORE
}

FN_INLINE void igemm_tile(
    const size_t ROWS, const int NV, const int EPI, size_t mr, size_t nc, size_t kc, size_t ks,
    const float *const *a, const float *w, float *c, size_t ldc, const float *res, size_t ldr,
    const fn_act *act, const unsigned short *taps) {
    igemm_tile_x(0, ROWS, NV, EPI, 0, mr, nc, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, NULL, 0, taps);
}

/* One tile shape: ROWS rows (MR, or fewer for a short last tile / batch-1 linear), NV vectors. */
FN_INLINE void igemm_nv(size_t ROWS, const int EPI, size_t mr, size_t nc, size_t kc, size_t ks,
                        const float *const *a, const float *w, float *c, size_t ldc, const float *res,
                        size_t ldr, const fn_act *act, const unsigned short *taps) {
    /* Narrow output panels (cout % NR, or cout < NR) skip the all-zero weight columns. */
    if (NR > 3 * VW && nc > 3 * VW)
        igemm_tile(ROWS, 4, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (NR > 2 * VW && nc > 2 * VW)
        igemm_tile(ROWS, 3, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (NR > VW && nc > VW)
        igemm_tile(ROWS, 2, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else
        igemm_tile(ROWS, 1, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
}

/* One epilogue: a short tile computes only the rows it stores (M = 1, a batch-1 linear, would
 * otherwise do MR times the FMAs it needs). */
FN_INLINE void igemm_epi(const int EPI, size_t mr, size_t nc, size_t kc, size_t ks,
                         const float *const *a, const float *w, float *c, size_t ldc,
                         const float *res, size_t ldr, const fn_act *act, const unsigned short *taps) {
    if (mr == 1)
        igemm_nv(1, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (mr <= 4 && MR > 4)
        igemm_nv(4, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else
        igemm_nv(MR, EPI, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
}

/* taps: NULL (fn_f32_igemm: the panel's taps in order) or fn_igemm_taps_ukernel's list; a constant
 * NULL folds the per-tap test away. */
FN_INLINE void igemm_acts(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                          const unsigned short *taps, const float *w, float *c, size_t ldc,
                          const float *res, size_t ldr, const fn_act *act) {
    if (act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU)
        igemm_epi(EPI_SILU, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH)
        igemm_epi(EPI_HARDSWISH, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU)
        igemm_epi(EPI_GELU, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU_TANH)
        igemm_epi(EPI_GELU_TANH, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
    else
        igemm_epi(0, mr, nc, kc, ks, a, w, c, ldc, res, ldr, act, taps);
}

void FN_KNAME(fn_f32_igemm)(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                            const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                            const fn_act *act) {
    igemm_acts(mr, nc, kc, ks, a, NULL, w, c, ldc, res, ldr, act);
}

/* fastnorm.h, fn_igemm_taps_ukernel: only the listed taps of the panel. */
void FN_KNAME(fn_f32_igemm_taps)(size_t mr, size_t nc, size_t kc, size_t nt, const float *const *a,
                                 const unsigned short *taps, const float *w, float *c, size_t ldc,
                                 const float *res, size_t ldr, const fn_act *act) {
    static const unsigned short none[1] = {0};
    igemm_acts(mr, nc, kc, nt, a, nt ? taps : none, w, c, ldc, res, ldr, act);
}

/* A full tile (mr = MR, nc = NR) that also prefetches lines from pf into L2 (fastnorm.h,
 * fn_igemm_pf_ukernel). */
void FN_KNAME(fn_f32_igemm_pf)(size_t mr, size_t nc, size_t kc, size_t ks, const float *const *a,
                               const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                               const fn_act *act, const float *pf, size_t pf_rate) {
    (void)mr, (void)nc;
    const int NV = NR / VW;
    if (act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU)
        igemm_tile_x(0, MR, NV, EPI_SILU, 1, MR, NR, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH)
        igemm_tile_x(0, MR, NV, EPI_HARDSWISH, 1, MR, NR, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU)
        igemm_tile_x(0, MR, NV, EPI_GELU, 1, MR, NR, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU_TANH)
        igemm_tile_x(0, MR, NV, EPI_GELU_TANH, 1, MR, NR, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    else
        igemm_tile_x(0, MR, NV, 0, 1, MR, NR, kc, ks, a, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
}

/* Dense rows (fastnorm.h, fn_igemm_dense_ukernel and fn_igemm_dense_pf_ukernel): the epilogue and
 * the panel width are chosen once per call, then whole MR-row tiles run back to back with their row
 * pointers stepped by MR*lda; a short last tile goes through the indirect kernel (its pointer table
 * repeats the last row). One whole tile of ROWS rows from a: IGEMM_DENSE_LDA (igemm_avx512.c)
 * addresses its rows as a + r*lda in the tile itself instead of through the pointer table p (TALL
 * entries). PF (a constant): the tile also asks lines from pf into L2, pf_rate / 256 a k-step. */
FN_INLINE void dense_tile(const size_t ROWS, const int NV, const int EPI, const int PF, size_t nc, size_t kc,
                          const float *a, size_t lda, const float *w, float *c, size_t ldc,
                          const float *res, size_t ldr, const fn_act *act, const float **p,
                          const float *pf, size_t pf_rate) {
    if (IGEMM_DENSE_LDA) {
        igemm_tile_x(1, ROWS, NV, EPI, PF, ROWS, nc, kc, 1, NULL, a, lda, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    } else {
        for (size_t r = 0; r < ROWS; r++) p[r] = a + r * lda;
        igemm_tile_x(0, ROWS, NV, EPI, PF, ROWS, nc, kc, 1, p, NULL, 0, w, c, ldc, res, ldr, act, pf, pf_rate, NULL);
    }
}

/* pf (or NULL): pf_lines lines, each whole T-row tile a share spread over its k-steps as
 * fn_f32_igemm_pf spreads its lines */
FN_INLINE void dense_nv(const int NV, const int EPI, size_t m, size_t nc, size_t kc, const float *a,
                        size_t lda, const float *w, float *c, size_t ldc, const float *res,
                        size_t ldr, const fn_act *act, const float *pf, size_t pf_lines) {
    const size_t T = NV == 1 ? TALL : MR; /* rows of the tiles that run back to back */
    const float *p[TALL];
    size_t m0 = 0, per = 0, rate = 0;
    /* with MR + 1 rows past the whole tiles, the last whole tile and the row go as two short tiles */
    const size_t whole = (m / T - (T == MR && MR <= 7 && m % T == 1 && m > T)) * T;
    if (pf && whole && kc) {
        per = (pf_lines + whole / T - 1) / (whole / T);
        if (per > kc) per = kc;
        rate = (per * 256 + kc - 1) / kc;
    }
    for (; m0 + T <= whole; m0 += T) {
        const float *at = a + m0 * lda, *rt = res ? res + m0 * ldr : NULL;
        if (rate) {
            dense_tile(T, NV, EPI, 1, nc, kc, at, lda, w, c + m0 * ldc, ldc, rt, ldr, act, p, pf, rate);
            pf += 16 * per;
        } else {
            dense_tile(T, NV, EPI, 0, nc, kc, at, lda, w, c + m0 * ldc, ldc, rt, ldr, act, p, NULL, 0);
        }
    }
    if (T > MR && m0 + MR <= m) {
        dense_tile(MR, NV, EPI, 0, nc, kc, a + m0 * lda, lda, w, c + m0 * ldc, ldc,
                   res ? res + m0 * ldr : NULL, ldr, act, p, NULL, 0);
        m0 += MR;
    }
    /* MR + 1 rows left (MR <= 7; 49 = 7x7 pixels on AVX2): two tiles of at most 4 rows
     * (conv2d.c, SPLIT_TAIL) */
    if (T == MR && MR <= 7 && m - m0 == MR + 1) {
        const size_t mr = MR - (MR - 1) / 2;
        for (size_t r = 0; r < MR; r++) p[r] = a + (m0 + (r < mr ? r : mr - 1)) * lda;
        FN_KNAME(fn_f32_igemm)(mr, nc, kc, 1, p, w, c + m0 * ldc, ldc, res ? res + m0 * ldr : NULL,
                               ldr, act);
        m0 += mr;
    }
    if (m0 < m) {
        const size_t mr = m - m0;
        for (size_t r = 0; r < MR; r++) p[r] = a + (m0 + (r < mr ? r : mr - 1)) * lda;
        FN_KNAME(fn_f32_igemm)(mr, nc, kc, 1, p, w, c + m0 * ldc, ldc, res ? res + m0 * ldr : NULL,
                               ldr, act);
    }
}

FN_INLINE void dense_epi(const int EPI, size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                         const float *w, float *c, size_t ldc, const float *res, size_t ldr,
                         const fn_act *act, const float *pf, size_t pf_lines) {
    if (NR > 3 * VW && nc > 3 * VW)
        dense_nv(4, EPI, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else if (NR > 2 * VW && nc > 2 * VW)
        dense_nv(3, EPI, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else if (NR > VW && nc > VW)
        dense_nv(2, EPI, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else
        dense_nv(1, EPI, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
}

void FN_KNAME(fn_f32_igemm_dense_pf)(size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                                     const float *w, float *c, size_t ldc, const float *res,
                                     size_t ldr, const fn_act *act, const float *pf, size_t pf_lines) {
    if (act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU)
        dense_epi(EPI_SILU, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH)
        dense_epi(EPI_HARDSWISH, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU)
        dense_epi(EPI_GELU, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU_TANH)
        dense_epi(EPI_GELU_TANH, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
    else
        dense_epi(0, m, nc, kc, a, lda, w, c, ldc, res, ldr, act, pf, pf_lines);
}

void FN_KNAME(fn_f32_igemm_dense)(size_t m, size_t nc, size_t kc, const float *a, size_t lda,
                                  const float *w, float *c, size_t ldc, const float *res,
                                  size_t ldr, const fn_act *act) {
    FN_KNAME(fn_f32_igemm_dense_pf)(m, nc, kc, a, lda, w, c, ldc, res, ldr, act, NULL, 0);
}

/* One row against np full panels (fastnorm.h, fn_igemm_panels_ukernel): P = 1..4 panels side by side,
 * panel p at w + p*ps, each NR columns wide (NV = NR/VW vectors). A one-row tile of one panel holds
 * NV accumulators, too few to hide the FMA latency, and reads one contiguous stream of weights; P
 * panels give P*NV independent chains and P streams (the hardware prefetcher keeps more lines in
 * flight over several streams than over one). Each output is still bias + sum over i in order of
 * a[i] * w[i][j], one FMA per step: the bits of fn_f32_igemm's row. A software prefetch 1-2 KiB
 * ahead in each panel (into L2) and one of the next 4 panels measured no gain / a loss (5-20%) over
 * the 4 streams alone (standalone, 1280x1000, weights in DRAM, AVX2 and AVX-512). */
FN_INLINE void panels_tile(const int P, const int EPI, size_t kc, const float *a, const float *w,
                           size_t ps, float *c, const float *res, const fn_act *act) {
    const V zero = vzero();
    const int NV = NR / VW;
#define PDECL(p)                                                                                   \
    const float *w##p = w + (p < P ? p * ps : 0);                                                  \
    V c##p##_0 = vload(w##p);                                                                      \
    V c##p##_1 = NV > 1 ? vload(w##p + VW) : zero;                                                 \
    V c##p##_2 = NV > 2 ? vload(w##p + 2 * VW) : zero;                                             \
    V c##p##_3 = NV > 3 ? vload(w##p + 3 * VW) : zero;                                             \
    w##p += NR;
    FN_REP(4, PDECL)
#undef PDECL
    IGEMM_PANELS_KLOOP
    for (size_t i = 0; i < kc; i++) {
        const V av = vbroadcast(a + i);
#define PFMA(p)                                                                                    \
    if (p < P) {                                                                                   \
        c##p##_0 = vfma(av, vload(w##p), c##p##_0);                                                \
        if (NV > 1) c##p##_1 = vfma(av, vload(w##p + VW), c##p##_1);                               \
        if (NV > 2) c##p##_2 = vfma(av, vload(w##p + 2 * VW), c##p##_2);                           \
        if (NV > 3) c##p##_3 = vfma(av, vload(w##p + 3 * VW), c##p##_3);                           \
        w##p += NR;                                                                                \
    }
        FN_REP(4, PFMA)
#undef PFMA
    }
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    /* silu / gelu per lane (fn_silu, fn_gelu): the same bits as the tile's once-per-tile choice */
#define PSTORE(p)                                                                                  \
    if (p < P) {                                                                                   \
        float *cp = c + p * NR;                                                                    \
        const float *rp = res ? res + p * NR : NULL;                                               \
        store_vec(EPI, c##p##_0, cp, rp, NR, clamp, lo, hi);                                       \
        if (NV > 1) store_vec(EPI, c##p##_1, cp + VW, rp ? rp + VW : NULL, NR - VW, clamp, lo, hi); \
        if (NV > 2) store_vec(EPI, c##p##_2, cp + 2 * VW, rp ? rp + 2 * VW : NULL, NR - 2 * VW, clamp, lo, hi); \
        if (NV > 3) store_vec(EPI, c##p##_3, cp + 3 * VW, rp ? rp + 3 * VW : NULL, NR - 3 * VW, clamp, lo, hi); \
    }
    FN_REP(4, PSTORE)
#undef PSTORE
}

FN_INLINE void panels_epi(const int EPI, size_t np, size_t kc, const float *a, const float *w, size_t ps,
                          float *c, const float *res, const fn_act *act) {
    for (; np >= 4; np -= 4, w += 4 * ps, c += 4 * NR, res = res ? res + 4 * NR : NULL)
        panels_tile(4, EPI, kc, a, w, ps, c, res, act);
    if (np == 3)
        panels_tile(3, EPI, kc, a, w, ps, c, res, act);
    else if (np == 2)
        panels_tile(2, EPI, kc, a, w, ps, c, res, act);
    else if (np == 1)
        panels_tile(1, EPI, kc, a, w, ps, c, res, act);
}

void FN_KNAME(fn_f32_igemm_panels)(size_t np, size_t kc, const float *a, const float *w, size_t ps,
                                   float *c, const float *res, const fn_act *act) {
    if (act->kind == FN_ACT_ACTK0 + FN_ACTK_SILU)
        panels_epi(EPI_SILU, np, kc, a, w, ps, c, res, act);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH)
        panels_epi(EPI_HARDSWISH, np, kc, a, w, ps, c, res, act);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU)
        panels_epi(EPI_GELU, np, kc, a, w, ps, c, res, act);
    else if (act->kind == FN_ACT_ACTK0 + FN_ACTK_GELU_TANH)
        panels_epi(EPI_GELU_TANH, np, kc, a, w, ps, c, res, act);
    else
        panels_epi(0, np, kc, a, w, ps, c, res, act);
}
