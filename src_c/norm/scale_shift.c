/* scale_shift.c: portable per-channel scale/shift (+act) micro-kernels, the spec of the wide ones. */
#include "../kernels.h"

void fn_f32_scale_shift_rows__scalar(size_t rows, size_t n, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++) {
        const float s = scale[r], b = shift[r];
        for (size_t i = 0; i < n; i++) y[r * n + i] = fn_apply_act_scalar(x[r * n + i] * s + b, act);
    }
}

void fn_f32_scale_shift_cols__scalar(size_t rows, size_t c, const float *x, const float *scale,
                                     const float *shift, const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < c; j++)
            y[r * c + j] = fn_apply_act_scalar(x[r * c + j] * scale[j] + shift[j], act);
}
