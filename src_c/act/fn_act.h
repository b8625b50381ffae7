/* fn_act.h: the act family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_ACT_H
#define FASTNORM_FN_ACT_H

/* The elementwise activation kinds: FN_ACTK_KINDS in act_kinds.h, one line each, as an enum in list
 * order; they reach Python as fastnorm._C.ACTK_<NAME>. */
#include "act_kinds.h"

typedef enum {
#define FN_ACTK_ENUM_(NAME, EXPR) FN_ACTK_##NAME,
    FN_ACTK_KINDS(FN_ACTK_ENUM_)
#undef FN_ACTK_ENUM_
    FN_ACTK_COUNT_
} fn_actk_kind;

typedef struct fn_act_params {
    float lo, hi;                     /* CLAMP */
    float slope;                      /* LEAKY_RELU */
    float alpha, scale, input_scale;  /* ELU */
    float beta, threshold;            /* SOFTPLUS */
} fn_act_params;

/* y[i] = f(x[i]) of one kind, i < n; y may alias x (fn_act_kernels.apply, and the epilogue past the
 * clamp that the conv kernels run through it: kernels.h, fn_epilogue_actk) */
typedef fn_status (*fn_actk_apply_fn)(int kind, size_t n, const float *x, const fn_act_params *p,
                                      float *y);

typedef struct fn_act_kernels {
    fn_isa isa;
    const char *name;
    /* y[i] = f(x[i]), i < n; y may alias x. Returns FN_ERR_ARG for an unknown kind. */
    fn_status (*apply)(int kind, size_t n, const float *x, const fn_act_params *p, float *y);
    /* x, y: (rows, n); row r: y = x > 0 ? x : w[r] * x (prelu on NCHW planes). y may alias x. */
    void (*prelu_rows)(size_t rows, size_t n, const float *x, const float *w, float *y);
    /* x, y: (rows, c), channels last; column j: y = x > 0 ? x : w[j] * x (prelu on NHWC rows). y may
     * alias x. */
    void (*prelu_cols)(size_t rows, size_t c, const float *x, const float *w, float *y);
    /* x, y: (rows, len) contiguous; softmax (or log_softmax) of each row. y may alias x. */
    void (*softmax_rows)(size_t rows, size_t len, const float *x, float *y, int log);
    /* x, y: (len, stride) with columns j < nc (nc <= stride) taken: softmax over len per column.
     * y may alias x. */
    void (*softmax_cols)(size_t len, size_t stride, size_t nc, const float *x, float *y, int log);
} fn_act_kernels;

const fn_act_kernels *fn_act_kernels_for(fn_isa isa);

/* Drivers: one OpenMP region each, results independent of nthreads; small work on one thread. */
/* x, y: (n,); y may alias x */
fn_status fn_act_apply(const fn_kernels *k, int kind, size_t n, const float *x,
                       const fn_act_params *p, float *y, int nthreads);
/* x, y: (outer, c, inner); w: (c,) (c = 1: one shared weight). y may alias x. */
void fn_act_prelu(const fn_kernels *k, size_t outer, size_t c, size_t inner, const float *x,
                  const float *w, float *y, int nthreads);
/* x, y: (outer, len, inner); softmax (log != 0: log_softmax) over len, numerically stable (the max
 * is subtracted). inner == 1 takes the contiguous-row path. y may alias x. */
void fn_act_softmax(const fn_kernels *k, size_t outer, size_t len, size_t inner, const float *x,
                    float *y, int log, int nthreads);

#endif
