/* vmath.h: the vector vocabulary of vmath_generic.h / act_generic.h for portable C, one float per
 * "vector". The portable kernels are the same algorithms as the wide ones: the readable spec. Baseline
 * x86-64 has no FMA instruction, so vfma rounds a*b + c once in double (a*b is exact there). */
#ifndef FASTNORM_VMATH_H
#define FASTNORM_VMATH_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FN_VINLINE static inline __attribute__((always_inline))
#define VW 1
typedef float V;
typedef int32_t VI;
typedef int VM;

FN_VINLINE V vset(float a) { return a; }
FN_VINLINE V vload(const float *p) { return *p; }
FN_VINLINE void vstore(float *p, V v) { *p = v; }
FN_VINLINE V vload_n(const float *p, size_t n) { (void)n; return *p; }
FN_VINLINE void vstore_n(float *p, size_t n, V v) { (void)n; *p = v; }
FN_VINLINE V vload_n_fill(const float *p, size_t n, float fill) { (void)n; (void)fill; return *p; }

FN_VINLINE V vadd(V a, V b) { return a + b; }
FN_VINLINE V vsub(V a, V b) { return a - b; }
FN_VINLINE V vmul(V a, V b) { return a * b; }
FN_VINLINE V vdiv(V a, V b) { return a / b; }
FN_VINLINE V vfma(V a, V b, V c) { return (float)((double)a * (double)b + (double)c); }
FN_VINLINE V vfnma(V a, V b, V c) { return (float)((double)c - (double)a * (double)b); }
/* as x86 max/min: the SECOND operand is returned when either is NaN */
FN_VINLINE V vmax(V a, V b) { return a > b ? a : b; }
FN_VINLINE V vmin(V a, V b) { return a < b ? a : b; }
FN_VINLINE V vrcp_approx(V a) { return 1.0f / a; }
FN_VINLINE uint32_t fn_fbits(float a) { uint32_t u; memcpy(&u, &a, 4); return u; }
FN_VINLINE float fn_bitsf(uint32_t u) { float a; memcpy(&a, &u, 4); return a; }
FN_VINLINE V vabs(V a) { return fn_bitsf(fn_fbits(a) & 0x7fffffffu); }
FN_VINLINE V vcopysign(V mag, V sgn) { return fn_bitsf((fn_fbits(mag) & 0x7fffffffu) | (fn_fbits(sgn) & 0x80000000u)); }
FN_VINLINE V vxor_sign(V a, V sgn) { return fn_bitsf(fn_fbits(a) ^ (fn_fbits(sgn) & 0x80000000u)); }

FN_VINLINE VM vlt(V a, V b) { return a < b; }
FN_VINLINE VM vle(V a, V b) { return a <= b; }
FN_VINLINE VM vgt(V a, V b) { return a > b; }
FN_VINLINE VM vge(V a, V b) { return a >= b; }
FN_VINLINE VM veq(V a, V b) { return a == b; }
FN_VINLINE VM vunord(V a, V b) { return a != a || b != b; }
FN_VINLINE V vsel(VM m, V a, V b) { return m ? a : b; }

/* a is integral and within int32 (or NaN, only on NaN input, whose result is NaN anyway) */
FN_VINLINE VI vcvt_f2i(V a) { return a == a ? (int32_t)a : 0; }
FN_VINLINE V vcvt_i2f(VI a) { return (float)a; }
FN_VINLINE VI vbits(V a) { return (int32_t)fn_fbits(a); }
FN_VINLINE V vfrombits(VI a) { return fn_bitsf((uint32_t)a); }
FN_VINLINE VI viset(int32_t a) { return a; }
FN_VINLINE VI viadd(VI a, VI b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
FN_VINLINE VI visub(VI a, VI b) { return (int32_t)((uint32_t)a - (uint32_t)b); }
FN_VINLINE VI visra(VI a, int s) { return a >> s; } /* gcc: arithmetic shift */
FN_VINLINE VI visll(VI a, int s) { return (int32_t)((uint32_t)a << s); }

FN_VINLINE float vhmax(V a) { return a; }
FN_VINLINE float vhsum(V a) { return a; }

#include "vmath_generic.h"
#endif
