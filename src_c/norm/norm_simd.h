/* norm_simd.h: the moments / normalise micro-kernels written once over the SIMD vocabulary (the
 * wide ISAs: they use VD, VW/2 doubles). The including norm_stats_<isa>.c includes
 * src_c/simd/vec_<isa>.h first; the kernels are fn_f32_norm_<op>__<isa>. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#define FN_NAME(op) FN_KNAME(fn_f32_norm_##op)

/* Per row: 8 double accumulators (two vectors of floats an iteration, each split into its low and
 * high half), added in a fixed order at the end. Rows are independent, so out-of-order execution
 * overlaps one row's reduction with the next row's loads (short LayerNorm rows). */
void FN_NAME(row_moments)(size_t rows, size_t n, const float *x, size_t ldx, const float *shift,
                          size_t lds, double *sums) {
    for (size_t r = 0; r < rows; r++, x += ldx) {
        const float ks = shift[r * lds];
        const VD k = vd_set((double)ks);
        VD a0 = vd_zero(), a1 = vd_zero(), a2 = vd_zero(), a3 = vd_zero();
        VD q0 = vd_zero(), q1 = vd_zero(), q2 = vd_zero(), q3 = vd_zero();
        size_t i = 0;
        for (; i + 2 * VW <= n; i += 2 * VW) {
            const V v0 = vload(x + i), v1 = vload(x + i + VW);
            const VD d0 = vd_sub(vd_cvt_lo(v0), k), d1 = vd_sub(vd_cvt_hi(v0), k);
            const VD d2 = vd_sub(vd_cvt_lo(v1), k), d3 = vd_sub(vd_cvt_hi(v1), k);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1), a2 = vd_add(a2, d2), a3 = vd_add(a3, d3);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1), q2 = vd_fma(d2, d2, q2), q3 = vd_fma(d3, d3, q3);
        }
        if (i + VW <= n) {
            const V v0 = vload(x + i);
            const VD d0 = vd_sub(vd_cvt_lo(v0), k), d1 = vd_sub(vd_cvt_hi(v0), k);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1);
            i += VW;
        }
        double t1[VW / 2], t2[VW / 2];
        vd_store(t1, vd_add(vd_add(a0, a1), vd_add(a2, a3)));
        vd_store(t2, vd_add(vd_add(q0, q1), vd_add(q2, q3)));
        double s1 = 0.0, s2 = 0.0;
        for (size_t l = 0; l < VW / 2; l++) s1 += t1[l], s2 += t2[l];
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
    if (cols > 2 * VW) {
        const size_t cf = cols - cols % VW;
        const VK kt = vmask_n(cols - cf);
        for (size_t j = 0; j < cols; j++) s1[j] = s2[j] = 0.0;
        double t1[VW], t2[VW];
        for (size_t r = 0; r < rows; r++, x += ldx) {
            size_t j = 0;
            for (; j < cf; j += VW) {
                const V v = vload(x + j), kf = vload(shift + j);
                const VD d0 = vd_sub(vd_cvt_lo(v), vd_cvt_lo(kf)), d1 = vd_sub(vd_cvt_hi(v), vd_cvt_hi(kf));
                vd_store(s1 + j, vd_add(vd_load(s1 + j), d0));
                vd_store(s1 + j + VW / 2, vd_add(vd_load(s1 + j + VW / 2), d1));
                vd_store(s2 + j, vd_fma(d0, d0, vd_load(s2 + j)));
                vd_store(s2 + j + VW / 2, vd_fma(d1, d1, vd_load(s2 + j + VW / 2)));
            }
            if (j < cols) { /* the tail's sums live in t1/t2 (zeroed on the first row) */
                const V v = vload_k(x + j, kt), kf = vload_k(shift + j, kt);
                const VD d0 = vd_sub(vd_cvt_lo(v), vd_cvt_lo(kf)), d1 = vd_sub(vd_cvt_hi(v), vd_cvt_hi(kf));
                const VD p0 = r ? vd_load(t1) : vd_zero(), p1 = r ? vd_load(t1 + VW / 2) : vd_zero();
                const VD r0 = r ? vd_load(t2) : vd_zero(), r1 = r ? vd_load(t2 + VW / 2) : vd_zero();
                vd_store(t1, vd_add(p0, d0)), vd_store(t1 + VW / 2, vd_add(p1, d1));
                vd_store(t2, vd_fma(d0, d0, r0)), vd_store(t2 + VW / 2, vd_fma(d1, d1, r1));
            }
        }
        if (rows)
            for (size_t l = 0; cf + l < cols; l++) s1[cf + l] = t1[l], s2[cf + l] = t2[l];
        return;
    }
    for (size_t j = 0; j < cols; j += 2 * VW) {
        const size_t m = cols - j < 2 * VW ? cols - j : 2 * VW;
        const VK k0 = vmask_n(m < VW ? m : VW), k1 = vmask_n(m > VW ? m - VW : 0);
        const V kf0 = vload_k(shift + j, k0), kf1 = vload_k(shift + j + VW, k1);
        const VD c0 = vd_cvt_lo(kf0), c1 = vd_cvt_hi(kf0), c2 = vd_cvt_lo(kf1), c3 = vd_cvt_hi(kf1);
        VD a0 = vd_zero(), a1 = vd_zero(), a2 = vd_zero(), a3 = vd_zero();
        VD q0 = vd_zero(), q1 = vd_zero(), q2 = vd_zero(), q3 = vd_zero();
        const float *xr = x + j;
        for (size_t r = 0; r < rows; r++, xr += ldx) {
            const V v0 = vload_k(xr, k0), v1 = vload_k(xr + VW, k1);
            const VD d0 = vd_sub(vd_cvt_lo(v0), c0), d1 = vd_sub(vd_cvt_hi(v0), c1);
            const VD d2 = vd_sub(vd_cvt_lo(v1), c2), d3 = vd_sub(vd_cvt_hi(v1), c3);
            a0 = vd_add(a0, d0), a1 = vd_add(a1, d1), a2 = vd_add(a2, d2), a3 = vd_add(a3, d3);
            q0 = vd_fma(d0, d0, q0), q1 = vd_fma(d1, d1, q1), q2 = vd_fma(d2, d2, q2), q3 = vd_fma(d3, d3, q3);
        }
        double t1[2 * VW], t2[2 * VW];
        vd_store(t1, a0), vd_store(t1 + VW / 2, a1), vd_store(t1 + VW, a2), vd_store(t1 + 3 * VW / 2, a3);
        vd_store(t2, q0), vd_store(t2 + VW / 2, q1), vd_store(t2 + VW, q2), vd_store(t2 + 3 * VW / 2, q3);
        for (size_t l = 0; l < m; l++) s1[j + l] = t1[l], s2[j + l] = t2[l];
    }
}

