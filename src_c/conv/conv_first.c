/* conv_first.c: the first-layer conv driver (padding, offsets, threads), packing, the portable
 * micro-kernel. */
#include "conv_first_kernels.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HEADER 16 /* floats before the panels: [0] = offset to the first panel, [1] = nv, [2] = K */

void fn_f32_conv_first__scalar(size_t nv, size_t s, size_t mr, size_t nc, size_t K,
                               const int32_t *off, const float *x, const float *w, float *y,
                               size_t ldy, const fn_act *act) {
    (void)nv; /* the portable table offers nv = 1 only */
    fn_conv_first_tile_generic(4, FN_CONV_FIRST_LANES_scalar, s, mr, nc, K, off, x, w, y, ldy, act);
}

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Vectors per tile row for cout output channels: the fewest vector-columns computed (panels x nv,
 * zero-padded ones included), then the widest nv (fewer broadcasts per multiply-add). */
static size_t choose_nv(const fn_conv_first_kernels *t, size_t cout) {
    const size_t nvec = div_up(cout ? cout : 1, t->lanes);
    size_t best = 1, best_cols = (size_t)-1;
    for (size_t nv = 1; nv <= 4; nv++) {
        if (!t->mr[nv]) continue;
        const size_t cols = div_up(nvec, nv) * nv;
        if (cols <= best_cols) best = nv, best_cols = cols;
    }
    return best;
}

static int desc_ok(const fn_conv2d_desc *d) {
    return d->groups == 1 && d->dh == 1 && d->dw == 1 && d->cin >= 1 &&
           d->cin <= FN_CONV_FIRST_MAX_CIN && d->kh && d->kw && d->sh && d->sw &&
           d->cin * d->kh * d->kw <= FN_CONV_FIRST_MAX_K;
}

/* At most 8 output channels: the AVX2 table on an AVX-512 CPU, whose 16-lane tile would hold half
 * of zeros (conv2d.c's conv_kernels). Every entry point below takes it, so a buffer packed by one is
 * run by the same. Measured (1 thread, in-model step minima, bench/profile_models.py diracnet_lite
 * --no-ort, FASTNORM_ISA=avx2 against avx512): its 3x3 3->8 at 224x224 0.48 -> 0.31 ms on AMD Zen 4,
 * 0.40 -> 0.29 on a Xeon. */
/* On a half-rate AVX-512 CPU (kernels.h fn_conv_table) also 17-24 output channels, whose second
 * 16-lane vector is half empty where AVX2's tile takes all 24 in three vectors of 8 in one pass; wider
 * ones take AVX2's tile in more than one pass and lost. Measured (AMD Zen 4, 1 thread, a stem conv +
 * ReLU alone, min of 300, AVX-512 -> AVX2 table): 3x3/2 3->24 at 224x224 0.269 -> 0.184 ms; ConvNeXt's
 * 4x4/4 3->40 0.137 -> 0.281 and 3->56 0.44 -> 0.80 (so not those); 3->32 no waste. */
static const fn_kernels *first_kernels(const fn_kernels *k, const fn_conv2d_desc *d) {
    return d->cout <= 24 ? fn_conv_table(k, d->cout) : fn_narrow_kernels(k, d->cout);
}

size_t fn_conv_first_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    k = first_kernels(k, d);
    const fn_conv_first_kernels *t = fn_conv_first_kernels_for(k->isa);
    const size_t nr = t->lanes * choose_nv(t, d->cout), K = d->cin * d->kh * d->kw;
    return HEADER + div_up(d->cout, nr) * nr * (1 + K);
}

void fn_conv_first_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                        const float *bias, float *packed) {
    k = first_kernels(k, d);
    const fn_conv_first_kernels *t = fn_conv_first_kernels_for(k->isa);
    const size_t nv = choose_nv(t, d->cout), nr = t->lanes * nv, K = d->cin * d->kh * d->kw;
    const size_t npanels = div_up(d->cout, nr);
    /* panels start on a 64-byte line (as conv2d's do); the offset is stored, not recomputed */
    const size_t off = 1 + (size_t)((64 - (uintptr_t)(packed + 1) % 64) % 64) / sizeof(float);
    memset(packed, 0, HEADER * sizeof(float));
    packed[0] = (float)off;
    packed[1] = (float)nv;
    packed[2] = (float)K;
    float *p = packed + off;
    for (size_t pn = 0; pn < npanels; pn++) {
        for (size_t j = 0; j < nr; j++) {
            const size_t co = pn * nr + j;
            p[j] = co < d->cout && bias ? bias[co] : 0.0f;
        }
        p += nr;
        for (size_t kk = 0; kk < K; kk++, p += nr) /* w: (cout, cin, kh, kw); kk = (ci*kh + ky)*kw + kx */
            for (size_t j = 0; j < nr; j++) {
                const size_t co = pn * nr + j;
                p[j] = co < d->cout ? w[co * K + kk] : 0.0f;
            }
    }
    /* the header slack that off leaves at the end */
    memset(p, 0, (size_t)(packed + fn_conv_first_packed_floats(k, d) - p) * sizeof(float));
}

