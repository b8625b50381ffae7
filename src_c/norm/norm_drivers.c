/* norm_drivers.c: group/instance/layer/batch-statistics normalisation drivers (NCHW and NHWC), threaded
 * with one OpenMP region each. The statistics scheme is explained in fn_norm.h. */
#include "../kernels.h"

#include <math.h>

/* Below PAR_MIN_FLOATS an op runs on the calling thread (a fork/join on a loaded host costs more).
 * SLAB_FLOATS (64 KiB) bounds the rows / pixels a task handles between its statistics pass and its
 * normalise pass, so the second read hits L2. NHWC_CHUNK pixel rows make one partial-moments task
 * of the NHWC group norm. None of these depends on the thread count, so neither do results. */
#define PAR_MIN_FLOATS 32768
#define SLAB_FLOATS 16384
#define NHWC_CHUNK 256
#define LNC_MAX_PIX 1024 /* pixels per LayerNorm-over-channels tile (NCHW) */
#define LNC_TILE_FLOATS 65536 /* 256 KiB: a c x pixels tile, in L2 for the second pass */
#define COEF_BLOCK 64   /* rows whose coefficients are computed before one rows_apply call */

/* Never more threads than tasks: an idle thread still joins the region's barrier, and on a loaded
 * host waiting for it to be scheduled costs milliseconds. */
static int threads_for(size_t total, size_t tasks, int nthreads) {
    if (nthreads < 1 || total < PAR_MIN_FLOATS) return 1;
    return tasks < (size_t)nthreads ? (int)(tasks ? tasks : 1) : nthreads;
}

/* mean and 1/sqrt(var + eps) from count m and sums shifted by k; var is the biased variance, clamped
 * at 0 against rounding (NaN stays NaN: the comparison is false). */
static inline void finish(double m, float k, double s1, double s2, double eps, double *mean, double *rstd) {
    const double m1 = s1 / m;
    double var = s2 / m - m1 * m1;
    var = var < 0.0 ? 0.0 : var;
    *mean = (double)k + m1;
    *rstd = 1.0 / sqrt(var + eps);
}

/* (cm, a, b) such that (x - cm) * a + b = (x - mean) * rstd * g + bt (see fn_norm.h) */
static inline void coef(double mean, double rstd, double g, double bt, float *cm, float *a, float *b) {
    const float c = (float)mean, s = (float)(rstd * g);
    *cm = c;
    *a = s;
    *b = (float)(bt + ((double)c - mean) * (double)s);
}

// x, y: (n, c, hw); one task per (sample, group) slab: statistics, then normalise while it is in L2
fn_status fn_group_norm_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                             const float *x, const float *gamma, const float *beta, double eps,
                             const fn_act *act, float *y, int nthreads) {
    if (groups == 0 || c % groups) return FN_ERR_ARG;
    if (n * c * hw == 0) return FN_OK;
    const fn_norm_kernels *nk = fn_norm_kernels_for(k->isa);
    const size_t cg = c / groups, slab = cg * hw, tasks = n * groups;
    const int nt = threads_for(n * c * hw, tasks, nthreads);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t t = 0; t < tasks; t++) {
        const size_t c0 = (t % groups) * cg;
        const float *xs = x + t * slab;
        float *ys = y + t * slab;
        double sums[2], mean, rstd;
        nk->row_moments(1, slab, xs, slab, xs, 0, sums);
        finish((double)slab, xs[0], sums[0], sums[1], eps, &mean, &rstd);
        float cm[COEF_BLOCK], a[COEF_BLOCK], b[COEF_BLOCK];
        for (size_t j0 = 0; j0 < cg; j0 += COEF_BLOCK) {
            const size_t nb = cg - j0 < COEF_BLOCK ? cg - j0 : COEF_BLOCK;
            for (size_t j = 0; j < nb; j++)
                coef(mean, rstd, gamma ? gamma[c0 + j0 + j] : 1.0, beta ? beta[c0 + j0 + j] : 0.0, cm + j, a + j, b + j);
            nk->rows_apply(nb, hw, xs + j0 * hw, cm, a, b, NULL, NULL, act, ys + j0 * hw);
        }
    }
    return FN_OK;
}

