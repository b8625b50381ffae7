/* winograd_simd.h: the F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 3x3) input and output transform kernels
 * written once over the SIMD vocabulary: fn_f32_wino_input__<isa>, fn_f32_wino_output__<isa> (4x4
 * tiles), fn_f32_wino_output2__<isa> (2x2 tiles of the 6x6 transform) and fn_f32_wino_input4__<isa>,
 * fn_f32_wino_output4__<isa> (F(2x2, 3x3)'s 4x4 transform). The includer includes
 * src_c/simd/vec_<isa>.h first (winograd.c: vec_scalar.h; the GEMM kernels stay per ISA).
 *
 * Interpolation points 0, 1/2, -1/2, 2, -2, inf: 2-3x less float32 error than Lavin & Gray's
 * 0, +-1, +-2 on ResNet layers (tools/winograd_points.py; Barabasz et al. 2020 found the same), at the
 * same cost, the set being symmetric. Rows of B^T are scaled by powers of two (exact) so its entries
 * are small integers; G (winograd.c) carries the inverse scales.
 *
 *   B^T = [1  0 -17/4  0    1 0]      A^T = [1 1     1     1  1 0]
 *         [0 -4   -8   1    2 0]            [0 1/2  -1/2   2 -2 0]
 *         [0  4   -8  -1    2 0]            [0 1/4   1/4   4  4 0]
 *         [0 -2   -1   8    4 0]            [0 1/8  -1/8   8 -8 1]
 *         [0  2   -1  -8    4 0]
 *         [0  1    0 -17/4  0 1]
 *
 * F(2x2, 5x5) (alpha = 2 + 5 - 1 = 6, the same points) shares B^T, hence the input transform and the
 * 36 GEMMs; only G (winograd.c) and the output transform differ: A^T for m = 2 is the first and last
 * rows' polynomial pair  [1 1 1 1 1 0] / [0 1/2 -1/2 2 -2 1]  (fn_f32_wino_output2__<isa>). */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif


/* o[k*so] = (B^T d)[k], d[i*s] for i < 6 */
FN_INLINE void wino_in_1d(const V *d, size_t s, V *o, size_t so) {
    const V c2 = vset(2.0f), c4 = vset(4.0f), cm4 = vset(-4.0f), cm17_4 = vset(-4.25f);
    const V d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    const V t0 = vfma(cm4, d2, d4); /* d4 - 4 d2 */
    const V t1 = vfma(cm4, d1, d3); /* d3 - 4 d1 */
    const V t2 = vfms(c4, d4, d2);  /* 4 d4 - d2 */
    const V t3 = vfms(c4, d3, d1);  /* 4 d3 - d1 */
    o[0] = vfma(cm17_4, d2, vadd(d0, d4));
    o[so] = vfma(c2, t0, t1);
    o[2 * so] = vfms(c2, t0, t1);
    o[3 * so] = vfma(c2, t3, t2);
    o[4 * so] = vfnma(c2, t3, t2);
    o[5 * so] = vfma(cm17_4, d3, vadd(d1, d5));
}

/* F(2x2, 3x3): alpha 4 at the points 0, 1, -1, inf (Lavin & Gray's), 16 products per 2x2 tile:
 *   B^T = [1  0 -1  0]      A^T = [1 1  1  0]      (G: winograd.c)
 *         [0  1  1  0]            [0 1 -1 -1]
 *         [0 -1  1  0]
 *         [0  1  0 -1]
 * Its transforms only add, and no product is scaled by more than 1 on the way out: a 3x3 conv with
 * few input channels has its direct conv's float32 error (F(4x4, 3x3) 3-4x that; fn_winograd.h). */
FN_INLINE void wino4_in_1d(const V *d, size_t s, V *o, size_t so) {
    o[0] = vsub(d[0], d[2 * s]);
    o[so] = vadd(d[s], d[2 * s]);
    o[2 * so] = vsub(d[2 * s], d[s]);
    o[3 * so] = vsub(d[s], d[3 * s]);
}

