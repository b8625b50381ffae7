/* maxpool.c: portable max-over-taps micro-kernel (NaN propagates, as torch). */
#include "../kernels.h"

/* taps: ks pointers to c floats each; y: (c,). taps[0] may equal y (the driver chains chunks).
 * m = (v > m || v != v) ? v : m takes a NaN from v, and keeps a NaN already in m (v > NaN is false),
 * so no early exit is needed and the channel loop vectorises with baseline SSE2. Equal values keep
 * the earlier tap (0.0 vs -0.0), as torch. */
void fn_f32_maxpool__scalar(size_t ks, size_t c, const float *const *taps, float *y) {
    const float *t0 = taps[0];
    for (size_t j = 0; j < c; j++) y[j] = t0[j];
    for (size_t t = 1; t < ks; t++) {
        const float *p = taps[t];
        for (size_t j = 0; j < c; j++) {
            const float v = p[j], m = y[j];
            y[j] = (v > m || v != v) ? v : m;
        }
    }
}
