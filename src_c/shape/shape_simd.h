/* shape_simd.h: the shape family's micro-kernels (strided row gather, row reductions), written once
 * over the SIMD vocabulary; shape.c, shape_avx2.c, shape_avx512.c instantiate them per ISA. */
#ifndef FN_ISA
#error "include a src_c/simd/vec_<isa>.h first"
#endif
#include <string.h>

void FN_KNAME(fn_f32_gather_row)(size_t n, const float *x, ptrdiff_t sx, float *y) {
    if (sx == 1) {
        memcpy(y, x, n * sizeof(float));
        return;
    }
    size_t i = 0;
    if (sx == 0) {
        const V v = vset(x[0]);
        for (; i + VW <= n; i += VW) vstore(y + i, v);
        if (i < n) vstore_k(y + i, vmask_n(n - i), v);
        return;
    }
    /* lane j gathers x[(i + j) * sx]: int32 offsets from the block's first element */
    const ptrdiff_t span = (ptrdiff_t)VW * (sx < 0 ? -sx : sx);
    if (VW > 1 && span < ((ptrdiff_t)1 << 30)) {
        int32_t off[VW];
        for (size_t j = 0; j < VW; j++) off[j] = (int32_t)((ptrdiff_t)j * sx);
        const VI vo = viload(off);
        for (; i + VW <= n; i += VW) vstore(y + i, vgather(x + (ptrdiff_t)i * sx, vo));
    }
    for (; i < n; i++) y[i] = x[(ptrdiff_t)i * sx];
}

void FN_KNAME(fn_f32_acc_row)(int kind, size_t n, const float *x, float *y) {
    size_t i = 0;
    if (kind == FN_REDUCE_MAX) {
        for (; i + VW <= n; i += VW) vstore(y + i, vmax(vload(x + i), vload(y + i)));
        if (i < n) {
            const VK k = vmask_n(n - i);
            vstore_k(y + i, k, vmax(vload_k(x + i, k), vload_k(y + i, k)));
        }
        return;
    }
    for (; i + VW <= n; i += VW) vstore(y + i, vadd(vload(y + i), vload(x + i)));
    if (i < n) {
        const VK k = vmask_n(n - i);
        vstore_k(y + i, k, vadd(vload_k(y + i, k), vload_k(x + i, k)));
    }
}

float FN_KNAME(fn_f32_reduce_row)(int kind, size_t n, const float *x) {
    size_t i = 0;
    if (kind == FN_REDUCE_MAX) {
        V m0 = vset(x[0]), m1 = m0;
        for (; i + 2 * VW <= n; i += 2 * VW) m0 = vmax(vload(x + i), m0), m1 = vmax(vload(x + i + VW), m1);
        for (; i + VW <= n; i += VW) m0 = vmax(vload(x + i), m0);
        if (i < n) m1 = vmax(vload_n_fill(x + i, n - i, x[0]), m1);
        return vhmax(vmax(m0, m1));
    }
    V s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
    for (; i + 4 * VW <= n; i += 4 * VW) {
        s0 = vadd(s0, vload(x + i));
        s1 = vadd(s1, vload(x + i + VW));
        s2 = vadd(s2, vload(x + i + 2 * VW));
        s3 = vadd(s3, vload(x + i + 3 * VW));
    }
    for (; i + VW <= n; i += VW) s0 = vadd(s0, vload(x + i));
    if (i < n) s1 = vadd(s1, vload_n(x + i, n - i));
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

void FN_KNAME(fn_f32_scale_row)(size_t n, float s, float *y) {
    const V vs = vset(s);
    size_t i = 0;
    for (; i + VW <= n; i += VW) vstore(y + i, vmul(vload(y + i), vs));
    if (i < n) {
        const VK k = vmask_n(n - i);
        vstore_k(y + i, k, vmul(vload_k(y + i, k), vs));
    }
}
