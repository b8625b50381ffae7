/* pool_row_neon.c: pooling micro-kernels (max over taps, row max/avg, global NHWC/NCHW), AArch64 ASIMD (pool_row_simd.h). */
#include "../simd/vec_neon.h"
#include "pool_kernels.h"
#include "pool_row_simd.h"
