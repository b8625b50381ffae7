/* convt_simd.h: the conv_transpose2d scatter kernel written once over the SIMD vocabulary. The
 * including convt_<isa>.c includes src_c/simd/vec_<isa>.h first. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif

/* dst[i*ds + j] += src[i*ss + j] for i < n, j < c. The tail goes down in unmasked pieces
 * (vacc_tail), not a masked vector. */
void FN_KNAME(fn_f32_convt_addrows)(size_t n, size_t c, const float *src, size_t ss, float *dst, size_t ds) {
    if (c < 4) { /* a few channels: straight-line scalar code per pixel */
        addrows_small(n, c, src, ss, dst, ds);
        return;
    }
    const size_t cv = c & ~(size_t)(VW - 1);
    for (size_t i = 0; i < n; i++) {
        const float *s = src + i * ss;
        float *t = dst + i * ds;
        size_t j = 0;
        for (; j < cv; j += VW) vstore(t + j, vadd(vload(t + j), vload(s + j)));
        vacc_tail(t + j, s + j, c - j);
    }
}
