/* scale_shift.c: portable per-channel scale/shift (+act) micro-kernels, the spec of the wide ones. */
#include "../kernels.h"

/* x*s + b with one rounding, like the wide kernels' FMA: the product of two floats is exact in
 * double, so only the sum rounds (then once more to float; baseline x86-64 has no FMA, and fmaf
 * would be a slow libm call). Two float roundings would lose up to |x*s| * 2^-24 more, which is
 * the whole answer when x ~ mean ~ 1e4. */
static inline float fma_like(float x, float s, float b) { return (float)((double)x * s + b); }

void fn_f32_scale_shift_rows__scalar(size_t rows, size_t n, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float s = scale[r], b = shift[r];
        for (size_t i = 0; i < n; i++) y[r * n + i] = fn_apply_act_scalar(fma_like(x[r * n + i], s, b), act);
    }
}

void fn_f32_scale_shift_cols__scalar(size_t rows, size_t c, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++)
            y[r * c + j] = fn_apply_act_scalar(fma_like(x[r * c + j], scale[j], shift[j]), act);
}

#define FOLD_ROWS_NAME fn_fold_scale_rows__scalar
#include "fold_rows.h"

void fn_f32_post_cols__scalar(size_t rows, size_t c, float *y, size_t ldy, const float *scale,
                              const float *shift, const float *res, size_t ldr) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++) {
            float t = y[r * ldy + j];
            if (scale) t = fma_like(t, scale[j], shift[j]);
            if (res) t = t + res[r * ldr + j];
            y[r * ldy + j] = t;
        }
}
