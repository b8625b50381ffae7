/* pool_nchw_avx2.c: NCHW row pooling kernels, AVX2 (pool_nchw_simd.h). */
#include "../simd/vec_avx2.h"
#include "pool_nchw.h"
#include "pool_nchw_simd.h"
