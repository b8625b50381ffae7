/* convt_neon.c: the conv_transpose2d scatter kernel, AArch64 ASIMD (convt_simd.h). */
#include "../simd/vec_neon.h"
#include "convt_small.h"
#include "fn_convt.h"
#include "convt_simd.h"
