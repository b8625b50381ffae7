/* act_simd.h: the act family's micro-kernels written once over the SIMD vocabulary (src_c/simd/).
 * The including file includes one vec_<isa>.h first; the functions it defines are
 * fn_f32_act__<isa>, fn_f32_actk_apply__<isa>, fn_f32_prelu_rows__<isa>, fn_f32_prelu_cols__<isa>,
 * fn_f32_softmax_rows__<isa>, fn_f32_softmax_cols__<isa>. */
#ifndef FASTNORM_ACT_SIMD_H
#define FASTNORM_ACT_SIMD_H
#include "../kernels.h"
#include "../simd/vmath.h"

#include <string.h>

/* x, y: (n,); y may alias x. The clamp activations (relu, relu6) fused into other kernels' tails. */
void FN_KNAME(fn_f32_act)(size_t n, const float *x, const fn_act *act, float *y) {
    if (act->kind != FN_ACT_CLAMP) {
        if (y != x) memmove(y, x, n * sizeof(float));
        return;
    }
    const V lo = vset(act->lo), hi = vset(act->hi);
    size_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        const V v0 = vload(x + i), v1 = vload(x + i + VW);
        const V v2 = vload(x + i + 2 * VW), v3 = vload(x + i + 3 * VW);
        vstore(y + i, vclamp(v0, lo, hi));
        vstore(y + i + VW, vclamp(v1, lo, hi));
        vstore(y + i + 2 * VW, vclamp(v2, lo, hi));
        vstore(y + i + 3 * VW, vclamp(v3, lo, hi));
    }
    for (; i + VW <= n; i += VW) vstore(y + i, vclamp(vload(x + i), lo, hi));
    if (i < n) {
        const VK k = vmask_n(n - i);
        vstore_k(y + i, k, vclamp(vload_k(x + i, k), lo, hi));
    }
}

/* y[i] = EXPR(x) over n floats: whole vectors, then one masked vector for the tail. */
#define FN_ACT_LOOP(EXPR)                                                                          \
    do {                                                                                           \
        size_t i = 0;                                                                              \
        for (; i + 2 * VW <= n; i += 2 * VW) {                                                     \
            V x = vload(xs + i);                                                                   \
            const V y0 = EXPR;                                                                     \
            x = vload(xs + i + VW);                                                                \
            const V y1 = EXPR;                                                                     \
            vstore(ys + i, y0);                                                                    \
            vstore(ys + i + VW, y1);                                                               \
        }                                                                                          \
        for (; i + VW <= n; i += VW) {                                                             \
            const V x = vload(xs + i);                                                             \
            vstore(ys + i, EXPR);                                                                  \
        }                                                                                          \
        if (i < n) {                                                                               \
            const V x = vload_n(xs + i, n - i);                                                    \
            vstore_n(ys + i, n - i, EXPR);                                                         \
        }                                                                                          \
    } while (0)

/* mish(x) = x tanh(log1p(e)), e = exp(x): tanh(log(1 + e)) = n / (n + 2), n = e (e + 2).
 * Above 20 tanh(...) is 1 in float32 (and n would overflow further up). Below -20 it is e (1 - e/2 ...),
 * which rounds to e: x e with e carried scaled by 2^64, so a denormal e (x < -87) loses no precision. */
FN_INLINE V fn_mish(V x) {
    const V es = fn_exp_scaled(x, 64);
    const V e = vmul(es, vset(0x1p-64f));
    const V n = vmul(e, vadd(e, vset(2.0f)));
    const V y = vmul(x, vdiv(n, vadd(n, vset(2.0f))));
    const V tail = vmul(vmul(x, es), vset(0x1p-64f));
    return fn_neg_inf_to_neg_zero(x, vsel(vgt(x, vset(20.0f)), x, vsel(vlt(x, vset(-20.0f)), tail, y)));
}

/* y = EXPR(x) of one kind of FN_ACTK_KINDS (act_kinds.h): one case a kind, generated from the list. */
fn_status FN_KNAME(fn_f32_actk_apply)(int kind, size_t n, const float *xs,
                                          const fn_act_params *p, float *ys) {
    const V zero = vset(0.0f), one = vset(1.0f);
    const V lo = vset(p->lo), hi = vset(p->hi), slope = vset(p->slope);
    const V alpha = vset(p->alpha), scale = vset(p->scale), iscale = vset(p->input_scale);
    const V beta = vset(p->beta), thresh = vset(p->threshold);
    (void)one;
    switch (kind) {
#define FN_ACTK_CASE_(NAME, EXPR)                                                                  \
    case FN_ACTK_##NAME:                                                                           \
        FN_ACT_LOOP(EXPR);                                                                         \
        break;
        FN_ACTK_KINDS(FN_ACTK_CASE_)
#undef FN_ACTK_CASE_
    default:
        return FN_ERR_ARG;
    }
    return FN_OK;
}

