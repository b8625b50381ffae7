/* kernel_check.c: every wide kernel table of this build against the portable (scalar) one, on
 * awkward shapes (channel counts off the vector width, 1-wide rows, tails, strides, padding).
 *
 * Built with the C core alone (no Python) by tests/c/build.sh, natively or cross-compiled for
 * aarch64 and run under qemu-aarch64: on x86-64 it checks avx2 and avx512 (where the CPU has
 * them), on aarch64 neon. Each family is driven through its public driver with the table
 * fn_kernels_for(isa), so the packing of the ISA's tile geometry is covered too; outputs carry a
 * guard zone after their end that no kernel may write.
 *
 * Prints one line per failure and a closing "N passed, N failed" line; exits 1 on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastnorm.h"
#include "conv/fn_convt.h"
#include "conv/winograd_kernels.h" /* FN_WINO_KB */
#include "glue/fn_glue.h"

#define GUARD 64
#define GUARD_VALUE 12345.0f

static int n_pass, n_fail;
static uint64_t rng_state = 0x2545F4914F6CDD1Dull; /* seeded: the same data every run */

static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float *rand_buf(size_t n, float scale) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) abort();
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return p;
}

/* An output buffer of n floats plus a guard zone. */
static float *out_buf(size_t n) {
    float *p = malloc((n + GUARD) * sizeof(float));
    if (!p) abort();
    for (size_t i = 0; i < n + GUARD; i++) p[i] = i < n ? NAN : GUARD_VALUE;
    return p;
}

/* |got - want| <= tol * (1 + |want|), NaN where the reference has NaN, the guard untouched. */
static void check(const char *what, const char *isa, const float *got, const float *want, size_t n,
                  float tol) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        const float g = got[i], w = want[i];
        const int ok = isnan(w) ? isnan(g) : (g == w || fabsf(g - w) <= tol * (1.0f + fabsf(w)));
        if (!ok && bad++ == 0) first = i;
    }
    for (size_t i = n; i < n + GUARD; i++)
        if (got[i] != GUARD_VALUE) {
            printf("FAIL %s [%s]: wrote past the end (float %zu of the guard)\n", what, isa, i - n);
            n_fail++;
            return;
        }
    if (bad) {
        printf("FAIL %s [%s]: %zu of %zu differ, first at %zu: %.9g vs scalar %.9g\n", what, isa, bad,
               n, first, got[first], want[first]);
        n_fail++;
    } else {
        n_pass++;
    }
}

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) abort();
    return p;
}

static const fn_act ACTS[3] = {{FN_ACT_NONE, 0.0f, 0.0f}, {FN_ACT_CLAMP, 0.0f, INFINITY}, {FN_ACT_CLAMP, -0.25f, 0.5f}};

/* ------------------------------------------------------------------------------------- conv */
typedef enum { CONV_IGEMM, CONV_WINO, CONV_DW, CONV_FIRST, CONV_T, CONV_WINO1D, CONV_WINO2 } conv_path;

static float *run_conv(conv_path path, fn_isa isa, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                       size_t oh, size_t ow, const float *x, const float *wt, const float *bias,
                       const float *res, const fn_act *act, size_t ny) {
    const fn_kernels *k = fn_kernels_for(isa);
    float *y = out_buf(ny);
    size_t np = 0, sb = 0;
    switch (path) {
    case CONV_IGEMM: np = fn_conv2d_packed_floats(k, d), sb = fn_conv2d_scratch_bytes(k, d, n, h, w, 2); break;
    case CONV_WINO: np = fn_winograd3x3_packed_floats(k, d), sb = fn_winograd3x3_scratch_bytes(k, d, n, h, w, 2); break;
    case CONV_WINO1D: np = fn_winograd1d_packed_floats(k, d), sb = fn_winograd1d_scratch_bytes(k, d, n, h, w, 2); break;
    case CONV_WINO2: np = fn_winograd2x3_packed_floats(k, d), sb = fn_winograd2x3_scratch_bytes(k, d, n, h, w, 2); break;
    case CONV_DW: np = fn_dwconv_packed_floats(d->cin, d->kh, d->kw); break;
    case CONV_FIRST: np = fn_conv_first_packed_floats(k, d), sb = fn_conv_first_pad_floats(d, n, h, w) * sizeof(float); break;
    case CONV_T: np = fn_conv_transpose2d_packed_floats(k, d), sb = fn_conv_transpose2d_scratch_bytes(k, d, n, h, w, 2); break;
    }
    float *packed = xmalloc(np * sizeof(float));
    void *scratch = xmalloc(sb);
    fn_status st = FN_OK;
    switch (path) {
    case CONV_IGEMM:
        fn_conv2d_pack(k, d, wt, bias, packed);
        st = fn_conv2d_nhwc(k, d, n, h, w, x, packed, res, act, y, scratch, sb, 2);
        break;
    case CONV_WINO:
        st = fn_winograd3x3_pack(k, d, wt, bias, packed);
        if (st == FN_OK) st = fn_winograd3x3_nhwc(k, d, n, h, w, x, packed, res, act, y, scratch, sb, 2);
        break;
    case CONV_WINO2:
        st = fn_winograd2x3_pack(k, d, wt, bias, packed);
        if (st == FN_OK) st = fn_winograd2x3_nhwc_ldy(k, d, n, h, w, x, packed, res, act, y, d->cout, scratch, sb, 2);
        break;
    case CONV_WINO1D:
        st = fn_winograd1d_pack(k, d, wt, bias, packed);
        if (st == FN_OK) st = fn_winograd1d_nhwc_ldy(k, d, n, h, w, x, packed, res, act, y, d->cout, scratch, sb, 2);
        break;
    case CONV_DW:
        fn_dwconv_pack(d->cin, d->kh, d->kw, wt, bias, packed);
        st = fn_dwconv2d_nhwc(k, d, n, h, w, x, packed, res, act, y, 2);
        break;
    case CONV_FIRST:
        fn_conv_first_pack(k, d, wt, bias, packed);
        st = fn_conv_first(k, d, 0, n, h, w, x, packed, act, scratch, y, 2);
        break;
    case CONV_T:
        fn_conv_transpose2d_pack(k, d, wt, bias, packed);
        st = fn_conv_transpose2d_nhwc(k, d, n, h, w, oh, ow, x, packed, act, y, scratch, sb, 2);
        break;
    }
    free(packed), free(scratch);
    if (st != FN_OK) {
        printf("FAIL conv path %d [%s]: status %d\n", (int)path, k->name, (int)st);
        n_fail++;
    }
    return y;
}

