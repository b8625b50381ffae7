/* dwpw.c: (a 1x1 conv,) a depthwise conv (and the 1x1 conv that reads it), a band of rows at a
 * time (fn_dwconv.h). */
#include "dwconv_kernels.h"

#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Bytes of depthwise output per band: the band is written, then read by the 1x1 conv once per
 * block of its output panels, and should stay in L2 beside that conv's weights. MobileNetV2 at
 * batch 16, 1 thread: 32 KiB 150 ms, 64-96 KiB 139, 192-384 KiB 135-136, 768 KiB 140 (2 threads:
 * 96 KiB 87 ms, 192 79, 256 73, 384 74; minima of 7). */
#ifndef FN_DWPW_BAND_BYTES
#define FN_DWPW_BAND_BYTES (192u * 1024u)
#endif
/* With an expand conv: the expanded rows and the band together. Each band recomputes the kernel's
 * halo of expanded rows, (kh - 1) * dh rows, so taller bands waste less. */
#ifndef FN_DWPW_EXPAND_BAND_BYTES
#define FN_DWPW_EXPAND_BAND_BYTES (512u * 1024u)
#endif

typedef struct geometry {
    size_t oh, ow, c;   /* depthwise output extents and channels */
    size_t R;           /* output rows per band */
    size_t er;          /* expanded rows a band may need (0 without expand) */
    size_t d_floats, e_floats, conv_bytes; /* per thread: band, expanded rows, conv scratch */
} geometry;

static size_t lines(size_t floats) { return (floats * sizeof(float) + 63) / 64 * 64 / sizeof(float); }

static size_t expanded_rows(const fn_conv2d_desc *dw, size_t h, size_t R) {
    const size_t r = (R - 1) * dw->sh + (dw->kh - 1) * dw->dh + 1;
    return r < h ? r : h;
}

static void geometry_of(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t h, size_t w,
                        geometry *g) {
    const fn_conv2d_desc *dw = a->dw;
    g->c = dw->cin;
    g->oh = fn_conv_out_extent(h, dw->kh, dw->sh, dw->dh, dw->pad_top, dw->pad_bottom);
    g->ow = fn_conv_out_extent(w, dw->kw, dw->sw, dw->dw, dw->pad_left, dw->pad_right);
    /* without a 1x1 conv after it the depthwise rows go straight to the output: no band */
    const size_t drow = a->pw ? g->ow * g->c * sizeof(float) : 0, erow = w * g->c * sizeof(float);
    size_t R = g->oh ? g->oh : 1;
    while (R > 1 && (R * drow > FN_DWPW_BAND_BYTES ||
                     (a->ex && R * drow + expanded_rows(dw, h, R) * erow > FN_DWPW_EXPAND_BAND_BYTES)))
        R--;
    g->R = R;
    g->er = a->ex ? expanded_rows(dw, h, R) : 0;
    g->d_floats = a->pw ? lines(R * g->ow * g->c) : 0;
    g->e_floats = lines(g->er * w * g->c);
    size_t cb = a->pw ? fn_conv2d_scratch_bytes(k, a->pw, 1, R, g->ow, 1) : 0;
    if (a->ex) {
        const size_t eb = fn_conv2d_scratch_bytes(k, a->ex, 1, g->er, w, 1);
        cb = eb > cb ? eb : cb;
    }
    g->conv_bytes = (cb + 63) / 64 * 64;
}

/* Scratch: [conv scratch x nthreads][(band, expanded rows) x nthreads][row sums], 64-byte aligned
 * pieces; the row sums (n, oh, c) only with a mean. */
static size_t scratch_bytes_of(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n, size_t h,
                               size_t w, int mean, int nthreads) {
    const size_t nt = nthreads < 1 ? 1 : (size_t)nthreads;
    geometry g;
    geometry_of(k, a, h, w, &g);
    return 64 + nt * (g.conv_bytes + (g.d_floats + g.e_floats) * sizeof(float)) +
           (mean ? n * g.oh * g.c * sizeof(float) : 0);
}

size_t fn_dwconv_pw_scratch_bytes(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t h,
                                  size_t w, int nthreads) {
    return scratch_bytes_of(k, a, 0, h, w, 0, nthreads);
}

size_t fn_dwconv_pw_mean_scratch_bytes(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n,
                                       size_t h, size_t w, int mean, int nthreads) {
    return scratch_bytes_of(k, a, n, h, w, mean, nthreads);
}

/* Which expanded rows (of sample b, [lo, hi)) a thread's buffer holds from its last band. */
typedef struct kept_rows {
    int valid;
    size_t b, lo, hi;
} kept_rows;

