/* winograd1d_simd.h: the 1-D Winograd F(6,3) / F(4,5) / F(3,7) input and output transform kernels
 * (1xk and kx1 convs, fn_winograd1d.h) written once over the SIMD vocabulary:
 * fn_f32_wino1d_input__<isa> and fn_f32_wino1d_output__<isa>. The includer includes
 * src_c/simd/vec_<isa>.h first (winograd1d.c: vec_scalar.h; winograd_<isa>.c the others).
 *
 * Points 0, 1, -1, 2, -2, 1/2, -1/2, inf (8 = m + k - 1 for F(6,3), F(4,5), F(2,7)): B^T depends only on
 * the points, so one input transform serves every k; A^T (m x 8) and G (8 x k, winograd1d.c) depend on k
 * (k = 7 runs as F(3,7) on 9 points, below, at 3 multiplies per output instead of 4). Derived
 * and checked exactly against direct correlation by tools/winograd1d.py (Toom-Cook, as
 * tools/winograd_points.py; row 0 of B^T and G negated so both start with +1):
 *
 *   B^T = [1  0   -21/4  0     21/4  0    -1  0]    A^T row i < m (m = 9 - k):
 *         [0  1    1    -17/4 -17/4  1     1  0]      [0^i  1  (-1)^i  2^i  (-2)^i  2^-i  (-2)^-i  i==m-1]
 *         [0 -1    1     17/4 -17/4 -1     1  0]
 *         [0  1/2  1/4  -5/2  -5/4   2     1  0]
 *         [0 -1/2  1/4   5/2  -5/4  -2     1  0]
 *         [0  2    4    -5/2  -5     1/2   1  0]
 *         [0 -2    4     5/2  -5    -1/2   1  0]
 *         [0 -1    0     21/4  0    -21/4  0  1]
 *
 * Rows are not rescaled to integers: each pair of rows (1-2, 3-4, 5-6) is an even part and an odd
 * part of three terms each, 2-3 FMAs whatever the scale (a coefficient of 1 saves the multiply, and
 * every scaling of a pair leaves one of 1 in one part only), so scaling saves no instruction. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

/* o[j] = (B^T d)[j], d[i] = px[i][ch] */
FN_INLINE void wino1d_in_vec(const float *const *px, size_t ch, float *v, size_t ldv, int MASKED, VK k) {
    V d[8];
FN_UNROLL(8)
    for (int i = 0; i < 8; i++) d[i] = vload_m(px[i] + ch, MASKED, k);
    const V c21_4 = vset(5.25f), cm17_4 = vset(-4.25f), cm5_4 = vset(-1.25f), cm5_2 = vset(-2.5f);
    const V c2 = vset(2.0f), c4 = vset(4.0f), cm5 = vset(-5.0f), h = vset(0.5f), q = vset(0.25f);
    const V o0 = vfma(c21_4, vsub(d[4], d[2]), vsub(d[0], d[6]));
    const V o7 = vfma(c21_4, vsub(d[3], d[5]), vsub(d[7], d[1]));
    const V e1 = vfma(cm17_4, d[4], vadd(d[2], d[6])), f1 = vfma(cm17_4, d[3], vadd(d[1], d[5]));
    const V e3 = vfma(q, d[2], vfma(cm5_4, d[4], d[6])), f3 = vfma(h, d[1], vfma(cm5_2, d[3], vmul(c2, d[5])));
    const V e5 = vfma(c4, d[2], vfma(cm5, d[4], d[6])), f5 = vfma(c2, d[1], vfma(cm5_2, d[3], vmul(h, d[5])));
    vstore_m(v + ch, o0, MASKED, k);
    vstore_m(v + ldv + ch, vadd(e1, f1), MASKED, k);
    vstore_m(v + 2 * ldv + ch, vsub(e1, f1), MASKED, k);
    vstore_m(v + 3 * ldv + ch, vadd(e3, f3), MASKED, k);
    vstore_m(v + 4 * ldv + ch, vsub(e3, f3), MASKED, k);
    vstore_m(v + 5 * ldv + ch, vadd(e5, f5), MASKED, k);
    vstore_m(v + 6 * ldv + ch, vsub(e5, f5), MASKED, k);
    vstore_m(v + 7 * ldv + ch, o7, MASKED, k);
}