static void conv_case(conv_path path, const char *name, fn_conv2d_desc d, size_t n, size_t h, size_t w,
                      int with_res, int act_i) {
    size_t oh, ow;
    if (path == CONV_T) {
        oh = fn_conv_transpose_out_extent(h, d.kh, d.sh, d.dh, d.pad_top, d.pad_bottom, 0);
        ow = fn_conv_transpose_out_extent(w, d.kw, d.sw, d.dw, d.pad_left, d.pad_right, 0);
    } else {
        oh = fn_conv_out_extent(h, d.kh, d.sh, d.dh, d.pad_top, d.pad_bottom);
        ow = fn_conv_out_extent(w, d.kw, d.sw, d.dw, d.pad_left, d.pad_right);
    }
    const size_t nw = d.cout * (d.cin / d.groups) * d.kh * d.kw, ny = n * oh * ow * d.cout;
    float *x = rand_buf(n * h * w * d.cin, 1.0f), *wt = rand_buf(nw, 0.5f), *bias = rand_buf(d.cout, 1.0f);
    float *res = with_res ? rand_buf(ny, 1.0f) : NULL;
    const fn_act *act = &ACTS[act_i];
    float *want = run_conv(path, FN_ISA_SCALAR, &d, n, h, w, oh, ow, x, wt, bias, res, act, ny);
    if (path == CONV_WINO2) { /* a new algorithm: its portable table against the direct conv too */
        float *direct = run_conv(CONV_IGEMM, FN_ISA_SCALAR, &d, n, h, w, oh, ow, x, wt, bias, res, act, ny);
        char what[160];
        snprintf(what, sizeof what, "%s vs igemm cin=%zu cout=%zu %zux%zu n=%zu res=%d act=%d", name, d.cin,
                 d.cout, h, w, n, with_res, act_i);
        check(what, "scalar", want, direct, ny, 2e-5f);
        free(direct);
    }
    for (int isa = 1; isa < FN_ISA_COUNT; isa++) {
        fn_cpu_features f;
        fn_cpu_detect(&f);
        if (isa > (int)fn_cpu_best_isa(&f)) continue;
        float *got = run_conv(path, (fn_isa)isa, &d, n, h, w, oh, ow, x, wt, bias, res, act, ny);
        char what[160];
        snprintf(what, sizeof what, "%s cin=%zu cout=%zu k=%zux%zu s=%zu g=%zu %zux%zu n=%zu res=%d act=%d", name,
                 d.cin, d.cout, d.kh, d.kw, d.sh, d.groups, h, w, n, with_res, act_i);
        check(what, fn_kernels_for((fn_isa)isa)->name, got, want, ny, 2e-5f);
        free(got);
    }
    free(x), free(wt), free(bias), free(res), free(want);
}

static fn_conv2d_desc desc(size_t cin, size_t cout, size_t g, size_t k, size_t s, size_t dil, size_t pad) {
    fn_conv2d_desc d = {cin, cout, g, k, k, s, s, dil, dil, pad, pad, pad, pad};
    return d;
}

static void test_conv(void) {
    static const size_t chans[][2] = {{1, 1}, {3, 5}, {4, 4}, {7, 13}, {16, 17}, {33, 31}, {64, 40}};
    for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
        const size_t ci = chans[i][0], co = chans[i][1];
        conv_case(CONV_IGEMM, "igemm", desc(ci, co, 1, 1, 1, 1, 0), 2, 5, 3, (int)(i & 1), (int)(i % 3));
        conv_case(CONV_IGEMM, "igemm", desc(ci, co, 1, 3, 2, 1, 1), 1, 9, 7, 0, (int)((i + 1) % 3));
        conv_case(CONV_IGEMM, "igemm", desc(ci, co, 1, 3, 1, 2, 2), 1, 6, 5, 1, 2);
        conv_case(CONV_WINO, "winograd", desc(ci, co, 1, 3, 1, 1, 1), 2, 7, 10, (int)(i & 1), (int)(i % 3));
        conv_case(CONV_WINO, "winograd 5x5", desc(ci, co, 1, 5, 1, 1, (i % 3) + 1), 2, 7, 9, (int)((i + 1) & 1),
                  (int)((i + 2) % 3));
        conv_case(CONV_WINO2, "winograd2x3", desc(ci, co, 1, 3, 1, 1, i % 3), 2, 7, 10, (int)((i + 1) & 1),
                  (int)(i % 3));
        conv_case(CONV_WINO2, "winograd2x3", desc(ci, co, 1, 3, 1, 1, 1), 1, 1, 2, (int)(i & 1), (int)((i + 1) % 3));
        conv_case(CONV_T, "conv_transpose", desc(ci, co, 1, 3, 2, 1, 1), 1, 4, 5, 0, (int)(i % 3));
    }
    conv_case(CONV_IGEMM, "igemm grouped", desc(12, 18, 3, 3, 1, 1, 1), 1, 5, 6, 1, 1);
    /* the Winograd GEMMs sum K in blocks of FN_WINO_KB: two full blocks and a partial one, an exact
     * multiple */
    conv_case(CONV_WINO, "winograd K blocks", desc(2 * FN_WINO_KB + 22, 37, 1, 3, 1, 1, 1), 1, 6, 9, 1, 1);
    conv_case(CONV_WINO, "winograd K blocks", desc(2 * FN_WINO_KB, 16, 1, 5, 1, 1, 2), 1, 5, 6, 0, 2);
    conv_case(CONV_WINO2, "winograd2x3 K blocks", desc(2 * FN_WINO_KB + 22, 37, 1, 3, 1, 1, 1), 1, 6, 9, 1, 1);
    /* 1-D Winograd, 1xk and kx1 for k = 3, 5, 7, against the scalar table */
    for (size_t kk = 3; kk <= 7; kk += 2) {
        fn_conv2d_desc dw = {19, 21, 1, 1, kk, 1, 1, 1, 1, 0, kk / 2, 0, kk - 1};
        conv_case(CONV_WINO1D, "winograd1d 1xk", dw, 2, 5, 13, (int)(kk & 2) / 2, (int)(kk % 3));
        fn_conv2d_desc dh = {40, 17, 1, kk, 1, 1, 1, 1, 1, kk / 2, 1, 1, 0};
        conv_case(CONV_WINO1D, "winograd1d kx1", dh, 1, 11, 3, 1, 2);
    }
    fn_conv2d_desc dk = {FN_WINO_KB + 3, 9, 1, 1, 7, 1, 1, 1, 1, 0, 3, 0, 3};
    conv_case(CONV_WINO1D, "winograd1d K blocks", dk, 1, 3, 13, 1, 1);
    /* one row (k->igemm_panels): 1..9 full panels of any ISA's width and a partial one */
    static const size_t one_row[][2] = {{5, 3}, {37, 139}, {160, 200}, {301, 289}, {64, 128}};
    for (size_t i = 0; i < sizeof one_row / sizeof one_row[0]; i++) {
        conv_case(CONV_IGEMM, "igemm one row", desc(one_row[i][0], one_row[i][1], 1, 1, 1, 1, 0), 1, 1, 1,
                  (int)(i & 1), (int)(i % 3));
        conv_case(CONV_IGEMM, "igemm one row s2", desc(one_row[i][0], one_row[i][1], 1, 1, 2, 1, 0), 1, 2, 2,
                  (int)((i + 1) & 1), (int)((i + 1) % 3));
    }
    static const size_t dwc[] = {1, 3, 4, 5, 8, 15, 17, 32, 33, 64, 72};
    for (size_t i = 0; i < sizeof dwc / sizeof dwc[0]; i++) {
        const size_t c = dwc[i];
        conv_case(CONV_DW, "dwconv", desc(c, c, c, 3, 1, 1, 1), 2, 6, 9, (int)(i & 1), (int)(i % 3));
        conv_case(CONV_DW, "dwconv", desc(c, c, c, 5, 2, 1, 2), 1, 11, 8, 0, (int)((i + 2) % 3));
        conv_case(CONV_DW, "dwconv", desc(c, c, c, 3, 1, 2, 2), 1, 7, 7, 1, 0);
        /* 9x9 (ConvMixer's band): rows of bands and leftovers, padded and not, narrower than a band */
        conv_case(CONV_DW, "dwconv 9x9", desc(c, c, c, 9, 1, 1, 4), 1, 10, 21, (int)(i & 1), (int)(i % 3));
        conv_case(CONV_DW, "dwconv 9x9", desc(c, c, c, 9, 1, 1, 0), 2, 11, 25, (int)((i + 1) & 1), 1);
        conv_case(CONV_DW, "dwconv 9x9", desc(c, c, c, 9, 1, 1, 4), 1, 8, 8, 0, 2);
        conv_case(CONV_DW, "dwconv 9x9", desc(c, c, c, 9, 1, 1, 4), 1, 3, 5, 1, 0);
    }
    static const size_t first_cout[] = {1, 3, 8, 16, 24, 32, 45, 64};
    for (size_t i = 0; i < sizeof first_cout / sizeof first_cout[0]; i++) {
        conv_case(CONV_FIRST, "conv_first", desc(3, first_cout[i], 1, 3, 2, 1, 1), 2, 17, 15, 0, (int)(i % 3));
        conv_case(CONV_FIRST, "conv_first", desc(1 + i % 4, first_cout[i], 1, 7, 2, 1, 3), 1, 19, 21, 0, (int)((i + 1) % 3));
        conv_case(CONV_FIRST, "conv_first", desc(3, first_cout[i], 1, 3, 1, 1, 1), 1, 9, 13, 0, 1);
    }
}

