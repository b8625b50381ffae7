/* igemm_neon.c: indirect-GEMM micro-kernel, AArch64 ASIMD: an MR x (4*NV) tile of q-register accumulators (igemm_simd.h). */
#include "../simd/vec_neon.h"
#include "igemm_generic.h"

#define IGEMM_FULL_UNMASKED 1 /* partial vectors go through a buffer: whole ones skip it */
#include "igemm_simd.h"
