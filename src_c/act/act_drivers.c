/* act_drivers.c: threaded drivers of the act family (elementwise kinds, prelu, softmax). */
#include "../kernels.h"

/* As fn_activation: tasks of at most 16K floats, at least 4 a thread; one thread below 32K floats
 * (waking another costs about the whole op there). Every task is computed by one thread with the
 * same kernel, so results never depend on nthreads. */
#define TASK_FLOATS 16384
#define TASK_MIN_FLOATS 2048
#define PAR_MIN_FLOATS 32768

static size_t task_size(size_t n, int nthreads) {
    size_t task = n / (4 * (size_t)nthreads);
    task = task > TASK_FLOATS ? TASK_FLOATS : task < TASK_MIN_FLOATS ? TASK_MIN_FLOATS : task;
    return (task + 15) & ~(size_t)15; /* whole vectors: only the last task has a tail */
}

// x, y: (n,); y may alias x
fn_status fn_act_apply(const fn_kernels *k, int kind, size_t n, const float *x,
                       const fn_act_params *p, float *y, int nthreads) {
    const fn_act_kernels *ak = fn_act_kernels_for(k->isa);
    if (kind < 0 || kind >= FN_ACTK_COUNT_) return FN_ERR_ARG;
    if (n == 0) return FN_OK;
    if (nthreads < 1 || n < PAR_MIN_FLOATS) nthreads = 1;
    const size_t task = task_size(n, nthreads);
    const size_t nb = (n + task - 1) / task;
    int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nthreads) reduction(| : bad)
    for (size_t b = 0; b < nb; b++) {
        const size_t i0 = b * task, m = n - i0 < task ? n - i0 : task;
        bad |= ak->apply(kind, m, x + i0, p, y + i0) != FN_OK;
    }
    return bad ? FN_ERR_ARG : FN_OK;
}

// x, y: (outer, c, inner); w: (c,) or (1,)
void fn_act_prelu(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                  const float *w, float *y, int nthreads) {
    const fn_act_kernels *ak = fn_act_kernels_for(k->isa);
    const size_t total = outer * c * inner;
    if (total == 0) return;
    if (c == 1) { /* one weight: a plain elementwise problem */
        if (nthreads < 1 || total < PAR_MIN_FLOATS) nthreads = 1;
        const size_t task = task_size(total, nthreads);
        const size_t nb = (total + task - 1) / task;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t b = 0; b < nb; b++) {
            const size_t i0 = b * task, m = total - i0 < task ? total - i0 : task;
            ak->prelu_rows(1, m, x + i0, w, y + i0);
        }
        return;
    }
    if (nthreads < 1 || total < PAR_MIN_FLOATS) nthreads = 1;
    if (inner == 1) { /* channels last (a model's NHWC activations): blocks of whole rows of c */
        const size_t rb = c >= TASK_FLOATS ? 1 : TASK_FLOATS / c, nb = (outer + rb - 1) / rb;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t b = 0; b < nb; b++) {
            const size_t r0 = b * rb, rn = outer - r0 < rb ? outer - r0 : rb;
            ak->prelu_cols(rn, c, x + r0 * c, w, y + r0 * c);
        }
        return;
    }
    /* tasks: (batch, block of channels) with about TASK_FLOATS floats each */
    size_t cb = inner >= TASK_FLOATS ? 1 : TASK_FLOATS / inner;
    if (cb > c) cb = c;
    const size_t nblk = (c + cb - 1) / cb, nt = outer * nblk;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t t = 0; t < nt; t++) {
        const size_t o = t / nblk, c0 = (t % nblk) * cb, cn = c - c0 < cb ? c - c0 : cb;
        const size_t off = (o * c + c0) * inner;
        ak->prelu_rows(cn, inner, x + off, w + c0, y + off);
    }
}

// x, y: (outer, len, inner)
void fn_act_softmax(const fn_kernels *k, size_t outer, size_t len, size_t inner, const float *x,
                    float *y, int log, int nthreads) {
    const fn_act_kernels *ak = fn_act_kernels_for(k->isa);
    const size_t total = outer * len * inner;
    if (total == 0) return;
    if (nthreads < 1 || total < PAR_MIN_FLOATS) nthreads = 1;
    if (inner == 1) { /* rows of len contiguous floats: tasks of whole rows */
        size_t rb = len >= TASK_FLOATS ? 1 : TASK_FLOATS / len;
        if (rb > outer) rb = outer;
        const size_t nt = (outer + rb - 1) / rb;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t t = 0; t < nt; t++) {
            const size_t r0 = t * rb, rn = outer - r0 < rb ? outer - r0 : rb;
            ak->softmax_rows(rn, len, x + r0 * len, y + r0 * len, log);
        }
        return;
    }
    /* strided: tasks of (outer index, block of 64 columns); a column is one thread's, whole */
    const size_t cw = 64, nblk = (inner + cw - 1) / cw, nt = outer * nblk;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (size_t t = 0; t < nt; t++) {
        const size_t o = t / nblk, j0 = (t % nblk) * cw, jn = inner - j0 < cw ? inner - j0 : cw;
        const size_t off = o * len * inner + j0;
        ak->softmax_cols(len, inner, jn, x + off, y + off, log);
    }
}
