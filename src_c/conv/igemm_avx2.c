/* igemm_avx2.c: indirect-GEMM micro-kernel, AVX2+FMA: an MR x (8*NV) tile of ymm accumulators (igemm_simd.h). */
#include "../simd/vec_avx2.h"
#include "igemm_generic.h"

#define IGEMM_FULL_UNMASKED 1 /* vmaskmovps stores cost more than plain ones */
#include "igemm_simd.h"
