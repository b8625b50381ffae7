/* actk.c: activation, prelu and softmax kernels, portable (act_simd.h over vec_scalar.h). */
#include "../simd/vec_scalar.h"
#include "act_simd.h"
