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