size_t fn_group_norm_nhwc_scratch_bytes(size_t n, size_t hw, size_t c) {
    const size_t chunks = (hw + NHWC_CHUNK - 1) / NHWC_CHUNK;
    return n * chunks * c * 2 * sizeof(double) + n * c * 4 * sizeof(float);
}

/* Sample i, group g: the chunks' partial column sums added in chunk order, then the group's channels'
 * coefficients. */
static void gn_nhwc_group(size_t i, size_t g, size_t hw, size_t c, size_t cg, size_t chunks,
                          const double *part, const float *shift, const float *gamma, const float *beta,
                          double eps, float *cm, float *a, float *b) {
    const size_t c0 = g * cg;
    double s1 = 0.0, s2 = 0.0, mean, rstd;
    for (size_t ch = 0; ch < chunks; ch++) {
        const double *p = part + (i * chunks + ch) * 2 * c;
        for (size_t j = c0; j < c0 + cg; j++) s1 += p[j], s2 += p[c + j];
    }
    finish((double)hw * (double)cg, shift[i * c + c0], s1, s2, eps, &mean, &rstd);
    for (size_t j = c0; j < c0 + cg; j++)
        coef(mean, rstd, gamma ? gamma[j] : 1.0, beta ? beta[j] : 0.0, cm + i * c + j, a + i * c + j, b + i * c + j);
}

/* x, y: (n, hw, c). Channels in vector lanes; every lane of a group uses the group's shift (its first
 * element), so the lanes' sums add up to the group's. Partial column moments per chunk of NHWC_CHUNK
 * pixels, summed in chunk order per (sample, group), then the normalise pass. When a sample fits in
 * L2 and there are samples for every thread, a task is a whole sample (its second read hits L2);
 * otherwise three parallel phases (partials per (sample, chunk), coefficients per (sample, group),
 * normalise per (sample, chunk)) so one big sample still uses every thread. The arithmetic is the
 * same either way: results never depend on the thread count or on the mode. */
#define NHWC_SAMPLE_L2_FLOATS 196608 /* 768 KiB */
/* The pooled output of a normalization (group_norm_maxpool below): the input rows one output row
 * of the pool reads are normalised (+ activation) into a per-thread band, then pooled from there, so
 * the normalised tensor is never written out and read back. */
#ifdef _OPENMP
#include <omp.h>
#define THREAD_NUM() omp_get_thread_num()
#else
#define THREAD_NUM() 0
#endif

typedef struct gn_pool {
    const fn_pool2d_desc *d;
    size_t h, w, oh, ow; /* image and pooled extents */
} gn_pool;

static fn_status gn_nhwc(const fn_kernels *k, size_t n, size_t hw, size_t c, size_t groups,
                         const float *x, const float *gamma, const float *beta, double eps,
                         const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                         int nthreads, const gn_pool *pool) {
    if (groups == 0 || c % groups) return FN_ERR_ARG;
    if (n * c * hw == 0) return FN_OK;
    if (scratch_bytes < fn_group_norm_nhwc_scratch_bytes(n, hw, c) +
                            (pool ? fn_group_norm_maxpool_band_bytes(pool->d, pool->w, c, nthreads) : 0))
        return FN_ERR_NOMEM;
    const fn_norm_kernels *nk = fn_norm_kernels_for(k->isa);
    const size_t cg = c / groups, chunks = (hw + NHWC_CHUNK - 1) / NHWC_CHUNK;
    double *part = (double *)scratch; /* (n, chunks, 2, c) */
    float *shift = (float *)(part + n * chunks * 2 * c), *cm = shift + n * c, *a = cm + n * c, *b = a + n * c;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) shift[i * c + j] = x[i * hw * c + (j / cg) * cg];
    const size_t tasks = n * chunks, gtasks = n * groups;
    const int nt = threads_for(n * c * hw, tasks, nthreads);
    const int per_sample = !pool && hw * c <= NHWC_SAMPLE_L2_FLOATS && n >= (size_t)nt;
    float *bands = NULL;
    if (pool) { /* after the statistics' scratch, 64-byte aligned */
        const uintptr_t e = (uintptr_t)(b + n * c);
        bands = (float *)(e + (64 - e % 64) % 64);
    }
