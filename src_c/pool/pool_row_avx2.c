/* pool_row_avx2.c: pooling micro-kernels (max over taps, row max/avg, global NHWC/NCHW), AVX2 (pool_row_simd.h). */
#include "../simd/vec_avx2.h"
#include "pool_kernels.h"
#include "pool_row_simd.h"
