/* vec_scalar.h: the SIMD vocabulary for portable C, one float per "vector". A template instantiated
 * over it is the readable spec of the wide kernels: the same algorithm. Baseline x86-64 has no FMA
 * instruction, so vfma rounds a*b + c once in double (a*b is exact there). */
#ifndef FASTNORM_SIMD_VEC_H
#define FASTNORM_SIMD_VEC_H
#include <string.h>

#include "common.h"

#define FN_ISA scalar
#define VW 1
typedef float V;
typedef int32_t VI;
typedef int VM;
typedef int VK;

FN_INLINE V vset(float a) { return a; }
FN_INLINE V vload(const float *p) { return *p; }
FN_INLINE void vstore(float *p, V v) { *p = v; }
FN_INLINE V vzero(void) { return 0.0f; }
FN_INLINE V vbroadcast(const float *p) { return *p; }
FN_INLINE VK vmask_n(size_t n) { return n != 0; }
FN_INLINE V vload_k(const float *p, VK k) { return k ? *p : 0.0f; }
FN_INLINE void vstore_k(float *p, VK k, V v) { if (k) *p = v; }
FN_INLINE V vload_even_n(const float *p, size_t r) { (void)r; return *p; }
FN_INLINE VI viload(const int32_t *p) { return *p; }
FN_INLINE V vgather(const float *base, VI idx) { return base[idx]; }
FN_INLINE V vperm(V a, VI idx) { (void)idx; return a; }
FN_INLINE V vload_n_fill(const float *p, size_t n, float fill) { (void)n; (void)fill; return *p; }

FN_INLINE V vadd(V a, V b) { return a + b; }
FN_INLINE V vsub(V a, V b) { return a - b; }
FN_INLINE V vmul(V a, V b) { return a * b; }
FN_INLINE V vdiv(V a, V b) { return a / b; }
FN_INLINE V vsqrt(V a) { return __builtin_sqrtf(a); }
FN_INLINE V vfma(V a, V b, V c) { return (float)((double)a * (double)b + (double)c); }
FN_INLINE V vfms(V a, V b, V c) { return (float)((double)a * (double)b - (double)c); }
FN_INLINE V vfnma(V a, V b, V c) { return (float)((double)c - (double)a * (double)b); }
/* as x86 max/min: the SECOND operand is returned when either is NaN */
FN_INLINE V vmax(V a, V b) { return a > b ? a : b; }
FN_INLINE V vmin(V a, V b) { return a < b ? a : b; }
FN_INLINE V vrcp_approx(V a) { return 1.0f / a; }
#define FN_VRCP_BITS 24 /* a division (vmath.h) */
#define FN_VDIV_FAST 1  /* vmath.h: a division instead of reciprocal + refinement */
FN_INLINE uint32_t fn_fbits(float a) { uint32_t u; memcpy(&u, &a, 4); return u; }
FN_INLINE float fn_bitsf(uint32_t u) { float a; memcpy(&a, &u, 4); return a; }
FN_INLINE V vabs(V a) { return fn_bitsf(fn_fbits(a) & 0x7fffffffu); }
FN_INLINE V vcopysign(V mag, V sgn) { return fn_bitsf((fn_fbits(mag) & 0x7fffffffu) | (fn_fbits(sgn) & 0x80000000u)); }
FN_INLINE V vxor_sign(V a, V sgn) { return fn_bitsf(fn_fbits(a) ^ (fn_fbits(sgn) & 0x80000000u)); }

FN_INLINE VM vlt(V a, V b) { return a < b; }
FN_INLINE VM vle(V a, V b) { return a <= b; }
FN_INLINE VM vgt(V a, V b) { return a > b; }
FN_INLINE VM vge(V a, V b) { return a >= b; }
FN_INLINE VM veq(V a, V b) { return a == b; }
FN_INLINE VM vunord(V a, V b) { return a != a || b != b; }
FN_INLINE V vsel(VM m, V a, V b) { return m ? a : b; }
FN_INLINE VM vm_none(void) { return 0; }
FN_INLINE VM vm_or(VM a, VM b) { return a | b; }
FN_INLINE int vm_any(VM m) { return m != 0; }

/* a is integral and within int32 (or NaN, only on NaN input, whose result is NaN anyway) */
FN_INLINE VI vcvt_f2i(V a) { return a == a ? (int32_t)a : 0; }
FN_INLINE V vcvt_i2f(VI a) { return (float)a; }
FN_INLINE VI vbits(V a) { return (int32_t)fn_fbits(a); }
FN_INLINE V vfrombits(VI a) { return fn_bitsf((uint32_t)a); }
FN_INLINE VI viset(int32_t a) { return a; }
FN_INLINE V vand(V a, V b) { return fn_bitsf(fn_fbits(a) & fn_fbits(b)); }
FN_INLINE VI viadd(VI a, VI b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
FN_INLINE VI visub(VI a, VI b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
FN_INLINE VI visra(VI a, int s) { return a >> s; } /* gcc: arithmetic shift */
FN_INLINE VI visll(VI a, int s) { return (int32_t)((uint32_t)a << s); }

FN_INLINE void vacc_tail(float *t, const float *s, size_t n) { (void)t, (void)s, (void)n; } /* n < 1 */

FN_INLINE float vhmax(V a) { return a; }
FN_INLINE float vhsum(V a) { return a; }

#include "vec_ops.h"
#endif
