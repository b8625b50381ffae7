/* dwconv_simd_generic.h: the depthwise row micro-kernel written once for a vector width. The
 * including *_avx2.c / *_avx512.c file defines W (floats a vector), vf, vmask, the always-inline
 * helpers used below, the tile widths TILE_BIG / TILE_SMALL, and FN_NAME(op). */
#ifndef FN_NAME
#error "include from an ISA file that defines the vector helpers and FN_NAME"
#endif

#define AI static inline __attribute__((always_inline))

/* Accumulator arrays are indexed by loop counters that are constants after full unrolling, so
 * gcc keeps them in registers (checked in the disassembly: no spills in the tile loops). */
#define TMAX 16
#define KWMAX 8

AI vf ld(const float *p, const int MASKED, vmask m) { return MASKED ? vf_maskload(p, m) : vf_load(p); }

typedef struct {
    int clamp;
    vf lo, hi;
} epilogue;

/* s (+ res) -> clamp -> y; lanes outside m neither read nor written when MASKED */
AI void put(float *y, const float *res, vf s, const int MASKED, vmask m, const epilogue *e) {
    if (res) s = vf_add(s, ld(res, MASKED, m));
    if (e->clamp) s = vf_min(e->hi, vf_max(e->lo, s)); /* lo/hi first: NaN in s stays NaN */
    if (MASKED)
        vf_maskstore(y, m, s);
    else
        vf_store(y, s);
}

/* T outputs along a row, one vector of channels, every tap inside the input, constant KW and SW
 * and x dilation 1: each input vector is loaded once and feeds every output whose window holds
 * it ((T-1)*SW + KW loads a kernel row instead of T*KW).
 *   x: channel block of the first output's first tap in kernel row ky0; w: packed + channel block. */
AI void tile_fixed(const size_t T, const size_t KW, const size_t SW, const int MASKED, vmask m,
                   const fn_dwconv_geom *g, size_t ky0, size_t ky1, const float *x,
                   const float *w, const float *res, float *y, const epilogue *e) {
    const size_t c = g->c, cp = g->cp, rs = g->dh * g->row;
    const vf bias = vf_load(w);
    vf acc[TMAX];
#pragma GCC unroll 16
    for (size_t t = 0; t < T; t++) acc[t] = bias;
    const float *wr = w + cp * (1 + ky0 * KW);
    for (size_t ky = ky0; ky < ky1; ky++, x += rs, wr += KW * cp) {
        vf wk[KWMAX];
#pragma GCC unroll 8
        for (size_t kx = 0; kx < KW; kx++) wk[kx] = vf_load(wr + kx * cp);
#pragma GCC unroll 40
        for (size_t j = 0; j < (T - 1) * SW + KW; j++) {
            const vf v = ld(x + j * c, MASKED, m);
            /* outputs t with j - t*SW in [0, KW): in kx order for each, as tile_any */
#pragma GCC unroll 16
            for (size_t t = 0; t < T; t++)
                if (j >= t * SW && j - t * SW < KW) acc[t] = vf_fma(v, wk[j - t * SW], acc[t]);
        }
    }
#pragma GCC unroll 16
    for (size_t t = 0; t < T; t++) put(y + t * c, res ? res + t * c : NULL, acc[t], MASKED, m, e);
}

/* T outputs, one vector of channels, any kernel width, stride and dilation, taps kx0 <= kx < kx1
 * (borders clip them). x: channel block of the first output's tap kx0 in kernel row ky0. */
AI void tile_any(const size_t T, const int MASKED, vmask m, const fn_dwconv_geom *g, size_t ky0,
                 size_t ky1, size_t kx0, size_t kx1, const float *x, const float *w,
                 const float *res, float *y, const epilogue *e) {
    const size_t c = g->c, cp = g->cp, rs = g->dh * g->row, kw = g->kw;
    const size_t ts = g->sw * c, ks = g->dw * c; /* steps between outputs, between taps */
    const vf bias = vf_load(w);
    vf acc[TMAX];
#pragma GCC unroll 16
    for (size_t t = 0; t < T; t++) acc[t] = bias;
    for (size_t ky = ky0; ky < ky1; ky++, x += rs) {
        const float *wr = w + cp * (1 + ky * kw);
        const float *xk = x;
        for (size_t kx = kx0; kx < kx1; kx++, xk += ks) {
            const vf wv = vf_load(wr + kx * cp);
#pragma GCC unroll 16
            for (size_t t = 0; t < T; t++) acc[t] = vf_fma(ld(xk + t * ts, MASKED, m), wv, acc[t]);
        }
    }
#pragma GCC unroll 16
    for (size_t t = 0; t < T; t++) put(y + t * c, res ? res + t * c : NULL, acc[t], MASKED, m, e);
}

