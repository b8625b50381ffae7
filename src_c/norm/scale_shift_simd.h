/* scale_shift_simd.h: per-channel y = act(x * scale + shift), written once over the SIMD vocabulary.
 * The including scale_shift_<isa>.c includes src_c/simd/vec_<isa>.h first and sets two tuning
 * knobs: SCALE_SHIFT_PEEL (1: peel a row's head so its stores start on a 64-byte line) and
 * SCALE_SHIFT_REG_COLS (channel counts up to which scale and shift stay in registers; 0: never). */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

/* Every element is one FMA then the clamp, in every path (full vectors, masked tails, pattern
 * loop), so a value never depends on where it falls in a vector: the drivers may split work at
 * any row and stay bit-identical across thread counts. */

/* Short rows (n < VW: 2x2, 3x3 planes): VW rows of n floats are exactly n full vectors, and lane i
 * of vector v belongs to row (VW v + i) / n of the group, so one load of VW scales and shifts plus
 * a lane permute per vector replaces VW masked single-row passes. Returns the rows handled. */
FN_INLINE size_t rows_short(size_t rows, size_t n, const float *x, const float *scale, const float *shift,
                            int clamp, V lo, V hi, float *y) {
    VI idx[VW - 1];
    int32_t rowof[VW * (VW - 1)];
    for (size_t f = 0, row = 0, col = 0; f < VW * n; f++) { /* rowof[f] = f / n, without dividing */
        rowof[f] = (int32_t)row;
        if (++col == n) col = 0, row++;
    }
    for (size_t v = 0; v < n; v++) idx[v] = viload(rowof + VW * v);
    size_t r = 0;
    for (; r + VW <= rows; r += VW, x += VW * n, y += VW * n) {
        const V sv = vload(scale + r), bv = vload(shift + r);
        for (size_t v = 0; v < n; v++) {
            const V t = vfma(vload(x + VW * v), vperm(sv, idx[v]), vperm(bv, idx[v]));
            vstore(y + VW * v, vclamp_if(t, clamp, lo, hi));
        }
    }
    return r;
}

/* x, y: (rows, n) contiguous; row r scaled by scale[r], shifted by shift[r] */
void FN_KNAME(fn_f32_scale_shift_rows)(size_t rows, size_t n, const float *x, const float *scale,
                                       const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    if (n < VW && rows >= VW) {
        const size_t done = rows_short(rows, n, x, scale, shift, clamp, lo, hi, y);
        rows -= done, x += done * n, y += done * n, scale += done, shift += done;
    }
    for (size_t r = 0; r < rows; r++, x += n, y += n) {
        const V s = vset(scale[r]), b = vset(shift[r]);
        size_t i = 0;
        /* peel up to VW-1 floats so the stores below start on a 64-byte line: a zmm access that
         * straddles two lines costs a second cache access (numpy buffers are 16-byte aligned) */
        const size_t head = SCALE_SHIFT_PEEL ? (size_t)((64 - (uintptr_t)y % 64) % 64) / sizeof(float) : 0;
        if (head && head < n && (uintptr_t)y % sizeof(float) == 0) {
            const VK k = vmask_n(head);
            vstore_k(y, k, vclamp_if(vfma(vload_k(x, k), s, b), clamp, lo, hi));
            i = head;
        }
        for (; i + 4 * VW <= n; i += 4 * VW) {
            V v0 = vfma(vload(x + i), s, b);
            V v1 = vfma(vload(x + i + VW), s, b);
            V v2 = vfma(vload(x + i + 2 * VW), s, b);
            V v3 = vfma(vload(x + i + 3 * VW), s, b);
            vstore(y + i, vclamp_if(v0, clamp, lo, hi));
            vstore(y + i + VW, vclamp_if(v1, clamp, lo, hi));
            vstore(y + i + 2 * VW, vclamp_if(v2, clamp, lo, hi));
            vstore(y + i + 3 * VW, vclamp_if(v3, clamp, lo, hi));
        }
        for (; i + VW <= n; i += VW) vstore(y + i, vclamp_if(vfma(vload(x + i), s, b), clamp, lo, hi));
        if (i < n) {
            const VK k = vmask_n(n - i);
            vstore_k(y + i, k, vclamp_if(vfma(vload_k(x + i, k), s, b), clamp, lo, hi));
        }
    }
}

/* Small c (< VW): the flat array repeats its channel pattern every L = lcm(c, VW) floats, i.e.
 * every L/VW = c/gcd(c,VW) vectors (at most VW-1), so expand scale/shift to L floats once and
 * stream the flat rows*c floats with full vectors: c=3 (RGB NHWC) uses every lane instead of 3. */