/* One channel vector of one tile: v[(i*A + j)*ldv + ch] = (B^T d B)[i][j], d[i][j] = px[i*A + j][ch],
 * A = 6 or 4 (F(2x2, 3x3)), a constant after inlining. Rows first (each row's A loads feed its
 * transform at once), then columns (each column's A results are stored at once): A*A intermediates
 * live between the passes, not 3*A*A. */
FN_INLINE void wino_in_vec(const int A, const float *const *px, size_t ch, float *v, size_t ldv, int MASKED,
                           VK k) {
    V t[36]; /* t = d B */
FN_UNROLL(6)
    for (int i = 0; i < A; i++) {
        V d[6];
FN_UNROLL(6)
        for (int j = 0; j < A; j++) d[j] = vload_m(px[i * A + j] + ch, MASKED, k);
        if (A == 4) wino4_in_1d(d, 1, t + 4 * i, 1);
        else wino_in_1d(d, 1, t + 6 * i, 1);
    }
FN_UNROLL(6)
    for (int j = 0; j < A; j++) {
        V o[6];
        if (A == 4) wino4_in_1d(t + j, 4, o, 1);
        else wino_in_1d(t + j, 6, o, 1);
FN_UNROLL(6)
        for (int i = 0; i < A; i++) vstore_m(v + (size_t)(i * A + j) * ldv + ch, o[i], MASKED, k);
    }
}

/* o[k*so] = (A^T m)[k], m[i*s] for i < 6 */
FN_INLINE void wino_out_1d(const V *m, size_t s, V *o, size_t so) {
    const V c2 = vset(2.0f), c4 = vset(4.0f), c8 = vset(8.0f);
    const V h = vset(0.5f), q = vset(0.25f), e = vset(0.125f);
    const V s1 = vadd(m[s], m[2 * s]), d1 = vsub(m[s], m[2 * s]);
    const V s2 = vadd(m[3 * s], m[4 * s]), d2 = vsub(m[3 * s], m[4 * s]);
    o[0] = vadd(vadd(m[0], s1), s2);
    o[so] = vfma(c2, d2, vmul(h, d1));
    o[2 * so] = vfma(c4, s2, vmul(q, s1));
    o[3 * so] = vadd(vfma(c8, d2, vmul(e, d1)), m[5 * s]);
}

/* o[k*so] = (A^T m)[k] for m = 2: A^T = [1 1 1 1 1 0] / [0 1/2 -1/2 2 -2 1], m[i*s] for i < 6 */
FN_INLINE void wino_out2_1d(const V *m, size_t s, V *o, size_t so) {
    const V c2 = vset(2.0f), h = vset(0.5f);
    const V s1 = vadd(m[s], m[2 * s]), d1 = vsub(m[s], m[2 * s]);
    const V s2 = vadd(m[3 * s], m[4 * s]), d2 = vsub(m[3 * s], m[4 * s]);
    o[0] = vadd(vadd(m[0], s1), s2);
    o[so] = vadd(vfma(c2, d2, vmul(h, d1)), m[5 * s]);
}

FN_INLINE void wino4_out_1d(const V *m, size_t s, V *o, size_t so) {
    o[0] = vadd(vadd(m[0], m[s]), m[2 * s]);
    o[so] = vsub(vsub(m[s], m[2 * s]), m[3 * s]);
}

/* o[k*so] = (A^T m)[k], k < TM, m[i*s] for i < A: the 1-D output transform of (A, TM) */
FN_INLINE void wino_out_1d_of(const int A, const int TM, const V *m, size_t s, V *o, size_t so) {
    if (A == 4) wino4_out_1d(m, s, o, so);
    else if (TM == 4) wino_out_1d(m, s, o, so);
    else wino_out2_1d(m, s, o, so);
}

/* One channel vector of one TM x TM tile (A = 6 with TM = 4 or 2, or A = 4 with TM = 2; constants
 * after inlining): y[i*TM + j] = (A^T m A)[i][j], m[i][j] = m[(i*A + j)*ldm + ch]. */
