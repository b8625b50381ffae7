/* convt.c: conv_transpose2d on NHWC activations: packing, the GEMM + scatter driver, and the
 * portable scatter kernel (the spec of convt_avx2.c / convt_avx512.c). */
#include "fn_convt.h"

#include "../kernels.h"
#include "convt_small.h"

#include <stdint.h>
#include <string.h>

/* Ycol floats a chunk of input rows aims for. The GEMM writes a chunk and the scatter reads it back
 * while it is still in L2; the weights are streamed once per chunk, so when they are larger than
 * this the chunk grows to their size (Ycol traffic per FMA is 1/kc of the weights' then). */
#ifndef FN_CONVT_COL_BUDGET
#define FN_CONVT_COL_BUDGET (256u * 1024u)
#endif
#ifndef FN_CONVT_COL_MAX
#define FN_CONVT_COL_MAX (4u * 1024u * 1024u)
#endif
/* Bytes of packed weight panels that stay in L2 while every m tile of a chunk streams past. */
#ifndef FN_CONVT_L2_BUDGET
#define FN_CONVT_L2_BUDGET (512u * 1024u)
#endif
#define FN_CONVT_PACK_HEADER 16

void fn_f32_convt_addrows__scalar(size_t n, size_t c, const float *src, size_t ss, float *dst,
                                  size_t ds) {
    if (c < 4) {
        addrows_small(n, c, src, ss, dst, ds);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float *restrict s = src + i * ss;
        float *restrict t = dst + i * ds;
        for (size_t j = 0; j < c; j++) t[j] += s[j];
    }
}

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }
static ptrdiff_t floor_div(ptrdiff_t a, ptrdiff_t b) { /* b > 0 */
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b) { return -floor_div(-a, b); }

size_t fn_conv_transpose_out_extent(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1,
                                    size_t op) {
    if (in == 0 || k == 0 || s == 0 || d == 0) return 0;
    const size_t full = (in - 1) * s + d * (k - 1) + op + 1;
    return full > p0 + p1 ? full - p0 - p1 : 0;
}

/* GEMM geometry: per group Ng = kh*kw*cout_g columns in npg panels of NR. */
typedef struct geom {
    size_t ks, kc, cout_g, ng, ncols, npg, npanels, pfloats;
} geom;

static geom geometry(const fn_kernels *k, const fn_conv2d_desc *d) {
    geom g;
    g.ks = d->kh * d->kw;
    g.kc = d->cin / d->groups;
    g.cout_g = d->cout / d->groups;
    g.ng = g.ks * g.cout_g;
    g.ncols = d->groups * g.ng;
    g.npg = div_up(g.ng, k->gemm_nr);
    g.npanels = d->groups * g.npg;
    g.pfloats = k->gemm_nr * (1 + g.kc);
    return g;
}

static int desc_ok(const fn_conv2d_desc *d) {
    return d->groups && d->cin % d->groups == 0 && d->cout % d->groups == 0 && d->kh && d->kw &&
           d->sh && d->sw && d->dh && d->dw;
}

/* Packed layout: a header of FN_CONVT_PACK_HEADER floats whose first holds off (1..16), then from
 * packed + off (64-byte aligned, as in conv2d.c) the panels, per group g and panel p:
 *   [NR zeros (the kernel's bias slot)][kc input channels][NR columns (tap, co), co fastest]
 * then the cout biases. */
static size_t pack_offset(const float *packed) {
    const uintptr_t addr = (uintptr_t)(packed + 1);
    return 1 + (size_t)((64 - addr % 64) % 64) / sizeof(float);
}

size_t fn_conv_transpose2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    const geom g = geometry(k, d);
    return FN_CONVT_PACK_HEADER + g.npanels * g.pfloats + d->cout;
}

void fn_conv_transpose2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed) {
    const geom g = geometry(k, d);
    const size_t NR = k->gemm_nr, off = pack_offset(packed);
    memset(packed, 0, off * sizeof(float));
    packed[0] = (float)off;
    float *panels = packed + off;
    /* zero bias slots and the padding columns of each group's last panel first */
    memset(panels, 0, g.npanels * g.pfloats * sizeof(float));
    for (size_t gr = 0; gr < d->groups; gr++) {
        float *pg = panels + gr * g.npg * g.pfloats;
        for (size_t i = 0; i < g.kc; i++) {
            /* row ci of w: (cout_g, kh*kw) -> columns (tap, co), walked with counters (a
             * division per weight made packing the big layers take tens of ms) */
            const float *wr = w + (gr * g.kc + i) * g.cout_g * g.ks;
            float *dst = pg + (1 + i) * NR;
            size_t j = 0;
            for (size_t t = 0; t < g.ks; t++)
                for (size_t co = 0; co < g.cout_g; co++) {
                    dst[j] = wr[co * g.ks + t];
                    if (++j == NR) j = 0, dst += g.pfloats;
                }
        }
    }
    float *p = panels + g.npanels * g.pfloats;
    for (size_t c = 0; c < d->cout; c++) p[c] = bias ? bias[c] : 0.0f;
    p += d->cout;
    memset(p, 0, (size_t)(packed + fn_conv_transpose2d_packed_floats(k, d) - p) * sizeof(float));
}

