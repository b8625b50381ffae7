/* gconv_avx512.c: small-group conv micro-kernel, AVX-512F, 16 channels a vector (gconv_simd.h). */
#include "../simd/vec_avx512.h"
#include "gconv_simd.h"
