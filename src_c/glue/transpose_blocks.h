/* transpose_blocks.h: fn_f32_transpose over a TRANSPOSE_BLOCK x TRANSPOSE_BLOCK transpose
 * TRANSPOSE_BLOCK_FN(s, lds, d, ldd) (d[i*ldd + j] = s[j*lds + i]): an ISA's register transpose, or
 * the portable table's local block (TRANSPOSE_NAME then names the function); the ragged edges
 * element by element. Order (fn_glue.h): strips of `strip` columns, the rows inner. Measured on
 * 3 MB maps (Xeon, AVX2 blocks), NCHW -> NHWC of 64 x 12544 with 16-column strips 0.23 ms, a copy
 * of as many bytes 0.22, 32 x 32 tiles through a buffer (the previous kernel) 0.43; NHWC -> NCHW of
 * 12544 x 64 with 32-column strips 0.29 ms, 16-column 0.37, the tiles 0.45. */
#ifndef TRANSPOSE_BLOCK
#error "define TRANSPOSE_BLOCK and TRANSPOSE_BLOCK_FN first"
#endif

#ifndef TRANSPOSE_NAME
#define TRANSPOSE_NAME FN_KNAME(fn_f32_transpose)
#endif

void TRANSPOSE_NAME(size_t rows, size_t cols, size_t strip, const float *x, size_t ldx, float *y,
                    size_t ldy) {
    enum { B = TRANSPOSE_BLOCK };
    const size_t rb_end = rows / B * B;
    for (size_t c0 = 0; c0 < cols; c0 += strip) {
        const size_t c1 = c0 + strip < cols ? c0 + strip : cols;
        const size_t cb_end = c0 + (c1 - c0) / B * B;
        for (size_t r = 0; r < rb_end; r += B) {
            for (size_t c = c0; c < cb_end; c += B) TRANSPOSE_BLOCK_FN(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
            for (size_t c = cb_end; c < c1; c++)
                for (size_t i = 0; i < B; i++) y[c * ldy + r + i] = x[(r + i) * ldx + c];
        }
        for (size_t r = rb_end; r < rows; r++)
            for (size_t c = c0; c < c1; c++) y[c * ldy + r] = x[r * ldx + c];
    }
}
