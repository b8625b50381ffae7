/* scale_shift_avx512.c: per-channel scale/shift (+act), avx512 (placeholder until the wide version lands). */
#include "../kernels.h"

void fn_f32_scale_shift_rows__avx512(size_t rows, size_t n, const float *x, const float *scale,
                                   const float *shift, const fn_act *act, float *y) {
    fn_f32_scale_shift_rows__scalar(rows, n, x, scale, shift, act, y);
}

void fn_f32_scale_shift_cols__avx512(size_t rows, size_t c, const float *x, const float *scale,
                                   const float *shift, const fn_act *act, float *y) {
    fn_f32_scale_shift_cols__scalar(rows, c, x, scale, shift, act, y);
}
