/* winograd_tx.h: the F(4x4, 3x3) input and output transforms written once over a vector type.
 * The includer defines WV (the vector type), WMASK (its lane mask type), W_ADD, W_SUB, W_MUL,
 * W_FMA(a, b, c) = a*b + c, W_FMS(a, b, c) = a*b - c, W_FNMA(a, b, c) = c - a*b, W_SET1,
 * W_LOAD(p, k) and W_STORE(p, v, k) (lanes outside k neither read nor written); every function here
 * is static inline always_inline, so each ISA file gets its own copy compiled with its own flags
 * (and the name checks of tests/test_isa.py hold).
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
 *         [0  1    0 -17/4  0 1] */
#ifndef FASTNORM_WINOGRAD_TX_H
#define FASTNORM_WINOGRAD_TX_H

/* o[k*so] = (B^T d)[k], d[i*s] for i < 6 */
static inline __attribute__((always_inline)) void wino_in_1d(const WV *d, size_t s, WV *o,
                                                            size_t so) {
    const WV c2 = W_SET1(2.0f), c4 = W_SET1(4.0f), cm4 = W_SET1(-4.0f), cm17_4 = W_SET1(-4.25f);
    const WV d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    const WV t0 = W_FMA(cm4, d2, d4); /* d4 - 4 d2 */
    const WV t1 = W_FMA(cm4, d1, d3); /* d3 - 4 d1 */
    const WV t2 = W_FMS(c4, d4, d2);  /* 4 d4 - d2 */
    const WV t3 = W_FMS(c4, d3, d1);  /* 4 d3 - d1 */
    o[0] = W_FMA(cm17_4, d2, W_ADD(d0, d4));
    o[so] = W_FMA(c2, t0, t1);
    o[2 * so] = W_FMS(c2, t0, t1);
    o[3 * so] = W_FMA(c2, t3, t2);
    o[4 * so] = W_FNMA(c2, t3, t2);
    o[5 * so] = W_FMA(cm17_4, d3, W_ADD(d1, d5));
}

/* One channel vector of one tile: v[(i*6 + j)*ldv + ch] = (B^T d B)[i][j], d[i][j] = px[i*6 + j][ch].
 * Rows first (each row's 6 loads feed its transform at once), then columns (each column's 6
 * results are stored at once): 36 intermediates live between the passes, not 108. */
static inline __attribute__((always_inline)) void wino_in_vec(const float *const *px, size_t ch,
                                                             float *v, size_t ldv, WMASK k) {
    WV t[36]; /* t = d B */
    (void)k;
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        WV d[6];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) d[j] = W_LOAD(px[i * 6 + j] + ch, k);
        wino_in_1d(d, 1, t + 6 * i, 1);
    }
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
        WV o[6];
        wino_in_1d(t + j, 6, o, 1);
#pragma GCC unroll 6
        for (int i = 0; i < 6; i++) W_STORE(v + (size_t)(i * 6 + j) * ldv + ch, o[i], k);
    }
}

/* o[k*so] = (A^T m)[k], m[i*s] for i < 6 */
static inline __attribute__((always_inline)) void wino_out_1d(const WV *m, size_t s, WV *o,
                                                             size_t so) {
    const WV c2 = W_SET1(2.0f), c4 = W_SET1(4.0f), c8 = W_SET1(8.0f);
    const WV h = W_SET1(0.5f), q = W_SET1(0.25f), e = W_SET1(0.125f);
    const WV s1 = W_ADD(m[s], m[2 * s]), d1 = W_SUB(m[s], m[2 * s]);
    const WV s2 = W_ADD(m[3 * s], m[4 * s]), d2 = W_SUB(m[3 * s], m[4 * s]);
    o[0] = W_ADD(W_ADD(m[0], s1), s2);
    o[so] = W_FMA(c2, d2, W_MUL(h, d1));
    o[2 * so] = W_FMA(c4, s2, W_MUL(q, s1));
    o[3 * so] = W_ADD(W_FMA(c8, d2, W_MUL(e, d1)), m[5 * s]);
}

/* One channel vector of one tile: y[i*4 + j] = (A^T m A)[i][j], m[i][j] = m[(i*6 + j)*ldm + ch]. */
static inline __attribute__((always_inline)) void wino_out_vec(const float *m, size_t ldm,
                                                              size_t ch, WV *y, WMASK k) {
    WV t[24]; /* t = m A: 6 x 4 */
    (void)k;
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
        WV r[6];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) r[j] = W_LOAD(m + (size_t)(i * 6 + j) * ldm + ch, k);
        wino_out_1d(r, 1, t + 4 * i, 1);
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) wino_out_1d(t + j, 4, y + j, 4);
}

#endif
