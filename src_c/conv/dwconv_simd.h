/* dwconv_simd.h: the depthwise row micro-kernel written once over the SIMD vocabulary. The
 * including dwconv_<isa>.c includes src_c/simd/vec_<isa>.h first; the kernel is
 * fn_f32_dwconv_row__<isa>. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#define FN_NAME(op) FN_KNAME(fn_f32_dwconv_##op)
#include "../simd/vmath.h"

/* Accumulator arrays are indexed by loop counters that are constants after full unrolling, so
 * gcc keeps them in registers. */
#define TMAX 16
#define WMAX 49 /* taps held in registers (past the register file: on the stack), up to 7x7 */
#define TILE 8  /* outputs per tile of the general kernel (any width, stride, dilation) */

/* The epilogue code the kernels pass down as `clamp`: 0 none, 1 the fn_act clamp, and the two
 * activations applied in registers (kernels.h, fn_act_in_kernel). */
#define DW_SILU 2
#define DW_HARDSWISH 3

/* DW_SILU_TILE (dwconv_<isa>.c defines it, with dw_or, a bitwise or, and dw_sign_any, any sign bit
 * set): the band tile decides once for its T vectors (a slide output for its NV: put_silu) whether
 * any lane is past fn_silu_fast's clamp (87) or below FN_SILU_FAST_MIN (-87), from the sign bits of
 * 87 - |s| or-ed together: a logic op, an add and an or a vector, which need not issue on the two
 * ports the FMAs and silu's arithmetic share, in place of fn_silu's compare and mask test and
 * fn_silu_fast's clamp. */
#ifndef DW_SILU_TILE
#define DW_SILU_TILE 0
#endif

/* s (+ res) -> clamp / silu / hardswish -> y; lanes outside m neither read nor written when MASKED */
FN_INLINE void put(float *y, const float *res, V s, const int MASKED, VK m, int clamp, V lo, V hi) {
    if (res) s = vadd(s, vload_m(res, MASKED, m));
    if (clamp == DW_SILU)
        s = fn_silu(s);
    else if (clamp == DW_HARDSWISH)
        s = fn_hardswish(s);
    else
        s = vclamp_if(s, clamp, lo, hi);
    vstore_m(y, s, MASKED, m);
}

#if DW_SILU_TILE
/* put() of one slide output's NV vectors of silu under DW_SILU_TILE: the band tile's test over
 * the NV vectors, in registers */
FN_INLINE void put_silu(const size_t NV, float *y, const float *res, const V *a, const int MASKED,
                        VK m, size_t cs) {
    (void)cs;
    V s[4], big = vzero();
FN_UNROLL(4)
    for (size_t v = 0; v < NV; v++) {
        s[v] = res ? vadd(a[v], vload_m(res + v * VW, MASKED, m)) : a[v];
        big = dw_or(big, vsub(vset(87.0f), vabs(s[v])));
    }
    if (!dw_sign_any(big)) {
FN_UNROLL(4)
        for (size_t v = 0; v < NV; v++) vstore_m(y + v * VW, fn_silu_fast_xc(s[v], s[v]), MASKED, m);
    } else {
FN_UNROLL(4)
        for (size_t v = 0; v < NV; v++) vstore_m(y + v * VW, fn_silu(s[v]), MASKED, m);
    }
}
#else
FN_INLINE void put_silu(const size_t NV, float *y, const float *res, const V *a, const int MASKED,
                        VK m, size_t cs) {
    (void)NV, (void)y, (void)res, (void)a, (void)MASKED, (void)m, (void)cs; /* never called */
}
#endif

/* A whole output row for NV (1, 2, or 4: the wide pass) vectors of channels, constant kernel width KW and stride SW
 * (x dilation 1), sliding along the row: every input vector is loaded once and feeds each of the
 * R = ceil(KW/SW) outputs whose window holds it, which wait in a ring of accumulators. Output o
 * is done once its last column o*SW - pl + KW-1 is in; it is stored and the next output enters
 * the ring. Columns outside [0, wd) (padding) are skipped, tested only in the steps near the
 * two ends. Taps reach each output in order kx, then ky (band and tile_any: ky, then kx).
 *   n >= 1 outputs. x: input column 0 of kernel row ky0 at this channel block; columns cs floats
 *   apart, kernel rows rs apart; wd columns, pl of left padding. wk: tap (ky0, 0) of the packed
 *   weights at this channel block (tap (ky0 + r, kx) at wk + (r*KW + kx)*cp); bias: its bias.
 *   NKY: kernel rows inside the input (a constant, or 0: nky at run time). MASKED only with NV 1. */