/* F(3,7) on 9 points: 0, 1, -1, 2, -2, 1/2, -1/2, -1/4, inf (tools/winograd1d.py, matrices as
 * tools/winograd_points.py makes them; every entry a dyadic, exact in float). 62 of the 81 entries are
 * not zero; the asymmetric point leaves no even/odd pairs, so the transform is the table, unrolled
 * (the zeros fold away): ~60 FMAs per vector, ~4% of the tile's GEMM work at 192 channels. */
static const float wino1d9_bt[9][9] = {
    {-0.25f, -1.0f, 1.3125f, 5.25f, -1.3125f, -5.25f, 0.25f, 1.0f, 0.0f},
    {0.0f, 0.25f, 1.25f, -0.0625f, -5.3125f, -4.0f, 1.25f, 1.0f, 0.0f},
    {0.0f, -0.25f, -0.75f, 2.0625f, 3.1875f, -4.5f, -0.75f, 1.0f, 0.0f},
    {0.0f, 0.125f, 0.5625f, -0.375f, -2.8125f, -0.75f, 2.25f, 1.0f, 0.0f},
    {0.0f, -0.125f, -0.4375f, 0.875f, 2.1875f, -1.75f, -1.75f, 1.0f, 0.0f},
    {0.0f, 0.5f, 3.0f, 3.375f, -3.75f, -4.875f, 0.75f, 1.0f, 0.0f},
    {0.0f, -0.5f, -1.0f, 4.625f, 1.25f, -5.125f, -0.25f, 1.0f, 0.0f},
    {0.0f, -1.0f, 0.0f, 5.25f, 0.0f, -5.25f, 0.0f, 1.0f, 0.0f},
    {0.0f, -0.25f, -1.0f, 1.3125f, 5.25f, -1.3125f, -5.25f, 0.25f, 1.0f},
};

FN_INLINE void wino1d9_in_vec(const float *const *px, size_t ch, float *v, size_t ldv, int MASKED, VK k) {
    V d[9];
FN_UNROLL(9)
    for (int i = 0; i < 9; i++) d[i] = vload_m(px[i] + ch, MASKED, k);
FN_UNROLL(9)
    for (int i = 0; i < 9; i++) {
        V acc = vset(0.0f);
FN_UNROLL(9)
        for (int j = 0; j < 9; j++)
            if (wino1d9_bt[i][j] != 0.0f) acc = vfma(vset(wino1d9_bt[i][j]), d[j], acc);
        vstore_m(v + (size_t)i * ldv + ch, acc, MASKED, k);
    }
}

/* fn_winograd1d_kernels.pack_rows: plain C, vectorised by the compiler down the nr doubles of a row at
 * this file's width (-ffp-contract is off in C11 mode: no table fuses a multiply-add, so all give
 * the same bits). Inception-v3's 26 1xk / kx1 packings, AVX2: ~24 ms portable. */
void FN_KNAME(fn_wino1d_pack_rows)(size_t np, size_t kt, const double *g, const double *gt, size_t nr,
                                   float *u, size_t ldu) {
    double acc[FN_WINO1D_PACK_NR];
    for (size_t p = 0; p < np; p++, u += ldu) {
        for (size_t j = 0; j < nr; j++) acc[j] = 0.0;
        for (size_t i = 0; i < kt; i++) {
            const double gi = g[p * 7 + i];
            const double *row = gt + i * FN_WINO1D_PACK_NR;
            for (size_t j = 0; j < nr; j++) acc[j] += gi * row[j];
        }
        for (size_t j = 0; j < nr; j++) u[j] = (float)acc[j];
    }
}

/* px: np = 8 (k = 3, 5) or 9 (k = 7) pointers to a tile's input pixels along the axis (c channels
 * each; padding points at a zero row); v: (np, ldv), v[p*ldv + ch] = (B^T d)[p] */
void FN_KNAME(fn_f32_wino1d_input)(int np, size_t c, const float *const *px, float *v, size_t ldv) {
    size_t ch = 0;
    if (np == 9) {
        for (; ch + VW <= c; ch += VW) wino1d9_in_vec(px, ch, v, ldv, 0, vmask_n(VW));
        if (ch < c) wino1d9_in_vec(px, ch, v, ldv, 1, vmask_n(c - ch));
        return;
    }
    for (; ch + VW <= c; ch += VW) wino1d_in_vec(px, ch, v, ldv, 0, vmask_n(VW));
    if (ch < c) wino1d_in_vec(px, ch, v, ldv, 1, vmask_n(c - ch));
}

