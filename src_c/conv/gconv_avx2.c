/* gconv_avx2.c: small-group conv micro-kernel, AVX2+FMA, 8 channels a vector (gconv_simd.h). */
#include "../simd/vec_avx2.h"
#include "gconv_simd.h"
