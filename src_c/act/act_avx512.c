/* act_avx512.c: elementwise activation, avx512 (placeholder until the wide version lands). */
#include "../kernels.h"

void fn_f32_act__avx512(size_t n, const float *x, const fn_act *act, float *y) {
    fn_f32_act__scalar(n, x, act, y);
}
