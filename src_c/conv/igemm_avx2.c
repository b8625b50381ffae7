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
#include "igemm_simd.h"
