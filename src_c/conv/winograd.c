/* winograd.c: Winograd F(4x4, 3x3), F(2x2, 5x5) and F(2x2, 3x3) conv driver (weight transform +
 * packing, tiling, threading), the portable transform kernels (winograd_simd.h over vec_scalar.h) and the table. */
#include "winograd_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------- portable kernels */
#include "../simd/vec_scalar.h"
#include "winograd_simd.h" /* the portable transform kernels */
#include "winograd1d_kernels.h"
#include "winograd1d_simd.h" /* the 1-D ones (winograd1d.c's table) */

#include "winograd_gemm_simd.h" /* the 36 GEMMs */

#define FN_WINO_TABLE(ISA_ENUM, ISA)                                                               \
    {                                                                                              \
        .isa = ISA_ENUM, .input = fn_f32_wino_input__##ISA, .output = fn_f32_wino_output__##ISA,  \
        .output2 = fn_f32_wino_output2__##ISA, .input4 = fn_f32_wino_input4__##ISA,               \
        .output4 = fn_f32_wino_output4__##ISA, .gemm = fn_f32_wino_gemm__##ISA,                    \
        .pack_block = fn_wino_pack_block__##ISA,                                                   \
    }

#define FN_WINO_ROW(ISA_ENUM, ISA) FN_WINO_TABLE(ISA_ENUM, ISA),
static const fn_winograd_kernels tables[FN_ISA_COUNT] = {FN_ISA_LIST(FN_WINO_ROW)};

const fn_winograd_kernels *fn_winograd_kernels_for(fn_isa isa) {
    if ((int)isa < 0 || isa >= FN_ISA_COUNT) return NULL;
    return &tables[isa];
}

/* ---------------------------------------------------------------------------- packing */
/* Transform positions: A x A, A = 6 (F(4x4, 3x3), F(2x2, 5x5)) or 4 (F(2x2, 3x3)); the internals take
 * A as a parameter, a constant after inlining. */
#define FN_WINO_PACK_HEADER 16

/* Tile blocks (see block_tiles): a cap on the block's scratch. */
#ifndef FN_WINO_MAX_BLOCK_BYTES
#define FN_WINO_MAX_BLOCK_BYTES (16u * 1024u * 1024u)
#endif

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Output tile side m = A - k + 1: F(4x4, 3x3) or F(2x2, 5x5) at A = 6, F(2x2, 3x3) at A = 4. */
static size_t tile_m(const fn_conv2d_desc *d, const int A) { return A == 4 ? 2 : d->kh == 5 ? 2 : 4; }

int fn_winograd3x3_supported(const fn_conv2d_desc *d) {
    return (d->kh == 3 || d->kh == 5) && d->kw == d->kh && d->sh == 1 && d->sw == 1 && d->dh == 1 && d->dw == 1 &&
           d->groups == 1 && d->cin > 0 && d->cout > 0;
}

int fn_winograd2x3_supported(const fn_conv2d_desc *d) { return fn_winograd3x3_supported(d) && d->kh == 3; }

static int supported_a(const fn_conv2d_desc *d, const int A) {
    return A == 4 ? fn_winograd2x3_supported(d) : fn_winograd3x3_supported(d);
}

static size_t panel_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    return k->gemm_nr * (1 + d->cin);
}

/* Layout: a header (packed[0] = off, as in conv2d.c: panels start on a 64-byte line), then for
 * each position p < A*A and NR-wide panel of output channels the micro-kernel's panel
 *   [NR zeros (its bias row)][cin][NR]  of  U[p] = (G g G^T)[p],
 * then the cout biases (added in the output transform). */
static size_t packed_floats_a(const fn_kernels *k, const fn_conv2d_desc *d, const int A) {
    k = fn_conv2d_kernels(k, d); /* at most 8 output channels on AVX-512: AVX2's (conv2d.c) */
    return FN_WINO_PACK_HEADER + (size_t)(A * A) * div_up(d->cout, k->gemm_nr) * panel_floats(k, d) + d->cout;
}

size_t fn_winograd3x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    return packed_floats_a(k, d, 6);
}

size_t fn_winograd2x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    return packed_floats_a(k, d, 4);
}

