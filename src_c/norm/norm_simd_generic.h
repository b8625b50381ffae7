/* norm_simd_generic.h: the moments / normalise micro-kernels written once for a vector width. The
 * including *_avx2.c / *_avx512.c file defines W (floats a vector), the types vf (W floats), vd (W/2
 * doubles) and vmask, the always-inline helpers used below, and FN_NAME(op) (the ISA-suffixed name). */
#ifndef FN_NAME
#error "include from an ISA file that defines the vector helpers and FN_NAME"
#endif

#define AI static inline __attribute__((always_inline))

AI vf clampv(vf v, int clamp, vf lo, vf hi) {
    /* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN */
    return clamp ? vf_min(hi, vf_max(lo, v)) : v;
}

/* Per row: 8 double accumulators (two vectors of floats an iteration, each split into its low and
 * high half), added in a fixed order at the end. Rows are independent, so out-of-order execution
 * overlaps one row's reduction with the next row's loads (short LayerNorm rows). */
void FN_NAME(row_moments)(size_t rows, size_t n, const float *x, size_t ldx, const float *shift,
                          size_t lds, double *sums) {
    for (size_t r = 0; r < rows; r++, x += ldx) {
        const float ks = shift[r * lds];
        const vd k = vd_set1((double)ks);
        vd a0 = vd_zero(), a1 = vd_zero(), a2 = vd_zero(), a3 = vd_zero();
        vd q0 = vd_zero(), q1 = vd_zero(), q2 = vd_zero(), q3 = vd_zero();
        size_t i = 0;
        for (; i + 2 * W <= n; i += 2 * W) {
            const vf v0 = vf_load(x + i), v1 = vf_load(x + i + W);
            const vd d0 = vd_sub(vd_cvt_lo(v0), k), d1 = vd_sub(vd_cvt_hi(v0), k);
            const vd d2 = vd_sub(vd_cvt_lo(v1), k), d3 = vd_sub(vd_cvt_hi(v1), k);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1), a2 = vd_add(a2, d2), a3 = vd_add(a3, d3);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1), q2 = vd_fma(d2, d2, q2), q3 = vd_fma(d3, d3, q3);
        }
        if (i + W <= n) {
            const vf v0 = vf_load(x + i);
            const vd d0 = vd_sub(vd_cvt_lo(v0), k), d1 = vd_sub(vd_cvt_hi(v0), k);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1);
            i += W;
        }
        double t1[W / 2], t2[W / 2];
        vd_store(t1, vd_add(vd_add(a0, a1), vd_add(a2, a3)));
        vd_store(t2, vd_add(vd_add(q0, q1), vd_add(q2, q3)));
        double s1 = 0.0, s2 = 0.0;
        for (size_t l = 0; l < W / 2; l++) s1 += t1[l], s2 += t2[l];
        for (; i < n; i++) {
            const double d = (double)x[i] - (double)ks;
            s1 += d;
            s2 += d * d;
        }
        sums[2 * r] = s1;
        sums[2 * r + 1] = s2;
    }
}

/* Column sums: every lane does the same (masked) arithmetic in row order, so a column's sums do not
 * depend on where it falls in a vector or block. Up to two vectors of columns: accumulators stay in
 * registers, rows inner. Wider: rows outer, each row read front to back (long contiguous runs the
 * hardware prefetcher follows even when rows are strided NCHW channels), accumulating into s1/s2,
 * which stay in L1. */
void FN_NAME(col_moments)(size_t rows, size_t cols, const float *x, size_t ldx, const float *shift,
                          double *s1, double *s2) {
    if (cols > 2 * W) {
        const size_t cf = cols - cols % W;
        const vmask kt = mask_for(cols - cf);
        for (size_t j = 0; j < cols; j++) s1[j] = s2[j] = 0.0;
        double t1[W], t2[W];
        for (size_t r = 0; r < rows; r++, x += ldx) {
            size_t j = 0;
            for (; j < cf; j += W) {
                const vf v = vf_load(x + j), kf = vf_load(shift + j);
                const vd d0 = vd_sub(vd_cvt_lo(v), vd_cvt_lo(kf)), d1 = vd_sub(vd_cvt_hi(v), vd_cvt_hi(kf));
                vd_store(s1 + j, vd_add(vd_load(s1 + j), d0));
                vd_store(s1 + j + W / 2, vd_add(vd_load(s1 + j + W / 2), d1));
                vd_store(s2 + j, vd_fma(d0, d0, vd_load(s2 + j)));
                vd_store(s2 + j + W / 2, vd_fma(d1, d1, vd_load(s2 + j + W / 2)));
            }
            if (j < cols) { /* the tail's sums live in t1/t2 (zeroed on the first row) */
                const vf v = vf_maskload(x + j, kt), kf = vf_maskload(shift + j, kt);
                const vd d0 = vd_sub(vd_cvt_lo(v), vd_cvt_lo(kf)), d1 = vd_sub(vd_cvt_hi(v), vd_cvt_hi(kf));
                const vd p0 = r ? vd_load(t1) : vd_zero(), p1 = r ? vd_load(t1 + W / 2) : vd_zero();
                const vd r0 = r ? vd_load(t2) : vd_zero(), r1 = r ? vd_load(t2 + W / 2) : vd_zero();
                vd_store(t1, vd_add(p0, d0)), vd_store(t1 + W / 2, vd_add(p1, d1));
                vd_store(t2, vd_fma(d0, d0, r0)), vd_store(t2 + W / 2, vd_fma(d1, d1, r1));
            }
        }
        if (rows)
            for (size_t l = 0; cf + l < cols; l++) s1[cf + l] = t1[l], s2[cf + l] = t2[l];
        return;
    }
    for (size_t j = 0; j < cols; j += 2 * W) {
        const size_t m = cols - j < 2 * W ? cols - j : 2 * W;
        const vmask k0 = mask_for(m < W ? m : W), k1 = mask_for(m > W ? m - W : 0);
        const vf kf0 = vf_maskload(shift + j, k0), kf1 = vf_maskload(shift + j + W, k1);
        const vd c0 = vd_cvt_lo(kf0), c1 = vd_cvt_hi(kf0), c2 = vd_cvt_lo(kf1), c3 = vd_cvt_hi(kf1);
        vd a0 = vd_zero(), a1 = vd_zero(), a2 = vd_zero(), a3 = vd_zero();
        vd q0 = vd_zero(), q1 = vd_zero(), q2 = vd_zero(), q3 = vd_zero();
        const float *xr = x + j;
        for (size_t r = 0; r < rows; r++, xr += ldx) {
            const vf v0 = vf_maskload(xr, k0), v1 = vf_maskload(xr + W, k1);
            const vd d0 = vd_sub(vd_cvt_lo(v0), c0), d1 = vd_sub(vd_cvt_hi(v0), c1);
            const vd d2 = vd_sub(vd_cvt_lo(v1), c2), d3 = vd_sub(vd_cvt_hi(v1), c3);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1), a2 = vd_add(a2, d2), a3 = vd_add(a3, d3);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1), q2 = vd_fma(d2, d2, q2), q3 = vd_fma(d3, d3, q3);
        }
        double t1[2 * W], t2[2 * W];
        vd_store(t1, a0), vd_store(t1 + W / 2, a1), vd_store(t1 + W, a2), vd_store(t1 + 3 * W / 2, a3);
        vd_store(t2, q0), vd_store(t2 + W / 2, q1), vd_store(t2 + W, q2), vd_store(t2 + 3 * W / 2, q3);
        for (size_t l = 0; l < m; l++) s1[j + l] = t1[l], s2[j + l] = t2[l];
    }
}