FN_INLINE void wino_out_vec(const int A, const int TM, const float *m, size_t ldm, size_t ch, V *y, int MASKED,
                            VK k) {
    V t[24]; /* t = m A: A x TM */
FN_UNROLL(6)
    for (int i = 0; i < A; i++) {
        V r[6];
FN_UNROLL(6)
        for (int j = 0; j < A; j++) r[j] = vload_m(m + (size_t)(i * A + j) * ldm + ch, MASKED, k);
        wino_out_1d_of(A, TM, r, 1, t + TM * i, 1);
    }
FN_UNROLL(4)
    for (int j = 0; j < TM; j++) wino_out_1d_of(A, TM, t + j, TM, y + j, TM);
}

/* px: 16 pointers to a 4x4 input tile's pixels; v: (16, ldv) */
void FN_KNAME(fn_f32_wino_input4)(size_t c, const float *const *px, float *v, size_t ldv) {
    size_t ch = 0;
    for (; ch + VW <= c; ch += VW) wino_in_vec(4, px, ch, v, ldv, 0, vmask_n(VW));
    if (ch < c) wino_in_vec(4, px, ch, v, ldv, 1, vmask_n(c - ch));
}

/* px: 36 pointers to a 6x6 input tile's pixels (c channels each); v: (36, ldv), channels in a row */
void FN_KNAME(fn_f32_wino_input)(size_t c, const float *const *px, float *v, size_t ldv) {
    size_t ch = 0;
    for (; ch + VW <= c; ch += VW) wino_in_vec(6, px, ch, v, ldv, 0, vmask_n(VW));
    if (ch < c) wino_in_vec(6, px, ch, v, ldv, 1, vmask_n(c - ch));
}

/* y (+ bias, + residual) -> clamp -> out; lanes outside k (MASKED) neither read nor written */
FN_INLINE void store_out(V y, V b, float *out, const float *res, int MASKED, VK k, int clamp, V lo, V hi) {
    y = vadd(y, b);
    if (res) y = vadd(y, vload_m(res, MASKED, k));
    vstore_m(out, vclamp_if(y, clamp, lo, hi), MASKED, k); /* NaN in y stays NaN */
}

/* m: (A*A, ldm) products of one tile; out / res: TM x TM pointers (NULL: the output pixel is
 * outside); A = 6 with TM = 4 (F(4x4, 3x3)) or 2 (F(2x2, 5x5)), or A = 4 with TM = 2 (F(2x2, 3x3)),
 * constants after inlining */
FN_INLINE void wino_output_tile(const int A, const int TM, size_t c, const float *m, size_t ldm, const float *bias,
                                float *const *out, const float *const *res, const fn_act *act) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi);
    for (size_t ch = 0; ch < c; ch += VW) {
        const int masked = ch + VW > c;
        const VK k = vmask_upto(c - ch);
        V o[16];
        if (masked) wino_out_vec(A, TM, m, ldm, ch, o, 1, k);
        else wino_out_vec(A, TM, m, ldm, ch, o, 0, k);
        const V b = vload_m(bias + ch, masked, k);
        for (int q = 0; q < TM * TM; q++)
            if (out[q]) {
                if (masked) store_out(o[q], b, out[q] + ch, res ? res[q] + ch : NULL, 1, k, clamp, lo, hi);
                else store_out(o[q], b, out[q] + ch, res ? res[q] + ch : NULL, 0, k, clamp, lo, hi);
            }
    }
}

void FN_KNAME(fn_f32_wino_output)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                                  const float *const *res, const fn_act *act) {
    wino_output_tile(6, 4, c, m, ldm, bias, out, res, act);
}

void FN_KNAME(fn_f32_wino_output2)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                                   const float *const *res, const fn_act *act) {
    wino_output_tile(6, 2, c, m, ldm, bias, out, res, act);
}

/* F(2x2, 3x3): m (16, ldm), out / res 2x2 */
void FN_KNAME(fn_f32_wino_output4)(size_t c, const float *m, size_t ldm, const float *bias, float *const *out,
                                   const float *const *res, const fn_act *act) {
    wino_output_tile(4, 2, c, m, ldm, bias, out, res, act);
}

#include "winograd_pack.h" /* the weight transform, at this ISA's width */