FN_INLINE void cols_small_c(size_t rows, size_t c, const float *x, const float *scale, const float *shift,
                            int clamp, V lo, V hi, float *y) {
    size_t g = VW;
    while (c % g) g >>= 1; /* gcd(c, VW) */
    const size_t nv = c / g, period = VW * nv;
    float sp[VW * (VW - 1)], bp[VW * (VW - 1)];
    for (size_t i = 0, j = 0; i < period; i++) {
        sp[i] = scale[j];
        bp[i] = shift[j];
        if (++j == c) j = 0;
    }
    const size_t total = rows * c;
    size_t i = 0;
    for (; i + period <= total; i += period)
        for (size_t v = 0; v < nv; v++) {
            const V r = vfma(vload(x + i + VW * v), vload(sp + VW * v), vload(bp + VW * v));
            vstore(y + i + VW * v, vclamp_if(r, clamp, lo, hi));
        }
    for (size_t v = 0; i < total; i += VW, v++) {
        const VK k = vmask_upto(total - i);
        const V r = vfma(vload_k(x + i, k), vload(sp + VW * v), vload(bp + VW * v));
        vstore_k(y + i, k, vclamp_if(r, clamp, lo, hi));
    }
}

/* x, y: (rows, c) contiguous; channel j scaled by scale[j], shifted by shift[j] */
void FN_KNAME(fn_f32_scale_shift_cols)(size_t rows, size_t c, const float *x, const float *scale,
                                       const float *shift, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    if (c < VW) {
        cols_small_c(rows, c, x, scale, shift, clamp, lo, hi, y);
        return;
    }
    const size_t cf = c & ~(size_t)(VW - 1);
    const VK kt = vmask_n(c - cf);
    if (c <= SCALE_SHIFT_REG_COLS) {
        /* up to 4 vectors of scale and shift live in registers across all rows */
        V s[4], b[4];
        for (size_t v = 0; v < 4; v++) {
            const VK k = vmask_upto(c > VW * v ? c - VW * v : 0);
            s[v] = vload_k(scale + VW * v, k);
            b[v] = vload_k(shift + VW * v, k);
        }
        for (size_t r = 0; r < rows; r++, x += c, y += c) {
            size_t v = 0;
            for (; VW * v < cf; v++)
                vstore(y + VW * v, vclamp_if(vfma(vload(x + VW * v), s[v], b[v]), clamp, lo, hi));
            if (c > cf) vstore_k(y + VW * v, kt, vclamp_if(vfma(vload_k(x + VW * v, kt), s[v], b[v]), clamp, lo, hi));
        }
        return;
    }
    for (size_t r = 0; r < rows; r++, x += c, y += c) {
        size_t j = 0;
        for (; j < cf; j += VW)
            vstore(y + j, vclamp_if(vfma(vload(x + j), vload(scale + j), vload(shift + j)), clamp, lo, hi));
        if (c > cf) {
            const V t = vfma(vload_k(x + j, kt), vload_k(scale + j, kt), vload_k(shift + j, kt));
            vstore_k(y + j, kt, vclamp_if(t, clamp, lo, hi));
        }
    }
}

/* fn_post_cols_ukernel: y = y * scale + shift (scale not NULL), then + res (res not NULL); AFFINE and
 * RES constants after inlining, so each combination is its own loop. The FMA and then the add, as the
 * SCALE_SHIFT and BINARY records they replace compute them: the same bits. */
FN_INLINE void post_cols(const int AFFINE, const int RES, size_t rows, size_t c, float *y, size_t ldy,
                         const float *scale, const float *shift, const float *res, size_t ldr) {
    const size_t cf = c & ~(size_t)(VW - 1);
    for (size_t r = 0; r < rows; r++, y += ldy) {
        const float *rr = RES ? res + r * ldr : NULL;
        size_t j = 0;
        for (; j < cf; j += VW) {
            V t = vload(y + j);
            if (AFFINE) t = vfma(t, vload(scale + j), vload(shift + j));
            if (RES) t = vadd(t, vload(rr + j));
            vstore(y + j, t);
        }
        if (j < c) {
            const VK k = vmask_n(c - j);
            V t = vload_k(y + j, k);
            if (AFFINE) t = vfma(t, vload_k(scale + j, k), vload_k(shift + j, k));
            if (RES) t = vadd(t, vload_k(rr + j, k));
            vstore_k(y + j, k, t);
        }
    }
}

void FN_KNAME(fn_f32_post_cols)(size_t rows, size_t c, float *y, size_t ldy, const float *scale,
                                const float *shift, const float *res, size_t ldr) {
    if (scale && res)
        post_cols(1, 1, rows, c, y, ldy, scale, shift, res, ldr);
    else if (scale)
        post_cols(1, 0, rows, c, y, ldy, scale, shift, NULL, 0);
    else if (res)
        post_cols(0, 1, rows, c, y, ldy, NULL, NULL, res, ldr);
}
