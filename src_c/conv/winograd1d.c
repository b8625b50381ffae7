/* winograd1d.c: 1-D Winograd F(6,3) / F(4,5) / F(3,7) conv driver for 1xk and kx1 convs
 * (fn_winograd1d.h): weight transform + packing, tiling, threading, the portable transform kernels
 * (winograd1d_simd.h over vec_scalar.h) and the table. The GEMMs run on the 3x3 Winograd's
 * micro-kernel (fn_winograd_kernels_for(isa)->gemm); the structure follows winograd.c. */
#include "winograd1d_kernels.h"
#include "winograd_kernels.h" /* fn_wino_tasks */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the portable transform kernels are compiled in winograd.c, beside the 2-D ones whose store they share */

#define FN_WINO1D_ROW(ISA_ENUM, ISA) \
    {.isa = ISA_ENUM, .input = fn_f32_wino1d_input__##ISA, .output = fn_f32_wino1d_output__##ISA,     \
     .pack_rows = fn_wino1d_pack_rows__##ISA},
static const fn_winograd1d_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_WINO1D_ROW)};

const fn_winograd1d_kernels *fn_winograd1d_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}

#define MAX_NP 9 /* transform points: 8 for k = 3, 5; 9 for k = 7 */
#define HEADER 16
#define MAX_NR FN_WINO1D_PACK_NR /* the widest micro-kernel panel the packing takes */

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

int fn_winograd1d_supported(const fn_conv2d_desc *d) {
    const size_t k = d->kh == 1 ? d->kw : d->kw == 1 ? d->kh : 0;
    return (k == 3 || k == 5 || k == 7) && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 &&
           d->groups == 1 && d->cin > 0 && d->cout > 0;
}

/* taps along the axis; the axis is w when kh == 1 (1xk), else h */
static size_t taps(const fn_conv2d_desc *d) { return d->kh == 1 ? d->kw : d->kh; }

/* Transform points: F(6,3), F(4,5) on 8; F(3,7) on 9 (F(2,7) on the 8 multiplies 4 per output, F(3,7)
 * 3: 192ch 17x17 7x1, AVX2 under tools/cpuid_avx2.c, 0.82 -> 0.66 ms; the rounding ~5x, still below
 * 1e-5 of max |y|, fn_winograd1d.h). */
static size_t npoints(const fn_conv2d_desc *d) { return taps(d) == 7 ? 9 : 8; }

static size_t panel_floats(const fn_kernels *k, const fn_conv2d_desc *d) { return k->gemm_nr * (1 + d->cin); }

/* Layout as winograd.c's: a header (packed[0] = off, panels on a 64-byte line), then for each point
 * p < 8 and NR-wide panel of output channels the micro-kernel's panel [NR zeros][cin][NR] of
 * U[p] = (G g)[p], then the cout biases (added in the output transform). */
size_t fn_winograd1d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    return HEADER + npoints(d) * div_up(d->cout, k->gemm_nr) * panel_floats(k, d) + d->cout;
}

/* G (np x k) of the points 0, 1, -1, 2, -2, 1/2, -1/2, [-1/4,] inf (tools/winograd1d.py): row j of a
 * finite point a: a^i / prod_{b != a} (a - b) over the np - 1 finite points, the last row e_{k-1}. On 8
 * points row 0 is negated (+e_0), as winograd1d_simd.h negates B^T's row 0. In double: every factor is a
 * small dyadic. */
static void g_matrix(size_t np, size_t k, double g[MAX_NP][7]) {
    static const double pts[MAX_NP - 1] = {0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, -0.25};
    memset(g, 0, sizeof(double) * MAX_NP * 7);
    g[np - 1][k - 1] = 1.0;
    for (size_t j = 0; j + 1 < np; j++) {
        double nrm = 1.0, p = 1.0;
        for (size_t b = 0; b + 1 < np; b++)
            if (b != j) nrm *= pts[j] - pts[b];
        for (size_t i = 0; i < k; i++, p *= pts[j]) g[j][i] = p / nrm;
    }
    if (np == 8) g[0][0] = -g[0][0];
}