void FN_NAME(rows_apply)(size_t rows, size_t n, const float *x, const float *cm, const float *a,
                         const float *b, const float *w, const float *beta, const fn_act *act,
                         float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const vf lo = vf_set1(act->lo), hi = vf_set1(act->hi);
    const size_t nf = n - n % W;
    const vmask kt = mask_for(n - nf);
    for (size_t r = 0; r < rows; r++, x += n, y += n) {
        const vf c = vf_set1(cm[r]), s = vf_set1(a[r]), t = vf_set1(b[r]);
        if (w) {
            size_t i = 0;
            for (; i < nf; i += W) {
                const vf u = vf_fma(vf_sub(vf_load(x + i), c), s, t);
                vf_store(y + i, clampv(vf_fma(u, vf_load(w + i), vf_load(beta + i)), clamp, lo, hi));
            }
            if (i < n) {
                const vf u = vf_fma(vf_sub(vf_maskload(x + i, kt), c), s, t);
                const vf v = vf_fma(u, vf_maskload(w + i, kt), vf_maskload(beta + i, kt));
                vf_maskstore(y + i, kt, clampv(v, clamp, lo, hi));
            }
        } else {
            size_t i = 0;
            for (; i + 2 * W <= nf; i += 2 * W) {
                const vf u0 = vf_fma(vf_sub(vf_load(x + i), c), s, t);
                const vf u1 = vf_fma(vf_sub(vf_load(x + i + W), c), s, t);
                vf_store(y + i, clampv(u0, clamp, lo, hi));
                vf_store(y + i + W, clampv(u1, clamp, lo, hi));
            }
            for (; i < nf; i += W) vf_store(y + i, clampv(vf_fma(vf_sub(vf_load(x + i), c), s, t), clamp, lo, hi));
            if (i < n) {
                const vf u = vf_fma(vf_sub(vf_maskload(x + i, kt), c), s, t);
                vf_maskstore(y + i, kt, clampv(u, clamp, lo, hi));
            }
        }
    }
}

void FN_NAME(cols_apply)(size_t rows, size_t cols, const float *x, size_t ldx, const float *cm,
                         const float *a, const float *b, const float *w, const float *beta,
                         const fn_act *act, float *y, size_t ldy) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const vf lo = vf_set1(act->lo), hi = vf_set1(act->hi);
    const size_t cf = cols - cols % W;
    const vmask kt = mask_for(cols - cf);
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        if (w) {
            const vf wr = vf_set1(w[r]), br = vf_set1(beta[r]);
            size_t j = 0;
            for (; j < cf; j += W) {
                const vf u = vf_fma(vf_sub(vf_load(x + j), vf_load(cm + j)), vf_load(a + j), vf_load(b + j));
                vf_store(y + j, clampv(vf_fma(u, wr, br), clamp, lo, hi));
            }
            if (j < cols) {
                const vf u = vf_fma(vf_sub(vf_maskload(x + j, kt), vf_maskload(cm + j, kt)), vf_maskload(a + j, kt),
                                    vf_maskload(b + j, kt));
                vf_maskstore(y + j, kt, clampv(vf_fma(u, wr, br), clamp, lo, hi));
            }
        } else {
            size_t j = 0;
            for (; j < cf; j += W) {
                const vf u = vf_fma(vf_sub(vf_load(x + j), vf_load(cm + j)), vf_load(a + j), vf_load(b + j));
                vf_store(y + j, clampv(u, clamp, lo, hi));
            }
            if (j < cols) {
                const vf u = vf_fma(vf_sub(vf_maskload(x + j, kt), vf_maskload(cm + j, kt)), vf_maskload(a + j, kt),
                                    vf_maskload(b + j, kt));
                vf_maskstore(y + j, kt, clampv(u, clamp, lo, hi));
            }
        }
    }
}

#undef AI