// x, y: (rows, n); w: (rows,)
void FN_KNAME(fn_f32_prelu_rows)(size_t rows, size_t n, const float *x, const float *w,
                                     float *y) {
    const V zero = vset(0.0f);
    for (size_t r = 0; r < rows; r++) {
        const V wr = vset(w[r]);
        const float *xs = x + r * n;
        float *ys = y + r * n;
        FN_ACT_LOOP(vsel(vgt(x, zero), x, vmul(wr, x)));
    }
}

/* Channels last: each row holds c channels, channel j's slope w[j] (fn_act.h, prelu_cols). The slopes
 * of a row's whole vectors are reloaded per row (from L1): a model's NHWC activations reached the
 * per-row kernel one pixel at a time, a row of one float (~1.4 ns an element). */
void FN_KNAME(fn_f32_prelu_cols)(size_t rows, size_t c, const float *x, const float *w, float *y) {
    const V zero = vset(0.0f);
    for (size_t r = 0; r < rows; r++, x += c, y += c) {
        size_t j = 0;
        for (; j + VW <= c; j += VW) {
            const V v = vload(x + j);
            vstore(y + j, vsel(vgt(v, zero), v, vmul(vload(w + j), v)));
        }
        if (j < c) {
            const V v = vload_n(x + j, c - j);
            vstore_n(y + j, c - j, vsel(vgt(v, zero), v, vmul(vload_n(w + j, c - j), v)));
        }
    }
}

/* One lane's log, for the log-sum of a row */
FN_INLINE float fn_logf_lane(float s) { return vhmax(v_log(vset(s))); }

/* A NaN anywhere in a row may be skipped by the max (x86 max keeps its second operand), but
 * then exp(NaN - max) is NaN and the sum carries it to the whole row, as torch. An all -inf row
 * has max -inf, -inf - -inf = NaN: a NaN row, as torch. */
// x, y: (rows, len)
void FN_KNAME(fn_f32_softmax_rows)(size_t rows, size_t len, const float *x, float *y, int log) {
    const float ninf = -__builtin_inff();
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        float *yr = y + r * len;
        size_t i;
        V m = vset(ninf);
        for (i = 0; i + VW <= len; i += VW) m = vmax(m, vload(xr + i));
        if (i < len) m = vmax(m, vload_n_fill(xr + i, len - i, ninf));
        const float mx = vhmax(m);
        const V mv = vset(mx);
        V s = vset(0.0f);
        for (i = 0; i + VW <= len; i += VW) {
            const V e = v_exp(vsub(vload(xr + i), mv));
            if (!log) vstore(yr + i, e);
            s = vadd(s, e);
        }
        if (i < len) {
            const V e = v_exp(vsub(vload_n_fill(xr + i, len - i, ninf), mv));
            if (!log) vstore_n(yr + i, len - i, e);
            s = vadd(s, e);
        }
        const float sum = vhsum(s);
        if (log) {
            const V ls = vset(fn_logf_lane(sum));
            for (i = 0; i + VW <= len; i += VW) vstore(yr + i, vsub(vsub(vload(xr + i), mv), ls));
            if (i < len)
                vstore_n(yr + i, len - i, vsub(vsub(vload_n(xr + i, len - i), mv), ls));
        } else {
            const V inv = vset(1.0f / sum);
            for (i = 0; i + VW <= len; i += VW) vstore(yr + i, vmul(vload(yr + i), inv));
            if (i < len) vstore_n(yr + i, len - i, vmul(vload_n(yr + i, len - i), inv));
        }
    }
}

/* One block of at most VW columns: lanes are independent, so a column's result does not depend
 * on which block (or thread) computed it. */
FN_INLINE void fn_softmax_cols_block(size_t len, size_t stride, size_t w, const float *x,
                                      float *y, int log) {
#define FN_LD(p) (w == VW ? vload(p) : vload_n((p), w))
#define FN_ST(p, v) (w == VW ? vstore((p), (v)) : vstore_n((p), w, (v)))
    V m = vset(-__builtin_inff());
    for (size_t l = 0; l < len; l++) m = vmax(m, FN_LD(x + l * stride));
    V s = vset(0.0f);
    for (size_t l = 0; l < len; l++) {
        const V e = v_exp(vsub(FN_LD(x + l * stride), m));
        if (!log) FN_ST(y + l * stride, e);
        s = vadd(s, e);
    }
    if (log) {
        const V ls = v_log(s);
        for (size_t l = 0; l < len; l++) FN_ST(y + l * stride, vsub(vsub(FN_LD(x + l * stride), m), ls));
    } else {
        const V inv = vdiv(vset(1.0f), s);
        for (size_t l = 0; l < len; l++) FN_ST(y + l * stride, vmul(FN_LD(y + l * stride), inv));
    }
#undef FN_LD
#undef FN_ST
}

// x, y: (len, stride), columns j < nc
void FN_KNAME(fn_f32_softmax_cols)(size_t len, size_t stride, size_t nc, const float *x,
                                       float *y, int log) {
    size_t j = 0;
    for (; j + VW <= nc; j += VW) fn_softmax_cols_block(len, stride, VW, x + j, y + j, log);
    if (j < nc) fn_softmax_cols_block(len, stride, nc - j, x + j, y + j, log);
}

#endif