static fn_status pack_a(const int A, const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                        const float *bias, float *packed) {
    k = fn_conv2d_kernels(k, d);
    if (!supported_a(d, A) || k->gemm_nr > FN_WINO_PACK_MAX_NR) return FN_ERR_ARG;
    const size_t NPOS = (size_t)(A * A);
    const size_t NR = k->gemm_nr, cin = d->cin, cout = d->cout, npanels = div_up(cout, NR);
    const size_t pfl = panel_floats(k, d);
    const size_t total = packed_floats_a(k, d, A);
    const uintptr_t addr = (uintptr_t)(packed + 1);
    const size_t off = 1 + (size_t)((64 - addr % 64) % 64) / sizeof(float);
    const fn_winograd_kernels *wk = fn_winograd_kernels_for(k->isa);
    if (!wk) return FN_ERR_ARG;
    memset(packed, 0, off * sizeof(float)); /* the header */
    packed[0] = (float)off;
    float *u = packed + off;
    /* Panel by panel, in blocks of FN_WINO_PACK_CB input channels: the block's A*A x CB x NR
     * transformed weights are made in a small buffer (zeros in the padded columns), then each
     * position's CB x NR floats are copied to its panel in one contiguous run. Writing them straight
     * into the position panels put 36 streams megabytes apart in flight, at a distance that maps them
     * onto a few L1 sets (512 channels: 86 ms). Every float is written once: zeroing the whole
     * buffer first, as this did, wrote DenseNet-121's 25 MB of Winograd weights twice. */
    const size_t CB = FN_WINO_PACK_CB;
    float *vb = malloc(NPOS * CB * NR * sizeof(float));
    if (!vb) return FN_ERR_NOMEM;
    for (size_t pn = 0; pn < npanels; pn++) {
        const size_t co0 = pn * NR, nj = cout - co0 < NR ? cout - co0 : NR;
        for (size_t p = 0; p < NPOS; p++) memset(u + (p * npanels + pn) * pfl, 0, NR * sizeof(float)); /* bias row */
        for (size_t ci0 = 0; ci0 < cin; ci0 += CB) {
            const size_t nb = cin - ci0 < CB ? cin - ci0 : CB;
            wk->pack_block(A, (int)d->kh, w, cin, ci0, nb, co0, nj, NR, vb);
            for (size_t p = 0; p < NPOS; p++)
                memcpy(u + (p * npanels + pn) * pfl + NR + ci0 * NR, vb + p * CB * NR, nb * NR * sizeof(float));
        }
    }
    free(vb);
    float *b = u + NPOS * npanels * pfl;
    for (size_t co = 0; co < cout; co++) b[co] = bias ? bias[co] : 0.0f;
    memset(b + cout, 0, (size_t)(packed + total - (b + cout)) * sizeof(float)); /* the header's slack */
    return FN_OK;
}

fn_status fn_winograd3x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed) {
    return pack_a(6, k, d, w, bias, packed);
}

fn_status fn_winograd2x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                              const float *bias, float *packed) {
    return pack_a(4, k, d, w, bias, packed);
}

/* ---------------------------------------------------------------------------- driver */
/* Tiles per block. A block is input transform -> 36 GEMMs -> output transform over its tiles, with
 * V and M (36 x tiles x (cin + cout) floats) between the phases; every block streams all of U
 * (36 x cin x cout) through the GEMMs. Measured (1 thread, AVX-512, caches cold from a conv run
 * between calls, N = 1 and 4): small blocks win while U is small, as V and M then stay in L1/L2 for
 * the transforms (64 channels at 56x56: 12 tiles 0.99 ms, 24 1.08, 48 1.29, 96 1.55); once U is
 * megabytes its stream dominates and blocks of ~ U / 128 KiB tiles win even with V and M in L3
 * (256 channels at 14x14, N = 4: 12 tiles 6.7 ms, 36 5.3, 64 5.1). At least 12 tiles (the AVX-512
 * GEMM tile), a multiple of MR, blocks of equal size. */
static size_t block_tiles(const fn_kernels *k, const fn_conv2d_desc *d, size_t tiles, const size_t NPOS) {
#ifdef FN_WINO_TUNING
    if (getenv("FN_WINO_MB")) { /* tuning builds only: force the block */
        const size_t m = (size_t)atoi(getenv("FN_WINO_MB"));
        return m < tiles ? m : tiles;
    }
#endif
    const size_t MR = k->gemm_mr;
    const size_t per_tile = NPOS * (d->cin + d->cout) * sizeof(float);
    const size_t ubytes = NPOS * d->cin * d->cout * sizeof(float);
    size_t mb = ubytes / (128u * 1024u);
    if (mb > FN_WINO_MAX_BLOCK_BYTES / per_tile) mb = FN_WINO_MAX_BLOCK_BYTES / per_tile;
    if (mb < 12) mb = 12;
    mb = div_up(mb, MR) * MR;
    if (mb >= tiles) return tiles;
    const size_t nblocks = div_up(tiles, mb); /* equal blocks: the last one is not a sliver */
    return div_up(div_up(tiles, nblocks), MR) * MR;
}

static void out_extents(const fn_conv2d_desc *d, size_t h, size_t w, size_t *oh, size_t *ow) {
    *oh = fn_conv_out_extent(h, d->kh, 1, 1, d->pad_top, d->pad_bottom);
    *ow = fn_conv_out_extent(w, d->kw, 1, 1, d->pad_left, d->pad_right);
}