#pragma omp parallel num_threads(nt)
    {
        if (per_sample) {
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++) {
                for (size_t ch = 0; ch < chunks; ch++) {
                    const size_t r0 = ch * NHWC_CHUNK, rows = hw - r0 < NHWC_CHUNK ? hw - r0 : NHWC_CHUNK;
                    double *p = part + (i * chunks + ch) * 2 * c;
                    nk->col_moments(rows, c, x + (i * hw + r0) * c, c, shift + i * c, p, p + c);
                }
                for (size_t g = 0; g < groups; g++)
                    gn_nhwc_group(i, g, hw, c, cg, chunks, part, shift, gamma, beta, eps, cm, a, b);
                nk->cols_apply(hw, c, x + i * hw * c, c, cm + i * c, a + i * c, b + i * c, NULL, NULL, act,
                               y + i * hw * c, c);
            }
        } else {
#pragma omp for schedule(static)
            for (size_t t = 0; t < tasks; t++) {
                const size_t i = t / chunks, r0 = (t % chunks) * NHWC_CHUNK;
                const size_t rows = hw - r0 < NHWC_CHUNK ? hw - r0 : NHWC_CHUNK;
                nk->col_moments(rows, c, x + (i * hw + r0) * c, c, shift + i * c, part + t * 2 * c,
                                part + t * 2 * c + c);
            }
#pragma omp for schedule(static)
            for (size_t t = 0; t < gtasks; t++)
                gn_nhwc_group(t / groups, t % groups, hw, c, cg, chunks, part, shift, gamma, beta, eps, cm, a, b);
            if (!pool) {
#pragma omp for schedule(static)
                for (size_t t = 0; t < tasks; t++) {
                    const size_t i = t / chunks, r0 = (t % chunks) * NHWC_CHUNK;
                    const size_t rows = hw - r0 < NHWC_CHUNK ? hw - r0 : NHWC_CHUNK, off = (i * hw + r0) * c;
                    nk->cols_apply(rows, c, x + off, c, cm + i * c, a + i * c, b + i * c, NULL, NULL, act, y + off, c);
                }
            } else {
                const fn_pool2d_desc *d = pool->d;
                const size_t W = pool->w, H = pool->h, OH = pool->oh, OW = pool->ow;
                float *band = bands + (size_t)THREAD_NUM() * (d->kh * W * c + 16);
                fn_pool2d_desc row = *d; /* the band's rows are the window's valid rows, densely */
                row.sh = 1, row.dh = 1, row.pad_top = 0;
#pragma omp for schedule(static)
                for (size_t t = 0; t < n * OH; t++) {
                    const size_t i = t / OH, oy = t % OH;
                    size_t rows = 0;
                    for (size_t ky = 0; ky < d->kh; ky++) {
                        const size_t iy = oy * d->sh + ky * d->dh - d->pad_top; /* wraps when above */
                        if (iy >= H) continue;
                        const size_t off = (i * hw + iy * W) * c;
                        nk->cols_apply(W, c, x + off, c, cm + i * c, a + i * c, b + i * c, NULL, NULL, act,
                                       band + rows * W * c, c);
                        rows++;
                    }
                    float *yr = y + (i * OH + oy) * OW * c;
                    if (rows == 0) {
                        for (size_t j = 0; j < OW * c; j++) yr[j] = -INFINITY;
                        continue;
                    }
                    row.kh = rows;
                    fn_maxpool2d_nhwc(k, &row, 1, rows, W, c, 1, OW, band, yr, 1);
                }
            }
        }
    }
    return FN_OK;
}

