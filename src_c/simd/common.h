/* common.h: what every SIMD file shares, whatever its ISA: the one spelling of always-inline, the
 * per-ISA kernel name stamp, a prefetch hint, and FN_REP for spelling out one tile row per line.
 * A template header (*_simd.h) is C over the vocabulary of vec_<isa>.h; the small per-ISA .c file
 * that includes it picks the vocabulary, and FN_KNAME gives each kernel its ISA suffix. */
#ifndef FASTNORM_SIMD_COMMON_H
#define FASTNORM_SIMD_COMMON_H
#include <stddef.h>
#include <stdint.h>

/* Helpers are always inlined, so no wide code lands in a function without the ISA suffix, and loops
 * over tile rows are unrolled by FN_UNROLL(n) (= #pragma GCC unroll n). Under AddressSanitizer
 * (FASTNORM_SANITIZE=1 in setup.py; gcc and clang define __SANITIZE_ADDRESS__) both are left to the
 * compiler: forced inlining and full unrolling of the depthwise kernel's 57 variants, each access to its
 * stack arrays instrumented, took gcc -O1 past 10 minutes on dwconv_avx2.c alone. The helpers stay
 * static functions of the ISA file, so they are still compiled for its ISA. */
#define FN_PRAGMA_(x) _Pragma(#x)
#if defined(__SANITIZE_ADDRESS__) || defined(FN_SANITIZE)
#define FN_INLINE static inline
#define FN_UNROLL(n)
#else
#define FN_INLINE static inline __attribute__((always_inline))
#define FN_UNROLL(n) FN_PRAGMA_(GCC unroll n)
#endif

/* FN_KNAME(fn_f32_act) -> fn_f32_act__avx2 when vec_avx2.h (FN_ISA avx2) is the vocabulary. */
#define FN_KNAME_(name, isa) name##__##isa
#define FN_KNAME_X(name, isa) FN_KNAME_(name, isa)
#define FN_KNAME(name) FN_KNAME_X(name, FN_ISA)

/* FN_ISAX(FN_IGEMM_MR) -> FN_IGEMM_MR_avx2: a per-ISA constant of a kernel family. */
#define FN_ISAX_(name, isa) name##_##isa
#define FN_ISAX_X(name, isa) FN_ISAX_(name, isa)
#define FN_ISAX(name) FN_ISAX_X(name, FN_ISA)

/* Read prefetch into every cache level (prefetcht0 on x86). */
#define fn_prefetch(p) __builtin_prefetch((const void *)(p), 0, 3)

/* FN_REP(n, X) expands X(0) X(1) ... X(n-1); n must be a literal 1..16 (a tile's MR). The wide
 * kernels spell one named variable per accumulator with it: gcc keeps named vectors in registers,
 * where an array indexed in loops sometimes stays in memory (a store per FMA). */
#define FN_REP_1(X) X(0)
#define FN_REP_2(X) FN_REP_1(X) X(1)
#define FN_REP_3(X) FN_REP_2(X) X(2)
#define FN_REP_4(X) FN_REP_3(X) X(3)
#define FN_REP_5(X) FN_REP_4(X) X(4)
#define FN_REP_6(X) FN_REP_5(X) X(5)
#define FN_REP_7(X) FN_REP_6(X) X(6)
#define FN_REP_8(X) FN_REP_7(X) X(7)
#define FN_REP_9(X) FN_REP_8(X) X(8)
#define FN_REP_10(X) FN_REP_9(X) X(9)
#define FN_REP_11(X) FN_REP_10(X) X(10)
#define FN_REP_12(X) FN_REP_11(X) X(11)
#define FN_REP_13(X) FN_REP_12(X) X(12)
#define FN_REP_14(X) FN_REP_13(X) X(13)
#define FN_REP_15(X) FN_REP_14(X) X(14)
#define FN_REP_16(X) FN_REP_15(X) X(15)
#define FN_REP_(n, X) FN_REP_##n(X)
#define FN_REP(n, X) FN_REP_(n, X)

#endif