/* --------------------------------------------------------------------- elementwise families */
#define FOR_WIDE(isa) for (int isa = 1; isa < FN_ISA_COUNT; isa++) if (isa <= best)

static int best;

static void test_scale_shift_act(void) {
    static const size_t shapes[][3] = {{1, 1, 1}, {2, 3, 2}, {1, 5, 3}, {3, 7, 9}, {2, 16, 4}, {1, 33, 17}, {2, 19, 1}, {1, 4, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t outer = shapes[s][0], c = shapes[s][1], inner = shapes[s][2], n = outer * c * inner;
        float *x = rand_buf(n, 4.0f), *sc = rand_buf(c, 2.0f), *sh = rand_buf(c, 1.0f);
        for (int a = 0; a < 3; a++) {
            float *want = out_buf(n);
            fn_scale_shift(fn_kernels_for(FN_ISA_SCALAR), outer, c, inner, x, sc, sh, &ACTS[a], want, 1);
            FOR_WIDE(isa) {
                float *got = out_buf(n);
                fn_scale_shift(fn_kernels_for((fn_isa)isa), outer, c, inner, x, sc, sh, &ACTS[a], got, 1);
                check("scale_shift", fn_kernels_for((fn_isa)isa)->name, got, want, n, 1e-6f);
                free(got);
            }
            free(want);
        }
        free(x), free(sc), free(sh);
    }
}

/* The BatchNorm fold (fold_rows.h): every table's weights bit for bit as the portable one's (one
 * double multiply, one rounding), special scales included; the row errors to summation order. */
static void test_fold_rows(void) {
    static const size_t shapes[][2] = {{1, 1}, {3, 7}, {2, 8}, {5, 9}, {4, 17}, {1, 64}, {6, 147}, {3, 0}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const size_t rows = shapes[t][0], cols = shapes[t][1], n = rows * cols;
        float *w = rand_buf(n, 3.0f);
        double *s = xmalloc(rows * sizeof(double)), *want_err = xmalloc(rows * sizeof(double));
        double *err = xmalloc(rows * sizeof(double));
        static const double special[] = {1e-310, 3e38, INFINITY, NAN, -2.5, 0.0};
        for (size_t r = 0; r < rows; r++) s[r] = r < 6 && rows > 3 ? special[r] : 0.01 + 7.3 * r + frand();
        float *want = out_buf(n);
        fn_fold_scale_rows(fn_kernels_for(FN_ISA_SCALAR), rows, cols, w, s, want, want_err);
        FOR_WIDE(isa) {
            const fn_kernels *k = fn_kernels_for((fn_isa)isa);
            float *got = out_buf(n);
            fn_fold_scale_rows(k, rows, cols, w, s, got, err);
            check("fold_scale_rows", k->name, got, want, n, 0.0f);
            size_t bad = 0;
            for (size_t r = 0; r < rows; r++) {
                const int same = isnan(want_err[r]) ? isnan(err[r])
                                                    : err[r] == want_err[r] ||
                                                          fabs(err[r] - want_err[r]) <= 1e-12 * fabs(want_err[r]);
                bad += !same;
            }
            if (bad) printf("FAIL fold_scale_rows error [%s]: %zu of %zu rows differ\n", k->name, bad, rows), n_fail++;
            else n_pass++;
            float *none = out_buf(n);
            fn_fold_scale_rows(k, rows, cols, w, s, none, NULL);
            check("fold_scale_rows (no error)", k->name, none, want, n, 0.0f);
            free(got), free(none);
        }
        free(want), free(w), free(s), free(want_err), free(err);
    }
}

static void test_act(void) {
    /* every kind of src_c/act/act_kinds.h, new ones included */
#define KIND_ID(NAME, EXPR) FN_ACTK_##NAME,
    static const int kinds[] = {FN_ACTK_KINDS(KIND_ID)};
#undef KIND_ID
    const fn_act_params p = {-0.5f, 2.0f, 0.01f, 1.0f, 1.0f, 1.0f, 1.0f, 20.0f};
    static const size_t lens[] = {1, 3, 4, 7, 16, 31, 100, 1029};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        const size_t n = lens[l];
        float *x = rand_buf(n, 12.0f);
        if (n > 8) x[1] = NAN, x[2] = INFINITY, x[3] = -INFINITY, x[5] = -0.0f, x[6] = 1e-30f;
        for (size_t kk = 0; kk < sizeof kinds / sizeof kinds[0]; kk++) {
            float *xin = x;
            float *xpos = NULL;
            if (kinds[kk] == FN_ACTK_LOG || kinds[kk] == FN_ACTK_LOG1P) { /* domain: x > 0 (and -1) */
                xpos = xmalloc(n * sizeof(float));
                for (size_t i = 0; i < n; i++) xpos[i] = fabsf(x[i]) * 100.0f;
                xin = xpos;
            }
            float *want = out_buf(n);
            fn_act_kernels_for(FN_ISA_SCALAR)->apply(kinds[kk], n, xin, &p, want);
            FOR_WIDE(isa) {
                float *got = out_buf(n);
                fn_act_kernels_for((fn_isa)isa)->apply(kinds[kk], n, xin, &p, got);
                char what[64];
                snprintf(what, sizeof what, "act kind %d n=%zu", kinds[kk], n);
                check(what, fn_kernels_for((fn_isa)isa)->name, got, want, n, 2e-6f);
                free(got);
            }
            free(want), free(xpos);
        }
        free(x);
    }
    /* prelu rows, softmax rows / cols */
    static const size_t sh[][2] = {{1, 1}, {3, 5}, {2, 17}, {5, 64}, {4, 3}};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        const size_t rows = sh[s][0], len = sh[s][1], n = rows * len;
        float *x = rand_buf(n, 8.0f), *wr = rand_buf(rows > len ? rows : len, 1.0f);
        for (int job = 0; job < 6; job++) {
            float *want = out_buf(n);
            FOR_WIDE(isa) {
                float *got = out_buf(n);
                const fn_act_kernels *kk[2] = {fn_act_kernels_for(FN_ISA_SCALAR), fn_act_kernels_for((fn_isa)isa)};
                float *outs[2] = {want, got};
                for (int t = 0; t < 2; t++) {
                    if (job == 0) kk[t]->prelu_rows(rows, len, x, wr, outs[t]);
                    else if (job <= 2) kk[t]->softmax_rows(rows, len, x, outs[t], job == 2);
                    else if (job <= 4) kk[t]->softmax_cols(rows, len, len, x, outs[t], job == 4); /* len columns, rows long */
                    else kk[t]->prelu_cols(rows, len, x, wr, outs[t]); /* rows of len channels */
                }
                char what[64];
                snprintf(what, sizeof what, "act job %d (prelu/softmax) %zux%zu", job, rows, len);
                check(what, fn_kernels_for((fn_isa)isa)->name, got, want, n, 2e-6f);
                free(got);
            }
            free(want);
        }
        free(x), free(wr);
    }
}

