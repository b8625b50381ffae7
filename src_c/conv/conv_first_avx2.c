/* conv_first_avx2.c: first-layer conv micro-kernel, AVX2+FMA (conv_first_simd.h). */
#include "../simd/vec_avx2.h"
#include "conv_first_kernels.h"
#include "conv_first_simd.h"
