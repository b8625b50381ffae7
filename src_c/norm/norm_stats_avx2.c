/* norm_stats_avx2.c: moments / normalise micro-kernels, AVX2 + FMA, 8 floats a vector (norm_simd.h). */
#include "../kernels.h"
#include "../simd/vec_avx2.h"
#include "norm_simd.h"