FN_INLINE void slide(const size_t KW, const size_t SW, const size_t NKY, const size_t NV, const int MASKED,
              VK m, size_t nky, size_t n, const float *x, size_t wd, size_t pl, size_t cs,
              size_t rs, const float *wk, size_t cp, const float *bias, const float *res, float *y,
              int clamp, V lo, V hi) {
    const size_t R = (KW + SW - 1) / SW, rows = NKY ? NKY : nky; /* 1 <= R <= TMAX */
    V b[4];
FN_UNROLL(4)
    for (size_t v = 0; v < NV; v++) b[v] = vload(bias + v * VW);
    /* with NKY constant the taps live in registers (or, past the register file, on the stack:
     * one load, no address arithmetic); else they are loaded where used */
    V wt[WMAX][4];
    if (NKY) {
FN_UNROLL(32)
        for (size_t t = 0; t < NKY * KW; t++)
FN_UNROLL(4)
            for (size_t v = 0; v < NV; v++) wt[t][v] = vload(wk + t * cp + v * VW);
    }
#define TAP(r, kx, v) (NKY ? wt[(r) * KW + (kx)][v] : vload(wk + ((r) * KW + (kx)) * cp + (v) * VW))
    V acc[TMAX][4];
FN_UNROLL(16)
    for (size_t i = 0; i < R; i++)
FN_UNROLL(4)
        for (size_t v = 0; v < NV; v++) acc[i][v] = b[v];
    /* column col (as an index) inside the row? */
#define INSIDE(col) ((col) >= 0 && (col) < (ptrdiff_t)wd)
    /* prologue: the columns before the first step; ring position i is output i */
FN_UNROLL(16)
    for (size_t j = 0; j < (R - 1) * SW; j++) {
        const ptrdiff_t col = (ptrdiff_t)j - (ptrdiff_t)pl;
        if (!INSIDE(col)) continue;
        const float *p = x + col * (ptrdiff_t)cs;
FN_UNROLL(8)
        for (size_t r = 0; r < rows; r++)
FN_UNROLL(4)
            for (size_t v = 0; v < NV; v++) {
                const V xv = vload_m(p + r * rs + v * VW, MASKED, m);
FN_UNROLL(16)
                for (size_t i = 0; i + 1 < R; i++)
                    if (j >= i * SW && j - i * SW < KW)
                        acc[i][v] = vfma(xv, TAP(r, j - i * SW, v), acc[i][v]);
            }
    }
    /* step o: columns o*SW - pl + (R-1)*SW + q, q < SW; ring position i is output o + i, its tap
     * kx = (R-1-i)*SW + q. Positions past the last output take harmless extra work. */
#define COLUMN(p, q)                                                                               \
    do {                                                                                           \
        FN_UNROLL(8) for (size_t r = 0; r < rows; r++)                                  \
        FN_UNROLL(4) for (size_t v = 0; v < NV; v++) {                                   \
            const V xv = vload_m((p) + r * rs + v * VW, MASKED, m);                                     \
            FN_UNROLL(16) for (size_t i = 0; i < R; i++) if ((R - 1 - i) * SW + (q) < KW) \
                acc[i][v] = vfma(xv, TAP(r, (R - 1 - i) * SW + (q), v), acc[i][v]);              \
        }                                                                                          \
    } while (0)
#define PUT_OUTPUT()                                                                               \
    do {                                                                                           \
        if (DW_SILU_TILE && clamp == DW_SILU)                                                      \
            put_silu(NV, y, res, acc[0], MASKED, m, cs);                                           \
        else                                                                                       \
            FN_UNROLL(4) for (size_t v = 0; v < NV; v++)                                           \
                put(y + v * VW, res ? res + v * VW : NULL, acc[0][v], MASKED, m, clamp, lo, hi);   \
    } while (0)
#define NEXT_OUTPUT()                                                                              \
    do {                                                                                           \
        PUT_OUTPUT();                                                                              \
        y += cs;                                                                                   \
        if (res) res += cs;                                                                        \
        FN_UNROLL(16) for (size_t i = 0; i + 1 < R; i++)                                \
        FN_UNROLL(4) for (size_t v = 0; v < NV; v++) acc[i][v] = acc[i + 1][v];          \
        FN_UNROLL(4) for (size_t v = 0; v < NV; v++) acc[R - 1][v] = b[v];               \
    } while (0)
    /* steps [0, o1) and [o2, n-1) may meet padding; [o1, o2) never does */
    const size_t first = (R - 1) * SW, last = R * SW; /* a step's columns, relative to o*SW - pl */
    size_t o1 = pl > first ? (pl - first + SW - 1) / SW : 0;
    size_t o2 = wd + pl >= last ? (wd + pl - last) / SW + 1 : 0;
    o1 = o1 < n - 1 ? o1 : n - 1;
    o2 = o2 < n - 1 ? o2 : n - 1;
    o2 = o2 > o1 ? o2 : o1;
    size_t o = 0;
    for (; o < o1; o++) {
FN_UNROLL(8)
        for (size_t q = 0; q < SW; q++) {
            const ptrdiff_t col = (ptrdiff_t)(o * SW + first + q) - (ptrdiff_t)pl;
            if (INSIDE(col)) COLUMN(x + col * (ptrdiff_t)cs, q);
        }
        NEXT_OUTPUT();
    }
    if (o < o2) {
        const float *p = x + (o * SW + first - pl) * cs;
        for (; o < o2; o++) {
FN_UNROLL(8)
            for (size_t q = 0; q < SW; q++, p += cs) COLUMN(p, q);
            NEXT_OUTPUT();
        }
    }
    for (; o + 1 < n; o++) {
FN_UNROLL(8)
        for (size_t q = 0; q < SW; q++) {
            const ptrdiff_t col = (ptrdiff_t)(o * SW + first + q) - (ptrdiff_t)pl;
            if (INSIDE(col)) COLUMN(x + col * (ptrdiff_t)cs, q);
        }
        NEXT_OUTPUT();
    }
    /* the last output: only the columns it still needs */
FN_UNROLL(8)
    for (size_t q = 0; first + q < KW; q++) {
        const ptrdiff_t col = (ptrdiff_t)(o * SW + first + q) - (ptrdiff_t)pl;
        if (INSIDE(col)) {
            const float *p = x + col * (ptrdiff_t)cs;
FN_UNROLL(8)
            for (size_t r = 0; r < rows; r++)
FN_UNROLL(4)
                for (size_t v = 0; v < NV; v++)
                    acc[0][v] = vfma(vload_m(p + r * rs + v * VW, MASKED, m), TAP(r, first + q, v), acc[0][v]);
        }
    }
    PUT_OUTPUT();
#undef NEXT_OUTPUT
#undef PUT_OUTPUT
#undef COLUMN
#undef INSIDE
#undef TAP
}

