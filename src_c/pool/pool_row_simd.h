/* pool_row_simd.h: the NHWC pooling micro-kernels (max over taps, row max/avg, global NHWC/NCHW),
 * written once over the SIMD vocabulary. The including pool_row_<isa>.c includes
 * src_c/simd/vec_<isa>.h first. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

/* NaN handling of every max here: vmax(v, m) keeps m when either is NaN, so a NaN already in m
 * stays and equal values keep the earlier tap (0.0 vs -0.0, as torch); a NaN arriving in v is
 * caught by an unordered compare OR-ed into a lane mask and written once at the end (no blend in
 * the tap loop). */

FN_INLINE V with_nan(V m, VM nan) { return vsel(nan, vset(__builtin_nanf("")), m); }

/* One vector of channels (masked: only the lanes of k): the running max and NaN lanes. */
typedef struct { V m; VM nan; } max1;
FN_INLINE max1 max1_first(const float *p, int masked, VK k) {
    const V v = vload_m(p, masked, k);
    const max1 s = {v, vunord(v, v)};
    return s;
}
FN_INLINE max1 max1_next(max1 s, const float *p, int masked, VK k) {
    const V v = vload_m(p, masked, k);
    s.m = vmax(v, s.m);
    s.nan = vm_or(s.nan, vunord(v, v));
    return s;
}

/* Four vectors of channels: four independent max chains. */
typedef struct { V m0, m1, m2, m3; VM n0, n1, n2, n3; } max4;
FN_INLINE max4 max4_first(const float *p) {
    max4 s;
    s.m0 = vload(p), s.m1 = vload(p + VW), s.m2 = vload(p + 2 * VW), s.m3 = vload(p + 3 * VW);
    s.n0 = vunord(s.m0, s.m0), s.n1 = vunord(s.m1, s.m1);
    s.n2 = vunord(s.m2, s.m2), s.n3 = vunord(s.m3, s.m3);
    return s;
}
FN_INLINE max4 max4_next(max4 s, const float *p) {
    const V v0 = vload(p), v1 = vload(p + VW), v2 = vload(p + 2 * VW), v3 = vload(p + 3 * VW);
    s.m0 = vmax(v0, s.m0), s.m1 = vmax(v1, s.m1), s.m2 = vmax(v2, s.m2), s.m3 = vmax(v3, s.m3);
    s.n0 = vm_or(s.n0, vunord(v0, v0)), s.n1 = vm_or(s.n1, vunord(v1, v1));
    s.n2 = vm_or(s.n2, vunord(v2, v2)), s.n3 = vm_or(s.n3, vunord(v3, v3));
    return s;
}
FN_INLINE void max4_store(max4 s, float *y) {
    vstore(y, with_nan(s.m0, s.n0));
    vstore(y + VW, with_nan(s.m1, s.n1));
    vstore(y + 2 * VW, with_nan(s.m2, s.n2));
    vstore(y + 3 * VW, with_nan(s.m3, s.n3));
}

/* taps: ks pointers to c floats each; y: (c,). taps[0] may equal y (the driver chains chunks). */
void FN_KNAME(fn_f32_maxpool)(size_t ks, size_t c, const float *const *taps, float *y) {
    size_t j = 0;
    for (; j + 4 * VW <= c; j += 4 * VW) {
        max4 s = max4_first(taps[0] + j);
        for (size_t t = 1; t < ks; t++) s = max4_next(s, taps[t] + j);
        max4_store(s, y + j);
    }
    for (; j < c; j += VW) {
        const int masked = c - j < VW;
        const VK k = vmask_upto(c - j);
        max1 s = max1_first(taps[0] + j, masked, k);
        for (size_t t = 1; t < ks; t++) s = max1_next(s, taps[t] + j, masked, k);
        vstore_m(y + j, with_nan(s.m, s.nan), masked, k);
    }
}

