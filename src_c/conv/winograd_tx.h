/* winograd_tx.h: the F(4x4, 3x3) input and output transforms written once over a vector type.
 * The includer defines WV (the vector type) and W_ADD, W_SUB, W_MUL, W_FMA(a, b, c) = a*b + c and
 * W_SET1; every function here is static inline always_inline, so each ISA file gets its own copy
 * compiled with its own flags (and the name checks of tests/test_isa.py hold).
 *
 *   B^T = [4  0 -5  0 1 0]      A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1 1 0]            [0 1 -1 2 -2 0]
 *         [0  4 -4 -1 1 0]            [0 1  1 4  4 0]
 *         [0 -2 -1  2 1 0]            [0 1 -1 8 -8 1]
 *         [0  2 -1 -2 1 0]
 *         [0  4  0 -5 0 1]      (points 0, 1, -1, 2, -2, inf; G is in winograd.c's packing) */
#ifndef FASTNORM_WINOGRAD_TX_H
#define FASTNORM_WINOGRAD_TX_H

/* o[k*so] = (B^T d)[k], d[i*s] for i < 6 */
static inline __attribute__((always_inline)) void wino_in_1d(const WV *d, size_t s, WV *o,
                                                            size_t so) {
    const WV c4 = W_SET1(4.0f), cm4 = W_SET1(-4.0f), cm5 = W_SET1(-5.0f), c2 = W_SET1(2.0f);
    const WV d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    const WV t0 = W_FMA(cm4, d2, d4); /* d4 - 4 d2 */
    const WV t1 = W_FMA(cm4, d1, d3); /* d3 - 4 d1 */
    const WV t2 = W_SUB(d4, d2);
    const WV t3 = W_MUL(c2, W_SUB(d3, d1));
    o[0] = W_FMA(c4, d0, W_FMA(cm5, d2, d4));
    o[so] = W_ADD(t0, t1);
    o[2 * so] = W_SUB(t0, t1);
    o[3 * so] = W_ADD(t2, t3);
    o[4 * so] = W_SUB(t2, t3);
    o[5 * so] = W_FMA(c4, d1, W_FMA(cm5, d3, d5));
}

/* v = B^T d B: d, v are 6x6, row-major */
static inline __attribute__((always_inline)) void wino_in_tile(const WV *d, WV *v) {
    WV t[36];
    for (int j = 0; j < 6; j++) wino_in_1d(d + j, 6, t + j, 6);   /* columns: B^T d */
    for (int i = 0; i < 6; i++) wino_in_1d(t + 6 * i, 1, v + 6 * i, 1); /* rows: (B^T d) B */
}

/* o[k*so] = (A^T m)[k], m[i*s] for i < 6 */
static inline __attribute__((always_inline)) void wino_out_1d(const WV *m, size_t s, WV *o,
                                                             size_t so) {
    const WV c2 = W_SET1(2.0f), c4 = W_SET1(4.0f), c8 = W_SET1(8.0f);
    const WV s1 = W_ADD(m[s], m[2 * s]), d1 = W_SUB(m[s], m[2 * s]);
    const WV s2 = W_ADD(m[3 * s], m[4 * s]), d2 = W_SUB(m[3 * s], m[4 * s]);
    o[0] = W_ADD(W_ADD(m[0], s1), s2);
    o[so] = W_FMA(c2, d2, d1);
    o[2 * so] = W_FMA(c4, s2, s1);
    o[3 * so] = W_ADD(W_FMA(c8, d2, d1), m[5 * s]);
}

/* y = A^T m A: m is 6x6, y is 4x4, row-major */
static inline __attribute__((always_inline)) void wino_out_tile(const WV *m, WV *y) {
    WV t[24];
    for (int j = 0; j < 6; j++) wino_out_1d(m + j, 6, t + j, 6);   /* columns: A^T m (4x6) */
    for (int i = 0; i < 4; i++) wino_out_1d(t + 6 * i, 1, y + 4 * i, 1); /* rows: (A^T m) A */
}

#endif
