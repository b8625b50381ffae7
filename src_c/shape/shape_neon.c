/* shape_neon.c: shape-family kernels, AArch64 ASIMD (shape_simd.h over vec_neon.h). */
#include "../simd/vec_neon.h"
#include "shape_kernels.h"
#include "shape_simd.h"
