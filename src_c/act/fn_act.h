/* fn_act.h: the act family's public C API (included by fastnorm.h) and its per-ISA kernel table. */
#ifndef FASTNORM_FN_ACT_H
#define FASTNORM_FN_ACT_H

/* Elementwise activation kinds. Formulas follow torch's CPU kernels (same operation order where it
 * decides the rounding); the vector math behind them is src_c/simd/vmath.h.
 * FN_ACTK_CLAMP is the epilogue clamp (fn_act's FN_ACT_CLAMP): relu, relu6, hardtanh, clamp. */
#define FN_ACTK_KINDS(X)                                                                           \
    X(IDENTITY, 0)                                                                                 \
    X(CLAMP, 1)       /* min(max(x, lo), hi)                                        */             \
    X(LEAKY_RELU, 2)  /* x > 0 ? x : x * slope                                      */             \
    X(ELU, 3)         /* x > 0 ? x * scale : expm1(x * input_scale) * alpha          */             \
                      /*   (elu: scale 1, input_scale 1; selu: alpha = a*s, scale s;  */             \
                      /*    celu: input_scale 1/alpha), as torch's generalised elu    */             \
    X(SIGMOID, 4)                                                                                  \
    X(TANH, 5)                                                                                     \
    X(SILU, 6)        /* x * sigmoid(x)                                             */             \
    X(GELU, 7)        /* x/2 * (1 + erf(x/sqrt2)); x<0 as x/2 * erfc(|x|/sqrt2)       */             \
    X(GELU_TANH, 8)   /* x/2 * (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) = x sigmoid(2u) */            \
    X(HARDSIGMOID, 9) /* min(max(x + 3, 0), 6) / 6                                  */             \
    X(HARDSWISH, 10)  /* x * min(max(x + 3, 0), 6) / 6                              */             \
    X(MISH, 11)       /* x * tanh(log1p(exp(x)))                                    */             \
    X(SOFTPLUS, 12)   /* x * beta > threshold ? x : log1p(exp(x * beta)) / beta      */             \
    /* the vector math itself, for the accuracy tests */                                           \
    X(EXP, 32)                                                                                     \
    X(EXPM1, 33)                                                                                   \
    X(LOG, 34)                                                                                     \
    X(LOG1P, 35)                                                                                   \
    X(ERF, 36)                                                                                     \
    X(ERFC, 37)

/* The kinds as an enum; they reach Python as fastnorm._C.ACTK_<NAME>. */
typedef enum {
#define FN_ACTK_ENUM_(NAME, id) FN_ACTK_##NAME = id,
    FN_ACTK_KINDS(FN_ACTK_ENUM_)
#undef FN_ACTK_ENUM_
    FN_ACTK_COUNT_ = 38
} fn_actk_kind;

typedef struct fn_act_params {
    float lo, hi;                     /* CLAMP */
    float slope;                      /* LEAKY_RELU */
    float alpha, scale, input_scale;  /* ELU */
    float beta, threshold;            /* SOFTPLUS */
} fn_act_params;

typedef struct fn_act_kernels {
    fn_isa isa;
    const char *name;
    /* y[i] = f(x[i]), i < n; y may alias x. Returns FN_ERR_ARG for an unknown kind. */
    fn_status (*apply)(int kind, size_t n, const float *x, const fn_act_params *p, float *y);
    /* x, y: (rows, n); row r: y = x > 0 ? x : w[r] * x (prelu on NCHW planes). y may alias x. */
    void (*prelu_rows)(size_t rows, size_t n, const float *x, const float *w, float *y);
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
