/* winograd_pack.h: the Winograd weight transform U = G g G^T (in double), fn_wino_pack_block__<isa>
 * (the table's pack_block), included by winograd_simd.h, so that each ISA's file compiles it at its
 * own vector width: the transforms run down NR-long rows of doubles (2 a register on the baseline
 * build, 4 on AVX2, 8 on AVX-512; 128 -> 32 channels: 0.051 / 0.033 / 0.031 ms). GCC in C11 mode leaves
 * -ffp-contract off, so no build fuses a multiply-add: each computes the same doubles, and the packed
 * weights depend only on the table's panel width NR. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

/* G (6 x k) of the weight transform, applied in double at pack time. Toom-Cook at the points
 * p = 0, 1/2, -1/2, 2, -2, inf: row i is s_i [1, p_i, p_i^2, ..] with s_i = 1 / prod_{j != i}(p_i - p_j)
 * times the power of two that scales B^T's rows to integers (winograd_simd.h): s = 1, -4/15, -4/15,
 * 1/120, 1/120; the inf row is [0 .. 0 1]. The same s_i serve every kernel size, as B^T depends only
 * on the points (tools/winograd_f2x5.py derives G5 for A^T at m = 2 and checks
 * A^T [(G g G^T) . (B^T d B)] A against direct correlation in exact rationals):
 *   G3 = [[1, 0, 0], [-4/15, -2/15, -1/15], [-4/15, 2/15, -1/15], [1/120, 1/60, 1/30],
 *         [1/120, -1/60, 1/30], [0, 0, 1]]   (wino_g's even / odd form)
 *   G5 = the table below. */
static const double G5[6][5] = {
    {1, 0, 0, 0, 0},
    {-4.0 / 15, -2.0 / 15, -1.0 / 15, -1.0 / 30, -1.0 / 60},
    {-4.0 / 15, 2.0 / 15, -1.0 / 15, 1.0 / 30, -1.0 / 60},
    {1.0 / 120, 1.0 / 60, 1.0 / 30, 1.0 / 15, 2.0 / 15},
    {1.0 / 120, -1.0 / 60, 1.0 / 30, -1.0 / 15, 2.0 / 15},
    {0, 0, 0, 0, 1},
};

/* out = G in, R = 3 or 5 taps (a constant after inlining: the table's entries fold in). R = 3 keeps
 * the even / odd form the 3x3 packing always had (rows 1-2 and 3-4 share their even part and differ
 * in the sign of the odd one): its packed weights stay bit-identical and it packs ~1.2x faster than
 * the table's 18 products (512ch: 13 vs 16 ms). A = 4: F(2x2, 3x3)'s G at 0, 1, -1, inf,
 * [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]. */
FN_INLINE void wino_g(const int A, const int R, const double *in, double out[6]) {
    if (A == 4) {
        const double e = 0.5 * (in[0] + in[2]), o = 0.5 * in[1];
        out[0] = in[0];
        out[1] = e + o;
        out[2] = e - o;
        out[3] = in[2];
        return;
    }
    if (R == 3) {
        const double a = -4.0 / 15 * in[0] - 1.0 / 15 * in[2], b = 2.0 / 15 * in[1];
        const double c = 1.0 / 120 * in[0] + 1.0 / 30 * in[2], e = 1.0 / 60 * in[1];
        out[0] = in[0];
        out[1] = a - b;
        out[2] = a + b;
        out[3] = c + e;
        out[4] = c - e;
        out[5] = in[2];
        return;
    }
    for (int i = 0; i < 6; i++) {
        double acc = 0.0;
        for (int t = 0; t < 5; t++) acc += G5[i][t] * in[t];
        out[i] = acc;
    }
}

/* One input channel of a panel: vb[((i*6 + c)*CB + cb)*NR + j] = (G g_j G^T)[i][c], g_j the R x R
 * taps of output channel co0 + j (zeros past nj). The panel's NR weights of each tap sit side by side,
 * so the transforms run down NR-long rows, which the compiler vectorises (with R a constant: a
 * runtime R made the pack 4x slower, 512ch 3x3 11 -> 41 ms). */
FN_INLINE void wino_pack_channel(const int A, const int R, const float *w, size_t cin, size_t ci, size_t co0,
                                 size_t nj, size_t NR, size_t cb, size_t CB, float *vb) {
    double gt[25][FN_WINO_PACK_MAX_NR], tt[30][FN_WINO_PACK_MAX_NR], in[5], out[6];
    for (size_t j = 0; j < NR; j++) {
        const float *g = w + ((co0 + j) * cin + ci) * (size_t)(R * R); /* w: (cout, cin, R, R) */
        for (int t = 0; t < R * R; t++) gt[t][j] = j < nj ? g[t] : 0.0;
    }
    for (int c = 0; c < R; c++) /* t = G g, column c: taps c, R + c, .. */
        for (size_t j = 0; j < NR; j++) {
            for (int t = 0; t < R; t++) in[t] = gt[t * R + c][j];
            wino_g(A, R, in, out);
            for (int i = 0; i < A; i++) tt[i * R + c][j] = out[i];
        }
    for (int i = 0; i < A; i++) /* v = t G^T, row i */
        for (size_t j = 0; j < NR; j++) {
            for (int t = 0; t < R; t++) in[t] = tt[i * R + t][j];
            wino_g(A, R, in, out);
            for (int c = 0; c < A; c++) vb[((size_t)(i * A + c) * CB + cb) * NR + j] = (float)out[c];
        }
}

/* vb[((i*A + c)*FN_WINO_PACK_CB + cb)*NR + j] = U[i][c] of input channel ci0 + cb (cb < nb <=
 * FN_WINO_PACK_CB) and output channel co0 + j (zeros for j >= nj); A x A positions: A = 4 (F(2x2,
 * 3x3), R = 3) or 6 (R = 3 or 5). */
void FN_KNAME(fn_wino_pack_block)(int A, int R, const float *w, size_t cin, size_t ci0, size_t nb, size_t co0,
                                  size_t nj, size_t NR, float *vb) {
    for (size_t cb = 0; cb < nb; cb++) {
        if (A == 4) wino_pack_channel(4, 3, w, cin, ci0 + cb, co0, nj, NR, cb, FN_WINO_PACK_CB, vb);
        else if (R == 5) wino_pack_channel(6, 5, w, cin, ci0 + cb, co0, nj, NR, cb, FN_WINO_PACK_CB, vb);
        else wino_pack_channel(6, 3, w, cin, ci0 + cb, co0, nj, NR, cb, FN_WINO_PACK_CB, vb);
    }
}