/* T outputs side by side in a row, one vector of channels, a KW-wide kernel at stride SW
 * (dilation 1). Kernel row by kernel row, its KW taps sit in registers and every input column
 * under the tile is loaded once and feeds each of the tile's outputs whose window holds it, so an
 * input vector serves up to ceil(KW/SW) multiply-adds and the T accumulators are T independent
 * chains (enough to hide the FMA latency; a ring of ceil(KW/SW) outputs per vector was not).
 * Taps reach each output in order ky, then kx (as tile_any).
 *   CLIP: columns outside [clo, chi) (relative to the tile's first column) are padding, skipped.
 *   x: the input row of kernel row ky0, at this channel block; col0: the tile's first column
 *   (ox * SW - pad_left, may be negative); cs: floats between columns, rs: between kernel rows;
 *   nky >= 1 kernel rows. wk: tap (ky0, 0) at this block (tap (ky0 + r, kx) at wk + (r*KW + kx)*cp). */
FN_INLINE void band(const size_t KW, const size_t SW, const size_t T, const int MASKED,
                    const int CLIP, VK m, size_t nky, const float *x, ptrdiff_t col0, ptrdiff_t clo,
                    ptrdiff_t chi, size_t cs, size_t rs, const float *wk, size_t cp,
                    const float *bias, const float *res, float *y, int clamp, V lo, V hi) {
    V acc[TMAX];
    const V b = vload(bias);
FN_UNROLL(16)
    for (size_t t = 0; t < T; t++) acc[t] = b;
    for (size_t r = 0; r < nky; r++, x += rs, wk += KW * cp) {
        V wt[9];
FN_UNROLL(9)
        for (size_t kx = 0; kx < KW; kx++) wt[kx] = vload(wk + kx * cp);
FN_UNROLL(64)
        for (size_t col = 0; col < (T - 1) * SW + KW; col++) {
            if (CLIP && ((ptrdiff_t)col < clo || (ptrdiff_t)col >= chi)) continue;
            const V xv = vload_m(x + (col0 + (ptrdiff_t)col) * (ptrdiff_t)cs, MASKED, m);
FN_UNROLL(9)
            for (size_t kx = 0; kx < KW; kx++)
                if (col >= kx && (col - kx) % SW == 0 && (col - kx) / SW < T)
                    acc[(col - kx) / SW] = vfma(xv, wt[kx], acc[(col - kx) / SW]);
        }
    }
#if DW_SILU_TILE
    if (clamp == DW_SILU) {
        /* s (+ res) stored, then silu in a second pass over the stored tile (from L1), decided once
         * for its T vectors: fn_silu_fast without its clamp (fn_silu_fast_xc(s, s), the same bits)
         * unless a lane has |s| > 87 (a sign bit of 87 - |s|: -inf included; NaN is not, and
         * takes the fast formula's NaN either way), else fn_silu vector by vector */
        V big = vzero();
FN_UNROLL(16)
        for (size_t t = 0; t < T; t++) {
            const V s = res ? vadd(acc[t], vload_m(res + t * cs, MASKED, m)) : acc[t];
            vstore_m(y + t * cs, s, MASKED, m);
            big = dw_or(big, vsub(vset(87.0f), vabs(s)));
        }
        if (!dw_sign_any(big)) {
FN_UNROLL(16)
            for (size_t t = 0; t < T; t++) {
                const V s = vload_m(y + t * cs, MASKED, m);
                vstore_m(y + t * cs, fn_silu_fast_xc(s, s), MASKED, m);
            }
        } else {
FN_UNROLL(16)
            for (size_t t = 0; t < T; t++)
                vstore_m(y + t * cs, fn_silu(vload_m(y + t * cs, MASKED, m)), MASKED, m);
        }
        return;
    }
#endif
FN_UNROLL(16)
    for (size_t t = 0; t < T; t++)
        put(y + t * cs, res ? res + t * cs : NULL, acc[t], MASKED, m, clamp, lo, hi);
}