/* Past the last padded plane: a tile's rows beyond the output row (read, never stored) reach at
 * most 15 strides further. */
static size_t slack_floats(const fn_conv2d_desc *d) { return 16 * d->sw + 64; }

size_t fn_conv_first_pad_floats(const fn_conv2d_desc *d, size_t n, size_t h, size_t w) {
    const size_t hp = h + d->pad_top + d->pad_bottom, wp = w + d->pad_left + d->pad_right;
    return n * d->cin * hp * wp + slack_floats(d);
}

#ifdef _OPENMP
#include <omp.h>
#endif

fn_status fn_conv_first(const fn_kernels *k, const fn_conv2d_desc *d, int nhwc_in, size_t n,
                        size_t h, size_t w, const float *x, const float *packed, const fn_act *act,
                        float *xpad, float *y, int nthreads) {
    if (!desc_ok(d)) return FN_ERR_ARG;
    k = first_kernels(k, d);
    const fn_conv_first_kernels *t = fn_conv_first_kernels_for(k->isa);
    const size_t oh = fn_conv_out_extent(h, d->kh, d->sh, 1, d->pad_top, d->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, d->kw, d->sw, 1, d->pad_left, d->pad_right);
    const size_t cin = d->cin, cout = d->cout, K = cin * d->kh * d->kw;
    const size_t hp = h + d->pad_top + d->pad_bottom, wp = w + d->pad_left + d->pad_right;
    const size_t plane = hp * wp, img = cin * plane;
    const float foff = packed[0];
    if (!(foff >= 1.0f && foff <= (float)HEADER)) return FN_ERR_ARG; /* not packed */
    const size_t nv = (size_t)packed[1];
    if (nv < 1 || nv > 4 || nv != choose_nv(t, cout) || (size_t)packed[2] != K) return FN_ERR_ARG;
    if (img > (size_t)INT32_MAX) return FN_ERR_ARG; /* offsets are int32 */
    if (n == 0 || oh == 0 || ow == 0 || cout == 0) return FN_OK;
    const size_t MR = t->mr[nv], NR = t->lanes * nv, npanels = div_up(cout, NR);
    const float *panels = packed + (size_t)foff;

    int32_t off[FN_CONV_FIRST_MAX_K]; /* tap k = (ci, ky, kx): its place in the padded image */
    for (size_t ci = 0, kk = 0; ci < cin; ci++)
        for (size_t ky = 0; ky < d->kh; ky++)
            for (size_t kx = 0; kx < d->kw; kx++) off[kk++] = (int32_t)(ci * plane + ky * wp + kx);

    /* A fork/join costs more than a small conv on a loaded host: ~256K multiply-adds per thread. */
    if (nthreads < 1) nthreads = 1;
    {
        const size_t macs = n * oh * ow * cout * K, per = (size_t)1 << 18;
        if (macs / per < (size_t)nthreads) nthreads = macs / per > 1 ? (int)(macs / per) : 1;
    }
    /* From NCHW: no padded copy (a pass over the whole input before the first tile). A full tile
     * whose taps all fall inside the image reads x itself at offsets ci*h*w + ky*w + kx; the others
     * (the image's edges, a short last tile) read a zero-padded band of the taps they need,
     * (cin, kh, bw) floats a thread in xpad, at the same offsets within the band. The same values
     * in the same order: the same bits as from the padded copy. Measured (Xeon, 1 thread, in-model
     * step minima, two runs each, bench/profile_models.py MODEL --no-ort [--after-torch]): with the
     * caches as a torch run leaves them, MobileNetV3-Large's 3->16 at 224 0.285-0.302 -> 0.244-0.254
     * ms on AVX2 and 0.243-0.250 -> 0.199-0.204 on AVX-512, RegNetY-200MF's 3->32 0.38-0.45 ->
     * 0.36-0.38 on AVX2; back to back 0.162-0.168 -> 0.149-0.154 and 0.233 -> 0.227-0.237 on AVX-512. */
    const size_t bw = (MR - 1) * d->sw + d->kw, band = div_up(cin * d->kh * bw, 16) * 16;
    const int direct = !nhwc_in && (size_t)nthreads * band <= fn_conv_first_pad_floats(d, n, h, w);
    int32_t offx[FN_CONV_FIRST_MAX_K], offb[FN_CONV_FIRST_MAX_K]; /* in x, in a band */
    for (size_t ci = 0, kk = 0; ci < cin; ci++)
        for (size_t ky = 0; ky < d->kh; ky++)
            for (size_t kx = 0; kx < d->kw; kx++, kk++) {
                offx[kk] = (int32_t)(ci * h * w + ky * w + kx);
                offb[kk] = (int32_t)((ci * d->kh + ky) * bw + kx);
            }
    const size_t rows = direct ? 0 : n * cin * hp; /* padded rows to fill */
    const size_t ntasks = n * oh * npanels;    /* task: one output row of one panel */
    const size_t chunk = div_up(ntasks, (size_t)nthreads * 8);
    const size_t slack = slack_floats(d);
    /* an act past the clamp the tile does not apply itself: one pass over each stored tile */
    const fn_actk_apply_fn actk = fn_act_in_kernel(k, act) ? NULL : fn_epilogue_actk(k, act);

#pragma omp parallel num_threads(nthreads)
    {
        /* 1. xpad: (n, cin, hp, wp) zero-padded planes of x, whatever x's layout */
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const size_t yy = r % hp, ci = r / hp % cin, b = r / hp / cin;
            float *dst = xpad + r * wp;
            if (yy < d->pad_top || yy >= d->pad_top + h) {
                memset(dst, 0, wp * sizeof(float));
                continue;
            }
            const size_t iy = yy - d->pad_top;
            memset(dst, 0, d->pad_left * sizeof(float));
            if (!nhwc_in) {
                memcpy(dst + d->pad_left, x + ((b * cin + ci) * h + iy) * w, w * sizeof(float));
            } else {
                const float *src = x + (b * h + iy) * w * cin + ci;
                for (size_t ix = 0; ix < w; ix++) dst[d->pad_left + ix] = src[ix * cin];
            }
            memset(dst + d->pad_left + w, 0, d->pad_right * sizeof(float));
        }
        if (!direct) {
#pragma omp single nowait
            memset(xpad + n * img, 0, slack * sizeof(float));
        }
        /* (the implicit barrier of the loop above orders the copy before every read below) */

        /* 2. output rows: task (b, oy, panel), panels innermost so a row's input stays in L1 */
#pragma omp for schedule(dynamic, chunk)
        for (size_t task = 0; task < ntasks; task++) {
            const size_t pn = task % npanels, oy = task / npanels % oh, b = task / npanels / oh;
            const float *xrow = xpad + b * img + oy * d->sh * wp;
            float *yrow = y + (b * oh + oy) * ow * cout + pn * NR;
            const float *wp_ = panels + pn * NR * (1 + K);
            const size_t nc = cout - pn * NR < NR ? cout - pn * NR : NR;
            /* direct: the input rows of this output row, iy0 .. iy0 + kh - 1 (may be outside) */
            const ptrdiff_t iy0 = (ptrdiff_t)(oy * d->sh) - (ptrdiff_t)d->pad_top;
            const int rows_in = iy0 >= 0 && (size_t)iy0 + d->kh <= h;
            for (size_t ox = 0; ox < ow; ox += MR) {
                const size_t mr = ow - ox < MR ? ow - ox : MR;
                if (!direct) {
                    t->tile(nv, d->sw, mr, nc, K, off, xrow + ox * d->sw, wp_, yrow + ox * cout, cout,
                            act);
                } else {
                    const ptrdiff_t ix0 = (ptrdiff_t)(ox * d->sw) - (ptrdiff_t)d->pad_left;
                    const float *xb = x + b * cin * h * w;
                    if (rows_in && mr == MR && ix0 >= 0 && (size_t)ix0 + bw <= w) {
                        t->tile(nv, d->sw, mr, nc, K, offx, xb + (size_t)iy0 * w + (size_t)ix0, wp_,
                                yrow + ox * cout, cout, act);
                    } else {
#ifdef _OPENMP
                        float *bd = xpad + (size_t)omp_get_thread_num() * band;
#else
                        float *bd = xpad;
#endif
                        for (size_t ci = 0; ci < cin; ci++)
                            for (size_t ky = 0; ky < d->kh; ky++) {
                                float *dst = bd + (ci * d->kh + ky) * bw;
                                const ptrdiff_t iy = iy0 + (ptrdiff_t)ky;
                                if (iy < 0 || (size_t)iy >= h) {
                                    memset(dst, 0, bw * sizeof(float));
                                    continue;
                                }
                                const float *src = xb + (ci * h + (size_t)iy) * w;
                                for (size_t c = 0; c < bw; c++) {
                                    const ptrdiff_t ix = ix0 + (ptrdiff_t)c;
                                    dst[c] = ix >= 0 && (size_t)ix < w ? src[ix] : 0.0f;
                                }
                            }
                        t->tile(nv, d->sw, mr, nc, K, offb, bd, wp_, yrow + ox * cout, cout, act);
                    }
                }
                if (actk) fn_epilogue_rows(actk, act, yrow + ox * cout, cout, mr, nc);
            }
        }
    }
    return FN_OK;
}
