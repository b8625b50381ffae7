/* vec_ops.h: small helpers written once over the vocabulary of whichever vec_<isa>.h included it. */
#ifndef FASTNORM_SIMD_VEC_OPS_H
#define FASTNORM_SIMD_VEC_OPS_H

/* Lanes < n of a vector whose first lane is `left` floats from the end (any left, 0 included). */
FN_INLINE VK vmask_upto(size_t left) { return vmask_n(left < VW ? left : VW); }
/* Lanes >= n read as 0 and are never written. 0 < n <= VW. */
FN_INLINE V vload_n(const float *p, size_t n) { return vload_k(p, vmask_n(n)); }
FN_INLINE void vstore_n(float *p, size_t n, V v) { vstore_k(p, vmask_n(n), v); }
/* MASKED (a constant at each call site): through the lane mask k, else a whole vector. */
FN_INLINE V vload_m(const float *p, int MASKED, VK k) { return MASKED ? vload_k(p, k) : vload(p); }
FN_INLINE void vstore_m(float *p, V v, int MASKED, VK k) {
    if (MASKED) vstore_k(p, k, v);
    else vstore(p, v);
}
/* lo/hi first: max/min return the second operand on NaN, so NaN stays NaN, and -0.0 stays -0.0
 * under relu (max(0, -0) returns the second operand), as torch. */
FN_INLINE V vclamp(V v, V lo, V hi) { return vmin(hi, vmax(lo, v)); }
FN_INLINE V vclamp_if(V v, int clamp, V lo, V hi) { return clamp ? vclamp(v, lo, hi) : v; }
#endif
