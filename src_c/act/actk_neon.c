/* actk_neon.c: activation, prelu and softmax kernels, AArch64 ASIMD (act_simd.h over vec_neon.h). */
#include "../simd/vec_neon.h"
#include "act_simd.h"
