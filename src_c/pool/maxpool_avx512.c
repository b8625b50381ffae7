/* maxpool_avx512.c: max over taps, avx512 (placeholder until the wide version lands). */
#include "../kernels.h"

void fn_f32_maxpool__avx512(size_t ks, size_t c, const float *const *taps, float *y) {
    fn_f32_maxpool__scalar(ks, c, taps, y);
}
