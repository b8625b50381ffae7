/* pool_nchw_neon.c: NCHW row pooling kernels, AArch64 ASIMD (pool_nchw_simd.h). */
#include "../simd/vec_neon.h"
#include "pool_nchw.h"
#include "pool_nchw_simd.h"