/* y[i] = (A^T m)[i] for i < M (M = 6, 4 or 2 on 8 points; 3 on 9), m[p] = m[p*ldm + ch] */
FN_INLINE void wino1d_out_vec(const int M, const float *m, size_t ldm, size_t ch, V *y, int MASKED, VK k) {
    V r[9];
    const int np = M == 3 ? 9 : 8;
FN_UNROLL(9)
    for (int p = 0; p < np; p++) r[p] = vload_m(m + (size_t)p * ldm + ch, MASKED, k);
    if (M == 3) { /* A^T rows: a^0, a^1, a^2 at the 8 finite points, + r[8] in the last */
        const V s1 = vadd(r[1], r[2]), d1 = vsub(r[1], r[2]), s2 = vadd(r[3], r[4]), d2 = vsub(r[3], r[4]);
        const V s3 = vadd(r[5], r[6]), d3 = vsub(r[5], r[6]);
        y[0] = vadd(vadd(vadd(r[0], s1), vadd(s2, s3)), r[7]);
        y[1] = vfma(vset(-0.25f), r[7], vfma(vset(2.0f), d2, vfma(vset(0.5f), d3, d1)));
        y[2] = vadd(vfma(vset(0.0625f), r[7], vfma(vset(4.0f), s2, vfma(vset(0.25f), s3, s1))), r[8]);
        return;
    }
    const V s1 = vadd(r[1], r[2]), d1 = vsub(r[1], r[2]), s2 = vadd(r[3], r[4]), d2 = vsub(r[3], r[4]);
    const V s3 = vadd(r[5], r[6]), d3 = vsub(r[5], r[6]);
    y[0] = vadd(vadd(r[0], s1), vadd(s2, s3));
    y[1] = vfma(vset(2.0f), d2, vfma(vset(0.5f), d3, d1));
    if (M == 2) y[1] = vadd(y[1], r[7]);
    if (M >= 4) {
        y[2] = vfma(vset(4.0f), s2, vfma(vset(0.25f), s3, s1));
        y[3] = vfma(vset(8.0f), d2, vfma(vset(0.125f), d3, d1));
        if (M == 4) y[3] = vadd(y[3], r[7]);
    }
    if (M == 6) {
        y[4] = vfma(vset(16.0f), s2, vfma(vset(0.0625f), s3, s1));
        y[5] = vadd(vfma(vset(32.0f), d2, vfma(vset(0.03125f), d3, d1)), r[7]);
    }
}

/* store_out (y + bias (+ residual) -> clamp -> out): winograd_simd.h, which every includer of this
 * file includes first */
FN_INLINE void wino1d_out(const int M, size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                          const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    for (size_t ch = 0; ch < c; ch += VW) {
        const int masked = ch + VW > c;
        const VK k = vmask_upto(c - ch);
        V o[6];
        if (masked) wino1d_out_vec(M, m, ldm, ch, o, 1, k);
        else wino1d_out_vec(M, m, ldm, ch, o, 0, k);
        const V b = vload_m(bias + ch, masked, k);
        for (int q = 0; q < M; q++)
            if (out[q]) {
                if (masked) store_out(o[q], b, out[q] + ch, res ? res[q] + ch : NULL, 1, k, clamp, lo, hi);
                else store_out(o[q], b, out[q] + ch, res ? res[q] + ch : NULL, 0, k, clamp, lo, hi);
            }
    }
}

/* m: (np, ldm) products of one tile; out / res: mo = 6, 4, 2 (np = 8) or 3 (np = 9) pointers (NULL:
 * the output pixel is outside) */
void FN_KNAME(fn_f32_wino1d_output)(int mo, size_t c, const float *m, size_t ldm, const float *bias,
                                    float *const *out, const float *const *res, const fn_act *act) {
    if (mo == 6) wino1d_out(6, c, m, ldm, bias, out, res, act);
    else if (mo == 4) wino1d_out(4, c, m, ldm, bias, out, res, act);
    else if (mo == 3) wino1d_out(3, c, m, ldm, bias, out, res, act);
    else wino1d_out(2, c, m, ldm, bias, out, res, act);
}