/* T interior outputs starting at output ox, every channel: full vectors, then the masked tail. */
AI void block(const size_t T, const size_t KW, const size_t SW, const fn_dwconv_geom *g,
              size_t ky0, size_t ky1, size_t ox, const float *x, const float *w, const float *res,
              float *y, const epilogue *e) {
    const size_t c = g->c, cf = c - c % W;
    const float *xo = x + (ox * g->sw - g->pad_left) * c;
    float *yo = y + ox * c;
    const float *ro = res ? res + ox * c : NULL;
    const vmask none = mask_for(W), tail = mask_for(c - cf);
    for (size_t j = 0; j < cf; j += W) {
        if (SW)
            tile_fixed(T, KW, SW, 0, none, g, ky0, ky1, xo + j, w + j, ro ? ro + j : NULL, yo + j, e);
        else
            tile_any(T, 0, none, g, ky0, ky1, 0, g->kw, xo + j, w + j, ro ? ro + j : NULL, yo + j, e);
    }
    if (cf < c) {
        if (SW)
            tile_fixed(T, KW, SW, 1, tail, g, ky0, ky1, xo + cf, w + cf, ro ? ro + cf : NULL, yo + cf, e);
        else
            tile_any(T, 1, tail, g, ky0, ky1, 0, g->kw, xo + cf, w + cf, ro ? ro + cf : NULL, yo + cf, e);
    }
}

/* An output whose window crosses the left or right edge: its taps clipped, one at a time. */
AI void border(const fn_dwconv_geom *g, size_t ky0, size_t ky1, size_t ox, const float *x,
               const float *w, const float *res, float *y, const epilogue *e) {
    const size_t c = g->c, cf = c - c % W;
    const ptrdiff_t ix0 = (ptrdiff_t)(ox * g->sw) - (ptrdiff_t)g->pad_left;
    size_t kx0, kx1;
    fn_dwconv_clip(ix0, g->kw, g->dw, g->w, &kx0, &kx1);
    /* only dereferenced when kx0 < kx1, where the first tap is inside the row */
    const float *xo = x + (kx0 < kx1 ? (size_t)(ix0 + (ptrdiff_t)(kx0 * g->dw)) * c : 0);
    float *yo = y + ox * c;
    const float *ro = res ? res + ox * c : NULL;
    const vmask none = mask_for(W), tail = mask_for(c - cf);
    for (size_t j = 0; j < cf; j += W)
        tile_any(1, 0, none, g, ky0, ky1, kx0, kx1, xo + j, w + j, ro ? ro + j : NULL, yo + j, e);
    if (cf < c)
        tile_any(1, 1, tail, g, ky0, ky1, kx0, kx1, xo + cf, w + cf, ro ? ro + cf : NULL, yo + cf, e);
}

/* One output row (fn_dwconv_row_ukernel). KW, SW constants (SW = 0: any width/stride/dilation). */
AI void row(const size_t KW, const size_t SW, const fn_dwconv_geom *g, size_t ky0, size_t ky1,
            const float *x, const float *w, const float *res, float *y) {
    epilogue e;
    e.clamp = g->act.kind == FN_ACT_CLAMP;
    e.lo = vf_set1(g->act.lo);
    e.hi = vf_set1(g->act.hi);
    for (size_t ox = 0; ox < g->ox_lo; ox++) border(g, ky0, ky1, ox, x, w, res, y, &e);
    size_t ox = g->ox_lo;
    for (; ox + TILE_BIG <= g->ox_hi; ox += TILE_BIG) block(TILE_BIG, KW, SW, g, ky0, ky1, ox, x, w, res, y, &e);
    for (; ox + TILE_SMALL <= g->ox_hi; ox += TILE_SMALL) block(TILE_SMALL, KW, SW, g, ky0, ky1, ox, x, w, res, y, &e);
    for (; ox < g->ox_hi; ox++) block(1, KW, SW, g, ky0, ky1, ox, x, w, res, y, &e);
    for (ox = g->ox_hi; ox < g->ow; ox++) border(g, ky0, ky1, ox, x, w, res, y, &e);
}

void FN_NAME(row)(const fn_dwconv_geom *g, size_t ky0, size_t ky1, const float *x, const float *w,
                  const float *res, float *y) {
    /* the MobileNet / EfficientNet shapes get constant loops; everything else the general tile */
    if (g->dw == 1 && g->kw == 3 && g->sw == 1)
        row(3, 1, g, ky0, ky1, x, w, res, y);
    else if (g->dw == 1 && g->kw == 3 && g->sw == 2)
        row(3, 2, g, ky0, ky1, x, w, res, y);
    else if (g->dw == 1 && g->kw == 5 && g->sw == 1)
        row(5, 1, g, ky0, ky1, x, w, res, y);
    else if (g->dw == 1 && g->kw == 5 && g->sw == 2)
        row(5, 2, g, ky0, ky1, x, w, res, y);
    else
        row(0, 0, g, ky0, ky1, x, w, res, y);
}
