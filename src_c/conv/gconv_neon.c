/* gconv_neon.c: small-group conv micro-kernel, AArch64 ASIMD, 4 channels a vector (gconv_simd.h). */
#include "../simd/vec_neon.h"
#include "gconv_simd.h"