/* Floats of one thread's V + M, rounded to whole 64-byte lines. */
static size_t thread_floats(const fn_conv2d_desc *d, size_t mb, const size_t NPOS) {
    return (NPOS * mb * (d->cin + d->cout) + 15) / 16 * 16;
}

static size_t scratch_a(const int A, const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                        size_t w, int nthreads) {
    k = fn_conv2d_kernels(k, d);
    size_t oh, ow;
    out_extents(d, h, w, &oh, &ow);
    const size_t TM = tile_m(d, A), NPOS = (size_t)(A * A);
    const size_t tiles = n * div_up(oh, TM) * div_up(ow, TM);
    if (!tiles) return 0;
    const size_t mb = block_tiles(k, d, tiles, NPOS), nt = nthreads > 1 ? (size_t)nthreads : 1;
    /* V + M per thread, a zero row for padding pixels, slack to align to 64 bytes */
    return (nt * thread_floats(d, mb, NPOS) + d->cin) * sizeof(float) + 64;
}

size_t fn_winograd3x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                    size_t h, size_t w, int nthreads) {
    return scratch_a(6, k, d, n, h, w, nthreads);
}

size_t fn_winograd2x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                    size_t h, size_t w, int nthreads) {
    return scratch_a(4, k, d, n, h, w, nthreads);
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

fn_status fn_winograd3x3_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                              size_t w, const float *x, const float *packed, const float *res,
                              const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                              int nthreads) {
    return fn_winograd3x3_nhwc_ldy(k, d, n, h, w, x, packed, res, act, y, d->cout, scratch,
                                   scratch_bytes, nthreads);
}

