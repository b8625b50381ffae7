/* dwconv_neon.c: depthwise conv row micro-kernel, AArch64 ASIMD, 4 channels a vector (dwconv_simd.h). */
#include "../simd/vec_neon.h"
#include "dwconv_kernels.h"
#include "dwconv_simd.h"