/* One pixel of c channels, taps at x + ky*rs + kx*cs. */
FN_INLINE void max_pixel(size_t kh, size_t kw, size_t c, const float *x, size_t rs, size_t cs, float *y) {
    size_t j = 0;
    for (; j + 4 * VW <= c; j += 4 * VW) {
        max4 s = max4_first(x + j);
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) s = max4_next(s, x + j + ky * rs + kx * cs);
        max4_store(s, y + j);
    }
    for (; j < c; j += VW) {
        const int masked = c - j < VW;
        const VK k = vmask_upto(c - j);
        max1 s = max1_first(x + j, masked, k);
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) s = max1_next(s, x + j + ky * rs + kx * cs, masked, k);
        vstore_m(y + j, with_nan(s.m, s.nan), masked, k);
    }
}

/* A row of pixels; called with literal kh, kw for the common windows so the tap loops unroll. */
FN_INLINE void max_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                       size_t cs, float *y) {
    for (size_t i = 0; i < n; i++, x += xs, y += c) max_pixel(kh, kw, c, x, rs, cs, y);
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void FN_KNAME(fn_f32_maxpool_row)(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs,
                                  size_t rs, size_t cs, float *y) {
    if (kh == 2 && kw == 2) max_row(n, 2, 2, c, x, xs, rs, cs, y);
    else if (kh == 3 && kw == 3) max_row(n, 3, 3, c, x, xs, rs, cs, y);
    else max_row(n, kh, kw, c, x, xs, rs, cs, y);
}

/* Sums start at 0.0f and add the taps in row-major order, as torch; then / div (and / div2 when
 * div2 != 1: adaptive pooling divides by the bin's height, then its width, as torch). */
typedef struct { V d, d2; int two; } divisor;

FN_INLINE divisor make_div(float div, float div2) {
    divisor r = {vset(div), vset(div2), div2 != 1.0f};
    return r;
}

FN_INLINE V divide(V s, divisor dv) {
    s = vdiv(s, dv.d);
    return dv.two ? vdiv(s, dv.d2) : s;
}

FN_INLINE void avg_px1(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, int masked, VK k,
                       divisor dv, float *y) {
    V s = vzero();
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) s = vadd(s, vload_m(x + ky * rs + kx * cs, masked, k));
    vstore_m(y, divide(s, dv), masked, k);
}

FN_INLINE void avg_px4(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, divisor dv, float *y) {
    V s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t ky = 0; ky < kh; ky++)
        for (size_t kx = 0; kx < kw; kx++) {
            const float *p = x + ky * rs + kx * cs;
            s0 = vadd(s0, vload(p));
            s1 = vadd(s1, vload(p + VW));
            s2 = vadd(s2, vload(p + 2 * VW));
            s3 = vadd(s3, vload(p + 3 * VW));
        }
    vstore(y, divide(s0, dv));
    vstore(y + VW, divide(s1, dv));
    vstore(y + 2 * VW, divide(s2, dv));
    vstore(y + 3 * VW, divide(s3, dv));
}

FN_INLINE void avg_pixel(size_t kh, size_t kw, size_t c, const float *x, size_t rs, size_t cs, divisor dv,
                         float *y) {
    size_t j = 0;
    for (; j + 4 * VW <= c; j += 4 * VW) avg_px4(kh, kw, x + j, rs, cs, dv, y + j);
    for (; j < c; j += VW) avg_px1(kh, kw, x + j, rs, cs, c - j < VW, vmask_upto(c - j), dv, y + j);
}

FN_INLINE void avg_row(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs, size_t rs,
                       size_t cs, float div, float div2, float *y) {
    const divisor dv = make_div(div, div2);
    for (size_t i = 0; i < n; i++, x += xs, y += c) avg_pixel(kh, kw, c, x, rs, cs, dv, y);
}

// x: NHWC taps (see fn_pool.h), y: (n, c)
void FN_KNAME(fn_f32_avgpool_row)(size_t n, size_t kh, size_t kw, size_t c, const float *x, size_t xs,
                                  size_t rs, size_t cs, float div, float div2, float *y) {
    if (kh == 2 && kw == 2) avg_row(n, 2, 2, c, x, xs, rs, cs, div, div2, y);
    else if (kh == 3 && kw == 3) avg_row(n, 3, 3, c, x, xs, rs, cs, div, div2, y);
    else avg_row(n, kh, kw, c, x, xs, rs, cs, div, div2, y);
}

