/* norm_stats_avx512.c: moments / normalise micro-kernels, AVX-512F, 16 floats a vector (norm_simd.h). */
#include "../kernels.h"
#include "../simd/vec_avx512.h"
#include "norm_simd.h"
