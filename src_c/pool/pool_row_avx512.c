/* pool_row_avx512.c: pooling micro-kernels (max over taps, row max/avg, global NHWC/NCHW), AVX-512F (pool_row_simd.h). */
#include "../simd/vec_avx512.h"
#include "pool_kernels.h"
#include "pool_row_simd.h"