void FN_NAME(rows_apply)(size_t rows, size_t n, const float *x, const float *cm, const float *a,
                         const float *b, const float *w, const float *beta, const fn_act *act,
                         float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    const size_t nf = n - n % VW;
    const VK kt = vmask_n(n - nf);
    /* The block after this one is, in every driver, the next task's statistics input (the next
     * (sample, group) slab, channel or row block): fetching it while this memory-light pass runs
     * lets the next statistics pass read from cache. A prefetch never faults past an array's end. */
    const float *pf = x + rows * n;
    for (size_t r = 0; r < rows; r++, x += n, y += n, pf += n) {
        const V c = vset(cm[r]), s = vset(a[r]), t = vset(b[r]);
        if (w) {
            size_t i = 0;
            for (; i < nf; i += VW) {
                const V u = vfma(vsub(vload(x + i), c), s, t);
                vstore(y + i, vclamp_if(vfma(u, vload(w + i), vload(beta + i)), clamp, lo, hi));
            }
            if (i < n) {
                const V u = vfma(vsub(vload_k(x + i, kt), c), s, t);
                const V v = vfma(u, vload_k(w + i, kt), vload_k(beta + i, kt));
                vstore_k(y + i, kt, vclamp_if(v, clamp, lo, hi));
            }
        } else {
            size_t i = 0;
            for (; i + 2 * VW <= nf; i += 2 * VW) {
                fn_prefetch(pf + i);
                fn_prefetch(pf + i + VW);
                const V u0 = vfma(vsub(vload(x + i), c), s, t);
                const V u1 = vfma(vsub(vload(x + i + VW), c), s, t);
                vstore(y + i, vclamp_if(u0, clamp, lo, hi));
                vstore(y + i + VW, vclamp_if(u1, clamp, lo, hi));
            }
            for (; i < nf; i += VW) vstore(y + i, vclamp_if(vfma(vsub(vload(x + i), c), s, t), clamp, lo, hi));
            if (i < n) {
                const V u = vfma(vsub(vload_k(x + i, kt), c), s, t);
                vstore_k(y + i, kt, vclamp_if(u, clamp, lo, hi));
            }
        }
    }
}

void FN_NAME(cols_apply)(size_t rows, size_t cols, const float *x, size_t ldx, const float *cm,
                         const float *a, const float *b, const float *w, const float *beta,
                         const fn_act *act, float *y, size_t ldy) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    const size_t cf = cols - cols % VW;
    const VK kt = vmask_n(cols - cf);
    /* Strided rows (NCHW channels, a tile of pixels): the next tile is the next cols floats of each
     * row, the next task's statistics input; fetch it while this pass streams (as rows_apply). */
    const int pre = ldx > cols;
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        if (w) {
            const V wr = vset(w[r]), br = vset(beta[r]);
            size_t j = 0;
            for (; j < cf; j += VW) {
                if (pre) fn_prefetch(x + cols + j);
                const V u = vfma(vsub(vload(x + j), vload(cm + j)), vload(a + j), vload(b + j));
                vstore(y + j, vclamp_if(vfma(u, wr, br), clamp, lo, hi));
            }
            if (j < cols) {
                const V u = vfma(vsub(vload_k(x + j, kt), vload_k(cm + j, kt)), vload_k(a + j, kt),
                                    vload_k(b + j, kt));
                vstore_k(y + j, kt, vclamp_if(vfma(u, wr, br), clamp, lo, hi));
            }
        } else {
            size_t j = 0;
            for (; j < cf; j += VW) {
                if (pre) fn_prefetch(x + cols + j);
                const V u = vfma(vsub(vload(x + j), vload(cm + j)), vload(a + j), vload(b + j));
                vstore(y + j, vclamp_if(u, clamp, lo, hi));
            }
            if (j < cols) {
                const V u = vfma(vsub(vload_k(x + j, kt), vload_k(cm + j, kt)), vload_k(a + j, kt),
                                    vload_k(b + j, kt));
                vstore_k(y + j, kt, vclamp_if(u, clamp, lo, hi));
            }
        }
    }
}

