/* dwconv.c: depthwise conv2d on NHWC: weight packing, the threaded driver, the portable row kernel. */
#include "dwconv_kernels.h"

#include <stdint.h>
#include <string.h>

static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

size_t fn_dwconv_packed_floats(size_t c, size_t kh, size_t kw) {
    return FN_DWCONV_PACK_HEADER + round_up(c, FN_DWCONV_CHANNEL_ROUND) * (1 + kh * kw);
}

void fn_dwconv_pack(size_t c, size_t kh, size_t kw, const float *w, const float *bias,
                    float *packed) {
    const size_t cp = round_up(c, FN_DWCONV_CHANNEL_ROUND), ks = kh * kw;
    /* data on a 64-byte line: every tap's vectors are then aligned loads */
    const uintptr_t addr = (uintptr_t)(packed + 1);
    const size_t off = 1 + (size_t)((64 - addr % 64) % 64) / sizeof(float);
    memset(packed, 0, fn_dwconv_packed_floats(c, kh, kw) * sizeof(float));
    packed[0] = (float)off;
    float *p = packed + off;
    for (size_t j = 0; j < c; j++) p[j] = bias ? bias[j] : 0.0f;
    p += cp;
    for (size_t t = 0; t < ks; t++, p += cp)
        for (size_t j = 0; j < c; j++) p[j] = w[j * ks + t]; /* w: (c, 1, kh, kw) */
}

/* The portable kernel, and the readable spec of the wide ones: per output pixel, accumulators for
 * a block of channels start at the bias and take the taps inside the input row by row (ky
 * outer, kx inner, as the band kernels do). */
#define SCALAR_BLOCK 64
void fn_f32_dwconv_row__scalar(const fn_dwconv_geom *g, size_t ky0, size_t ky1, const float *x,
                               const float *w, const float *res, float *y) {
    const size_t c = g->c, cp = g->cp;
    for (size_t ox = 0; ox < g->ow; ox++) {
        const ptrdiff_t ix0 = (ptrdiff_t)(ox * g->sw) - (ptrdiff_t)g->pad_left;
        size_t kx0, kx1;
        fn_dwconv_clip(ix0, g->kw, g->dw, g->w, &kx0, &kx1);
        for (size_t j0 = 0; j0 < c; j0 += SCALAR_BLOCK) {
            const size_t nb = c - j0 < SCALAR_BLOCK ? c - j0 : SCALAR_BLOCK;
            float acc[SCALAR_BLOCK];
            for (size_t j = 0; j < nb; j++) acc[j] = w[j0 + j];
            for (size_t ky = ky0; ky < ky1; ky++) {
                const float *xr = x + (ky - ky0) * g->dh * g->row + j0;
                for (size_t kx = kx0; kx < kx1; kx++) {
                    const float *xp = xr + (size_t)(ix0 + (ptrdiff_t)(kx * g->dw)) * c;
                    const float *wp = w + cp * (1 + ky * g->kw + kx) + j0;
                    for (size_t j = 0; j < nb; j++) acc[j] += xp[j] * wp[j];
                }
            }
            float *yo = y + ox * c + j0;
            const float *ro = res ? res + ox * c + j0 : NULL;
            for (size_t j = 0; j < nb; j++) {
                float s = acc[j];
                if (ro) s += ro[j];
                yo[j] = fn_apply_act_scalar(s, &g->act);
            }
        }
    }
}

