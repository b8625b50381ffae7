/* act_kinds.h: the elementwise activation kinds, one line each: X(NAME, EXPR).
 *
 * This list is the act family's table. The enum fn_actk_kind (fn_act.h), the kinds the bindings
 * export as fastnorm._C.ACTK_<NAME> and the cases of fn_f32_actk_apply (act_simd.h, one instantiation
 * per ISA) are all generated from it, so a new activation is one line here (its vector formula) plus
 * its row in fastnorm/optable.py. Ids follow the order of the list and are never written anywhere.
 *
 * EXPR is a vector expression in x (V) over the SIMD vocabulary (src_c/simd/vec_<isa>.h) and the
 * vector math (src_c/simd/vmath.h). It may use: zero, one, and the fn_act_params fields broadcast as
 * lo, hi (CLAMP), slope (LEAKY_RELU), alpha, scale, iscale (ELU), beta, thresh (SOFTPLUS); and the
 * helpers vmath.h and act_simd.h define (fn_silu, fn_gelu, fn_gelu_tanh, fn_hardswish, fn_mish,
 * fn_neg_inf_to_neg_zero, fn_mul_sigmoid). Formulas follow torch's CPU kernels where their operation order decides the
 * rounding; edge values (+-inf, NaN) are the mathematical limits (README, "Edge values").
 * FN_ACTK_CLAMP is the epilogue clamp (fn_act's FN_ACT_CLAMP): relu, relu6, hardtanh, clamp. */
#ifndef FASTNORM_ACT_KINDS_H
#define FASTNORM_ACT_KINDS_H

/* clang-format off */
#define FN_ACTK_KINDS(X)                                                                           \
    X(IDENTITY,    x)                                                                              \
    /* min(max(x, lo), hi); lo/hi first: max/min return x on NaN; relu(-0) stays -0, as torch */   \
    X(CLAMP,       vmin(hi, vmax(lo, x)))                                                          \
    X(LEAKY_RELU,  vsel(vgt(x, zero), x, vmul(x, slope)))                                          \
    /* x > 0 ? x scale : expm1(x iscale) alpha: elu (scale 1, iscale 1), selu (alpha = a s,       \
     * scale s), celu (iscale 1/alpha), as torch's generalised elu */                              \
    X(ELU,         vsel(vgt(x, zero), vmul(x, scale), vmul(v_expm1(vmul(x, iscale)), alpha)))      \
    X(SIGMOID,     v_sigmoid(x))                                                                   \
    X(TANH,        v_tanh(x))                                                                      \
    X(SILU,        fn_silu(x))                    /* vmath.h: -inf gives -0 there */               \
    X(GELU,        fn_gelu(x))                    /* x/2 (1 + erf(x/sqrt2)) */                     \
    X(GELU_TANH,   fn_gelu_tanh(x))               /* x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) */ \
    X(HARDSIGMOID, vdiv(vmin(vset(6.0f), vmax(zero, vadd(x, vset(3.0f)))), vset(6.0f)))            \
    X(HARDSWISH,   fn_hardswish(x))               /* vmath.h: x (clamp(x + 3, 0, 6) / 6) */        \
    X(MISH,        fn_mish(x))                    /* x tanh(log1p(exp(x))) */                      \
    /* x beta > thresh ? x : log1p(exp(x beta)) / beta */                                          \
    X(SOFTPLUS,    vsel(vgt(vmul(x, beta), thresh), x, vdiv(v_log1p(v_exp(vmul(x, beta))), beta))) \
    /* x / (1 + |x|); +-inf give the limit +-1 (inf / inf would be NaN) */                       \
    X(SOFTSIGN,    vsel(veq(vabs(x), vset(__builtin_inff())), vcopysign(one, x), vdiv(x, vadd(one, vabs(x))))) \
    X(ABS,         vabs(x))                                                                        \
    /* -x: -0 for +0 and NaN kept, as torch's neg */                                               \
    X(NEG,         vmul(x, vset(-1.0f)))                                                           \
    X(SQUARE,      vmul(x, x))                    /* pow(x, 2) */                                  \
    X(SQRT,        vsqrt(x))                      /* correctly rounded; NaN below 0, as sqrtf */   \
    X(RSQRT,       vdiv(one, vsqrt(x)))           /* 1 / sqrt(x), as torch's CPU rsqrt */          \
    /* the vector math itself, for the accuracy tests */                                           \
    X(EXP,         v_exp(x))                                                                       \
    X(EXPM1,       v_expm1(x))                                                                     \
    X(LOG,         v_log(x))                                                                       \
    X(LOG1P,       v_log1p(x))                                                                     \
    X(ERF,         v_erf(x))                                                                       \
    X(ERFC,        v_erfc(x))                                                                      \
    /* ONNX Cast to float16 / bfloat16 and back: rounded to nearest, ties to even (vmath.h) */     \
    X(ROUND_F16,   fn_round_f16(x))                                                                \
    X(ROUND_BF16,  fn_round_bf16(x))
/* clang-format on */

#endif
