/* activation.c: threaded driver for elementwise activations. */
#include "../kernels.h"

/* 16384-float tasks (64 KiB); below PAR_MIN_FLOATS one thread, as waking another costs more than
 * the op. Elementwise, so the result never depends on nthreads. */
#define TASK_FLOATS 16384
#define PAR_MIN_FLOATS 65536

// x, y: (n,); y may alias x
void fn_activation(const fn_kernels *k, size_t n, const float *x, const fn_act *act, float *y,
                   int nthreads) {
    const size_t nb = (n + TASK_FLOATS - 1) / TASK_FLOATS;
    if (nthreads < 1 || n < PAR_MIN_FLOATS) nthreads = 1;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t b = 0; b < nb; b++) {
        const size_t i0 = b * TASK_FLOATS, m = n - i0 < TASK_FLOATS ? n - i0 : TASK_FLOATS;
        k->act(m, x + i0, act, y + i0);
    }
}
