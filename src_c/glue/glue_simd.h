/* glue_simd.h: the glue micro-kernels that are the same algorithm in every wide ISA (binary op,
 * copy, fill, 2-D lerp), written once over the SIMD vocabulary. The including glue_<isa>.c includes
 * src_c/simd/vec_<isa>.h first and adds the kernels whose best form is ISA-specific (dup2, gather,
 * bilinear_row), or defines GLUE_GATHER_GENERIC 1 to take gather and bilinear_row from here. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#include <string.h>

/* Every element goes through the same arithmetic in full vectors and masked tails, so a value never
 * depends on where it falls in a vector and the drivers may split work anywhere. */

FN_INLINE V glue_op(int op, V a, V b, V alpha) {
    switch (op) {
    case FN_BIN_MUL: return vmul(a, b);
    case FN_BIN_RADD: return vfma(a, alpha, b);
    case FN_BIN_SUB: return vfnma(b, alpha, a);
    case FN_BIN_RSUB: return vfnma(a, alpha, b);
    case FN_BIN_DIV: return vdiv(a, b);
    case FN_BIN_RDIV: return vdiv(b, a);
    case FN_BIN_MAX: return vmax(a, b);
    case FN_BIN_MIN: return vmin(a, b);
    case FN_BIN_EQ: return vsel(veq(a, b), vset(1.0f), vzero());
    case FN_BIN_NE: return vsel(veq(a, b), vzero(), vset(1.0f));
    case FN_BIN_LT: return vsel(vlt(a, b), vset(1.0f), vzero());
    case FN_BIN_GT: return vsel(vgt(a, b), vset(1.0f), vzero());
    case FN_BIN_LE: return vsel(vle(a, b), vset(1.0f), vzero());
    case FN_BIN_GE: return vsel(vge(a, b), vset(1.0f), vzero());
    case FN_BIN_KEEP: return vsel(veq(b, vzero()), vzero(), a);
    case FN_BIN_RKEEP: return vsel(veq(a, vzero()), vzero(), b);
    case FN_BIN_DROP: return vsel(veq(b, vzero()), a, vzero());
    case FN_BIN_RDROP: return vsel(veq(a, vzero()), b, vzero());
    default: return vfma(b, alpha, a);
    }
}

/* b_vec 1: b is a vector (b[i]); b_vec 0: b[0] broadcast. op is a constant at each call site. */
FN_INLINE void glue_binary(int op, size_t n, const float *a, const float *b, int b_vec, V alpha, int clamp,
                           V lo, V hi, float *y) {
    const V bs = b_vec ? vzero() : vset(b[0]);
    size_t i = 0;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        V v0 = glue_op(op, vload(a + i), b_vec ? vload(b + i) : bs, alpha);
        V v1 = glue_op(op, vload(a + i + VW), b_vec ? vload(b + i + VW) : bs, alpha);
        V v2 = glue_op(op, vload(a + i + 2 * VW), b_vec ? vload(b + i + 2 * VW) : bs, alpha);
        V v3 = glue_op(op, vload(a + i + 3 * VW), b_vec ? vload(b + i + 3 * VW) : bs, alpha);
        vstore(y + i, vclamp_if(v0, clamp, lo, hi));
        vstore(y + i + VW, vclamp_if(v1, clamp, lo, hi));
        vstore(y + i + 2 * VW, vclamp_if(v2, clamp, lo, hi));
        vstore(y + i + 3 * VW, vclamp_if(v3, clamp, lo, hi));
    }
    for (; i + VW <= n; i += VW) {
        const V v = glue_op(op, vload(a + i), b_vec ? vload(b + i) : bs, alpha);
        vstore(y + i, vclamp_if(v, clamp, lo, hi));
    }
    if (i < n) {
        const VK k = vmask_n(n - i);
        const V v = glue_op(op, vload_k(a + i, k), b_vec ? vload_k(b + i, k) : bs, alpha);
        vstore_k(y + i, k, vclamp_if(v, clamp, lo, hi));
    }
}

#define BINARY_DISPATCH(CALL)                                                                      \
    switch (op) {                                                                                  \
    case FN_BIN_MUL: CALL(FN_BIN_MUL); break;                                                      \
    case FN_BIN_RADD: CALL(FN_BIN_RADD); break;                                                    \
    case FN_BIN_SUB: CALL(FN_BIN_SUB); break;                                                      \
    case FN_BIN_RSUB: CALL(FN_BIN_RSUB); break;                                                    \
    case FN_BIN_DIV: CALL(FN_BIN_DIV); break;                                                      \
    case FN_BIN_RDIV: CALL(FN_BIN_RDIV); break;                                                    \
    case FN_BIN_MAX: CALL(FN_BIN_MAX); break;                                                      \
    case FN_BIN_MIN: CALL(FN_BIN_MIN); break;                                                      \
    case FN_BIN_EQ: CALL(FN_BIN_EQ); break;                                                        \
    case FN_BIN_NE: CALL(FN_BIN_NE); break;                                                        \
    case FN_BIN_LT: CALL(FN_BIN_LT); break;                                                        \
    case FN_BIN_GT: CALL(FN_BIN_GT); break;                                                        \
    case FN_BIN_LE: CALL(FN_BIN_LE); break;                                                        \
    case FN_BIN_GE: CALL(FN_BIN_GE); break;                                                        \
    case FN_BIN_KEEP: CALL(FN_BIN_KEEP); break;                                                    \
    case FN_BIN_RKEEP: CALL(FN_BIN_RKEEP); break;                                                   \
    case FN_BIN_DROP: CALL(FN_BIN_DROP); break;                                                    \
    case FN_BIN_RDROP: CALL(FN_BIN_RDROP); break;                                                  \
    default: CALL(FN_BIN_ADD); break;                                                              \
    }

