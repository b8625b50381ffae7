/* shape_avx2.c: shape-family kernels, AVX2+FMA (shape_simd.h over vec_avx2.h). */
#include "../simd/vec_avx2.h"
#include "shape_kernels.h"
#include "shape_simd.h"
