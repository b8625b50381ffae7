/* convt_avx2.c: the conv_transpose2d scatter kernel, AVX2 (convt_simd.h). */
#include "../simd/vec_avx2.h"
#include "convt_small.h"
#include "fn_convt.h"
#include "convt_simd.h"
