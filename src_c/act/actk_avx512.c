/* actk_avx512.c: activation, prelu and softmax kernels, AVX-512 (act_simd.h over vec_avx512.h). */
#include "../simd/vec_avx512.h"
#include "act_simd.h"
