/* glue.c: portable glue micro-kernels (binary op, copy/fill, row resampling), the spec of the wide ones. */
#include "glue_kernels.h"

#include <string.h>

/* a + alpha*b with one rounding of the sum, like the wide kernels' FMA (the float product is exact
 * in double); alpha == 1 gives the plain float sum. */
static inline float bin1(int op, float a, float b, float alpha) {
    switch (op) {
    case FN_BIN_MUL: return a * b;
    case FN_BIN_RADD: return (float)((double)a * alpha + b);
    case FN_BIN_SUB: return (float)((double)a - (double)b * alpha);
    case FN_BIN_RSUB: return (float)((double)b - (double)a * alpha);
    case FN_BIN_DIV: return a / b;
    case FN_BIN_RDIV: return b / a;
    case FN_BIN_MAX: return a > b ? a : b; /* as x86 max: b when either is NaN */
    case FN_BIN_MIN: return a < b ? a : b;
    case FN_BIN_EQ: return a == b ? 1.0f : 0.0f;
    case FN_BIN_NE: return a != b ? 1.0f : 0.0f;
    case FN_BIN_LT: return a < b ? 1.0f : 0.0f;
    case FN_BIN_GT: return a > b ? 1.0f : 0.0f;
    case FN_BIN_LE: return a <= b ? 1.0f : 0.0f;
    case FN_BIN_GE: return a >= b ? 1.0f : 0.0f;
    case FN_BIN_KEEP: return b != 0.0f ? a : 0.0f;
    case FN_BIN_RKEEP: return a != 0.0f ? b : 0.0f;
    case FN_BIN_DROP: return b != 0.0f ? 0.0f : a;
    case FN_BIN_RDROP: return a != 0.0f ? 0.0f : b;
    default: break;
    }
    return (float)((double)b * alpha + a);
}

void fn_f32_binary__scalar(int op, size_t n, const float *a, const float *b, float alpha,
                           const fn_act *act, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = fn_apply_act_scalar(bin1(op, a[i], b[i], alpha), act);
}

void fn_f32_binary_rows__scalar(int op, size_t rows, size_t n, const float *a, const float *b,
                                float alpha, const fn_act *act, float *y) {
    for (size_t r = 0; r < rows; r++, a += n, y += n) {
        const float s = b[r];
        for (size_t i = 0; i < n; i++) y[i] = fn_apply_act_scalar(bin1(op, a[i], s, alpha), act);
    }
}

void fn_f32_copy__scalar(size_t n, const float *x, float *y) { memcpy(y, x, n * sizeof(float)); }

void fn_f32_fill__scalar(size_t n, float v, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = v;
}

void fn_f32_dup2__scalar(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[2 * i] = y[2 * i + 1] = x[i];
}

void fn_f32_gather__scalar(size_t n, const float *x, const int32_t *ix, float *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[ix[i]];
}

void fn_f32_bilinear_row__scalar(size_t n, size_t w, const float *r0, const float *r1, float w0, float w1,
                                 const int32_t *i0, const int32_t *i1, const float *l0,
                                 const float *l1, float *y) {
    (void)w;
    for (size_t o = 0; o < n; o++) {
        const float t0 = l0[o] * r0[i0[o]] + l1[o] * r0[i1[o]];
        const float t1 = l0[o] * r1[i0[o]] + l1[o] * r1[i1[o]];
        y[o] = w0 * t0 + w1 * t1;
    }
}

void fn_f32_lerp2d__scalar(size_t c, const float *p00, const float *p01, const float *p10,
                           const float *p11, float w0, float w1, float l0, float l1, float *y) {
    for (size_t j = 0; j < c; j++) {
        const float t0 = l0 * p00[j] + l1 * p01[j];
        const float t1 = l0 * p10[j] + l1 * p11[j];
        y[j] = w0 * t0 + w1 * t1;
    }
}

/* d[i*ldd + j] = s[j*lds + i], i, j < 8, through a local block: whole 8-float runs on both sides
 * (element by element down a column, a power-of-two stride puts every write in one L1 set) */
static inline void transpose8x8_scalar(const float *s, size_t lds, float *d, size_t ldd) {
    float t[8][8];
    for (size_t j = 0; j < 8; j++)
        for (size_t i = 0; i < 8; i++) t[i][j] = s[j * lds + i];
    for (size_t i = 0; i < 8; i++) memcpy(d + i * ldd, t[i], sizeof t[i]);
}

#define TRANSPOSE_BLOCK 8
#define TRANSPOSE_BLOCK_FN transpose8x8_scalar
#define TRANSPOSE_NAME fn_f32_transpose__scalar
#include "transpose_blocks.h"
