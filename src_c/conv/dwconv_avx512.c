/* dwconv_avx512.c: depthwise conv row micro-kernel, AVX-512F, 16 channels a vector (dwconv_simd.h). */
#include "../simd/vec_avx512.h"
#include "dwconv_kernels.h"
#include "dwconv_simd.h"
