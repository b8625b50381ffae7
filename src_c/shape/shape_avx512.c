/* shape_avx512.c: shape-family kernels, AVX-512F (shape_simd.h over vec_avx512.h). */
#include "../simd/vec_avx512.h"
#include "shape_kernels.h"
#include "shape_simd.h"