/* band() over every channel of T outputs from ox: full vectors, then a masked tail.
 * x: the input row of kernel row ky0 (pixel 0, channel 0); wk: packed tap (ky0, 0); bias. */
FN_INLINE void band_all(const size_t KW, const size_t SW, const size_t T, const int CLIP,
                        const fn_dwconv_geom *g, size_t nky, size_t ox, const float *x,
                        const float *wk, const float *bias, const float *res, float *y, int clamp,
                        V lo, V hi) {
    const size_t c = g->c, cp = g->cp, cf = c - c % VW, rs = g->dh * g->row;
    const ptrdiff_t col0 = (ptrdiff_t)(ox * SW) - (ptrdiff_t)g->pad_left;
    const ptrdiff_t clo = -col0, chi = (ptrdiff_t)g->w - col0;
    float *yo = y + ox * c;
    const float *ro = res ? res + ox * c : NULL;
    const VK none = vmask_upto(VW), tail = vmask_upto(c - cf);
    for (size_t j = 0; j < cf; j += VW)
        band(KW, SW, T, 0, CLIP, none, nky, x + j, col0, clo, chi, c, rs, wk + j, cp, bias + j,
             ro ? ro + j : NULL, yo + j, clamp, lo, hi);
    if (cf < c)
        band(KW, SW, T, 1, CLIP, tail, nky, x + cf, col0, clo, chi, c, rs, wk + cf, cp, bias + cf,
             ro ? ro + cf : NULL, yo + cf, clamp, lo, hi);
}

/* Outputs [0, n) of a row in tiles of TB (g->kw == KW, g->sw == SW, g->dw == 1, n % TB == 0);
 * tiles that meet padding clip their columns. */
FN_INLINE void band_row(const size_t KW, const size_t SW, const size_t TB, const fn_dwconv_geom *g,
                        size_t ky0, size_t ky1, size_t n, const float *x, const float *w,
                        const float *res, float *y, int clamp, V lo, V hi) {
    const size_t nky = ky1 - ky0;
    const float *wk = w + g->cp * (1 + ky0 * KW);
    for (size_t ox = 0; ox + TB <= n; ox += TB)
        if (ox >= g->ox_lo && ox + TB <= g->ox_hi)
            band_all(KW, SW, TB, 0, g, nky, ox, x, wk, w, res, y, clamp, lo, hi);
        else
            band_all(KW, SW, TB, 1, g, nky, ox, x, wk, w, res, y, clamp, lo, hi);
}

/* band_row() compiled once per (KW, SW) as a function of its own (registers to itself) */
#define BAND_TB 8 /* outputs a tile: 8 accumulators + KW taps + an input vector fit 16 registers */
typedef void (*band_fn)(const fn_dwconv_geom *g, size_t ky0, size_t ky1, size_t n, const float *x,
                        const float *w, const float *res, float *y, int clamp, V lo, V hi);
#define BAND_DEF(KW, SW)                                                                           \
    static __attribute__((noinline)) void FN_NAME(band_##KW##x##SW)(                               \
        const fn_dwconv_geom *g, size_t ky0, size_t ky1, size_t n, const float *x, const float *w, \
        const float *res, float *y, int clamp, V lo, V hi) {                                       \
        band_row(KW, SW, BAND_TB, g, ky0, ky1, n, x, w, res, y, clamp, lo, hi);                    \
    }
/* 9x9 (ConvMixer): a band without sliding kernels for the leftovers (row(): the general tiles take
 * them). 9 taps + 8 accumulators + the input: 18 registers, which AVX-512 holds and AVX2 spills a
 * few of (its taps reload from L1), still 2.4x the general tile, where each FMA loads its input.
 * Measured (Xeon, 1 thread, CPU-time minima, bench/adhoc/dwconv_cputime.py --old): 256ch 32x32
 * 0.649 -> 0.309 ms on AVX-512, 1.20 -> 0.49 on AVX2; 1536ch 32x32 4.52 -> 3.20 and 6.81 -> 3.92. */
