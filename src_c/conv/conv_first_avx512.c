/* conv_first_avx512.c: first-layer conv micro-kernel, AVX-512F (conv_first_simd.h). */
#include "../simd/vec_avx512.h"
#include "conv_first_kernels.h"
#include "conv_first_simd.h"
