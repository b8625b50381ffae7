/* actk_avx2.c: activation, prelu and softmax kernels, AVX2+FMA (act_simd.h over vec_avx2.h). */
#include "../simd/vec_avx2.h"
#include "act_simd.h"