static void test_norm(void) {
    static const size_t shapes[][3] = {{1, 4, 1}, {2, 6, 5}, {1, 8, 17}, {2, 12, 3}, {1, 32, 49}, {3, 5, 7}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2], tot = n * c * hw;
        float *x = rand_buf(tot, 3.0f), *g = rand_buf(c > hw ? c : hw, 1.0f), *b = rand_buf(c > hw ? c : hw, 1.0f);
        for (size_t i = 0; i < tot; i++) x[i] += 100.0f; /* a mean far from 0: the shifted moments */
        const size_t groups = c % 2 ? 1 : 2;
        for (int job = 0; job < 5; job++) {
            float *want = NULL;
            for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++) {
                const fn_kernels *k = fn_kernels_for((fn_isa)isa);
                float *y = out_buf(tot);
                const fn_act *act = &ACTS[job % 3];
                size_t sb = fn_group_norm_nhwc_scratch_bytes(n, hw, c);
                void *scratch = xmalloc(sb);
                fn_status st = FN_OK;
                if (job == 0) st = fn_group_norm_nchw(k, n, c, hw, groups, x, g, b, 1e-5, act, y, 2);
                if (job == 1) st = fn_group_norm_nhwc(k, n, hw, c, groups, x, g, b, 1e-5, act, y, scratch, sb, 2);
                if (job == 2) st = fn_layer_norm_rows(k, n * c, hw, x, g, b, 1e-5, act, y, 2);
                if (job == 3) st = fn_layer_norm_channels_nchw(k, n, c, hw, x, g, b, 1e-5, act, y, 2);
                if (job == 4) st = fn_batch_norm_stats(k, n, c, hw, x, g, b, 1e-5, act, y, 2);
                free(scratch);
                if (st != FN_OK) printf("FAIL norm job %d [%s]: status %d\n", job, k->name, (int)st), n_fail++;
                if (isa == 0) {
                    want = y;
                    continue;
                }
                char what[64];
                snprintf(what, sizeof what, "norm job %d n=%zu c=%zu hw=%zu", job, n, c, hw);
                check(what, k->name, y, want, tot, 2e-5f);
                free(y);
            }
            free(want);
        }
        free(x), free(g), free(b);
    }
}

static void test_pool(void) {
    static const size_t shapes[][4] = {{1, 5, 5, 1}, {2, 7, 6, 3}, {1, 9, 11, 4}, {1, 8, 8, 17}, {2, 6, 13, 33}, {1, 14, 9, 64}};
    static const size_t ks[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {5, 3, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t n = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
        float *x = rand_buf(n * h * w * c, 2.0f);
        if (s == 3) x[5] = NAN;
        for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++) {
            const size_t k = ks[q][0], st = ks[q][1], p = ks[q][2];
            if (h + 2 * p < k || w + 2 * p < k) continue;
            const size_t oh = fn_conv_out_extent(h, k, st, 1, p, p), ow = fn_conv_out_extent(w, k, st, 1, p, p);
            const fn_pool2d_desc md = {k, k, st, st, 1, 1, p, p};
            const fn_avgpool2d_desc ad = {k, k, st, st, p, p, p, p, (int)(q & 1), 0};
            for (int job = 0; job < 6; job++) {
                const size_t ny = job < 4 ? n * oh * ow * c : n * c;
                float *want = NULL;
                for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++) {
                    const fn_kernels *kt = fn_kernels_for((fn_isa)isa);
                    float *y = out_buf(ny);
                    if (job == 0) fn_maxpool2d_nhwc(kt, &md, n, h, w, c, oh, ow, x, y, 2);
                    if (job == 1) fn_avgpool2d_nhwc(kt, &ad, n, h, w, c, oh, ow, x, y, 2);
                    if (job == 2) fn_maxpool2d_nchw(kt, &md, n * c, h, w, oh, ow, x, y, 2);
                    if (job == 3) fn_avgpool2d_nchw(kt, &ad, n * c, h, w, oh, ow, x, y, 2);
                    if (job == 4) fn_global_pool_nhwc(kt, (int)(q & 1), n, h * w, c, x, y, 2);
                    if (job == 5) fn_global_pool_nchw(kt, (int)(q & 1), n * c, h * w, x, y, 2);
                    if (isa == 0) {
                        want = y;
                        continue;
                    }
                    char what[96];
                    snprintf(what, sizeof what, "pool job %d %zux%zux%zux%zu k=%zu s=%zu p=%zu", job, n, h, w, c, k, st, p);
                    check(what, kt->name, y, want, ny, 1e-6f);
                    free(y);
                }
                free(want);
            }
        }
        free(x);
    }
}

static void test_glue(void) {
    static const size_t lens[] = {1, 2, 3, 4, 5, 8, 15, 16, 17, 33, 100};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        const size_t n = lens[l], rows = 3;
        float *a = rand_buf(rows * n + 4, 2.0f), *b = rand_buf(rows * n + 4, 2.0f), *l0 = rand_buf(2 * n, 1.0f),
              *l1 = rand_buf(2 * n, 1.0f);
        int32_t *ix = xmalloc(2 * n * sizeof(int32_t)), *iy = xmalloc(2 * n * sizeof(int32_t));
        for (size_t i = 0; i < 2 * n; i++) ix[i] = (int32_t)((i * 7 + 3) % n); /* any order: gather */
        for (int job = 0; job < 9; job++) {
            const size_t ny = job == 5 ? 2 * n : job == 1 ? rows * n : n;
            float *want = NULL;
            for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++) {
                const fn_glue_kernels *g = fn_glue_kernels_for((fn_isa)isa);
                float *y = out_buf(ny);
                const fn_act *act = &ACTS[job % 3];
                if (job == 0) g->binary(FN_BIN_ADD, n, a, b, 1.0f, act, y);
                if (job == 1) g->binary_rows(FN_BIN_MUL, rows, n, a, b, 1.0f, act, y);
                if (job == 2) g->binary(FN_BIN_RADD, n, a, b, -0.75f, act, y);
                if (job == 3) g->copy(n, a, y);
                if (job == 4) g->fill(n, 0.5f, y);
                if (job == 5) g->dup2(n, a, y);
                if (job == 6) g->gather(n, a, ix, y);
                if (job == 7) { /* linear resampling tables of a row of wsrc floats, as the drivers make them */
                    const size_t wsrc = l % 2 ? n / 2 + 1 : n + 3; /* upsampling, downsampling */
                    fn_interp_axis(FN_INTERP_LINEAR, wsrc, n, (double)wsrc / (double)n, (int)(l % 3 == 0), ix, iy, l0, l1);
                    g->bilinear_row(n, wsrc, a, b, 0.25f, 0.75f, ix, iy, l0, l1, y);
                }
                if (job == 8) g->lerp2d(n, a, b, a + n, b + n, 0.3f, 0.7f, 0.6f, 0.4f, y);
                if (isa == 0) {
                    want = y;
                    continue;
                }
                char what[64];
                snprintf(what, sizeof what, "glue job %d n=%zu", job, n);
                check(what, fn_kernels_for((fn_isa)isa)->name, y, want, ny, 1e-6f);
                free(y);
            }
            free(want);
        }
        free(a), free(b), free(l0), free(l1), free(ix), free(iy);
    }
}

