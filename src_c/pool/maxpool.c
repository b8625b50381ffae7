/* maxpool.c: portable max-over-taps micro-kernel (NaN propagates, as torch). */
#include "../kernels.h"

void fn_f32_maxpool__scalar(size_t ks, size_t c, const float *const *taps, float *y) {
    for (size_t j = 0; j < c; j++) {
        float m = taps[0][j];
        for (size_t t = 1; t < ks; t++) {
            const float v = taps[t][j];
            if (v > m || v != v) m = v;
            if (m != m) break;
        }
        y[j] = m;
    }
}
