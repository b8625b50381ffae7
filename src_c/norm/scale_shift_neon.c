/* scale_shift_neon.c: per-channel y = act(x * scale + shift), AArch64 ASIMD (scale_shift_simd.h). */
#include "../kernels.h"
#include "../simd/vec_neon.h"

#define SCALE_SHIFT_PEEL 0
#define SCALE_SHIFT_REG_COLS 0
#include "scale_shift_simd.h"

#define FOLD_ROWS_NAME FN_KNAME(fn_fold_scale_rows)
#include "fold_rows.h"