/* The transposes (glue table) and the layout drivers on them, every table, against the definition:
 * ragged sizes either side of the 8 x 8 and 4 x 4 blocks and the strips, row strides past the
 * width, and the drivers with two samples on two threads (exact: a copy). */
static void test_transpose(void) {
    static const size_t dims[] = {1, 3, 4, 7, 8, 9, 16, 17, 31, 33, 64, 70};
    const size_t nd = sizeof dims / sizeof dims[0];
    for (size_t i = 0; i < nd; i++)
        for (size_t j = 0; j < nd; j++) {
            const size_t rows = dims[i], cols = dims[j], ldx = cols + (j % 3), ldy = rows + (i % 2) * 5;
            float *x = rand_buf(rows * ldx, 1.0f), *want = out_buf(cols * ldy);
            for (size_t r = 0; r < rows; r++)
                for (size_t c = 0; c < cols; c++) want[c * ldy + r] = x[r * ldx + c];
            for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++)
                for (size_t strip = 16; strip <= 32; strip += 16) {
                    float *y = out_buf(cols * ldy);
                    fn_glue_kernels_for((fn_isa)isa)->transpose(rows, cols, strip, x, ldx, y, ldy);
                    char what[80];
                    snprintf(what, sizeof what, "transpose %zux%zu ld %zu/%zu strip %zu", rows, cols, ldx, ldy, strip);
                    check(what, fn_kernels_for((fn_isa)isa)->name, y, want, cols * ldy, 0.0f);
                    free(y);
                }
            free(x), free(want);
        }
    static const size_t shapes[][2] = {{3, 50176}, {64, 3136}, {21, 1000}, {512, 49}, {17, 16384}, {2048, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t n = 2, c = shapes[s][0], hw = shapes[s][1], len = n * c * hw;
        float *x = rand_buf(len, 1.0f), *want = out_buf(len);
        for (size_t b = 0; b < n; b++)
            for (size_t ch = 0; ch < c; ch++)
                for (size_t p = 0; p < hw; p++) want[(b * hw + p) * c + ch] = x[(b * c + ch) * hw + p];
        for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++) {
            const fn_kernels *kt = fn_kernels_for((fn_isa)isa);
            float *y = out_buf(len), *back = out_buf(len);
            fn_nchw_to_nhwc(kt, n, c, hw, x, y, 2);
            fn_nhwc_to_nchw(kt, n, c, hw, y, back, 2);
            char what[80];
            snprintf(what, sizeof what, "nchw->nhwc 2x%zux%zu", c, hw);
            check(what, kt->name, y, want, len, 0.0f);
            snprintf(what, sizeof what, "nhwc->nchw 2x%zux%zu", c, hw);
            check(what, kt->name, back, x, len, 0.0f);
            free(y), free(back);
        }
        free(x), free(want);
    }
}

/* The comparison and selection kinds (fn_binary's EQ..RDROP): every wide table equal to the scalar
 * one, exactly, on operands with ties and zeros, streamed and broadcast per row. */
static void test_glue_logic(void) {
    static const size_t lens[] = {1, 3, 4, 8, 15, 16, 17, 33, 100};
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        const size_t n = lens[l], rows = 3;
        float *a = rand_buf(rows * n + 4, 2.0f), *b = rand_buf(rows * n + 4, 2.0f);
        for (size_t i = 0; i < rows * n; i++) {
            if (i % 3 == 0) b[i] = a[i];
            if (i % 4 == 1) a[i] = 0.0f;
            if (i % 5 == 2) b[i] = -0.0f;
        }
        for (int op = FN_BIN_EQ; op < FN_BIN_COUNT_; op++)
            for (int rowwise = 0; rowwise < 2; rowwise++) {
                const size_t ny = rowwise ? rows * n : n;
                float *want = NULL;
                for (int isa = 0; isa < FN_ISA_COUNT && isa <= best; isa++) {
                    const fn_glue_kernels *g = fn_glue_kernels_for((fn_isa)isa);
                    float *y = out_buf(ny);
                    if (rowwise)
                        g->binary_rows(op, rows, n, a, b, 1.0f, &ACTS[0], y);
                    else
                        g->binary(op, n, a, b, 1.0f, &ACTS[0], y);
                    if (isa == 0) {
                        want = y;
                        continue;
                    }
                    char what[64];
                    snprintf(what, sizeof what, "glue logic op %d%s n=%zu", op, rowwise ? " rows" : "", n);
                    check(what, fn_kernels_for((fn_isa)isa)->name, y, want, ny, 0.0f);
                    free(y);
                }
                free(want);
            }
        free(a), free(b);
    }
}

/* The depthwise conv's folded mean (fn_dwconv2d_mean_nhwc): its row sums bit for bit the scalar
 * kernel's on every ISA (one summation order), and the mean against the pool of the conv's output. */