static fn_status run_a(const int A, const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                       size_t w, const float *x, const float *packed, const float *res, const fn_act *act,
                       float *y, size_t ldy, void *scratch, size_t scratch_bytes, int nthreads) {
    k = fn_conv2d_kernels(k, d);
    if (!supported_a(d, A) || k->gemm_nr > FN_WINO_PACK_MAX_NR || ldy < d->cout) return FN_ERR_ARG;
    size_t oh, ow;
    out_extents(d, h, w, &oh, &ow);
    const size_t NPOS = (size_t)(A * A);
    const size_t TM = tile_m(d, A), th = div_up(oh, TM), tw = div_up(ow, TM), tiles = n * th * tw;
    if (tiles == 0) return FN_OK;
    if (nthreads < 1) nthreads = 1;
    if (scratch_bytes < scratch_a(A, k, d, n, h, w, nthreads)) return FN_ERR_NOMEM;
    const float off = packed[0];
    if (!(off >= 1.0f && off <= (float)FN_WINO_PACK_HEADER)) return FN_ERR_ARG; /* not packed */
    const fn_winograd_kernels *wk = fn_winograd_kernels_for(k->isa);
    const size_t cin = d->cin, cout = d->cout, MR = k->gemm_mr, NR = k->gemm_nr;
    const size_t npanels = div_up(cout, NR), pfl = panel_floats(k, d);
    const float *u = packed + (size_t)off;   /* u: (36, npanels) panels */
    const float *bias = u + NPOS * npanels * pfl;
    const size_t MB = block_tiles(k, d, tiles, NPOS), nblocks = div_up(tiles, MB);
    /* Per thread: V: (MB, 36, cin) transformed inputs, M: (MB, 36, cout) products. Tile-major: a
     * tile's transform reads / writes one contiguous slab (position-major strides of MB rows put
     * its 36 accesses on 36 pages, and the transforms ran ~1.6x slower). Then zeros: (cin,). */
    const size_t tfl = thread_floats(d, MB, NPOS);
    float *base = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *zeros = base + (size_t)nthreads * tfl;
    memset(zeros, 0, cin * sizeof(float));
    /* Tasks: (tile block, group of output panels), independent, taken one at a time from a shared
     * counter: no barrier, so a thread descheduled on a loaded host delays only its own task (a
     * barrier per phase per block cost 10x on 2 shared cores). A task transforms its block's
     * inputs (skipped when the thread's V already holds that block), runs the GEMMs of its panels
     * and the output transform of its channels. Few blocks are split over panel groups so every
     * thread has work. Each output element is computed by the same calls whatever the split, so
     * results do not depend on nthreads. Small convs run on fewer threads (fn_wino_tasks). */
    size_t gp;
    const size_t ntasks = fn_wino_tasks(tiles, NPOS, cin, cout, nblocks, npanels, &nthreads, &gp);
    const size_t ng = ntasks / nblocks; /* panel groups per block */
    size_t next_task = 0;

#pragma omp parallel num_threads(nthreads)
    {
        float *V = base + (size_t)THREAD_ID() * tfl;
        float *M = V + NPOS * MB * cin;
        size_t built = (size_t)-1; /* block whose transformed inputs V holds */
        const float *px[36];
        float *out[16];
        const float *rs[16];
        for (;;) {
            size_t task;
#pragma omp atomic capture
            task = next_task++;
            if (task >= ntasks) break;
            const size_t blk = task / ng, g = task % ng, t0 = blk * MB;
            const size_t mb = tiles - t0 < MB ? tiles - t0 : MB;
            const size_t pn0 = g * gp, pn1 = pn0 + gp < npanels ? pn0 + gp : npanels;
            /* 1. input transform: tile i -> V[i][p][:] */
            if (built != blk) {
                built = blk;
                for (size_t i = 0; i < mb; i++) {
                    const size_t t = t0 + i, b = t / (th * tw), ty = t % (th * tw) / tw, tx = t % tw;
                    /* unsigned wrap makes rows/columns above or left of the input fail the tests */
                    const size_t iy0 = ty * TM - d->pad_top, ix0 = tx * TM - d->pad_left;
                    for (size_t r = 0; r < (size_t)A; r++)
                        for (size_t c = 0; c < (size_t)A; c++) {
                            const size_t iy = iy0 + r, ix = ix0 + c;
                            px[r * (size_t)A + c] =
                                iy < h && ix < w ? x + ((b * h + iy) * w + ix) * cin : zeros;
                        }
                    (A == 4 ? wk->input4 : wk->input)(cin, px, V + i * NPOS * cin, cin);
                }
            }
            /* 2. M[:][p][panel] = V[:][p][:] U[p][panel] for the group's panels, p-major (V's
             * rows of one p stay in cache across the panels), every MR-row tile per panel */
            for (size_t p = 0; p < NPOS; p++) {
                for (size_t pn = pn0; pn < pn1; pn++) {
                    const size_t nc = cout - pn * NR < NR ? cout - pn * NR : NR;
                    const float *wp = u + (p * npanels + pn) * pfl;
                    /* the next panel streams from L3 meanwhile: each row tile prefetches a share
                     * of its lines in proportion to its rows (its time) */
                    const float *nextp = pn + 1 < pn1 ? wp + pfl
                                         : p + 1 < NPOS ? u + ((p + 1) * npanels + pn0) * pfl
                                                        : NULL;
                    const size_t lines = nextp ? pfl / 16 : 0;
                    for (size_t m0 = 0; m0 < mb; m0 += MR) {
                        const size_t mr = mb - m0 < MR ? mb - m0 : MR;
                        const size_t l0 = lines * m0 / mb, nl = lines * (m0 + mr) / mb - l0;
                        wk->gemm(mr, nc, cin, V + (m0 * NPOS + p) * cin, NPOS * cin, wp,
                                 M + (m0 * NPOS + p) * cout + pn * NR, NPOS * cout,
                                 nl ? nextp + l0 * 16 : NULL, nl);
                    }
                }
            }
            /* 3. output transform of the group's channels + bias (+ residual) + activation */
            const size_t c0 = pn0 * NR, c1 = pn1 * NR < cout ? pn1 * NR : cout;
            for (size_t i = 0; i < mb; i++) {
                const size_t t = t0 + i, b = t / (th * tw), ty = t % (th * tw) / tw, tx = t % tw;
                for (size_t r = 0; r < TM; r++)
                    for (size_t c = 0; c < TM; c++) {
                        const size_t oy = ty * TM + r, ox = tx * TM + c;
                        const size_t o = (b * oh + oy) * ow + ox;
                        const int in = oy < oh && ox < ow;
                        out[r * TM + c] = in ? y + o * ldy + c0 : NULL;
                        rs[r * TM + c] = in && res ? res + o * cout + c0 : NULL;
                    }
                (A == 4 ? wk->output4 : TM == 4 ? wk->output : wk->output2)(
                    c1 - c0, M + i * NPOS * cout + c0, cout, bias + c0, out, res ? rs : NULL, act);
            }
        }
    }
    return FN_OK;
}

fn_status fn_winograd3x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                  size_t w, const float *x, const float *packed, const float *res,
                                  const fn_act *act, float *y, size_t ldy, void *scratch,
                                  size_t scratch_bytes, int nthreads) {
    return run_a(6, k, d, n, h, w, x, packed, res, act, y, ldy, scratch, scratch_bytes, nthreads);
}

fn_status fn_winograd2x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                  size_t w, const float *x, const float *packed, const float *res,
                                  const fn_act *act, float *y, size_t ldy, void *scratch,
                                  size_t scratch_bytes, int nthreads) {
    return run_a(4, k, d, n, h, w, x, packed, res, act, y, ldy, scratch, scratch_bytes, nthreads);
}
