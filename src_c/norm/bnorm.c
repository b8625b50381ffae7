/* bnorm.c: eval-mode BatchNorm folded to per-channel scale/shift, and the threaded scale/shift driver. */
#include "../kernels.h"

#include <math.h>

void fn_bnorm_prepare(size_t c, const float *mean, const float *var, const float *gamma,
                      const float *beta, double eps, float *scale, float *shift) {
    for (size_t j = 0; j < c; j++) {
        const double s = (gamma ? (double)gamma[j] : 1.0) / sqrt((double)var[j] + eps);
        scale[j] = (float)s;
        shift[j] = (float)((beta ? (double)beta[j] : 0.0) - (double)mean[j] * s);
    }
}

void fn_scale_shift(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                    const float *scale, const float *shift, const fn_act *act, float *y,
                    int nthreads) {
    if (nthreads < 1) nthreads = 1;
    if (inner == 1) {
        /* (rows, c): vectorise over channels, split rows into blocks */
        const size_t block = 256, nb = (outer + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t b = 0; b < nb; b++) {
            const size_t r0 = b * block, r = outer - r0 < block ? outer - r0 : block;
            k->scale_shift_cols(r, c, x + r0 * c, scale, shift, act, y + r0 * c);
        }
    } else {
        /* (outer*c, inner) planes: one scale per plane */
        const size_t planes = outer * c;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t p = 0; p < planes; p++) {
            const size_t j = p % c;
            k->scale_shift_rows(1, inner, x + p * inner, scale + j, shift + j, act, y + p * inner);
        }
    }
}