static void test_dwconv_mean(void) {
    static const size_t ROWS[][2] = {{1, 1}, {3, 5}, {4, 16}, {7, 37}, {13, 100}, {56, 144}};
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const size_t ow = ROWS[i][0], c = ROWS[i][1];
        float *y = rand_buf(ow * c, 4.0f), *want = out_buf(c);
        fn_dwconv_kernels_for(FN_ISA_SCALAR)->rowsum(ow, c, y, want);
        for (int isa = 1; isa <= best; isa++) {
            float *got = out_buf(c);
            fn_dwconv_kernels_for((fn_isa)isa)->rowsum(ow, c, y, got);
            char what[96];
            snprintf(what, sizeof what, "dwconv rowsum ow=%zu c=%zu", ow, c);
            check(what, fn_kernels_for((fn_isa)isa)->name, got, want, c, 0.0f);
            free(got);
        }
        free(y), free(want);
    }
    static const size_t CASES[][5] = {{2, 9, 11, 37, 1}, {1, 1, 1, 16, 1}, {3, 12, 7, 20, 2}, {1, 40, 36, 48, 1}};
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const size_t n = CASES[i][0], h = CASES[i][1], w = CASES[i][2], c = CASES[i][3], s = CASES[i][4];
        const fn_conv2d_desc d = desc(c, c, c, 3, s, 1, 1);
        const size_t oh = fn_conv_out_extent(h, 3, s, 1, 1, 1), ow = fn_conv_out_extent(w, 3, s, 1, 1, 1);
        float *x = rand_buf(n * h * w * c, 1.0f), *wt = rand_buf(c * 9, 0.5f), *bias = rand_buf(c, 1.0f);
        float *packed = xmalloc(fn_dwconv_packed_floats(c, 3, 3) * sizeof(float));
        fn_dwconv_pack(c, 3, 3, wt, bias, packed);
        const size_t sb = fn_dwconv2d_mean_scratch_bytes(&d, n, h);
        void *scratch = xmalloc(sb);
        float *want = NULL;
        for (int isa = 0; isa <= best; isa++) {
            const fn_kernels *k = fn_kernels_for((fn_isa)isa);
            float *y = out_buf(n * oh * ow * c), *mean = out_buf(n * c), *pool = out_buf(n * c);
            fn_status st = fn_dwconv2d_mean_nhwc(k, &d, n, h, w, x, packed, NULL, &ACTS[1], NULL, y, mean, scratch,
                                                 sb, 2);
            if (st == FN_OK) st = fn_adaptive_pool2d_nhwc(k, FN_POOL_AVG, n, oh, ow, c, 1, 1, y, pool, 1);
            if (st != FN_OK) {
                printf("FAIL dwconv mean [%s]: status %d\n", k->name, (int)st);
                n_fail++;
            }
            char what[96];
            snprintf(what, sizeof what, "dwconv mean vs pool n=%zu %zux%zu c=%zu s=%zu", n, h, w, c, s);
            check(what, k->name, mean, pool, n * c, 2e-6f);
            if (isa == 0) {
                want = mean;
            } else {
                snprintf(what, sizeof what, "dwconv mean n=%zu %zux%zu c=%zu s=%zu", n, h, w, c, s);
                check(what, k->name, mean, want, n * c, 2e-5f);
                free(mean);
            }
            free(y), free(pool);
        }
        /* too little scratch is refused, not overrun */
        float *y = out_buf(n * oh * ow * c), *mean = out_buf(n * c);
        if (fn_dwconv2d_mean_nhwc(fn_kernels_for(FN_ISA_SCALAR), &d, n, h, w, x, packed, NULL, &ACTS[0], NULL, y, mean,
                                  scratch, sb - 1, 1) != FN_ERR_ARG) {
            printf("FAIL dwconv mean: short scratch accepted\n");
            n_fail++;
        } else {
            n_pass++;
        }
        free(x), free(wt), free(bias), free(packed), free(scratch), free(want), free(y), free(mean);
    }
}

/* A conv told to prefetch a region (a later record's weights: fn_plan_link_prefetch) gives the bits
 * it gives without: the dense-rows path (cin <= 160), the indirect one with and without panel-major
 * order, a gate; regions shorter and longer than the conv's tiles can carry. */
static void test_conv_prefetch(void) {
    static const size_t shapes[][4] = {{160, 96, 7, 2}, {24, 72, 9, 1}, {368, 200, 7, 1}, {200, 64, 14, 1},
                                       {672, 112, 5, 2}};
    static const size_t region[] = {16, 1000, 1u << 17};
    float *pf = rand_buf((size_t)1 << 17, 1.0f);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const size_t cin = shapes[i][0], cout = shapes[i][1], hw = shapes[i][2], n = shapes[i][3];
        const fn_conv2d_desc d = desc(cin, cout, 1, 1, 1, 1, 0);
        const size_t ny = n * hw * hw * cout;
        float *x = rand_buf(n * hw * hw * cin, 1.0f), *wt = rand_buf(cout * cin, 0.5f);
        float *bias = rand_buf(cout, 1.0f), *gate = rand_buf(n * cin, 1.0f);
        FOR_WIDE(isa) {
            const fn_kernels *k = fn_kernels_for((fn_isa)isa);
            const size_t sb = fn_conv2d_gated_scratch_bytes(k, &d, n, hw, hw, 2);
            float *packed = xmalloc(fn_conv2d_packed_floats(k, &d) * sizeof(float));
            void *scratch = xmalloc(sb);
            fn_conv2d_pack(k, &d, wt, bias, packed);
            for (int gated = 0; gated < 2; gated++) {
                float *want = out_buf(ny), *got = out_buf(ny);
                const fn_act *act = &ACTS[1 + gated];
                fn_status st = fn_conv2d_nhwc_pre(k, &d, n, hw, hw, x, cin, packed, NULL, act, want, cout,
                                                  gated ? gate : NULL, NULL, NULL, NULL, NULL, 0, scratch, sb, 2);
                for (size_t r = 0; r < sizeof region / sizeof region[0] && st == FN_OK; r++) {
                    st = fn_conv2d_nhwc_pre(k, &d, n, hw, hw, x, cin, packed, NULL, act, got, cout,
                                            gated ? gate : NULL, NULL, NULL, NULL, pf, region[r], scratch, sb, 2);
                    char what[160];
                    snprintf(what, sizeof what, "conv prefetch %zu->%zu %zux%zu n=%zu gated=%d region=%zu", cin,
                             cout, hw, hw, n, gated, region[r]);
                    if (st != FN_OK || memcmp(got, want, ny * sizeof(float)) != 0) {
                        printf("FAIL %s [%s]: status %d, outputs differ from no prefetch\n", what, k->name, (int)st);
                        n_fail++;
                    } else {
                        n_pass++;
                    }
                }
                free(want), free(got);
            }
            free(packed), free(scratch);
        }
        free(x), free(wt), free(bias), free(gate);
    }
    free(pf);
}

/* fn_igemm_taps_ukernel (every table, the portable one too) against fn_igemm_ukernel with the
 * left-out taps' rows pointing at zeros: the same bits, short tiles and narrow panels included, and
 * no tap at all (bias, residual and act alone). */
static void test_igemm_taps(void) {
    static const unsigned short lists[][9] = {{1, 4, 5, 8}, {0, 2, 6, 8}, {4}, {0}};
    static const size_t lens[] = {4, 4, 1, 0};
    const size_t ks = 9;
    for (int isa = 0; isa < FN_ISA_COUNT; isa++) {
        if (isa > best) continue;
        const fn_kernels *k = fn_kernels_for((fn_isa)isa);
        const size_t MR = k->gemm_mr, NR = k->gemm_nr;
        static const size_t kcs[] = {1, 7, 33};
        for (size_t ki = 0; ki < sizeof kcs / sizeof kcs[0]; ki++) {
            const size_t kc = kcs[ki];
            float *w = rand_buf(NR + ks * kc * NR, 0.5f), *rows = rand_buf(ks * MR * kc, 1.0f);
            float *zeros = calloc(kc, sizeof(float)), *res = rand_buf(MR * NR, 1.0f);
            const float **full = xmalloc(ks * MR * sizeof(float *)), **part = xmalloc(ks * MR * sizeof(float *));
            for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
                for (size_t mr = 1; mr <= MR; mr += MR - 1)
                    for (size_t nci = 0; nci < 2; nci++) {
                        const size_t nc = nci ? NR / 2 - 1 : NR, nt = lens[li];
                        for (size_t t = 0; t < ks; t++)
                            for (size_t m = 0; m < MR; m++) full[t * MR + m] = zeros;
                        for (size_t j = 0; j < nt; j++)
                            for (size_t m = 0; m < MR; m++) {
                                const float *row = rows + (lists[li][j] * MR + (m < mr ? m : mr - 1)) * kc;
                                full[lists[li][j] * MR + m] = row;
                                part[j * MR + m] = row;
                            }
                        float *want = out_buf(MR * NR), *got = out_buf(MR * NR);
                        const fn_act *act = &ACTS[(li + mr) % 3];
                        const float *r = li % 2 ? res : NULL;
                        k->igemm(mr, nc, kc, ks, full, w, want, NR, r, NR, act);
                        k->igemm_taps(mr, nc, kc, nt, part, lists[li], w, got, NR, r, NR, act);
                        size_t bad = 0;
                        for (size_t m = 0; m < mr; m++)
                            bad += memcmp(got + m * NR, want + m * NR, nc * sizeof(float)) != 0;
                        if (bad) {
                            printf("FAIL igemm_taps kc=%zu list %zu mr=%zu nc=%zu [%s]: rows differ from the "
                                   "zero-padded igemm\n", kc, li, mr, nc, k->name);
                            n_fail++;
                        } else {
                            n_pass++;
                        }
                        free(want), free(got);
                    }
            free(w), free(rows), free(zeros), free(res), free(full), free(part);
        }
    }
}