void FN_KNAME(fn_f32_binary)(int op, size_t n, const float *a, const float *b, float alpha,
                             const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi), al = vset(alpha);
#define CALL(OP) glue_binary(OP, n, a, b, 1, al, clamp, lo, hi, y)
    BINARY_DISPATCH(CALL)
#undef CALL
}

void FN_KNAME(fn_f32_binary_rows)(int op, size_t rows, size_t n, const float *a, const float *b,
                                  float alpha, const fn_act *act, float *y) {
    const int clamp = act->kind == FN_ACT_CLAMP;
    const V lo = vset(act->lo), hi = vset(act->hi), al = vset(alpha);
    for (size_t r = 0; r < rows; r++, a += n, y += n) {
#define CALL(OP) glue_binary(OP, n, a, b + r, 0, al, clamp, lo, hi, y)
        BINARY_DISPATCH(CALL)
#undef CALL
    }
}
#undef BINARY_DISPATCH

void FN_KNAME(fn_f32_copy)(size_t n, const float *x, float *y) {
    if (n >= 1024) { /* libc's copy picks the best strategy for long runs */
        memcpy(y, x, n * sizeof(float));
        return;
    }
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        const V v0 = vload(x + i), v1 = vload(x + i + VW);
        vstore(y + i, v0);
        vstore(y + i + VW, v1);
    }
    for (; i + VW <= n; i += VW) vstore(y + i, vload(x + i));
    if (i < n) {
        const VK k = vmask_n(n - i);
        vstore_k(y + i, k, vload_k(x + i, k));
    }
}

void FN_KNAME(fn_f32_fill)(size_t n, float v, float *y) {
    const V s = vset(v);
    size_t i = 0;
    for (; i + VW <= n; i += VW) vstore(y + i, s);
    if (i < n) vstore_k(y + i, vmask_n(n - i), s);
}

FN_INLINE V blend4(V a00, V a01, V a10, V a11, V l0, V l1, V w0, V w1) {
    /* the portable kernel's order, no FMA: identical results in every ISA */
    const V t0 = vadd(vmul(l0, a00), vmul(l1, a01));
    const V t1 = vadd(vmul(l0, a10), vmul(l1, a11));
    return vadd(vmul(w0, t0), vmul(w1, t1));
}

void FN_KNAME(fn_f32_lerp2d)(size_t c, const float *p00, const float *p01, const float *p10,
                             const float *p11, float w0, float w1, float l0, float l1, float *y) {
    const V vw0 = vset(w0), vw1 = vset(w1);
    const V vl0 = vset(l0), vl1 = vset(l1);
    size_t j = 0;
    for (; j + VW <= c; j += VW)
        vstore(y + j, blend4(vload(p00 + j), vload(p01 + j), vload(p10 + j), vload(p11 + j), vl0, vl1, vw0, vw1));
    if (j < c) {
        const VK k = vmask_n(c - j);
        vstore_k(y + j, k, blend4(vload_k(p00 + j, k), vload_k(p01 + j, k), vload_k(p10 + j, k),
                                  vload_k(p11 + j, k), vl0, vl1, vw0, vw1));
    }
}

#if GLUE_GATHER_GENERIC
/* Gathers through the vocabulary's vgather (a hardware gather on AVX2, lane loads on NEON). */
void FN_KNAME(fn_f32_gather)(size_t n, const float *x, const int32_t *ix, float *y) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) vstore(y + i, vgather(x, viload(ix + i)));
    for (; i < n; i++) y[i] = x[ix[i]];
}

void FN_KNAME(fn_f32_bilinear_row)(size_t n, size_t w, const float *r0, const float *r1, float w0,
                                   float w1, const int32_t *i0, const int32_t *i1, const float *l0,
                                   const float *l1, float *y) {
    (void)w;
    const V vw0 = vset(w0), vw1 = vset(w1);
    size_t o = 0;
    for (; o + VW <= n; o += VW) {
        const VI j0 = viload(i0 + o), j1 = viload(i1 + o);
        const V v = blend4(vgather(r0, j0), vgather(r0, j1), vgather(r1, j0), vgather(r1, j1),
                           vload(l0 + o), vload(l1 + o), vw0, vw1);
        vstore(y + o, v);
    }
    for (; o < n; o++) {
        const float t0 = l0[o] * r0[i0[o]] + l1[o] * r0[i1[o]];
        const float t1 = l0[o] * r1[i0[o]] + l1[o] * r1[i1[o]];
        y[o] = w0 * t0 + w1 * t1;
    }
}
#endif
