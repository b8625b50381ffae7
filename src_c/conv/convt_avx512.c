/* convt_avx512.c: the conv_transpose2d scatter kernel, AVX-512F (convt_simd.h). */
#include "../simd/vec_avx512.h"
#include "convt_small.h"
#include "fn_convt.h"
#include "convt_simd.h"
