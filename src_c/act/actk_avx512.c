/* actk_avx512.c: activation, prelu and softmax kernels, AVX-512 (act_generic.h over vmath_avx512.h). */
#include "vmath_avx512.h"
#define FN_ACT_SUFFIX avx512
#include "act_generic.h"
