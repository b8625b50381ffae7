/* dwconv_avx2.c: depthwise conv row micro-kernel, AVX2 + FMA, 8 channels a vector (dwconv_simd.h). */
#include "../simd/vec_avx2.h"
#include "dwconv_kernels.h"
#include "dwconv_simd.h"