/* The order of fn_dwconv_rowsum_ukernel: four partials by ox mod 4. */
void fn_f32_dwconv_rowsum__scalar(size_t ow, size_t c, const float *y, float *s) {
    for (size_t j = 0; j < c; j++) {
        float p[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (size_t ox = 0; ox < ow; ox++) p[ox % 4] += y[ox * c + j];
        s[j] = (p[0] + p[1]) + (p[2] + p[3]);
    }
}

#ifndef FN_DWCONV_MACS_PER_THREAD
/* A fork/join, and on a loaded host waiting for a descheduled second thread, costs more than a
 * small layer: give each thread at least this many multiply-adds (a few microseconds of kernel). */
#define FN_DWCONV_MACS_PER_THREAD ((size_t)1 << 17)
#endif
#ifndef FN_DWCONV_WIDE_MIN_BYTES
/* An input (a sample) past L2 comes in from L3 at the rate of its streams: the 3x3 stride-2 slide
 * then reads each pixel's 256 bytes of 64 channels in one pass (four vectors a pass) rather than in
 * two passes of 128 bytes over the same rows, the second of them 256 bytes apart. MobileNetV3's
 * 3x3/2 64ch 112x112 (3.2 MB) just written by the op before, AVX-512, Sapphire Rapids, 1 thread
 * (standalone harness): 0.150 -> 0.127 ms; 96ch 0.217 -> 0.213 (one wide pass and one of two vectors).
 * In the models (per-step minima, builds alternated): MobileNetV3-Large 0.161 -> 0.143 ms,
 * EfficientNet-B0's 96ch 0.272 -> 0.256. Inside L2 the wide pass is slower (its 36 taps leave the
 * register file: 64ch 56x56 0.014 -> 0.016). */
#define FN_DWCONV_WIDE_MIN_BYTES ((size_t)2 << 20)
#endif
/* Row blocks per thread handed out dynamically, so a thread slowed by a neighbour hands work on. */
#define FN_DWCONV_CHUNKS_PER_THREAD 4

fn_status fn_dwconv_prepare(const fn_kernels *k, const fn_conv2d_desc *d, size_t h, size_t w,
                            const float *packed, const fn_act *act, fn_dwconv_run *p) {
    const size_t c = d->cin;
    if (d->groups != c || d->cout != c) return FN_ERR_ARG;
    if (!d->kh || !d->kw || !d->sh || !d->sw || !d->dh || !d->dw) return FN_ERR_ARG;
    const fn_dwconv_kernels *dk = fn_dwconv_kernels_for(k->isa);
    if (!dk) return FN_ERR_ARG;
    const float off = packed[0];
    if (!(off >= 1.0f && off <= (float)FN_DWCONV_PACK_HEADER)) return FN_ERR_ARG; /* not packed */
    p->row = dk->row;
    p->wp = packed + (size_t)off;
    p->d = d;
    p->h = h;
    p->oh = fn_conv_out_extent(h, d->kh, d->sh, d->dh, d->pad_top, d->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, d->kw, d->sw, d->dw, d->pad_left, d->pad_right);
    fn_dwconv_geom *g = &p->g;
    g->c = c;
    g->cp = round_up(c, FN_DWCONV_CHANNEL_ROUND);
    g->w = w, g->ow = ow;
    g->kw = d->kw, g->sw = d->sw, g->dw = d->dw, g->dh = d->dh;
    g->pad_left = d->pad_left;
    g->row = w * c;
    g->wide = h * g->row * sizeof(float) >= FN_DWCONV_WIDE_MIN_BYTES;
    g->act = *act;
    p->actk = fn_act_in_kernel(k, act) ? NULL : fn_epilogue_actk(k, act); /* dwconv_simd.h */
    /* interior outputs: ox*sw >= pad_left and ox*sw - pad_left + span <= w */
    const size_t span = d->dw * (d->kw - 1) + 1;
    size_t lo = (d->pad_left + d->sw - 1) / d->sw;
    size_t hi = w + d->pad_left >= span ? (w + d->pad_left - span) / d->sw + 1 : 0;
    lo = lo < ow ? lo : ow;
    hi = hi < ow ? hi : ow;
    g->ox_lo = lo, g->ox_hi = hi > lo ? hi : lo;
    return FN_OK;
}

void fn_dwconv_row_at(const fn_dwconv_run *p, size_t b, size_t oy, const float *x, size_t row0,
                      const float *res, float *y) {
    const fn_conv2d_desc *d = p->d;
    const ptrdiff_t iy0 = (ptrdiff_t)(oy * d->sh) - (ptrdiff_t)d->pad_top;
    size_t ky0, ky1;
    fn_dwconv_clip(iy0, d->kh, d->dh, p->h, &ky0, &ky1);
    const float *xr = x;
    if (ky0 < ky1)
        xr = x + (b * p->h + (size_t)(iy0 + (ptrdiff_t)(ky0 * d->dh)) - row0) * p->g.row;
    p->row(&p->g, ky0, ky1, xr, p->wp, res, y);
    if (p->actk) fn_epilogue_rows(p->actk, &p->g.act, y, 0, 1, p->g.ow * p->g.c);
}

size_t fn_dwconv2d_mean_scratch_bytes(const fn_conv2d_desc *d, size_t n, size_t h) {
    return n * fn_conv_out_extent(h, d->kh, d->sh, d->dh, d->pad_top, d->pad_bottom) * d->cin *
           sizeof(float);
}

fn_status fn_dwconv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                           size_t w, const float *x, const float *packed, const float *res,
                           const fn_act *act, float *y, int nthreads) {
    return fn_dwconv2d_mean_nhwc(k, d, n, h, w, x, packed, res, act, NULL, y, NULL, NULL, 0, nthreads);
}

