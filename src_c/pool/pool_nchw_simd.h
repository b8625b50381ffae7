/* pool_nchw_simd.h: the NCHW row pooling kernels of the wide ISAs, written once over the SIMD
 * vocabulary. Stride 2: VW outputs from 2 VW consecutive inputs per tap (vload_even_n); other
 * strides: the plain C of pool_nchw.h, which gcc vectorises. The including pool_nchw_<isa>.c
 * includes src_c/simd/vec_<isa>.h first. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

FN_INLINE void store_r(float *y, V v, size_t r) { /* the first min(r, VW) lanes */
    if (r >= VW) vstore(y, v);
    else vstore_k(y, vmask_n(r), v);
}

/* max: vmax(v, m) keeps m on NaN (an earlier NaN stays, ties keep the earlier tap); a NaN
 * arriving in v is caught by an unordered compare OR-ed into a lane mask, written at the end. */
FN_INLINE void max_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float *y) {
    for (size_t i = 0; i < m; i += VW) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        V a = vload_even_n(p, r);
        VM nan = vunord(a, a);
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = ky == 0; kx < kw; kx++) {
                const V v = vload_even_n(p + ky * rs + kx, r);
                a = vmax(v, a);
                nan = vm_or(nan, vunord(v, v));
            }
        store_r(y + i, vsel(nan, vset(__builtin_nanf("")), a), r);
    }
}

/* avg: 0.0f + taps in row-major order, / div, / div2 unless 1 (fn_pool.h) */
FN_INLINE void avg_s2(size_t m, size_t kh, size_t kw, const float *x, size_t rs, float div, float div2,
                      float *y) {
    const V dv = vset(div), dv2 = vset(div2);
    for (size_t i = 0; i < m; i += VW) {
        const size_t r = m - i;
        const float *p = x + 2 * i;
        V s = vzero();
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t kx = 0; kx < kw; kx++) s = vadd(s, vload_even_n(p + ky * rs + kx, r));
        s = vdiv(s, dv);
        if (div2 != 1.0f) s = vdiv(s, dv2);
        store_r(y + i, s, r);
    }
}

// x: one plane's rows (see fn_pool.h), y: (m,)
void FN_KNAME(fn_f32_maxpool_nchw_row)(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
                                       size_t rs, size_t dw, float *y) {
    if (sw == 2 && dw == 1) {
        if (kh == 2 && kw == 2) max_s2(m, 2, 2, x, rs, y);
        else if (kh == 3 && kw == 3) max_s2(m, 3, 3, x, rs, y);
        else max_s2(m, kh, kw, x, rs, y);
    } else {
        fn_nchw_max_row_any(m, kh, kw, x, sw, rs, dw, y);
    }
}

// x: one plane's rows (see fn_pool.h), y: (m,)
void FN_KNAME(fn_f32_avgpool_nchw_row)(size_t m, size_t kh, size_t kw, const float *x, size_t sw,
                                       size_t rs, size_t dw, float div, float div2, float *y) {
    if (sw == 2 && dw == 1) {
        if (kh == 2 && kw == 2) avg_s2(m, 2, 2, x, rs, div, div2, y);
        else if (kh == 3 && kw == 3) avg_s2(m, 3, 3, x, rs, div, div2, y);
        else avg_s2(m, kh, kw, x, rs, div, div2, y);
    } else {
        fn_nchw_avg_row_any(m, kh, kw, x, sw, rs, dw, div, div2, y);
    }
}
