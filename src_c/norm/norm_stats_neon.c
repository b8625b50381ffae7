/* norm_stats_neon.c: moments / normalise micro-kernels, AArch64 ASIMD, 4 floats a vector (norm_simd.h). */
#include "../kernels.h"
#include "../simd/vec_neon.h"
#include "norm_simd.h"
