/* pool_nchw_avx512.c: NCHW row pooling kernels, AVX-512F (pool_nchw_simd.h). */
#include "../simd/vec_avx512.h"
#include "pool_nchw.h"
#include "pool_nchw_simd.h"
