/* activation.c: threaded driver for elementwise activations. */
#include "../kernels.h"

/* Tasks of at most TASK_FLOATS floats (64 KiB) and at least 4 a thread, so static scheduling stays
 * balanced; below PAR_MIN_FLOATS one thread, as waking another costs about the whole op there.
 * Elementwise, so the result never depends on nthreads or the split. */
#define TASK_FLOATS 16384
#define TASK_MIN_FLOATS 2048
#define PAR_MIN_FLOATS 32768

// x, y: (n,); y may alias x
void fn_activation(const fn_kernels *k, size_t n, const float *x, const fn_act *act, float *y,
                   int nthreads) {
    if (nthreads < 1 || n < PAR_MIN_FLOATS) nthreads = 1;
    size_t task = n / (4 * (size_t)nthreads);
    task = task > TASK_FLOATS ? TASK_FLOATS : task < TASK_MIN_FLOATS ? TASK_MIN_FLOATS : task;
    task = (task + 15) & ~(size_t)15; /* whole vectors: only the last task has a tail */
    const size_t nb = (n + task - 1) / task;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t b = 0; b < nb; b++) {
        const size_t i0 = b * task, m = n - i0 < task ? n - i0 : task;
        k->act(m, x + i0, act, y + i0);
    }
}
