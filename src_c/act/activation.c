/* activation.c: threaded driver for elementwise activations. */
#include "../kernels.h"

void fn_activation(const fn_kernels *k, size_t n, const float *x, const fn_act *act, float *y,
                   int nthreads) {
    const size_t block = 16384, nb = (n + block - 1) / block;
    if (nthreads < 1) nthreads = 1;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t b = 0; b < nb; b++) {
        const size_t i0 = b * block, m = n - i0 < block ? n - i0 : block;
        k->act(m, x + i0, act, y + i0);
    }
}
