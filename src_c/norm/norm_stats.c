/* norm_stats.c: portable moments / normalise micro-kernels (the spec of the wide ones). */
#include "../kernels.h"

/* Products and sums in double, never contracted (-std=c11 turns contraction off): the wide kernels
 * use FMA for s2, so they differ from these in the last bits of a double, far below float32. */
void fn_f32_norm_row_moments__scalar(size_t rows, size_t n, const float *x, size_t ldx,
                                     const float *shift, size_t lds, double *sums) {
    for (size_t r = 0; r < rows; r++, x += ldx) {
        const double k = shift[r * lds];
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double d = (double)x[i] - k;
            s1 += d;
            s2 += d * d;
        }
        sums[2 * r] = s1;
        sums[2 * r + 1] = s2;
    }
}

void fn_f32_norm_col_moments__scalar(size_t rows, size_t cols, const float *x, size_t ldx,
                                     const float *shift, double *s1, double *s2) {
    for (size_t j = 0; j < cols; j++) s1[j] = s2[j] = 0.0;
    for (size_t r = 0; r < rows; r++, x += ldx)
        for (size_t j = 0; j < cols; j++) {
            const double d = (double)x[j] - (double)shift[j];
            s1[j] += d;
            s2[j] += d * d;
        }
}

/* (x - cm) is computed in float like the wide kernels (exact near the mean); t*a + b rounds once
 * through double as an FMA would (the product of two floats is exact in double). */
static inline float fma_like(float x, float a, float b) { return (float)((double)x * a + b); }

void fn_f32_norm_rows_apply__scalar(size_t rows, size_t n, const float *x, const float *cm,
                                    const float *a, const float *b, const float *w, const float *beta,
                                    const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++, x += n, y += n) {
        const float c = cm[r], s = a[r], t = b[r];
        if (w)
            for (size_t i = 0; i < n; i++)
                y[i] = fn_apply_act_scalar(fma_like(fma_like(x[i] - c, s, t), w[i], beta[i]), act);
        else
            for (size_t i = 0; i < n; i++) y[i] = fn_apply_act_scalar(fma_like(x[i] - c, s, t), act);
    }
}

void fn_f32_norm_cols_apply__scalar(size_t rows, size_t cols, const float *x, size_t ldx,
                                    const float *cm, const float *a, const float *b, const float *w,
                                    const float *beta, const fn_act *act, float *y, size_t ldy) {
    for (size_t r = 0; r < rows; r++, x += ldx, y += ldy) {
        if (w)
            for (size_t j = 0; j < cols; j++)
                y[j] = fn_apply_act_scalar(fma_like(fma_like(x[j] - cm[j], a[j], b[j]), w[r], beta[r]), act);
        else
            for (size_t j = 0; j < cols; j++) y[j] = fn_apply_act_scalar(fma_like(x[j] - cm[j], a[j], b[j]), act);
    }
}