fn_status fn_group_norm_nhwc(const fn_kernels *k, size_t n, size_t hw, size_t c, size_t groups,
                             const float *x, const float *gamma, const float *beta, double eps,
                             const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                             int nthreads) {
    return gn_nhwc(k, n, hw, c, groups, x, gamma, beta, eps, act, y, scratch, scratch_bytes, nthreads, NULL);
}

size_t fn_group_norm_maxpool_band_bytes(const fn_pool2d_desc *d, size_t w, size_t c, int nthreads) {
    return 64 + (size_t)(nthreads > 0 ? nthreads : 1) * (d->kh * w * c + 16) * sizeof(float);
}

fn_status fn_group_norm_maxpool_nhwc(const fn_kernels *k, size_t n, size_t h, size_t w, size_t c,
                                     size_t groups, const float *x, const float *gamma,
                                     const float *beta, double eps, const fn_act *act,
                                     const fn_pool2d_desc *d, size_t oh, size_t ow, float *y,
                                     void *scratch, size_t scratch_bytes, int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0 || d->dh == 0 || d->dw == 0) return FN_ERR_ARG;
    const gn_pool pool = {d, h, w, oh, ow};
    return gn_nhwc(k, n, h * w, c, groups, x, gamma, beta, eps, act, y, scratch, scratch_bytes, nthreads,
                   &pool);
}

// x, y: (m, d); a task is a block of rows of at most SLAB_FLOATS floats (at least one row)
fn_status fn_layer_norm_rows(const fn_kernels *k, size_t m, size_t d, const float *x,
                             const float *gamma, const float *beta, double eps, const fn_act *act,
                             float *y, int nthreads) {
    if ((gamma == NULL) != (beta == NULL)) return FN_ERR_ARG;
    if (m * d == 0) return FN_OK;
    const fn_norm_kernels *nk = fn_norm_kernels_for(k->isa);
    size_t per = SLAB_FLOATS / d;
    per = per < 1 ? 1 : per > COEF_BLOCK ? COEF_BLOCK : per;
    const size_t tasks = (m + per - 1) / per;
    const int nt = threads_for(m * d, tasks, nthreads);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t t = 0; t < tasks; t++) {
        const size_t r0 = t * per, nr = m - r0 < per ? m - r0 : per;
        float cm[COEF_BLOCK], a[COEF_BLOCK], b[COEF_BLOCK];
        double sums[2 * COEF_BLOCK];
        nk->row_moments(nr, d, x + r0 * d, d, x + r0 * d, d, sums);
        for (size_t r = 0; r < nr; r++) {
            double mean, rstd;
            finish((double)d, x[(r0 + r) * d], sums[2 * r], sums[2 * r + 1], eps, &mean, &rstd);
            coef(mean, rstd, 1.0, 0.0, cm + r, a + r, b + r);
        }
        nk->rows_apply(nr, d, x + r0 * d, cm, a, b, gamma, beta, act, y + r0 * d);
    }
    return FN_OK;
}

/* x, y: (n, c, hw); a task is a tile of up to LNC_MAX_PIX pixels of one sample (sized so the c x tile
 * block stays in L2 between the passes): column moments over the c strided rows, with each pixel's
 * first-channel value as its shift, then the per-pixel normalise with per-channel affine. */