fn_status fn_winograd1d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                             const float *bias, float *packed) {
    if (!fn_winograd1d_supported(d) || k->gemm_nr > MAX_NR) return FN_ERR_ARG;
    const size_t NR = k->gemm_nr, cin = d->cin, cout = d->cout, npanels = div_up(cout, NR), kt = taps(d);
    const size_t np = npoints(d);
    const size_t pfl = panel_floats(k, d), total = fn_winograd1d_packed_floats(k, d);
    const uintptr_t addr = (uintptr_t)(packed + 1);
    const size_t off = 1 + (size_t)((64 - addr % 64) % 64) / sizeof(float);
    memset(packed, 0, off * sizeof(float)); /* the header */
    packed[0] = (float)off;
    float *u = packed + off;
    double g[MAX_NP][7];
    g_matrix(np, kt, g);
    /* Per panel and input channel, the NR output channels' k taps are read once into gt (in double,
     * zeros past the real channels) and every point's row of U made from them, NR-long rows the
     * compiler vectorises; each float of U is written once. Walking the points outermost instead read
     * the weights np times, NR lines cin*k floats apart per step, and made U one float at a time
     * (Inception-v3's 26 1xk / kx1 convs: ~28 ms of a fresh process's plan, AVX2). The sums are the
     * same doubles in the same order: the same packed bits. The rows come from the table's pack_rows,
     * compiled at each ISA's width. */
    const fn_winograd1d_kernels *wk = fn_winograd1d_kernels_for(k->isa);
    double gt[7][FN_WINO1D_PACK_NR];
    for (size_t pn = 0; pn < npanels; pn++) {
        const size_t co0 = pn * NR, nj = cout - co0 < NR ? cout - co0 : NR;
        for (size_t p = 0; p < np; p++) /* the panel's leading row of zeros (its bias row) */
            memset(u + (p * npanels + pn) * pfl, 0, NR * sizeof(float));
        for (size_t ci = 0; ci < cin; ci++) {
            for (size_t j = 0; j < NR; j++) {
                const float *t = w + ((co0 + j) * cin + ci) * kt; /* the k taps, contiguous */
                for (size_t i = 0; i < kt; i++) gt[i][j] = j < nj ? (double)t[i] : 0.0;
            }
            wk->pack_rows(np, kt, &g[0][0], &gt[0][0], NR, u + pn * pfl + NR + ci * NR, npanels * pfl);
        }
    }
    float *b = u + np * npanels * pfl;
    for (size_t co = 0; co < cout; co++) b[co] = bias ? bias[co] : 0.0f;
    memset(b + cout, 0, (size_t)(packed + total - (b + cout)) * sizeof(float)); /* the header's slack */
    return FN_OK;
}

/* Tiles per block: input transform -> np GEMMs -> output transform over a block's tiles, V and M
 * (np x tiles x (cin + cout) floats) between the phases. The GEMMs take ~85% of the time (perf, 192ch
 * 17x17 7x1, AVX2) and the block size hardly matters: 192ch 17x17 7x1 / 128ch 1x7 / 384ch 8x8 1x3,
 * AVX2 (shim), ms: 12 tiles 0.84 / 0.40 / 0.46, 36 0.83 / 0.37 / 0.38, 48 0.85 / 0.39 / 0.41, 96 0.86 /
 * 0.37 / 0.41, 160 0.86 / 0.39 / 0.42 (within the host's noise); 48 keeps V + M of 192 channels
 * (0.6 MB) in L2. */
static size_t block_tiles(const fn_kernels *k, const fn_conv2d_desc *d, size_t tiles) {
    const size_t MR = k->gemm_mr;
    size_t mb = 48;
    (void)d;
    if (mb < MR) mb = MR;
    mb = div_up(mb, MR) * MR;
    if (mb >= tiles) return tiles;
    const size_t nblocks = div_up(tiles, mb); /* equal blocks: the last one is not a sliver */
    return div_up(div_up(tiles, nblocks), MR) * MR;
}

