/* igemm_avx2.c: indirect-GEMM micro-kernel, AVX2+FMA: an MR x (8*NV) tile of ymm accumulators (igemm_simd.h). */
#include "../simd/vec_avx2.h"
#include "igemm_generic.h"

#define IGEMM_FULL_UNMASKED 1 /* vmaskmovps stores cost more than plain ones */
/* The k-loop unrolled 8 times: rolled, each k-step's 12 FMAs came with a pointer add, a counter
 * add and a compare-and-branch, and the loop ran at ~80% of the FMA rate. Measured (1 thread, Xeon,
 * FASTNORM_ISA=avx2, interleaved builds, min thread time; 1x1 convs of DenseNet-121 / Inception-v3,
 * 1x7, 3x3): sum of 12 shapes 28.3 ms rolled, 25.5 unrolled x2, 24.7 x4, 24.2 x8; 256->128 at 56x56
 * 3.97 -> 3.20 ms. A weight prefetch (as on AVX-512) measured no gain here. */
#define IGEMM_KLOOP FN_UNROLL(8)
/* silu, gelu and gelu_tanh are applied by a second pass over the stored tile (igemm_simd.h,
 * epi_pass): applied in registers as each of the 12 accumulators is stored, their temporaries and
 * constants outnumber the 16 ymm registers left, and GCC 12 then spilled an accumulator for the
 * whole tile, k-loop included (a load-FMA-store chain through the stack every k-step). */
#define IGEMM_EPI_TWO_PASS 1
/* The prefetching tile (fn_f32_igemm_pf) asks its lines once per 8 k-steps (igemm_simd.h): with the
 * line computed every step, GCC 12 kept the k-loop counter on the stack (an add to memory per
 * k-step). 6x16 tiles, kc 2048, weights hot, 1 thread, min of 6 alternating runs: 10 tiles 32.80 ->
 * 32.12 us (the plain tile 30.17). */
#define IGEMM_PF_CHUNK 8
#include "igemm_simd.h"
