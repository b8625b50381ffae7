/* actk_avx2.c: activation, prelu and softmax kernels, AVX2+FMA (act_generic.h over vmath_avx2.h). */
#include "vmath_avx2.h"
#define FN_ACT_SUFFIX avx2
#include "act_generic.h"
