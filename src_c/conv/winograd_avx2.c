/* winograd_avx2.c: F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 3x3) transforms, AVX2+FMA, 8 channels per ymm
 * (winograd_simd.h), and the GEMM of the products (winograd_gemm_simd.h). */
#include "../simd/vec_avx2.h"
#include "winograd_kernels.h"
#include "winograd_simd.h"

#include "winograd_gemm_simd.h" /* the 36 GEMMs */
#include "winograd1d_kernels.h"
#include "winograd1d_simd.h" /* the 1-D Winograd transforms (winograd1d.c) on this ISA */