BAND_DEF(3, 1) BAND_DEF(5, 1) BAND_DEF(7, 1) BAND_DEF(9, 1)

/* T outputs, one vector of channels, any kernel width, stride and dilation, taps kx0 <= kx < kx1
 * (borders clip them), kernel rows ky0 <= ky < ky1, taps in the same order as band (ky outer,
 * kx inner). x: the first output's tap (ky0, kx0) at this channel block; w: packed + block. */
FN_INLINE void tile_any(const size_t T, const int MASKED, VK m, const fn_dwconv_geom *g, size_t ky0,
                 size_t ky1, size_t kx0, size_t kx1, const float *x, const float *w,
                 const float *res, float *y, int clamp, V lo, V hi) {
    const size_t c = g->c, cp = g->cp, rs = g->dh * g->row, kw = g->kw;
    const size_t ts = g->sw * c, ks = g->dw * c; /* steps between outputs, between taps */
    const V bias = vload(w);
    V acc[TMAX];
FN_UNROLL(16)
    for (size_t t = 0; t < T; t++) acc[t] = bias;
    for (size_t ky = ky0; ky < ky1; ky++, x += rs) {
        const float *xc = x;
        for (size_t kx = kx0; kx < kx1; kx++, xc += ks) {
            const V wv = vload(w + cp * (1 + ky * kw + kx));
FN_UNROLL(16)
            for (size_t t = 0; t < T; t++) acc[t] = vfma(vload_m(xc + t * ts, MASKED, m), wv, acc[t]);
        }
    }
FN_UNROLL(16)
    for (size_t t = 0; t < T; t++)
        put(y + t * c, res ? res + t * c : NULL, acc[t], MASKED, m, clamp, lo, hi);
}

/* T outputs from output ox, every channel, with taps kx0..kx1 (x: the input row of ky0). */
FN_INLINE void tiles(const size_t T, const fn_dwconv_geom *g, size_t ky0, size_t ky1, size_t ox,
              size_t kx0, size_t kx1, const float *x, const float *w, const float *res, float *y,
              int clamp, V lo, V hi) {
    const size_t c = g->c, cf = c - c % VW;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * g->sw) - (ptrdiff_t)g->pad_left;
    /* only dereferenced when kx0 < kx1, where that tap is inside the row */
    const float *xo = x + (kx0 < kx1 ? (size_t)(ix0 + (ptrdiff_t)(kx0 * g->dw)) * c : 0);
    float *yo = y + ox * c;
    const float *ro = res ? res + ox * c : NULL;
    const VK none = vmask_upto(VW), tail = vmask_upto(c - cf);
    for (size_t j = 0; j < cf; j += VW)
        tile_any(T, 0, none, g, ky0, ky1, kx0, kx1, xo + j, w + j, ro ? ro + j : NULL, yo + j,
                 clamp, lo, hi);
    if (cf < c)
        tile_any(T, 1, tail, g, ky0, ky1, kx0, kx1, xo + cf, w + cf, ro ? ro + cf : NULL, yo + cf,
                 clamp, lo, hi);
}

/* One output whose window crosses the left or right edge of the row: its taps clipped. */
FN_INLINE void border(const fn_dwconv_geom *g, size_t ky0, size_t ky1, size_t ox, const float *x,
               const float *w, const float *res, float *y, int clamp, V lo, V hi) {
    size_t kx0, kx1;
    fn_dwconv_clip((ptrdiff_t)(ox * g->sw) - (ptrdiff_t)g->pad_left, g->kw, g->dw, g->w, &kx0, &kx1);
    tiles(1, g, ky0, ky1, ox, kx0, kx1, x, w, res, y, clamp, lo, hi);
}

/* slide() compiled once per (KW, SW, NKY, MASKED) as a function of its own: inlined into the
 * row kernel, the row's own live values left too few registers and the ring's loop counter and
 * tap offsets went to the stack. */
typedef void (*slide_fn)(size_t nky, size_t n, const float *x, size_t wd, size_t pl, size_t cs,
                         size_t rs, const float *wk, size_t cp, const float *bias, const float *res,
                         float *y, int clamp, V lo, V hi, VK m);
#define SLIDE_DEF(KW, SW, NKY, NV, MASKED)                                                          \
    static __attribute__((noinline)) void FN_NAME(slide_##KW##x##SW##_##NKY##_##NV##MASKED)(        \
        size_t nky, size_t n, const float *x, size_t wd, size_t pl, size_t cs, size_t rs,          \
        const float *wk, size_t cp, const float *bias, const float *res, float *y, int clamp,      \
        V lo, V hi, VK m) {                                                                   \
        slide(KW, SW, NKY, NV, MASKED, m, nky, n, x, wd, pl, cs, rs, wk, cp, bias, res, y, clamp,   \
              lo, hi);                                                                             \
    }
