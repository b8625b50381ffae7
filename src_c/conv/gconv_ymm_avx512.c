/* gconv_ymm_avx512.c: the small-group kernel of gconv_simd.h on 8-float (ymm) vectors, compiled with
 * AVX-512's flags, for group width 8 where AVX-512 computes no more per cycle than AVX2
 * (fn_avx512_half_rate: AMD Zen 4, where a 512-bit FMA is two 256-bit halves). One group a vector,
 * its inputs as broadcasts (which AVX-512VL folds into the FMA), two groups and 8 pixels a step: 16
 * accumulator chains in AVX-512's 32 registers, where AVX2's 16 hold 8 (4 pixels). gconv_avx512.c's
 * pair kernel spends a 64-bit broadcast on every 512-bit FMA, which on Zen 4 costs a shuffle as well
 * (a standalone loop of FMAs each with one: 72% of the FMA peak; with a 32-bit broadcast 99%). The
 * same products and sums in the same order as the AVX2 table's kernel: the same bits. Measured:
 * src_c/conv/conv2d.c gconv_for. */
#include "../simd/vec_avx2.h"
#define GCONV_MR 8
#define GCONV_NB 2
#define GCONV_KNAME fn_f32_gconv_ymm__avx512
#include "gconv_simd.h"