/* Output rows [oy0, oy0 + rows) of sample b through all the ops; nt threads inside the convs, dnt
 * in the depthwise rows (1 when the caller already runs bands on several threads). */
static fn_status band(const fn_kernels *k, const fn_dwconv_pw_args *a, const fn_dwconv_run *p,
                      const geometry *g, size_t h, size_t w, size_t b, size_t oy0, size_t rows,
                      const float *x, const float *res, float *y, float *d, float *e,
                      unsigned char *conv, int nt, int dnt, fn_dwconv_rowsum_ukernel rowsum,
                      float *part, kept_rows *kept) {
    const fn_conv2d_desc *dw = a->dw;
    const float *src = x;
    size_t row0 = 0;
    if (a->ex) {
        /* the input rows the band's windows touch, clipped to the image */
        const ptrdiff_t lo = (ptrdiff_t)(oy0 * dw->sh) - (ptrdiff_t)dw->pad_top;
        const ptrdiff_t hi = (ptrdiff_t)((oy0 + rows - 1) * dw->sh) - (ptrdiff_t)dw->pad_top +
                             (ptrdiff_t)((dw->kh - 1) * dw->dh) + 1;
        const size_t ilo = lo < 0 ? 0 : (size_t)lo;
        const size_t ihi = hi < 0 ? 0 : (size_t)hi > h ? h : (size_t)hi;
        const size_t erow = w * g->c;
        size_t from = ilo;
        /* the halo rows the band before made (this thread's, the same sample): moved to the front
         * instead of computed again (each expanded row is one and the same GEMM row either way) */
        if (kept->valid && kept->b == b && ilo >= kept->lo && ilo < kept->hi && kept->hi <= ihi) {
            memmove(e, e + (ilo - kept->lo) * erow, (kept->hi - ilo) * erow * sizeof(float));
            from = kept->hi;
        }
        if (ihi > from) {
            const fn_status st = fn_conv2d_nhwc(k, a->ex, 1, ihi - from, w,
                                                x + (b * h + from) * w * a->ex->cin, a->ex_packed,
                                                NULL, a->ex_act, e + (from - ilo) * erow, conv,
                                                (size_t)nt * g->conv_bytes, nt);
            if (st != FN_OK) return st;
        }
        kept->valid = 1, kept->b = b, kept->lo = ilo, kept->hi = ihi;
        src = e, row0 = b * h + ilo;
    }
    if (!a->pw) {
        /* the depthwise rows are the output (and, with a mean, each row's sums while in L1) */
        const size_t orow = g->ow * g->c;
#pragma omp parallel for schedule(static) num_threads(dnt) if (dnt > 1)
        for (size_t r = 0; r < rows; r++) {
            const size_t ro = b * g->oh + oy0 + r;
            fn_dwconv_row_at(p, b, oy0 + r, src, row0, NULL, y + ro * orow);
            if (rowsum) rowsum(g->ow, g->c, y + ro * orow, part + ro * g->c);
        }
        return FN_OK;
    }
#pragma omp parallel for schedule(static) num_threads(dnt) if (dnt > 1)
    for (size_t r = 0; r < rows; r++)
        fn_dwconv_row_at(p, b, oy0 + r, src, row0, NULL, d + r * g->ow * g->c);
    const size_t m0 = (b * g->oh + oy0) * g->ow, cout = a->pw->cout;
    return fn_conv2d_nhwc(k, a->pw, 1, rows, g->ow, d, a->pw_packed, res ? res + m0 * cout : NULL,
                          a->pw_act, y + m0 * cout, conv, (size_t)nt * g->conv_bytes, nt);
}

static void mean_of_rows(const fn_kernels *k, const geometry *g, size_t n, const float *part,
                         float *mean) {
    const fn_global_pool_cols_ukernel colsum = fn_pool_kernels_for(k->isa)->global_avg_cols;
    for (size_t b = 0; b < n; b++)
        colsum(g->oh, g->c, g->c, part + b * g->oh * g->c, (float)(g->oh * g->ow), mean + b * g->c);
}

static int is_pointwise(const fn_conv2d_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->sh == 1 && d->sw == 1 && d->groups == 1 && !d->pad_top &&
           !d->pad_bottom && !d->pad_left && !d->pad_right;
}

fn_status fn_dwconv_pw_nhwc(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n, size_t h,
                            size_t w, const float *x, const float *res, float *y, void *scratch,
                            size_t scratch_bytes, int nthreads) {
    if (!a->pw) return FN_ERR_ARG;
    return fn_dwconv_pw_mean_nhwc(k, a, n, h, w, x, res, y, NULL, scratch, scratch_bytes, nthreads);
}