/* ------------------------------------------------------------------------------------- global */

// x: (rows, ldx), y: (c,). Channels in lanes, all rows at once per 4 vectors of channels.
void FN_KNAME(fn_f32_global_maxpool_nhwc)(size_t rows, size_t c, size_t ldx, const float *x, float div,
                                          float *y) {
    (void)div;
    max_pixel(rows, 1, c, x, ldx, 0, y);
}

// x: (rows, ldx), y: (c,). Per channel: 0.0f, then the rows in order.
void FN_KNAME(fn_f32_global_avgpool_nhwc)(size_t rows, size_t c, size_t ldx, const float *x, float div,
                                          float *y) {
    avg_pixel(rows, 1, c, x, ldx, 0, make_div(div, 1.0f), y);
}

#define GP_VECS (FN_GPOOL_LANES / VW) /* lane l of a[q]: partial VW q + l */

// x: (planes, hw), y: (planes,); the 64-partial order of fn_pool.h
void FN_KNAME(fn_f32_global_avgpool_nchw)(size_t planes, size_t hw, const float *x, float div, float *y) {
    for (size_t p = 0; p < planes; p++, x += hw) {
        V a[GP_VECS];
        for (int q = 0; q < GP_VECS; q++) a[q] = vzero();
        size_t i = 0;
        for (; i + FN_GPOOL_LANES <= hw; i += FN_GPOOL_LANES)
            for (int q = 0; q < GP_VECS; q++) a[q] = vadd(a[q], vload(x + i + VW * q));
        /* +0.0 in the missing lanes leaves a partial unchanged (never -0.0: it began at +0.0) */
        for (int q = 0; i + VW * q < hw && q < GP_VECS; q++)
            a[q] = vadd(a[q], vload_k(x + i + VW * q, vmask_upto(hw - i - VW * q)));
        /* fn_pool.h's fold order: l += l + half, half = 32, 16, ..., 1 */
        for (int h = GP_VECS / 2; h >= 1; h /= 2)
            for (int q = 0; q < h; q++) a[q] = vadd(a[q], a[q + h]);
        y[p] = vhsum(a[0]) / div;
    }
}

// x: (planes, hw), y: (planes,)
void FN_KNAME(fn_f32_global_maxpool_nchw)(size_t planes, size_t hw, const float *x, float div, float *y) {
    (void)div;
    const V ninf = vset(-__builtin_inff());
    for (size_t p = 0; p < planes; p++, x += hw) {
        V a0 = ninf, a1 = ninf, a2 = ninf, a3 = ninf;
        VM nan = vm_none();
        size_t i = 0;
        for (; i + 4 * VW <= hw; i += 4 * VW) {
            const V v0 = vload(x + i), v1 = vload(x + i + VW);
            const V v2 = vload(x + i + 2 * VW), v3 = vload(x + i + 3 * VW);
            a0 = vmax(v0, a0);
            a1 = vmax(v1, a1);
            a2 = vmax(v2, a2);
            a3 = vmax(v3, a3);
            /* v0+v1+v2+v3 is NaN if any is (or on inf - inf, which the exact check below rules out) */
            const V s = vadd(vadd(v0, v1), vadd(v2, v3));
            nan = vm_or(nan, vunord(s, s));
        }
        for (; i < hw; i += VW) { /* -inf in the missing lanes never wins */
            const V v = vload_n_fill(x + i, hw - i < VW ? hw - i : VW, -__builtin_inff());
            a0 = vmax(v, a0);
            nan = vm_or(nan, vunord(v, v));
        }
        float m = 0.0f;
        int found = 0;
        if (vm_any(nan)) /* a NaN, or only +inf meeting -inf in the cheap check: decide exactly */
            for (size_t t = 0; t < hw && !found; t++)
                if (x[t] != x[t]) m = x[t], found = 1;
        if (!found) m = vhmax(vmax(vmax(a0, a2), vmax(a1, a3)));
        y[p] = m;
    }
}
#undef GP_VECS
