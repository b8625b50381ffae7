/* scale_shift_avx2.c: per-channel y = act(x * scale + shift), AVX2 + FMA (scale_shift_simd.h). */
#include "../kernels.h"
#include "../simd/vec_avx2.h"

#define SCALE_SHIFT_PEEL 0 /* as the AVX2 kernel always was: no head peel, */
#define SCALE_SHIFT_REG_COLS 0 /* and scale / shift reloaded per row */
#include "scale_shift_simd.h"

#define FOLD_ROWS_NAME FN_KNAME(fn_fold_scale_rows)
#include "fold_rows.h"
