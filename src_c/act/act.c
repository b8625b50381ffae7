/* act.c: portable elementwise activation micro-kernel. */
#include "../kernels.h"

void fn_f32_act__scalar(size_t n, const float *x, const fn_act *act, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = fn_apply_act_scalar(x[i], act);
}
