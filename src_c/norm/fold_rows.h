/* fold_rows.h: FOLD_ROWS_NAME, a per-row scale folded into weights (fn_fold_scale_rows_ukernel), the
 * same double arithmetic compiled at each including file's width (scale_shift.c, scale_shift_<isa>.c).
 *
 * out[r][i] = (float)(w[r][i] * s[r]) with the product in double, rounded once to float (GCC in C11
 * mode contracts no multiply-add, so every table gives NumPy's float64 form's bits), and err[r] (when
 * not NULL) = sum over i of |out[r][i] - w[r][i] * s[r]|. FOLD_LANES partial sums: with one, the add
 * latency per element bound the loop (~4 cycles); lanes vectorise. The error is a bound reported, not
 * a value computed with: its summation order may differ between tables in the last bits. */
#ifndef FOLD_ROWS_NAME
#error "define FOLD_ROWS_NAME first"
#endif
#include <math.h>

#define FOLD_LANES 8
void FOLD_ROWS_NAME(size_t rows, size_t cols, const float *w, const double *s, float *out, double *err) {
    for (size_t r = 0; r < rows; r++) {
        const float *wr = w + r * cols;
        float *o = out + r * cols;
        const double sr = s[r];
        if (!err) {
            for (size_t i = 0; i < cols; i++) o[i] = (float)((double)wr[i] * sr);
            continue;
        }
        double acc[FOLD_LANES] = {0.0};
        size_t i = 0;
        for (; i + FOLD_LANES <= cols; i += FOLD_LANES)
            for (size_t j = 0; j < FOLD_LANES; j++) {
                const double p = (double)wr[i + j] * sr;
                const float f = (float)p;
                o[i + j] = f;
                acc[j] += fabs((double)f - p);
            }
        for (; i < cols; i++) {
            const double p = (double)wr[i] * sr;
            const float f = (float)p;
            o[i] = f;
            acc[0] += fabs((double)f - p);
        }
        double e = 0.0;
        for (size_t j = 0; j < FOLD_LANES; j++) e += acc[j];
        err[r] = e;
    }
}
#undef FOLD_LANES