fn_status fn_layer_norm_channels_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw,
                                      const float *x, const float *gamma, const float *beta,
                                      double eps, const fn_act *act, float *y, int nthreads) {
    if ((gamma == NULL) != (beta == NULL)) return FN_ERR_ARG;
    if (n * c * hw == 0) return FN_OK;
    const fn_norm_kernels *nk = fn_norm_kernels_for(k->isa);
    size_t pix = (LNC_TILE_FLOATS / c) & ~(size_t)15;
    pix = pix < 16 ? 16 : pix > LNC_MAX_PIX ? LNC_MAX_PIX : pix;
    const size_t tiles = (hw + pix - 1) / pix, tasks = n * tiles;
    const int nt = threads_for(n * c * hw, tasks, nthreads);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t t = 0; t < tasks; t++) {
        const size_t i = t / tiles, p0 = (t % tiles) * pix, np = hw - p0 < pix ? hw - p0 : pix;
        const size_t off = i * c * hw + p0;
        double s1[LNC_MAX_PIX], s2[LNC_MAX_PIX];
        float cm[LNC_MAX_PIX], a[LNC_MAX_PIX], b[LNC_MAX_PIX];
        nk->col_moments(c, np, x + off, hw, x + off, s1, s2);
        for (size_t p = 0; p < np; p++) {
            double mean, rstd;
            finish((double)c, x[off + p], s1[p], s2[p], eps, &mean, &rstd);
            coef(mean, rstd, 1.0, 0.0, cm + p, a + p, b + p);
        }
        nk->cols_apply(c, np, x + off, hw, cm, a, b, gamma, beta, act, y + off, hw);
    }
    return FN_OK;
}

/* x, y: (n, c, hw), statistics per channel. hw > 1: one task per channel (its n planes: moments in
 * sample order with one shared shift, then normalise). hw == 1, i.e. (n, c): tasks are blocks of
 * COEF_BLOCK channels, column moments over the n rows. */
fn_status fn_batch_norm_stats(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x,
                              const float *gamma, const float *beta, double eps, const fn_act *act,
                              float *y, int nthreads) {
    if (n * c * hw == 0) return FN_OK;
    const fn_norm_kernels *nk = fn_norm_kernels_for(k->isa);
    if (hw == 1) {
        const size_t tasks = (c + COEF_BLOCK - 1) / COEF_BLOCK;
        const int nt = threads_for(n * c, tasks, nthreads);
#pragma omp parallel for schedule(static) num_threads(nt)
        for (size_t t = 0; t < tasks; t++) {
            const size_t j0 = t * COEF_BLOCK, nc = c - j0 < COEF_BLOCK ? c - j0 : COEF_BLOCK;
            double s1[COEF_BLOCK], s2[COEF_BLOCK];
            float cm[COEF_BLOCK], a[COEF_BLOCK], b[COEF_BLOCK];
            nk->col_moments(n, nc, x + j0, c, x + j0, s1, s2);
            for (size_t j = 0; j < nc; j++) {
                double mean, rstd;
                finish((double)n, x[j0 + j], s1[j], s2[j], eps, &mean, &rstd);
                coef(mean, rstd, gamma ? gamma[j0 + j] : 1.0, beta ? beta[j0 + j] : 0.0, cm + j, a + j, b + j);
            }
            nk->cols_apply(n, nc, x + j0, c, cm, a, b, NULL, NULL, act, y + j0, c);
        }
        return FN_OK;
    }
    const int nt = threads_for(n * c * hw, c, nthreads);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t j = 0; j < c; j++) {
        const float sh = x[j * hw];
        double s1 = 0.0, s2 = 0.0, mean, rstd;
        for (size_t i0 = 0; i0 < n; i0 += COEF_BLOCK) { /* the n planes, in sample order */
            const size_t ni = n - i0 < COEF_BLOCK ? n - i0 : COEF_BLOCK;
            double sums[2 * COEF_BLOCK];
            nk->row_moments(ni, hw, x + (i0 * c + j) * hw, c * hw, &sh, 0, sums);
            for (size_t i = 0; i < ni; i++) s1 += sums[2 * i], s2 += sums[2 * i + 1];
        }
        finish((double)n * (double)hw, sh, s1, s2, eps, &mean, &rstd);
        float cm, a, b;
        coef(mean, rstd, gamma ? gamma[j] : 1.0, beta ? beta[j] : 0.0, &cm, &a, &b);
        for (size_t i = 0; i < n; i++)
            nk->rows_apply(1, hw, x + (i * c + j) * hw, &cm, &a, &b, NULL, NULL, act, y + (i * c + j) * hw);
    }
    return FN_OK;
}