/* per (KW, SW, NKY): two full vectors at once, one, and the masked tail */
#define SLIDE_DEFS(KW, SW, NKY)                                                                    \
    SLIDE_DEF(KW, SW, NKY, 2, 0) SLIDE_DEF(KW, SW, NKY, 1, 0) SLIDE_DEF(KW, SW, NKY, 1, 1)
#define SLIDE_SET(KW, SW, NKY)                                                                     \
    {                                                                                              \
        FN_NAME(slide_##KW##x##SW##_##NKY##_20), FN_NAME(slide_##KW##x##SW##_##NKY##_10),          \
            FN_NAME(slide_##KW##x##SW##_##NKY##_11)                                                \
    }
/* per (KW, SW): the kernel-row counts a KW x KW kernel meets in the interior and next to one or
 * two padding rows get constant loops (taps in registers); any other count the run-time loop */
SLIDE_DEFS(3, 1, 3) SLIDE_DEFS(3, 1, 2) SLIDE_DEFS(3, 1, 0)
SLIDE_DEFS(3, 2, 3) SLIDE_DEFS(3, 2, 2) SLIDE_DEFS(3, 2, 0)
#if VW >= 16
/* the wide pass (fn_dwconv_geom.wide): four vectors of channels, 3x3 stride 2, all three rows */
SLIDE_DEF(3, 2, 3, 4, 0)
#endif
SLIDE_DEFS(5, 1, 5) SLIDE_DEFS(5, 1, 4) SLIDE_DEFS(5, 1, 3) SLIDE_DEFS(5, 1, 0)
SLIDE_DEFS(5, 2, 5) SLIDE_DEFS(5, 2, 4) SLIDE_DEFS(5, 2, 3) SLIDE_DEFS(5, 2, 0)
SLIDE_DEFS(7, 1, 7) SLIDE_DEFS(7, 1, 6) SLIDE_DEFS(7, 1, 5) SLIDE_DEFS(7, 1, 4) SLIDE_DEFS(7, 1, 0)
/* indexed by the number of kernel rows inside the input, 1..KW (0: any, at run time) */
static const slide_fn slide_3x1[4][3] = {SLIDE_SET(3, 1, 0), SLIDE_SET(3, 1, 0), SLIDE_SET(3, 1, 2),
                                         SLIDE_SET(3, 1, 3)};
static const slide_fn slide_3x2[4][3] = {SLIDE_SET(3, 2, 0), SLIDE_SET(3, 2, 0), SLIDE_SET(3, 2, 2),
                                         SLIDE_SET(3, 2, 3)};
static const slide_fn slide_5x1[6][3] = {SLIDE_SET(5, 1, 0), SLIDE_SET(5, 1, 0), SLIDE_SET(5, 1, 0),
                                         SLIDE_SET(5, 1, 3), SLIDE_SET(5, 1, 4), SLIDE_SET(5, 1, 5)};
static const slide_fn slide_5x2[6][3] = {SLIDE_SET(5, 2, 0), SLIDE_SET(5, 2, 0), SLIDE_SET(5, 2, 0),
                                         SLIDE_SET(5, 2, 3), SLIDE_SET(5, 2, 4), SLIDE_SET(5, 2, 5)};

/* Position of p within a vector-sized block of memory, in floats. */
FN_INLINE size_t phase(const void *p) { return (size_t)((uintptr_t)p / sizeof(float) % VW); }

static const slide_fn slide_7x1[8][3] = {SLIDE_SET(7, 1, 0), SLIDE_SET(7, 1, 0), SLIDE_SET(7, 1, 0),
                                         SLIDE_SET(7, 1, 0), SLIDE_SET(7, 1, 4), SLIDE_SET(7, 1, 5),
                                         SLIDE_SET(7, 1, 6), SLIDE_SET(7, 1, 7)};

/* A whole row with the sliding kernels f[0] (two channel vectors at once), f[1] (one) and f[2]
 * (a masked part of a vector) (g->kw == KW, g->sw == SW, g->dw == 1), ky0 < ky1.
 * When every pixel starts at the same place within a vector (c % VW == 0) but not at a vector
 * boundary (numpy's large arrays start 16 bytes past a 64-byte line), a masked head of VW - ph
 * channels brings the others onto vector boundaries, so no load or store splits two cache lines
 * (that cost 10-50% here); the last ph channels are then a masked tail. Below 64 channels the
 * two masked passes more cost more than the split accesses save (c = 32 lost 1.4-2x). */
FN_INLINE void slide_row(const slide_fn *f, slide_fn f4, const fn_dwconv_geom *g, size_t ky0,
                         size_t ky1, const float *x, const float *w, const float *res, float *y,
                         int clamp, V lo, V hi) {
    const size_t c = g->c, cp = g->cp, n = g->ow;
    const float *wk = w + cp * (1 + ky0 * g->kw);
    const size_t rs = g->dh * g->row, nky = ky1 - ky0;
    const size_t ph = phase(x);
    size_t j = 0, end = c - c % VW; /* full vectors in [j, end), then a masked tail up to c */
#define CALL(fn, j, mask)                                                                          \
    fn(nky, n, x + (j), g->w, g->pad_left, c, rs, wk + (j), cp, w + (j), res ? res + (j) : NULL,   \
       y + (j), clamp, lo, hi, mask)
    if (ph && c % VW == 0 && c >= 64 && phase(y) == ph && (!res || phase(res) == ph)) {
        CALL(f[2], 0, vmask_upto(VW - ph));
        j = VW - ph;
        end = c - ph;
    }
    if (f4)
        for (; j + 4 * VW <= end; j += 4 * VW) CALL(f4, j, vmask_upto(VW));
    for (; j + 2 * VW <= end; j += 2 * VW) CALL(f[0], j, vmask_upto(VW));
    for (; j < end; j += VW) CALL(f[1], j, vmask_upto(VW));
    if (end < c) CALL(f[2], end, vmask_upto(c - end));
#undef CALL
}

/* One output row (fn_dwconv_row_ukernel): with the sliding kernels of table tab (indexed by the
 * kernel rows inside the input), or without one (tab NULL: any width, stride, dilation) the
 * interior in tiles of TILE outputs and the outputs that meet padding one by one. */
FN_INLINE void row(band_fn bandf, const slide_fn (*tab)[3], const fn_dwconv_geom *g, size_t ky0,
                   size_t ky1, const float *x, const float *w, const float *res, float *y) {
    const int kind = g->act.kind;
    const int clamp = kind == FN_ACT_CLAMP ? 1
                      : kind == FN_ACT_ACTK0 + FN_ACTK_SILU ? DW_SILU
                      : kind == FN_ACT_ACTK0 + FN_ACTK_HARDSWISH ? DW_HARDSWISH : 0;
    const V lo = vset(g->act.lo), hi = vset(g->act.hi);
    if (tab && ky1 > ky0) {
        /* the band kernel in tiles of BAND_TB outputs from the left; the outputs left over (all of
         * them in a row narrower than a tile, where a band's few outputs would be few FMA chains)
         * slide, as a row of their own that starts at column c0 */
        size_t nb = bandf ? g->ow / BAND_TB * BAND_TB : 0;
        if (nb * g->sw < g->pad_left) nb = 0;
        if (nb) bandf(g, ky0, ky1, nb, x, w, res, y, clamp, lo, hi);
        if (nb == g->ow) return;
        fn_dwconv_geom rest = *g;
        size_t c0 = nb * g->sw - g->pad_left;
        c0 = nb && c0 < g->w ? c0 : nb ? g->w : 0;
        rest.ow = g->ow - nb, rest.w = g->w - c0, rest.pad_left = nb ? 0 : g->pad_left;
        /* tab has g->kw + 1 entries; taller kernels (kh > kw) take the run-time row count */
        const size_t t = ky1 - ky0 <= g->kw ? ky1 - ky0 : 0;
        slide_fn f4 = NULL;
#if VW >= 16
        if (g->wide && tab == slide_3x2 && t == 3) f4 = FN_NAME(slide_3x2_3_40);
#endif
        slide_row(tab[t], f4, &rest, ky0, ky1, x + c0 * g->c, w, res ? res + nb * g->c : NULL,
                  y + nb * g->c, clamp, lo, hi);
        return;
    }
    /* a band without sliding kernels (9x9): its tiles from the left, the rest as below */
    size_t ox0 = 0;
    if (bandf && ky1 > ky0) {
        ox0 = g->ow / BAND_TB * BAND_TB;
        if (ox0 * g->sw < g->pad_left) ox0 = 0;
        if (ox0) bandf(g, ky0, ky1, ox0, x, w, res, y, clamp, lo, hi);
    }
    for (size_t ox = ox0; ox < g->ox_lo; ox++) border(g, ky0, ky1, ox, x, w, res, y, clamp, lo, hi);
    size_t ox = g->ox_lo > ox0 ? g->ox_lo : ox0;
    for (; ox + TILE <= g->ox_hi; ox += TILE)
        tiles(TILE, g, ky0, ky1, ox, 0, g->kw, x, w, res, y, clamp, lo, hi);
    for (; ox + TILE / 2 <= g->ox_hi; ox += TILE / 2)
        tiles(TILE / 2, g, ky0, ky1, ox, 0, g->kw, x, w, res, y, clamp, lo, hi);
    for (; ox < g->ox_hi; ox++) tiles(1, g, ky0, ky1, ox, 0, g->kw, x, w, res, y, clamp, lo, hi);
    for (ox = g->ox_hi > ox0 ? g->ox_hi : ox0; ox < g->ow; ox++) border(g, ky0, ky1, ox, x, w, res, y, clamp, lo, hi);
}

void FN_NAME(row)(const fn_dwconv_geom *g, size_t ky0, size_t ky1, const float *x, const float *w,
                  const float *res, float *y) {
    /* the MobileNet / EfficientNet / ConvNeXt shapes band (stride 1) and slide; everything else
     * takes the general tile. At stride 2 an input vector feeds 1.5 (3x3) or 2.5 (5x5) of a band's
     * multiply-adds and the band measured no faster than the slide ring in EfficientNet-B0 /
     * MobileNetV3 (AVX2, Zen 3: 3x3/2 96ch 0.41 -> 0.53 ms, 5x5/2 144ch 0.21 -> 0.24 ms). */
    band_fn band = NULL;
    const slide_fn(*tab)[3] = NULL;
    if (g->dw == 1 && g->kw == 3 && g->sw <= 2) {
        band = g->sw == 1 ? FN_NAME(band_3x1) : NULL;
        tab = g->sw == 1 ? slide_3x1 : slide_3x2;
    } else if (g->dw == 1 && g->kw == 5 && g->sw <= 2) {
        band = g->sw == 1 ? FN_NAME(band_5x1) : NULL;
        tab = g->sw == 1 ? slide_5x1 : slide_5x2;
    } else if (g->dw == 1 && g->kw == 7 && g->sw == 1) { /* ConvNeXt */
        band = FN_NAME(band_7x1);
        tab = slide_7x1;
    } else if (g->dw == 1 && g->kw == 9 && g->sw == 1) { /* ConvMixer */
        band = FN_NAME(band_9x1);
    }
    row(band, tab, g, ky0, ky1, x, w, res, y);
}

/* The per-channel sum of one output row, for the mean the plan folds in (fn_dwconv2d_mean_nhwc):
 * four partials per channel, partial q = 0.0f + y[ox] for ox = q (mod 4) ascending, then
 * s = (p0 + p1) + (p2 + p3); the order is the scalar kernel's on every ISA. Eight independent add
 * chains (two vectors of channels x four partials) keep the adders busy where the pool's column
 * kernel waits on one chain per vector. Cost over the conv alone, against the pool it replaces
 * (AVX-512, Sapphire Rapids, 1 thread, batch 1): 32ch 112x112 1.7 us vs 55, 144ch 56x56 6.0 vs 54,
 * 96ch 56x56 (stride 2) 0.9 vs 42, 240ch 28x28 5.2 vs 6.4, 672ch 14x14 4.2 vs 4.1, 1152ch 7x7
 * 2.2 vs 1.9 (a row of 1152 channels leaves L1 as the conv writes it). */
FN_INLINE void rowsum_block(const size_t NV, const int MASKED, VK m, size_t ow, size_t c, const float *y,
                            float *s) {
    V p[4][2];
FN_UNROLL(4)
    for (size_t q = 0; q < 4; q++)
FN_UNROLL(2)
        for (size_t v = 0; v < NV; v++) p[q][v] = vzero();
    size_t ox = 0;
    for (; ox + 4 <= ow; ox += 4)
FN_UNROLL(4)
        for (size_t q = 0; q < 4; q++)
FN_UNROLL(2)
            for (size_t v = 0; v < NV; v++)
                p[q][v] = vadd(p[q][v], vload_m(y + (ox + q) * c + v * VW, MASKED, m));
    /* the last ow % 4 pixels: constant partial indices keep p in registers */
FN_UNROLL(3)
    for (size_t q = 0; q < 3; q++)
        if (ox + q < ow)
FN_UNROLL(2)
            for (size_t v = 0; v < NV; v++)
                p[q][v] = vadd(p[q][v], vload_m(y + (ox + q) * c + v * VW, MASKED, m));
FN_UNROLL(2)
    for (size_t v = 0; v < NV; v++)
        vstore_m(s + v * VW, vadd(vadd(p[0][v], p[1][v]), vadd(p[2][v], p[3][v])), MASKED, m);
}

void FN_NAME(rowsum)(size_t ow, size_t c, const float *y, float *s) {
    size_t j = 0;
    for (; j + 2 * VW <= c; j += 2 * VW) rowsum_block(2, 0, vmask_upto(VW), ow, c, y + j, s + j);
    for (; j < c; j += VW) rowsum_block(1, c - j < VW, vmask_upto(c - j), ow, c, y + j, s + j);
}
