/* glue_neon.c: glue micro-kernels, AArch64 ASIMD, 4 floats a vector: glue_simd.h (its gathers are
 * 4 lane loads a vector here), plus dup2 as a zip. */
#include "../simd/vec_neon.h"
#include "glue_kernels.h"

#define GLUE_GATHER_GENERIC 1 /* gather and bilinear_row from glue_simd.h */
#include "glue_simd.h"

void fn_f32_dup2__neon(size_t n, const float *x, float *y) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        vst1q_f32(y + 2 * i, vzip1q_f32(v, v));
        vst1q_f32(y + 2 * i + 4, vzip2q_f32(v, v));
    }
    for (; i < n; i++) y[2 * i] = y[2 * i + 1] = x[i];
}

/* d[i*ldd + j] = s[j*lds + i], i, j < 4: trn1 / trn2, then the 64-bit halves recombined */
static inline void transpose4x4(const float *s, size_t lds, float *d, size_t ldd) {
    const float32x4_t r0 = vld1q_f32(s), r1 = vld1q_f32(s + lds), r2 = vld1q_f32(s + 2 * lds),
                      r3 = vld1q_f32(s + 3 * lds);
    const float32x4_t a0 = vtrn1q_f32(r0, r1), a1 = vtrn2q_f32(r0, r1); /* r0[0] r1[0] r0[2] r1[2] */
    const float32x4_t a2 = vtrn1q_f32(r2, r3), a3 = vtrn2q_f32(r2, r3);
    vst1q_f32(d, vcombine_f32(vget_low_f32(a0), vget_low_f32(a2)));
    vst1q_f32(d + ldd, vcombine_f32(vget_low_f32(a1), vget_low_f32(a3)));
    vst1q_f32(d + 2 * ldd, vcombine_f32(vget_high_f32(a0), vget_high_f32(a2)));
    vst1q_f32(d + 3 * ldd, vcombine_f32(vget_high_f32(a1), vget_high_f32(a3)));
}

#define TRANSPOSE_BLOCK 4
#define TRANSPOSE_BLOCK_FN transpose4x4
#include "transpose_blocks.h"