/* Output extents; tiles: (n, oh, ceil(ow / m)) for 1xk, (n, ceil(oh / m), ow) for kx1. */
static size_t tiling(const fn_conv2d_desc *d, size_t n, size_t h, size_t w, size_t *oh, size_t *ow,
                     size_t *tr, size_t *tc) {
    const size_t m = npoints(d) + 1 - taps(d);
    *oh = fn_conv_out_extent(h, d->kh, 1, 1, d->pad_top, d->pad_bottom);
    *ow = fn_conv_out_extent(w, d->kw, 1, 1, d->pad_left, d->pad_right);
    *tr = d->kh == 1 ? *oh : div_up(*oh, m);
    *tc = d->kh == 1 ? div_up(*ow, m) : *ow;
    return n * *tr * *tc;
}

static size_t thread_floats(const fn_conv2d_desc *d, size_t mb) {
    return (npoints(d) * mb * (d->cin + d->cout) + 15) / 16 * 16;
}

size_t fn_winograd1d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                   size_t w, int nthreads) {
    size_t oh, ow, tr, tc;
    const size_t tiles = tiling(d, n, h, w, &oh, &ow, &tr, &tc);
    if (!tiles) return 0;
    const size_t mb = block_tiles(k, d, tiles), nt = nthreads > 1 ? (size_t)nthreads : 1;
    return (nt * thread_floats(d, mb) + d->cin) * sizeof(float) + 64;
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

fn_status fn_winograd1d_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                 size_t w, const float *x, const float *packed, const float *res,
                                 const fn_act *act, float *y, size_t ldy, void *scratch,
                                 size_t scratch_bytes, int nthreads) {
    if (!fn_winograd1d_supported(d) || k->gemm_nr > MAX_NR || ldy < d->cout) return FN_ERR_ARG;
    size_t oh, ow, tr, tc;
    const size_t tiles = tiling(d, n, h, w, &oh, &ow, &tr, &tc);
    if (tiles == 0) return FN_OK;
    if (nthreads < 1) nthreads = 1;
    if (scratch_bytes < fn_winograd1d_scratch_bytes(k, d, n, h, w, nthreads)) return FN_ERR_NOMEM;
    const float off = packed[0];
    if (!(off >= 1.0f && off <= (float)HEADER)) return FN_ERR_ARG; /* not packed */
    const fn_winograd1d_kernels *wk = fn_winograd1d_kernels_for(k->isa);
    void (*gemm)(size_t, size_t, size_t, const float *, size_t, const float *, float *, size_t,
                 const float *, size_t) = fn_winograd_kernels_for(k->isa)->gemm;
    const size_t cin = d->cin, cout = d->cout, MR = k->gemm_mr, NR = k->gemm_nr;
    const size_t npanels = div_up(cout, NR), pfl = panel_floats(k, d);
    const size_t np = npoints(d);
    const int mo = (int)(np + 1 - taps(d));
#if defined(__x86_64__)
    const int sw_prefetch = k->isa == FN_ISA_AVX2;
#endif
    /* a tile's pixels step along w (1xk) or h (kx1) */
    const size_t dy = d->kh == 1 ? 0 : 1, dx = d->kh == 1 ? 1 : 0, my = dy * (size_t)mo, mx = dx * (size_t)mo;
    const float *u = packed + (size_t)off;
    const float *bias = u + np * npanels * pfl;
    const size_t MB = block_tiles(k, d, tiles), nblocks = div_up(tiles, MB);
    const size_t tfl = thread_floats(d, MB);
    float *base = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *zeros = base + (size_t)nthreads * tfl;
    memset(zeros, 0, cin * sizeof(float));
    /* Tasks (tile block, group of output panels) from a shared counter, as winograd.c: each output
     * element is computed by the same calls whatever the split, so results do not depend on nthreads. */
    size_t gp;
    const size_t ntasks = fn_wino_tasks(tiles, np, cin, cout, nblocks, npanels, &nthreads, &gp);
    const size_t ng = ntasks / nblocks; /* panel groups per block */
    size_t next_task = 0;

#pragma omp parallel num_threads(nthreads)
    {
        float *V = base + (size_t)THREAD_ID() * tfl;
        float *M = V + np * MB * cin;
        size_t built = (size_t)-1;
        const float *px[MAX_NP];
        float *out[6];
        const float *rs[6];
        for (;;) {
            size_t task;
#pragma omp atomic capture
            task = next_task++;
            if (task >= ntasks) break;
            const size_t blk = task / ng, g = task % ng, t0 = blk * MB;
            const size_t mb = tiles - t0 < MB ? tiles - t0 : MB;
            const size_t pn0 = g * gp, pn1 = pn0 + gp < npanels ? pn0 + gp : npanels;
            if (built != blk) { /* 1. input transform: tile i -> V[i][p][:] */
                built = blk;
                for (size_t i = 0; i < mb; i++) {
                    const size_t t = t0 + i, b = t / (tr * tc), oy = t % (tr * tc) / tc * (dy ? my : 1),
                                 ox = t % tc * (dx ? mx : 1);
                    /* unsigned wrap makes pixels above or left of the input fail the tests */
                    const size_t iy0 = oy - d->pad_top, ix0 = ox - d->pad_left;
                    for (size_t j = 0; j < np; j++) {
                        const size_t iy = iy0 + j * dy, ix = ix0 + j * dx;
                        px[j] = iy < h && ix < w ? x + ((b * h + iy) * w + ix) * cin : zeros;
                    }
                    wk->input((int)np, cin, px, V + i * np * cin, cin);
                }
            }
            /* 2. M[:][p][panel] = V[:][p][:] U[p][panel], p-major, prefetching the next panel */
            for (size_t p = 0; p < np; p++)
                for (size_t pn = pn0; pn < pn1; pn++) {
                    const size_t nc = cout - pn * NR < NR ? cout - pn * NR : NR;
                    const float *wp = u + (p * npanels + pn) * pfl;
                    const float *nextp = pn + 1 < pn1 ? wp + pfl
                                         : p + 1 < np ? u + ((p + 1) * npanels + pn0) * pfl
                                                        : NULL;
                    const size_t lines = nextp ? pfl / 16 : 0;
                    for (size_t m0 = 0; m0 < mb; m0 += MR) {
                        const size_t mr = mb - m0 < MR ? mb - m0 : MR;
                        const size_t l0 = lines * m0 / mb, nl = lines * (m0 + mr) / mb - l0;
#if defined(__x86_64__)
                        /* AVX2's GEMM (the conv's igemm) takes no prefetch, so its share of the next
                         * panel is prefetched here, in a burst per call (Inception-v3, AVX2 under
                         * tools/cpuid_avx2.c, its 26 1x7 / 7x1 convs: 15.0, 16.3 -> 13.8, 13.7 ms) */
                        if (sw_prefetch)
                            for (size_t l = 0; l < nl; l++) __builtin_prefetch(nextp + (l0 + l) * 16, 0, 3);
#endif
                        gemm(mr, nc, cin, V + (m0 * np + p) * cin, np * cin, wp,
                             M + (m0 * np + p) * cout + pn * NR, np * cout, nl ? nextp + l0 * 16 : NULL, nl);
                    }
                }
            /* 3. output transform of the group's channels + bias (+ residual) + activation */
            const size_t c0 = pn0 * NR, c1 = pn1 * NR < cout ? pn1 * NR : cout;
            for (size_t i = 0; i < mb; i++) {
                const size_t t = t0 + i, b = t / (tr * tc), oy = t % (tr * tc) / tc * (dy ? my : 1),
                             ox = t % tc * (dx ? mx : 1);
                for (size_t q = 0; q < (size_t)mo; q++) {
                    const size_t yy = oy + q * dy, xx = ox + q * dx, o = (b * oh + yy) * ow + xx;
                    const int in = yy < oh && xx < ow;
                    out[q] = in ? y + o * ldy + c0 : NULL;
                    rs[q] = in && res ? res + o * cout + c0 : NULL;
                }
                wk->output(mo, c1 - c0, M + i * np * cout + c0, cout, bias + c0, out, res ? rs : NULL, act);
            }
        }
    }
    return FN_OK;
}