fn_status fn_dwconv_pw_mean_nhwc(const fn_kernels *k, const fn_dwconv_pw_args *a, size_t n,
                                 size_t h, size_t w, const float *x, const float *res, float *y,
                                 float *mean, void *scratch, size_t scratch_bytes, int nthreads) {
    if ((a->pw && (!is_pointwise(a->pw) || a->pw->cin != a->dw->cin)) ||
        (a->ex && (!is_pointwise(a->ex) || a->ex->cout != a->dw->cin)))
        return FN_ERR_ARG;
    /* without the 1x1 conv: an expand conv, no residual; a mean only then */
    if (!a->pw ? !a->ex || res : mean != NULL) return FN_ERR_ARG;
    fn_dwconv_run p;
    const fn_status st = fn_dwconv_prepare(k, a->dw, h, w, a->dw_packed, a->dw_act, &p);
    if (st != FN_OK) return st;
    const int nt = nthreads < 1 ? 1 : nthreads;
    if (scratch_bytes < scratch_bytes_of(k, a, n, h, w, mean != NULL, nt)) return FN_ERR_NOMEM;
    geometry g;
    geometry_of(k, a, h, w, &g);
    if (mean && n && (g.oh == 0 || g.ow == 0)) return FN_ERR_ARG; /* the mean of nothing: the pool's error */
    if (n == 0 || g.oh == 0 || g.ow == 0 || g.c == 0 || (a->pw && a->pw->cout == 0)) return FN_OK;
    const size_t per_sample = (g.oh + g.R - 1) / g.R, nbands = n * per_sample;

    const uintptr_t base = (uintptr_t)scratch;
    unsigned char *conv = (unsigned char *)(base + (64 - base % 64) % 64);
    float *bufs = (float *)(conv + (size_t)nt * g.conv_bytes);
    const size_t per_thread = g.d_floats + g.e_floats;
    /* the mean as fn_dwconv2d_mean_nhwc takes it: each row's sums (rowsum), then per sample the
     * sums in row order over oh * ow (the pool's column kernel) */
    float *part = mean ? bufs + (size_t)nt * per_thread : NULL;
    const fn_dwconv_rowsum_ukernel rowsum = mean ? fn_dwconv_kernels_for(k->isa)->rowsum : NULL;

    if (nt > 1 && nbands >= 2 * (size_t)nt) {
        /* enough bands: each thread makes and consumes whole bands on its own */
        fn_status err = FN_OK;
#pragma omp parallel num_threads(nt)
        {
#ifdef _OPENMP
            const size_t t = (size_t)omp_get_thread_num();
#else
            const size_t t = 0;
#endif
            kept_rows kept = {0, 0, 0, 0};
            float *d = bufs + t * per_thread;
#pragma omp for schedule(dynamic, 1)
            for (size_t q = 0; q < nbands; q++) {
                const size_t b = q / per_sample, oy0 = q % per_sample * g.R;
                const size_t rows = g.oh - oy0 < g.R ? g.oh - oy0 : g.R;
                const fn_status s = band(k, a, &p, &g, h, w, b, oy0, rows, x, res, y, d, d + g.d_floats,
                                         conv + t * g.conv_bytes, 1, 1, rowsum, part, &kept);
                if (s != FN_OK) {
#pragma omp critical(fn_dwpw_err)
                    err = s;
                }
            }
        }
        if (err == FN_OK && mean) mean_of_rows(k, &g, n, part, mean);
        return err;
    }
    /* few bands (small images at batch 1): bands one after the other, threads inside each */
    kept_rows kept = {0, 0, 0, 0};
    for (size_t q = 0; q < nbands; q++) {
        const size_t b = q / per_sample, oy0 = q % per_sample * g.R;
        const size_t rows = g.oh - oy0 < g.R ? g.oh - oy0 : g.R;
        const size_t dmacs = rows * g.ow * g.c * a->dw->kh * a->dw->kw;
        const int dnt = (size_t)nt <= rows && dmacs >= ((size_t)1 << 17) * (size_t)nt ? nt : 1;
        const fn_status s = band(k, a, &p, &g, h, w, b, oy0, rows, x, res, y, bufs,
                                 bufs + g.d_floats, conv, nt, dnt, rowsum, part, &kept);
        if (s != FN_OK) return s;
    }
    if (mean) mean_of_rows(k, &g, n, part, mean);
    return FN_OK;
}
