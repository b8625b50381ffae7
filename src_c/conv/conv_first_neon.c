/* conv_first_neon.c: first-layer conv micro-kernel, AArch64 ASIMD (conv_first_simd.h). */
#include "../simd/vec_neon.h"
#include "conv_first_kernels.h"
#include "conv_first_simd.h"