/* Chunks of input rows: whole images (ipc per chunk) when an image's Ycol fits the budget, else
 * rpc rows of one image. Depends on the shape only, never on the thread count. */
typedef struct chunking {
    size_t ipc, rpc, nchunks, max_rows; /* max_rows: most input pixels in a chunk */
} chunking;

static chunking chunks_for(const geom *g, size_t n, size_t h, size_t w) {
    chunking c;
    size_t budget = g->kc * g->ncols; /* the weights' size */
    budget = budget < FN_CONVT_COL_BUDGET ? FN_CONVT_COL_BUDGET : budget;
    budget = budget > FN_CONVT_COL_MAX ? FN_CONVT_COL_MAX : budget;
    const size_t row = w * g->ncols > 0 ? w * g->ncols : 1;
    size_t rows = budget / row;
    if (rows >= h) {
        c.rpc = h;
        c.ipc = h ? rows / h : n;
        c.ipc = c.ipc < 1 ? 1 : c.ipc > n ? n : c.ipc;
        c.ipc = c.ipc ? c.ipc : 1;
        c.nchunks = div_up(n, c.ipc);
        c.max_rows = c.ipc * h * w;
    } else {
        rows = rows < 1 ? 1 : rows;
        const size_t per_image = div_up(h, rows);
        c.ipc = 1;
        c.rpc = div_up(h, per_image); /* even chunks: h = 9 in rows of 8 becomes 5 + 4 */
        c.nchunks = n * div_up(h, c.rpc);
        c.max_rows = c.rpc * w;
    }
    if (h == 0 || w == 0) c.nchunks = 0, c.max_rows = 0; /* every output pixel is act(bias) */
    return c;
}

/* Input columns [xa, xa + n) of tap column kx reach output columns ox = ix*sw + o. */
typedef struct kx_range {
    size_t xa, n;
    ptrdiff_t o;
} kx_range;