fn_status fn_dwconv2d_mean_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                size_t w, const float *x, const float *packed, const float *res,
                                const fn_act *act, const fn_post *post, float *y, float *mean,
                                void *scratch, size_t scratch_bytes, int nthreads) {
    if (post && !post->scale != !post->shift) return FN_ERR_ARG;
    if (post && !post->scale && !post->res) post = NULL;
    if (post && post->res && post->res == y) return FN_ERR_ARG;
    fn_dwconv_run p;
    const fn_status st = fn_dwconv_prepare(k, d, h, w, packed, act, &p);
    if (st != FN_OK) return st;
    const size_t c = d->cin, oh = p.oh, ow = p.g.ow;
    const size_t rows = n * oh;
    /* the row sums, (n, oh, c): mean's partials */
    float *part = (float *)scratch;
    fn_global_pool_cols_ukernel colsum = NULL;
    fn_dwconv_rowsum_ukernel rowsum = NULL;
    if (mean) {
        if (n && (oh == 0 || ow == 0)) return FN_ERR_ARG; /* the mean of nothing: the pool's error */
        if (!part || scratch_bytes < fn_dwconv2d_mean_scratch_bytes(d, n, h)) return FN_ERR_ARG;
        colsum = fn_pool_kernels_for(k->isa)->global_avg_cols;
        rowsum = fn_dwconv_kernels_for(k->isa)->rowsum;
    }
    if (rows == 0 || ow == 0 || c == 0) return FN_OK;

    int nt = nthreads < 1 ? 1 : nthreads;
    {
        const size_t macs = rows * ow * c * d->kh * d->kw, per = FN_DWCONV_MACS_PER_THREAD;
        if (macs / per < (size_t)nt) nt = macs / per > 1 ? (int)(macs / per) : 1;
        if ((size_t)nt > rows) nt = (int)rows;
    }
    size_t nchunks = (size_t)nt * FN_DWCONV_CHUNKS_PER_THREAD;
    if (nt == 1 || nchunks > rows) nchunks = nt == 1 ? 1 : rows;
    const size_t out_row = ow * c;

    /* chunk i: rows [i*rows/nchunks, (i+1)*rows/nchunks) of the (n, oh) rows (stride-1 neighbours
     * share input rows in cache). Chunks and the rows within one go bottom to top: the op before
     * wrote the input top to bottom, so its last rows are the ones still in L2; read top to bottom,
     * an input past L2 missed on nearly every row (each row brought in from L3 evicted one written
     * later, still to be read). AVX-512, Sapphire Rapids, 1 thread, per-step minima in the models
     * (builds alternated, 3 runs each): MobileNetV3-Large 3x3/2 64ch 112x112 0.141 -> 0.105 ms,
     * EfficientNet-B0 3x3/2 96ch 112x112 0.250 -> 0.221 and 3x3/1 144ch 56x56 0.229 -> 0.203; the
     * 1x1 conv that writes such an input took 0.004-0.013 ms longer (0.202 -> 0.206, 0.466 -> 0.479;
     * an earlier run of the order alone: +0.01-0.03). Inputs within L2: no change. Every row is one
     * kernel call, and its sum one rowsum call: neither the split nor the order changes a result. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (size_t i = 0; i < nchunks; i++) {
        const size_t ch = nchunks - 1 - i;
        const size_t r0 = ch * rows / nchunks, r1 = (ch + 1) * rows / nchunks;
        for (size_t r = r1; r-- > r0;) {
            float *yr = y + r * out_row;
            fn_dwconv_row_at(&p, r / oh, r % oh, x, 0, res ? res + r * out_row : NULL, yr);
            if (post)
                k->post_cols(ow, c, yr, c, post->scale, post->shift, post->res ? post->res + r * out_row : NULL, c);
            if (rowsum) rowsum(ow, c, yr, part + r * c);
        }
    }
    if (colsum) /* per sample: the row sums in row order, / (oh * ow) */
        for (size_t b = 0; b < n; b++) colsum(oh, c, c, part + b * oh * c, (float)(oh * ow), mean + b * c);
    return FN_OK;
}
