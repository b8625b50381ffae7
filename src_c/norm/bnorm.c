/* bnorm.c: eval-mode BatchNorm folded to per-channel scale/shift, and the threaded scale/shift driver. */
#include "../kernels.h"

#include <math.h>

/* Work is cut into tasks of at most TASK_FLOATS floats (64 KiB in, 64 KiB out: fits L2 with room),
 * and at least 4 tasks a thread so static scheduling stays balanced. Below PAR_MIN_FLOATS the op
 * runs on the calling thread: waking a second thread costs about as much as the whole op there.
 * Every element is computed by the same micro-kernel arithmetic (one FMA, then the clamp) whatever
 * task holds it, so the result never depends on nthreads or on the split. */
#define TASK_FLOATS 16384
#define TASK_MIN_FLOATS 2048
#define PAR_MIN_FLOATS 32768

static size_t task_floats(size_t total, int nthreads) {
    size_t t = total / (4 * (size_t)nthreads);
    return t > TASK_FLOATS ? TASK_FLOATS : t < TASK_MIN_FLOATS ? TASK_MIN_FLOATS : t;
}

void fn_bnorm_prepare(size_t c, const float *mean, const float *var, const float *gamma,
                      const float *beta, double eps, float *scale, float *shift) {
    for (size_t j = 0; j < c; j++) {
        /* the shift uses the scale as rounded to float, the one the kernels multiply by: then
         * x*scale + shift = (x - mean)*scale + beta up to the shift's own rounding. With the exact
         * double scale instead, x ~ mean ~ 1e4 would carry an extra error of |x| * ulp(scale). */
        const float s = (float)((gamma ? (double)gamma[j] : 1.0) / sqrt((double)var[j] + eps));
        scale[j] = s;
        shift[j] = (float)((beta ? (double)beta[j] : 0.0) - (double)mean[j] * (double)s);
    }
}

/* A scale folded into weights by the table's kernel (fold_rows.h). NumPy's form of the same
 * arithmetic (w.astype(float64) * s, rounded, and the difference) made and walked three temporaries
 * the size of the weights in double: 0.14 s of a fresh process loading ResNet-50 saved with its
 * BatchNorms unfolded. */
void fn_fold_scale_rows(const fn_kernels *k, size_t rows, size_t cols, const float *w, const double *s,
                        float *out, double *err) {
    k->fold_scale_rows(rows, cols, w, s, out, err);
}

// x, y: (outer, c, inner) contiguous; scale, shift: (c,)
void fn_scale_shift(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                    const float *scale, const float *shift, const fn_act *act, float *y,
                    int nthreads) {
    if (nthreads < 1) nthreads = 1;
    const size_t total = outer * c * inner;
    if (total == 0) return;
    if (total < PAR_MIN_FLOATS) nthreads = 1;
    const size_t task = task_floats(total, nthreads);
    if (inner == 1) {
        /* (rows, c): vectorise over channels, tasks are blocks of whole rows */
        const size_t block = c >= task ? 1 : task / c, nb = (outer + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t b = 0; b < nb; b++) {
            const size_t r0 = b * block, r = outer - r0 < block ? outer - r0 : block;
            k->scale_shift_cols(r, c, x + r0 * c, scale, shift, act, y + r0 * c);
        }
    } else if (inner <= task) {
        /* (outer*c, inner) planes, one scale per plane. A task is a run of whole planes, handed to
         * the micro-kernel as few calls as possible (one per stretch of consecutive channels), so
         * small images (1x1, 2x2, 7x7) do not pay a call per plane. */
        const size_t planes = outer * c, per = task / inner;
        const size_t nt = (planes + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            size_t p = t * per;
            const size_t pe = planes - p < per ? planes : p + per;
            while (p < pe) {
                const size_t j = p % c, run = pe - p < c - j ? pe - p : c - j;
                k->scale_shift_rows(run, inner, x + p * inner, scale + j, shift + j, act, y + p * inner);
                p += run;
            }
        }
    } else {
        /* large planes: split each plane into chunks so one big plane still uses every thread */
        const size_t chunks = (inner + task - 1) / task, nt = outer * c * chunks;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            const size_t p = t / chunks, i0 = (t % chunks) * task, j = p % c;
            const size_t m = inner - i0 < task ? inner - i0 : task;
            const size_t off = p * inner + i0;
            k->scale_shift_rows(1, m, x + off, scale + j, shift + j, act, y + off);
        }
    }
}
