/* shape_drivers.c: threaded drivers of the shape family (strided copy, reductions). */
#include "shape_kernels.h"

/* As the glue family: tasks of about TASK_FLOATS output floats, and one thread below PAR_MIN_FLOATS
 * of work (these ops only move or sum memory). Every output element is computed by the same kernel
 * calls whatever task holds it, so results never depend on the thread count. */
#define TASK_FLOATS 16384
#define PAR_MIN_FLOATS 262144

static int threads_for(size_t total, int nthreads) {
    return (nthreads < 1 || total < PAR_MIN_FLOATS) ? 1 : nthreads;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

fn_status fn_strided_copy(const fn_kernels *k, size_t ndim, const size_t *shape_in, const ptrdiff_t *sx_in,
                          const float *x, float *y, int nthreads) {
    if (ndim > FN_STRIDED_MAX_DIMS) return FN_ERR_ARG;
    const fn_shape_kernels *g = fn_shape_kernels_for(k->isa);
    /* drop unit dims, merge dims that chain (sx[d] == sx[d+1] * shape[d+1]) */
    size_t shape[FN_STRIDED_MAX_DIMS + 1];
    ptrdiff_t sx[FN_STRIDED_MAX_DIMS + 1];
    size_t nd = 0, total = 1;
    for (size_t d = 0; d < ndim; d++) {
        total *= shape_in[d];
        if (shape_in[d] == 1) continue;
        if (nd > 0 && sx[nd - 1] == sx_in[d] * (ptrdiff_t)shape_in[d]) {
            shape[nd - 1] *= shape_in[d];
            sx[nd - 1] = sx_in[d];
            continue;
        }
        shape[nd] = shape_in[d], sx[nd] = sx_in[d], nd++;
    }
    if (total == 0) return FN_OK;
    if (nd == 0) shape[0] = 1, sx[0] = 1, nd = 1;
    const size_t n = shape[nd - 1], rows = total / n;
    const ptrdiff_t si = sx[nd - 1];
    const size_t rb = n >= TASK_FLOATS ? 1 : TASK_FLOATS / n, nb = ceil_div(rows, rb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        const size_t r0 = t * rb, r1 = min_sz(rows, r0 + rb);
        /* the index of row r0 over dims [0, nd-1), then counted up row by row */
        size_t idx[FN_STRIDED_MAX_DIMS + 1];
        ptrdiff_t off = 0;
        for (size_t d = nd - 1, rem = r0; d-- > 0;) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
            off += (ptrdiff_t)idx[d] * sx[d];
        }
        for (size_t r = r0; r < r1; r++) {
            g->gather_row(n, x + off, si, y + r * n);
            for (size_t d = nd - 1; d-- > 0;) { /* next row: odometer step */
                off += sx[d];
                if (++idx[d] < shape[d]) break;
                off -= (ptrdiff_t)shape[d] * sx[d];
                idx[d] = 0;
            }
        }
    }
    return FN_OK;
}

/* whether v replaces the running extreme b at a later position (ARG*: NaN is the extreme) */
static inline int arg_takes(int kind, float v, float b) {
    switch (kind) {
    case FN_REDUCE_ARGMAX: return v > b || (v != v && b == b);
    case FN_REDUCE_ARGMIN: return v < b || (v != v && b == b);
    case FN_REDUCE_ARGMAX_LAST: return v >= b || v != v;
    default: return v <= b || v != v;
    }
}

/* The portable kinds over m columns of an (len, stride) block: y[i] for i < m (ARG*: b holds the
 * running extremes, m <= ARG_CHUNK). */
#define ARG_CHUNK 1024
static void reduce_portable(int kind, size_t len, size_t m, size_t stride, const float *x, float *y) {
    if (kind == FN_REDUCE_MIN || kind == FN_REDUCE_PROD) {
        for (size_t i = 0; i < m; i++) y[i] = x[i];
        for (size_t l = 1; l < len; l++) {
            const float *r = x + l * stride;
            if (kind == FN_REDUCE_MIN)
                for (size_t i = 0; i < m; i++) y[i] = r[i] < y[i] ? r[i] : y[i];
            else
                for (size_t i = 0; i < m; i++) y[i] *= r[i];
        }
        return;
    }
    float b[ARG_CHUNK];
    for (size_t i = 0; i < m; i++) b[i] = x[i], y[i] = 0.0f;
    for (size_t l = 1; l < len; l++) {
        const float *r = x + l * stride;
        for (size_t i = 0; i < m; i++)
            if (arg_takes(kind, r[i], b[i])) b[i] = r[i], y[i] = (float)l;
    }
}

fn_status fn_reduce(const fn_kernels *k, int kind, size_t outer, size_t len, size_t inner, const float *x,
                    float *y, int nthreads) {
    if (kind < FN_REDUCE_SUM || kind >= FN_REDUCE_COUNT_ || len == 0) return FN_ERR_ARG;
    const fn_shape_kernels *g = fn_shape_kernels_for(k->isa);
    const size_t total = outer * len * inner;
    if (outer * inner == 0) return FN_OK;
    if (kind > FN_REDUCE_MAX) {
        const size_t cn = inner > ARG_CHUNK ? ARG_CHUNK : inner, nch = ceil_div(inner, cn);
        nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (size_t t = 0; t < outer * nch; t++) {
            const size_t o = t / nch, c0 = (t % nch) * cn;
            reduce_portable(kind, len, min_sz(inner - c0, cn), inner, x + o * len * inner + c0, y + o * inner + c0);
        }
        return FN_OK;
    }
    const float inv = 1.0f / (float)len;
    nthreads = threads_for(total, nthreads);
    if (inner == 1) {
        const size_t rb = len >= TASK_FLOATS ? 1 : TASK_FLOATS / len, nb = ceil_div(outer, rb);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (size_t t = 0; t < nb; t++)
            for (size_t o = t * rb; o < min_sz(outer, (t + 1) * rb); o++) {
                const float s = g->reduce_row(kind, len, x + o * len);
                y[o] = kind == FN_REDUCE_MEAN ? s * inv : s;
            }
        return FN_OK;
    }
    /* (outer, inner chunk) tasks: rows of the chunk accumulate in y */
    const size_t cn = inner > TASK_FLOATS ? TASK_FLOATS : inner, nch = ceil_div(inner, cn);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < outer * nch; t++) {
        const size_t o = t / nch, c0 = (t % nch) * cn, m = min_sz(inner - c0, cn);
        const float *xo = x + o * len * inner + c0;
        float *yo = y + o * inner + c0;
        g->gather_row(m, xo, 1, yo);
        for (size_t l = 1; l < len; l++) g->acc_row(kind, m, xo + l * inner, yo);
        if (kind == FN_REDUCE_MEAN) g->scale_row(m, inv, yo);
    }
    return FN_OK;
}
