/* scale_shift_avx512.c: per-channel y = act(x * scale + shift), AVX-512F (scale_shift_simd.h). */
#include "../kernels.h"
#include "../simd/vec_avx512.h"

#define SCALE_SHIFT_PEEL 1
#define SCALE_SHIFT_REG_COLS 64
#include "scale_shift_simd.h"

#define FOLD_ROWS_NAME FN_KNAME(fn_fold_scale_rows)
#include "fold_rows.h"