size_t fn_conv_transpose2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                         size_t h, size_t w, int nthreads) {
    if (!desc_ok(d)) return 0;
    const geom g = geometry(k, d);
    const chunking c = chunks_for(&g, n, h, w);
    return 64 + c.max_rows * g.ncols * sizeof(float) + d->kw * sizeof(kx_range) +
           (size_t)(nthreads > 0 ? nthreads : 1) * k->gemm_mr * sizeof(const float *);
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

/* yrow: (ow, cout) = bias in every pixel, in doubling copies (a copy per pixel costs a call each:
 * a visible share of the scatter for an RGB output). */
static void fill_bias(size_t ow, size_t cout, const float *bias, float *yrow) {
    const size_t total = ow * cout;
    if (total == 0) return;
    memcpy(yrow, bias, cout * sizeof(float));
    for (size_t done = cout; done < total; done *= 2)
        memcpy(yrow + done, yrow, (done < total - done ? done : total - done) * sizeof(float));
}

/* Input rows [*lo, *hi] that can reach output row oy (empty when *lo > *hi). */
static void rows_reaching(ptrdiff_t oy, ptrdiff_t pt, ptrdiff_t span, ptrdiff_t sh, ptrdiff_t h,
                          ptrdiff_t *lo, ptrdiff_t *hi) {
    const ptrdiff_t a = ceil_div(oy + pt - span, sh), b = floor_div(oy + pt, sh);
    *lo = a < 0 ? 0 : a;
    *hi = b > h - 1 ? h - 1 : b;
}

fn_status fn_conv_transpose2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                   size_t w, size_t oh, size_t ow, const float *x,
                                   const float *packed, const fn_act *act, float *y, void *scratch,
                                   size_t scratch_bytes, int nthreads) {
    if (!desc_ok(d)) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    if (scratch_bytes < fn_conv_transpose2d_scratch_bytes(k, d, n, h, w, nthreads))
        return FN_ERR_NOMEM;
    const float off = packed[0];
    if (!(off >= 1.0f && off <= (float)FN_CONVT_PACK_HEADER)) return FN_ERR_ARG; /* not packed */
    if (n * oh * ow * d->cout == 0) return FN_OK;
    const fn_convt_kernels *ck = fn_convt_kernels_for(k->isa);
    const geom g = geometry(k, d);
    const chunking ch = chunks_for(&g, n, h, w);
    const size_t MR = k->gemm_mr, NR = k->gemm_nr, cout = d->cout, G = d->groups;
    const float *panels = packed + (size_t)off;
    const float *bias = panels + g.npanels * g.pfloats;
    const ptrdiff_t H = (ptrdiff_t)h, SH = (ptrdiff_t)d->sh, DH = (ptrdiff_t)d->dh;
    const ptrdiff_t PT = (ptrdiff_t)d->pad_top, SPAN_Y = (ptrdiff_t)(d->kh - 1) * DH;
    const fn_act none = {FN_ACT_NONE, 0.0f, 0.0f};
    const int do_act = act && act->kind != FN_ACT_NONE;

    /* scratch: Ycol (64-byte aligned), the kx ranges, then MR row pointers per thread */
    float *ycol = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    kx_range *kxr = (kx_range *)(ycol + ch.max_rows * g.ncols);
    const float **aptrs = (const float **)(kxr + d->kw);
    for (size_t kx = 0; kx < d->kw; kx++) {
        const ptrdiff_t o = (ptrdiff_t)(kx * d->dw) - (ptrdiff_t)d->pad_left, s = (ptrdiff_t)d->sw;
        ptrdiff_t xa = ceil_div(-o, s), xb = floor_div((ptrdiff_t)ow - 1 - o, s);
        xa = xa < 0 ? 0 : xa;
        xb = xb > (ptrdiff_t)w - 1 ? (ptrdiff_t)w - 1 : xb;
        kxr[kx].xa = xa <= xb ? (size_t)xa : 0;
        kxr[kx].n = xa <= xb ? (size_t)(xb - xa + 1) : 0;
        kxr[kx].o = o;
    }

    {   /* a fork/join costs more than a small op: at least ~256K multiply-adds per thread */
        const size_t macs = n * h * w * d->cin * g.cout_g * g.ks, per = (size_t)1 << 18;
        if (macs / per < (size_t)nthreads) nthreads = macs / per > 1 ? (int)(macs / per) : 1;
    }
    size_t nb = FN_CONVT_L2_BUDGET / (g.pfloats * sizeof(float));
    nb = nb < 1 ? 1 : nb > g.npanels ? g.npanels : nb;

#pragma omp parallel num_threads(nthreads)
    {
        const float **a = aptrs + (size_t)THREAD_ID() * MR;
        /* rows no input pixel reaches (output_padding, stride > kernel span): act(bias) */
#pragma omp for schedule(static) nowait
        for (size_t r = 0; r < n * oh; r++) {
            ptrdiff_t lo, hi;
            rows_reaching((ptrdiff_t)(r % oh), PT, SPAN_Y, SH, H, &lo, &hi);
            if (lo <= hi) continue;
            float *yrow = y + r * ow * cout;
            fill_bias(ow, cout, bias, yrow);
            if (do_act) k->act(ow * cout, yrow, act, yrow);
        }
        for (size_t c = 0; c < ch.nchunks; c++) {
            /* chunk: images [b0, b0 + nimg), input rows [iy0, iy1) of each */
            size_t b0, nimg, iy0, iy1;
            if (ch.rpc == h) {
                b0 = c * ch.ipc, nimg = n - b0 < ch.ipc ? n - b0 : ch.ipc, iy0 = 0, iy1 = h;
            } else {
                const size_t per = div_up(h, ch.rpc);
                b0 = c / per, nimg = 1, iy0 = (c % per) * ch.rpc;
                iy1 = iy0 + ch.rpc < h ? iy0 + ch.rpc : h;
            }
            const size_t rows = iy1 - iy0, m_total = nimg * rows * w;
            const float *xc = x + (b0 * h + iy0) * w * d->cin; /* the chunk's first pixel */

            /* GEMM: Ycol (m_total, ncols). Tasks in the order (panel block, m tile, panel in
             * block): a block of panels stays in L2 while every m tile streams past. Threads take
             * runs of tasks (walked with counters: decoding each index costs 64-bit divisions). */
            const size_t mtiles = div_up(m_total, MR), ntasks = mtiles * g.npanels;
            size_t run = div_up(ntasks, (size_t)nthreads * 8);
            run = run < 1 ? 1 : run;
            size_t built = (size_t)-1;
#pragma omp for schedule(dynamic, 1)
            for (size_t q = 0; q < div_up(ntasks, run); q++) {
                const size_t lo = q * run, hi = lo + run < ntasks ? lo + run : ntasks;
                size_t pb = lo / (nb * mtiles), r = lo - pb * nb * mtiles;
                size_t bw = g.npanels - pb * nb < nb ? g.npanels - pb * nb : nb;
                size_t mt = r / bw, j = r % bw;
                for (size_t task = lo; task < hi; task++) {
                    const size_t p = pb * nb + j, gr = p / g.npg, pn = p - gr * g.npg;
                    const size_t m0 = mt * MR, mr = m_total - m0 < MR ? m_total - m0 : MR;
                    if (mt * G + gr != built) {
                        built = mt * G + gr;
                        for (size_t m = 0; m < MR; m++)
                            a[m] = xc + (m0 + (m < mr ? m : mr - 1)) * d->cin + gr * g.kc;
                    }
                    const size_t col0 = pn * NR, nc = g.ng - col0 < NR ? g.ng - col0 : NR;
                    k->igemm(mr, nc, g.kc, 1, a, panels + p * g.pfloats,
                             ycol + m0 * g.ncols + gr * g.ng + col0, g.ncols, NULL, 0, &none);
                    if (++j == bw) {
                        j = 0;
                        if (++mt == mtiles) {
                            mt = 0, pb++;
                            bw = g.npanels - pb * nb < nb ? g.npanels - pb * nb : nb;
                        }
                    }
                }
            }
            /* (barrier) Scatter: each output row this chunk reaches, by one thread, adding the
             * chunk's input rows in increasing order, each tap column kx in increasing order. */
            ptrdiff_t oy_lo = (ptrdiff_t)iy0 * SH - PT;
            ptrdiff_t oy_hi = (ptrdiff_t)(iy1 - 1) * SH - PT + SPAN_Y;
            oy_lo = oy_lo < 0 ? 0 : oy_lo;
            oy_hi = oy_hi > (ptrdiff_t)oh - 1 ? (ptrdiff_t)oh - 1 : oy_hi;
            const size_t span = oy_hi >= oy_lo ? (size_t)(oy_hi - oy_lo + 1) : 0;
#pragma omp for schedule(dynamic, 1)
            for (size_t r = 0; r < nimg * span; r++) {
                const size_t bi = r / span, oy = (size_t)oy_lo + r % span;
                ptrdiff_t lo, hi;
                rows_reaching((ptrdiff_t)oy, PT, SPAN_Y, SH, H, &lo, &hi);
                if (lo > hi) continue; /* done by the first loop */
                float *yrow = y + ((b0 + bi) * oh + oy) * ow * cout;
                if (lo >= (ptrdiff_t)iy0) fill_bias(ow, cout, bias, yrow); /* first touch */
                const ptrdiff_t ya = lo > (ptrdiff_t)iy0 ? lo : (ptrdiff_t)iy0;
                const ptrdiff_t yb = hi < (ptrdiff_t)iy1 - 1 ? hi : (ptrdiff_t)iy1 - 1;
                for (ptrdiff_t iy = ya; iy <= yb; iy++) {
                    const ptrdiff_t rem = (ptrdiff_t)oy + PT - iy * SH; /* = ky*dh */
                    if (DH > 1 && rem % DH) continue;
                    const size_t ky = (size_t)(DH > 1 ? rem / DH : rem);
                    const float *src = ycol + (bi * rows + (size_t)iy - iy0) * w * g.ncols;
                    for (size_t kx = 0; kx < d->kw; kx++) {
                        if (!kxr[kx].n) continue;
                        const float *s = src + kxr[kx].xa * g.ncols + (ky * d->kw + kx) * g.cout_g;
                        float *t = yrow + (size_t)((ptrdiff_t)(kxr[kx].xa * d->sw) + kxr[kx].o) * cout;
                        for (size_t gr = 0; gr < G; gr++)
                            ck->addrows(kxr[kx].n, g.cout_g, s + gr * g.ng, g.ncols,
                                        t + gr * g.cout_g, d->sw * cout);
                    }
                }
                if (do_act && hi < (ptrdiff_t)iy1) k->act(ow * cout, yrow, act, yrow); /* last touch */
            }
        }
    }
    return FN_OK;
}