/* fn_post: post_cols of every table against the scalar one (strided rows, the columns past c
 * untouched), and a conv / depthwise conv with a post gives the bits of the conv without it followed
 * by post_cols over its output (every conv driver path: the small-group kernel, dense rows, one
 * row's panels, the indirect GEMM; a gate; a GELU epilogue). */
static void test_post(void) {
    static const size_t pshapes[][2] = {{1, 1}, {3, 5}, {2, 16}, {5, 33}, {4, 70}};
    for (size_t i = 0; i < sizeof pshapes / sizeof pshapes[0]; i++) {
        const size_t rows = pshapes[i][0], c = pshapes[i][1], ld = c + 3;
        float *y0 = rand_buf(rows * ld, 2.0f), *sc = rand_buf(c, 1.5f), *sh = rand_buf(c, 1.0f);
        float *res = rand_buf(rows * ld, 1.0f);
        for (int mode = 0; mode < 3; mode++) { /* affine + res, affine, res */
            const float *s = mode < 2 ? sc : NULL, *b = mode < 2 ? sh : NULL, *r = mode != 1 ? res : NULL;
            float *want = xmalloc(rows * ld * sizeof(float));
            memcpy(want, y0, rows * ld * sizeof(float));
            fn_kernels_for(FN_ISA_SCALAR)->post_cols(rows, c, want, ld, s, b, r, ld);
            FOR_WIDE(isa) {
                const fn_kernels *k = fn_kernels_for((fn_isa)isa);
                float *got = out_buf(rows * ld);
                memcpy(got, y0, rows * ld * sizeof(float));
                k->post_cols(rows, c, got, ld, s, b, r, ld);
                char what[96];
                snprintf(what, sizeof what, "post_cols %zux%zu mode=%d", rows, c, mode);
                check(what, k->name, got, want, rows * ld, 1e-6f); /* the gap columns: y0's own */
                free(got);
            }
            free(want);
        }
        free(y0), free(sc), free(sh), free(res);
    }
    /* {cin, cout, groups, k, stride, pad, hw, n} */
    static const size_t cshapes[][8] = {{16, 40, 1, 1, 1, 0, 9, 2}, {24, 72, 1, 1, 2, 0, 7, 1},
                                        {40, 24, 1, 1, 1, 0, 1, 1}, {13, 29, 1, 3, 1, 1, 6, 2},
                                        {32, 32, 4, 3, 1, 1, 5, 1}, {48, 48, 16, 3, 2, 1, 7, 2}};
    const fn_act gelu = {FN_ACT_ACTK0 + FN_ACTK_GELU, 0.0f, 0.0f};
    const fn_act *acts[2] = {&ACTS[1], &gelu};
    for (size_t i = 0; i < sizeof cshapes / sizeof cshapes[0]; i++) {
        const size_t *q = cshapes[i];
        const fn_conv2d_desc d = desc(q[0], q[1], q[2], q[3], q[4], 1, q[5]);
        const size_t hw = q[6], n = q[7], o = fn_conv_out_extent(hw, q[3], q[4], 1, q[5], q[5]);
        const size_t ny = n * o * o * q[1];
        float *x = rand_buf(n * hw * hw * q[0], 1.0f), *wt = rand_buf(q[1] * q[0] / q[2] * q[3] * q[3], 0.5f);
        float *bias = rand_buf(q[1], 1.0f), *ss = rand_buf(2 * q[1], 1.5f), *res = rand_buf(ny, 1.0f);
        float *gate = rand_buf(n * q[0], 1.0f);
        for (int isa = 0; isa <= best; isa++) {
            const fn_kernels *k = fn_kernels_for((fn_isa)isa);
            const size_t sb = fn_conv2d_gated_scratch_bytes(k, &d, n, hw, hw, 2);
            float *packed = xmalloc(fn_conv2d_packed_floats(k, &d) * sizeof(float));
            void *scratch = xmalloc(sb);
            fn_conv2d_pack(k, &d, wt, bias, packed);
            for (int v = 0; v < 6; v++) { /* act (clamp, gelu) x post (affine + res, affine, res) */
                const fn_act *act = acts[v / 3];
                const int mode = v % 3, gated = q[2] == 1 && q[3] == 1 && (v & 1);
                const fn_post post = {mode < 2 ? ss : NULL, mode < 2 ? ss + q[1] : NULL, mode != 1 ? res : NULL};
                float *want = out_buf(ny), *got = out_buf(ny);
                fn_status st = fn_conv2d_nhwc_pre(k, &d, n, hw, hw, x, q[0], packed, NULL, act, want, q[1],
                                                  gated ? gate : NULL, NULL, NULL, NULL, NULL, 0, scratch, sb, 2);
                if (st == FN_OK) k->post_cols(ny / q[1], q[1], want, q[1], post.scale, post.shift, post.res, q[1]);
                if (st == FN_OK)
                    st = fn_conv2d_nhwc_pre(k, &d, n, hw, hw, x, q[0], packed, NULL, act, got, q[1],
                                            gated ? gate : NULL, NULL, NULL, &post, NULL, 0, scratch, sb, 2);
                char what[160];
                snprintf(what, sizeof what, "conv post %zu->%zu g=%zu k=%zu s=%zu %zux%zu n=%zu v=%d", q[0], q[1],
                         q[2], q[3], q[4], hw, hw, n, v);
                if (st != FN_OK || memcmp(got, want, (ny + GUARD) * sizeof(float)) != 0) {
                    printf("FAIL %s [%s]: status %d, outputs differ from conv then post_cols\n", what, k->name,
                           (int)st);
                    n_fail++;
                } else {
                    n_pass++;
                }
                free(want), free(got);
            }
            free(packed), free(scratch);
        }
        free(x), free(wt), free(bias), free(ss), free(res), free(gate);
    }
    /* depthwise: 9x9 'same' (ConvMixer's), 3x3/2 */
    static const size_t dshapes[][5] = {{19, 9, 1, 4, 2}, {40, 3, 2, 7, 1}, {24, 9, 1, 17, 1}};
    for (size_t i = 0; i < sizeof dshapes / sizeof dshapes[0]; i++) {
        const size_t c = dshapes[i][0], kk = dshapes[i][1], s = dshapes[i][2], h = dshapes[i][3], n = dshapes[i][4];
        const fn_conv2d_desc d = desc(c, c, c, kk, s, 1, kk / 2);
        const size_t o = fn_conv_out_extent(h, kk, s, 1, kk / 2, kk / 2), ny = n * o * o * c;
        float *x = rand_buf(n * h * h * c, 1.0f), *wt = rand_buf(c * kk * kk, 0.5f), *bias = rand_buf(c, 1.0f);
        float *ss = rand_buf(2 * c, 1.5f), *res = rand_buf(ny, 1.0f);
        float *packed = xmalloc(fn_dwconv_packed_floats(c, kk, kk) * sizeof(float));
        fn_dwconv_pack(c, kk, kk, wt, bias, packed);
        for (int isa = 0; isa <= best; isa++) {
            const fn_kernels *k = fn_kernels_for((fn_isa)isa);
            for (int v = 0; v < 6; v++) {
                const fn_act *act = acts[v / 3];
                const int mode = v % 3;
                const fn_post post = {mode < 2 ? ss : NULL, mode < 2 ? ss + c : NULL, mode != 1 ? res : NULL};
                float *want = out_buf(ny), *got = out_buf(ny);
                fn_status st = fn_dwconv2d_nhwc(k, &d, n, h, h, x, packed, NULL, act, want, 2);
                if (st == FN_OK) k->post_cols(ny / c, c, want, c, post.scale, post.shift, post.res, c);
                if (st == FN_OK)
                    st = fn_dwconv2d_mean_nhwc(k, &d, n, h, h, x, packed, NULL, act, &post, got, NULL, NULL, 0, 2);
                char what[128];
                snprintf(what, sizeof what, "dwconv post c=%zu k=%zu s=%zu %zux%zu n=%zu v=%d", c, kk, s, h, h, n, v);
                if (st != FN_OK || memcmp(got, want, (ny + GUARD) * sizeof(float)) != 0) {
                    printf("FAIL %s [%s]: status %d, outputs differ from dwconv then post_cols\n", what,
                           k->name, (int)st);
                    n_fail++;
                } else {
                    n_pass++;
                }
                free(want), free(got);
            }
        }
        free(x), free(wt), free(bias), free(ss), free(res), free(packed);
    }
}

