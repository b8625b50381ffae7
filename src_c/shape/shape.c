/* shape.c: shape-family kernels, portable (shape_simd.h over vec_scalar.h). */
#include "../simd/vec_scalar.h"
#include "shape_kernels.h"
#include "shape_simd.h"
