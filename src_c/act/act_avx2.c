/* act_avx2.c: elementwise activation, avx2 (placeholder until the wide version lands). */
#include "../kernels.h"

void fn_f32_act__avx2(size_t n, const float *x, const fn_act *act, float *y) {
    fn_f32_act__scalar(n, x, act, y);
}