/* max_pool2d with indices against a brute-force scan (padding, dilation, ceil overhang, NaN), and
 * max_unpool2d: its scatter, and an index outside the plane refused (FN_ERR_ARG). */
static void test_maxpool_argmax(void) {
    /* {h, w, c, k, s, d, pad} */
    static const size_t shapes[][7] = {{9, 11, 5, 3, 2, 1, 1}, {12, 7, 17, 3, 2, 2, 1}, {6, 6, 3, 2, 2, 1, 0},
                                       {5, 8, 33, 3, 1, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const size_t h = shapes[i][0], w = shapes[i][1], c = shapes[i][2], kk = shapes[i][3], s = shapes[i][4];
        const size_t dil = shapes[i][5], pad = shapes[i][6], n = 2;
        const fn_pool2d_desc d = {kk, kk, s, s, dil, dil, pad, pad};
        const size_t oh = (h + 2 * pad - dil * (kk - 1) - 1) / s + 1, ow = (w + 2 * pad - dil * (kk - 1) - 1) / s + 1;
        float *x = rand_buf(n * h * w * c, 1.0f);
        x[3] = NAN, x[c * w + 1] = x[0]; /* a NaN, a tie */
        float *y = out_buf(n * oh * ow * c), *ix = out_buf(n * oh * ow * c);
        float *wy = xmalloc(n * oh * ow * c * sizeof(float)), *wi = xmalloc(n * oh * ow * c * sizeof(float));
        for (size_t b = 0; b < n; b++)
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++)
                    for (size_t j = 0; j < c; j++) {
                        float m = -INFINITY, at = -1.0f;
                        int any = 0;
                        for (size_t ky = 0; ky < kk; ky++)
                            for (size_t kx = 0; kx < kk; kx++) {
                                const ptrdiff_t iy = (ptrdiff_t)(oy * s + ky * dil) - (ptrdiff_t)pad;
                                const ptrdiff_t jx = (ptrdiff_t)(ox * s + kx * dil) - (ptrdiff_t)pad;
                                if (iy < 0 || jx < 0 || iy >= (ptrdiff_t)h || jx >= (ptrdiff_t)w) continue;
                                const float v = x[((b * h + (size_t)iy) * w + (size_t)jx) * c + j];
                                if (!any) at = (float)((size_t)iy * w + (size_t)jx), any = 1;
                                if (v > m || v != v) m = v, at = (float)((size_t)iy * w + (size_t)jx);
                            }
                        const size_t o = ((b * oh + oy) * ow + ox) * c + j;
                        wy[o] = m, wi[o] = at;
                    }
        fn_status st = fn_maxpool2d_argmax_nhwc(&d, n, h, w, c, oh, ow, x, y, ix, 2);
        char what[96];
        snprintf(what, sizeof what, "maxpool argmax %zux%zu c=%zu k=%zu s=%zu d=%zu p=%zu", h, w, c, kk, s, dil, pad);
        if (st != FN_OK) {
            printf("FAIL %s: status %d\n", what, (int)st);
            n_fail++;
        }
        check(what, "portable", y, wy, n * oh * ow * c, 0.0f);
        check(what, "portable (indices)", ix, wi, n * oh * ow * c, 0.0f);
        /* unpool into the input's plane: every max back at its position, the rest zero */
        float *u = out_buf(n * h * w * c), *wu = xmalloc(n * h * w * c * sizeof(float));
        memset(wu, 0, n * h * w * c * sizeof(float));
        for (size_t b = 0; b < n; b++)
            for (size_t p = 0; p < oh * ow; p++)
                for (size_t j = 0; j < c; j++) {
                    const float f = wi[(b * oh * ow + p) * c + j];
                    wu[(b * h * w + (size_t)f) * c + j] = wy[(b * oh * ow + p) * c + j];
                }
        st = fn_max_unpool2d_nhwc(n, oh, ow, c, h, w, y, ix, u, 2);
        snprintf(what, sizeof what, "max_unpool %zux%zu c=%zu k=%zu s=%zu", h, w, c, kk, s);
        if (st != FN_OK) {
            printf("FAIL %s: status %d\n", what, (int)st);
            n_fail++;
        }
        check(what, "portable", u, wu, n * h * w * c, 0.0f);
        ix[c + 1] = (float)(h * w); /* past the plane */
        if (fn_max_unpool2d_nhwc(n, oh, ow, c, h, w, y, ix, u, 1) != FN_ERR_ARG) {
            printf("FAIL %s: an index past the plane accepted\n", what);
            n_fail++;
        } else {
            n_pass++;
        }
        free(x), free(y), free(ix), free(wy), free(wi), free(u), free(wu);
    }
}

int main(void) {
    fn_cpu_features f;
    fn_cpu_detect(&f);
    best = (int)fn_cpu_best_isa(&f);
    printf("kernel_check: arch %s, tables:", fn_cpu_arch());
    for (int isa = 0; isa < FN_ISA_COUNT; isa++)
        printf(" %s%s", fn_kernels_for((fn_isa)isa)->name, isa <= best ? "" : " (not on this CPU)");
    printf("\n");
    if (FN_ISA_COUNT < 2 || best < 1) {
        printf("kernel_check: no wide table to check here\n");
        return 1;
    }
    test_conv();
    test_scale_shift_act();
    test_fold_rows();
    test_act();
    test_norm();
    test_pool();
    test_glue();
    test_glue_logic();
    test_transpose();
    test_dwconv_mean();
    test_conv_prefetch();
    test_igemm_taps();
    test_post();
    test_maxpool_argmax();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
