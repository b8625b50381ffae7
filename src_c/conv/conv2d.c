/* conv2d.c: conv2d / linear driver on NHWC activations: weight packing, indirection, threading. */
#include "../kernels.h"
#include "fn_gconv_kernels.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

size_t fn_conv_out_extent(size_t in, size_t k, size_t s, size_t d, size_t p0, size_t p1) {
    const size_t span = d * (k - 1) + 1;
    const size_t padded = in + p0 + p1;
    if (k == 0 || s == 0 || padded < span) return 0;
    return (padded - span) / s + 1;
}

/* Bytes of packed weights a block of output panels may take: about half of a 1 MiB L2. */
#ifndef FN_CONV_L2_BUDGET
#define FN_CONV_L2_BUDGET (512u * 1024u)
#endif

/* Chunks of tasks per thread handed out by the driver: enough to even out a core that runs slower
 * for a while, few enough that each chunk still walks many tiles in order. */
#ifndef FN_CONV_CHUNKS_PER_THREAD
#define FN_CONV_CHUNKS_PER_THREAD 8
#endif

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Packed layout: a header of FN_CONV_PACK_HEADER floats, then per group g and NR-wide panel p of
 * that group's output channels:
 *   [NR bias][ks taps][kc input channels][NR outputs]     (ks = kh*kw, kc = cin/groups)
 * followed, after the last panel, by kw*kc zeros that padding taps point at (a whole kernel row:
 * see row taps below).
 * The panels start at packed + off, off = packed[0] in 1..16, chosen by fn_conv2d_pack so that they
 * start on a 64-byte line: unaligned zmm weight loads each split two lines and cost the kernel
 * ~15-20% (numpy buffers are 16-byte aligned). off is stored rather than recomputed from the
 * address, so a copy of the buffer at another alignment stays correct (merely slower). */
#define FN_CONV_PACK_HEADER 16

static size_t pack_offset(const float *packed) {
    const uintptr_t addr = (uintptr_t)(packed + 1);
    return 1 + (size_t)((64 - addr % 64) % 64) / sizeof(float);
}

static size_t panel_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t ks = d->kh * d->kw, kc = d->cin / d->groups;
    return k->gemm_nr * (1 + ks * kc);
}

/* Small groups (fn_gconv_kernels.h): cin == cout and a group width g that divides the vector width
 * take the small-group kernel, which computes every group of a block of pixels at once (the generic
 * GEMM computes one NR-wide panel per group, 8 useful columns of 32 at RegNet's g = 8 on AVX-512,
 * and rebuilds the row pointers for every group). Packed layout after the header: per block of vw
 * channels [vw bias][ks taps][g inputs][vw outputs], zero past cout, then a zero row of cout rounded
 * up to vw floats that padding taps point at. */
static const fn_gconv_kernels *gconv_for(const fn_kernels *k, const fn_conv2d_desc *d) {
    if (d->groups < 2 || d->cin != d->cout) return NULL;
    const size_t g = d->cin / d->groups;
    const fn_gconv_kernels *gk = fn_gconv_kernels_for(k->isa);
#if defined(__x86_64__)
    /* group width 8 where AVX-512 computes no more than AVX2 (Zen 4): one group a ymm, the pair
     * kernel's 64-bit broadcasts costing a shuffle there (gconv_ymm_avx512.c). Measured (AMD Zen 4,
     * 1 thread, _C.conv2d_nhwc alone, min of 300, pair kernel -> ymm): RegNetY-200MF's 3x3 convs 24ch
     * 112x112/2 0.173 -> 0.155 ms, 56ch 56x56/2 0.089 -> 0.082, 152ch 28x28/2 0.058 -> 0.054, 368ch
     * 14x14/2 0.038 -> 0.036, 64ch 56x56/1 0.388 -> 0.346; in the model (bench/profile_models.py
     * regnety_200mf --no-ort, two alternating runs) its grouped convs 0.777-0.782 -> 0.736-0.739 ms. */
    if (k->isa == FN_ISA_AVX512 && g == FN_GCONV_YMM_WIDTH && fn_avx512_half_rate()) gk = fn_gconv_kernels_ymm();
#endif
    if (!gk || !gk->run || g > gk->vw || gk->vw % g || gk->mr > k->gemm_mr) return NULL;
    return gk;
}
static size_t gconv_block_floats(const fn_gconv_kernels *gk, const fn_conv2d_desc *d) {
    return gk->vw * (1 + d->kh * d->kw * (d->cin / d->groups));
}

/* Narrow convs (and, on Zen 4, convs whose last AVX-512 panel wastes lanes: kernels.h fn_conv_table):
 * with at most FN_NARROW_COUT (kernels.h) output channels a group, an AVX-512 tile's one
 * 16-lane vector per row holds 8 or fewer real channels, and the AVX2 tile's 8-lane vector holds
 * them all: the AVX2 table (its packing, scratch and kernels; every entry point below takes it
 * through conv_kernels, so a buffer packed by one is run by the same) does the same useful work in
 * half the vector width. Not where the small-group kernel takes the conv (it fills its vectors
 * across groups). Measured (1 thread, in-model step minima, bench/profile_models.py diracnet_lite
 * --no-ort, FASTNORM_ISA=avx2 against avx512): AMD Zen 4 (its 512-bit FMAs are two 256-bit halves)
 * 3x3 16->8 at 224x224 2.38 -> 1.76 ms, at 112x112 0.60 -> 0.45; Xeon (Sapphire Rapids class) the
 * 224x224 one 2.00 -> 1.72. */
static const fn_kernels *conv_kernels(const fn_kernels *k, const fn_conv2d_desc *d) {
    return d->groups && !gconv_for(k, d) ? fn_conv_table(k, d->cout / d->groups) : k;
}

const fn_kernels *fn_conv2d_kernels(const fn_kernels *k, const fn_conv2d_desc *d) { return conv_kernels(k, d); }

size_t fn_conv2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    k = conv_kernels(k, d);
    const fn_gconv_kernels *gk = gconv_for(k, d);
    if (gk) {
        const size_t nblk = div_up(d->cout, gk->vw);
        return FN_CONV_PACK_HEADER + nblk * gconv_block_floats(gk, d) + nblk * gk->vw;
    }
    const size_t cout_g = d->cout / d->groups, kc = d->cin / d->groups;
    return FN_CONV_PACK_HEADER + d->groups * div_up(cout_g, k->gemm_nr) * panel_floats(k, d) +
           (kc * d->kw > 0 ? kc * d->kw : 1);
}

/* Row taps: with few input channels (the image-facing first conv has 3), a tap of kc multiply-adds
 * per row is too little work for the micro-kernel's per-tap setup (12 row pointers for 3 k-steps).
 * Without dilation along x, the kw pixels of one kernel row are adjacent in NHWC memory, and the
 * packed panel order [ky][kx][ci] already lists their weights contiguously: so the conv runs as kh
 * taps of kw*kc channels each, with one row pointer per (pixel, kernel row). A window that crosses
 * the left or right edge gets its row assembled with zeros in per-thread scratch. */
/* Up to 96 channels, not only the 3 of an image: at kc <= 96 a tap's k-loop is still short against
 * the per-tap setup, and one row tap of kw*kc channels reads one contiguous run. Measured (Xeon,
 * Sapphire Rapids class, 1 thread, fn_conv2d_nhwc alone, weights hot, min of 400-1000 calls; 8 ->
 * 96): AVX-512 5x5 48->64 at 35x35 pad 2 1.17 -> 1.06 ms, 3x3/2 96->96 at 35x35 0.29 -> 0.26, 3x3/2
 * 64->128 at 56x56 0.666 -> 0.648, 2x2/2 40->80 at 56x56 0.145 -> 0.125; AVX2 the 5x5 1.84 -> 1.69
 * and the 3x3/2 96->96 0.463 -> 0.429. In Inception-v3 (bench/profile_models.py --no-ort, step
 * minima, three alternating runs of the two builds) its three 5x5 convs 3.20-3.48 -> 2.85-2.99 ms
 * and its 3x3/2 96->96 0.286-0.313 -> 0.276-0.281. Not past 96: with cin 128 a 3x3 at 14x14 pad 1
 * (DenseNet's) lost 5-10% (its edge rows, kw*cin floats, are copied per tile, and row taps leave
 * panel-major order and its prefetch); 1x7 convs of 128-192 channels at 17x17, 5-7% faster hot,
 * measured the same in the model; row taps for any cin without x padding made Inception's 3x3/2
 * 192->320 and 192->192 (17x17 -> 8x8) 5-8% faster hot but 15-27% slower in the model, where
 * panel-major order's next-panel prefetch matters (weights come from L3). */
#define FN_CONV_ROWTAP_MAX_KC 96
static int use_row_taps(const fn_conv2d_desc *d) {
    return d->groups == 1 && d->dw == 1 && d->kw > 1 && d->cin <= FN_CONV_ROWTAP_MAX_KC;
}

/* Panels of packed weights per block: a block stays in L2 while every m tile streams past it. */
static size_t panels_per_block(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t pbytes = panel_floats(k, d) * sizeof(float);
    const size_t npanels = div_up(d->cout / d->groups, k->gemm_nr);
    size_t nb = FN_CONV_L2_BUDGET / (pbytes ? pbytes : 1);
    return nb < 1 ? 1 : nb > npanels ? npanels : nb;
}

/* Panel-major order (a block of one panel) for a small input: every m tile passes over one panel
 * before the next, and with the tiles prefetching the next panel (k->igemm_pf, pf_rate in
 * fn_conv2d_nhwc_pre) only the conv's first panel comes from memory, where a block of many panels had
 * its first m tile stream all of them at the FMA rate (EfficientNet-B0's 7x7 convs: 5 m tiles, 10-12
 * panels a block). Taken where the input and the output together fit in half of a 2 MiB L2 (both stay
 * there throughout), and where the weights cannot stay in L2 at all (over 1 MiB: they come from L3 or
 * memory whatever the order) and the input alone fits there: ResNet-50's and ResNeXt's 1x1 convs at
 * 7x7 and 14x14 (cin 1024-2048, 2-8 MiB of weights) streamed each block of panels from memory in its
 * first m tile without a prefetch. Measured (Xeon, 1 thread, L2 and L3 evicted before each call,
 * medians of 3 alternating runs of 41; AVX2 via tools/cpuid_avx2.c): AVX-512 1024->2048 at 7x7
 * 2.07 -> 1.49 ms, 1024->512 at 14x14 1.65 -> 1.34, 1024->1024 at 14x14 3.00 -> 2.69, 1024->256 at
 * 14x14 0.87 -> 0.67; AVX2 2048->1024 at 7x7 2.98 -> 2.16, 2048->512 at 7x7 1.49 -> 1.07, 1024->512 at
 * 14x14 2.24 -> 2.08; with the weights in L3 within 5% either way. Not with per-tile copies (row
 * taps, gates, pre-activations), which would be remade for every panel; a 1x1 conv whose rows lie
 * 4 KiB apart reads them in place in this order (use_row_copy: the copy measured no faster here). */
static int panel_major(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                       size_t m, int tile_copies) {
    const size_t in = n * h * w * d->cin * sizeof(float), out = m * d->cout * sizeof(float);
    const size_t weights = d->kh * d->kw * (d->cin / d->groups) * d->cout * sizeof(float);
    if (!k->igemm_pf || tile_copies || in > 2 * FN_CONV_L2_BUDGET) return 0;
    return in + out <= 2 * FN_CONV_L2_BUDGET || weights > 2 * FN_CONV_L2_BUDGET;
}

/* Row copies: a 1x1 conv's tile reads MR input rows sw*cin floats apart. When that is a multiple of
 * 4 KiB, every row's line at the same k falls into the same L1 set (32 KiB, 8 ways of 4 KiB) and
 * the 12 rows of an AVX-512 tile evict each other at every k-step. The driver then copies the
 * tile's rows to per-thread scratch at a stride padded by one line, once per tile and panel block.
 * Measured (1 thread, AVX-512, ResNet-50's shapes): 1024->256 at 14x14 1.05 -> 0.94 ms and 1024->512
 * 2.19 -> 1.95 ms; with a block of a single panel (cin 2048: weights 256 KiB per panel) the copy is
 * made once per panel and costs more than it saves (2048->512 at 7x7 1.20 -> 1.28 ms), so it is
 * only used when a block holds at least two panels, and not in panel-major order (panel_major). */
static int use_row_copy(const fn_kernels *k, const fn_conv2d_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->groups == 1 && (d->sw * d->cin * sizeof(float)) % 4096 == 0 &&
           panels_per_block(k, d) >= 2;
}
static size_t row_copy_stride(const fn_conv2d_desc *d) { return d->cin + 16; }

/* A 1-row tile holds NV (2 on AVX2) accumulator chains and runs at the FMA latency: 4 cycles a
 * k-step on AVX2 where a 6-row tile takes 6 for 6 rows. Where M % MR == 1 (49 = 8*6 + 1, the 7x7
 * stages) the last whole tile and that row go as two tiles of MR - (MR-1)/2 and (MR-1)/2 + 1 rows
 * (4 and 3), both of at most 4 rows (igemm_simd.h's 4-row tile: 8 chains), ~8 cycles a k-step
 * instead of ~10. Not for MR > 7 (AVX-512's 12: a tile of 5-11 rows runs the 12-row kernel). A row's
 * result does not depend on its tile: the same bits. */
#define SPLIT_TAIL(MR) ((MR) <= 7)

/* The next panel's prefetch at most a line per FN_CONV_PF_STEPS k-steps of a tile (xpm in
 * fn_conv2d_nhwc_pre) */
#ifndef FN_CONV_PF_STEPS
#define FN_CONV_PF_STEPS 4
#endif

/* Dense rows (k->igemm_dense): a 1x1 conv without padding reads, per output row, ow input pixels at
 * a constant stride sw*ldx, and with stride 1 all n*oh*ow of them. With few input channels a tile's
 * k-loop is short (16 channels: 16 k-steps, ~100 cycles of FMAs on AVX2) and the indirect path's
 * per-tile work (the row pointer table, the call, the epilogue dispatch) cost a third of it; the
 * dense kernel runs FN_CONV_DENSE_TILES tiles per call with pointers stepped in registers. Task
 * order (rows chunk, panel): the chunk's rows (<= 12 KiB: 48 rows of 64 channels, 24 of 128) stay in L1
 * while every panel passes over them, and all the weights (kc*cout floats) stay in L2.
 * Past FN_CONV_DENSE_MAX_KC input channels a chunk holds fewer tiles (one from 320 on), and the dense
 * kernel still wins: its rows are one pointer and a stride, where the indirect tile's 12 row pointers
 * (AVX-512) outnumber the free registers and spill, a reload or an xmm move per row every k-step.
 * Measured (AMD Zen 4, 1 thread, fn_conv2d_nhwc alone, medians of 40; AVX-512 / AVX2): 448->256 at
 * 56x56 7.21 -> 6.44 / 7.09 -> 6.73 ms, 736->512 at 28x28 5.52 -> 5.32 / 5.34 -> 5.33, 1088->768 at
 * 14x14 3.12 -> 2.88 / 3.01 -> 2.93, 256->256 at 14x14 0.246 -> 0.228 / 0.241 -> 0.231; in-model
 * (bench/adhoc/models_cputime.py, two alternating runs) ESE-VoVNet19b-dw 1.04 -> 1.02 of the best
 * peer, Xception-lite 1.05-1.06 -> 1.02-1.03. (A row stride that is a multiple of 4 KiB still takes
 * the indirect path's row copies: use_row_copy.) */
#ifndef FN_CONV_DENSE_MAX_KC
#define FN_CONV_DENSE_MAX_KC 160
#endif
#ifndef FN_CONV_DENSE_TILES
#define FN_CONV_DENSE_TILES 8
#endif
/* Dense rows' next-panel prefetch (dense_run) where the rows make at most this many chunks */
#ifndef FN_CONV_DENSE_PF_CHUNKS
#define FN_CONV_DENSE_PF_CHUNKS 16
#endif
int fn_conv2d_dense_fits(const fn_conv2d_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->groups == 1 &&
           !d->pad_top && !d->pad_left && !d->pad_bottom && !d->pad_right;
}

/* Rows of a dense chunk (dense_run): FN_CONV_DENSE_TILES tiles up to 64 input channels, half as
 * many up to FN_CONV_DENSE_MAX_KC, past it fewer in proportion (3 tiles at 192, 2 at 256, 1 from
 * 320), so that a chunk's rows and a panel's weights stay within a 32 KiB L1. A chunk may hold one
 * row more (a last chunk of one row joins the one before). */
static size_t dense_chunk_rows(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t kc = d->cin, wide = FN_CONV_DENSE_TILES / 2 * FN_CONV_DENSE_MAX_KC / (kc ? kc : 1);
    const size_t tiles = kc <= 64                     ? FN_CONV_DENSE_TILES
                         : kc <= FN_CONV_DENSE_MAX_KC ? FN_CONV_DENSE_TILES / 2
                         : wide > 1                   ? wide
                                                      : 1;
    return tiles * k->gemm_mr;
}

/* A squeeze-and-excitation gate (fn_conv2d_nhwc_gated) is applied in the row copies: 1x1, groups 1. */
int fn_conv2d_gate_fits(const fn_conv2d_desc *d) { return d->kh == 1 && d->kw == 1 && d->groups == 1; }

/* A pre-activation (fn_conv2d_nhwc_pre) too, where no padding tap reads the zero row. */
int fn_conv2d_pre_fits(const fn_conv2d_desc *d) {
    return fn_conv2d_gate_fits(d) && !d->pad_top && !d->pad_left && !d->pad_bottom && !d->pad_right;
}

/* One thread's scratch: (ks, MR) row pointers, then with row taps a 64-byte aligned block of
 * (kh, MR) edge rows of kw*cin floats, or with row copies one of MR padded rows; a multiple of 64
 * bytes. */
static size_t thread_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t MR = k->gemm_mr;
    size_t per = d->kh * d->kw * MR * sizeof(const float *);
    if (use_row_taps(d)) per += 64 + d->kh * MR * d->kw * d->cin * sizeof(float);
    if (use_row_copy(k, d) || fn_conv2d_gate_fits(d)) {
        /* the indirect tile's MR rows, or a dense chunk's (dense_run's transformed rows) */
        const size_t rows = fn_conv2d_dense_fits(d) ? dense_chunk_rows(k, d) + 1 : MR;
        per += 64 + (rows > MR ? rows : MR) * row_copy_stride(d) * sizeof(float);
    }
    return (per + 63) / 64 * 64;
}

/* dst[i*NR + r] = src[r*ld + i] for r < 4, i < n: four weight rows (output channels) into four
 * columns of a panel: 4x4 register transposes on x86-64 (SSE is baseline there) and on ARMv8 (NEON),
 * one float at a time elsewhere. Pure data movement: the same packed bits either way. */
static void rows4_to_columns(const float *src, size_t ld, size_t n, float *dst, size_t NR) {
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= n; i += 4) {
        __m128 r0 = _mm_loadu_ps(src + i), r1 = _mm_loadu_ps(src + ld + i);
        __m128 r2 = _mm_loadu_ps(src + 2 * ld + i), r3 = _mm_loadu_ps(src + 3 * ld + i);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + i * NR, r0);
        _mm_storeu_ps(dst + (i + 1) * NR, r1);
        _mm_storeu_ps(dst + (i + 2) * NR, r2);
        _mm_storeu_ps(dst + (i + 3) * NR, r3);
    }
#elif defined(__ARM_NEON)
    for (; i + 4 <= n; i += 4) {
        const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(src + i), vld1q_f32(src + ld + i));
        const float32x4x2_t t23 = vtrnq_f32(vld1q_f32(src + 2 * ld + i), vld1q_f32(src + 3 * ld + i));
        vst1q_f32(dst + i * NR, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
        vst1q_f32(dst + (i + 1) * NR, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
        vst1q_f32(dst + (i + 2) * NR, vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
        vst1q_f32(dst + (i + 3) * NR, vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
    }
#endif
    for (; i < n; i++)
        for (size_t r = 0; r < 4; r++) dst[i * NR + r] = src[r * ld + i];
}

/* fn_conv2d_pack's panels for a 1x1 conv (NR a multiple of 4): each panel's kc x NR block is the
 * transpose of its NR weight rows (w: (cout, kc)), made four rows at a time in blocks of 64 input
 * channels (the block's 64 panel rows, NR floats each, stay in L1 while its columns are filled).
 * DenseNet-121's 77 1x1 packings (21 MB of weights) took ~9 ms of its plan one float at a time.
 * Returns the end of the panels. */
static float *pack_1x1(const fn_conv2d_desc *d, const float *w, const float *bias, size_t NR, size_t npanels,
                     float *p) {
    const size_t kc = d->cin / d->groups, cout_g = d->cout / d->groups;
    for (size_t g = 0; g < d->groups; g++)
        for (size_t pn = 0; pn < npanels; pn++, p += NR + kc * NR) {
            const size_t nj = cout_g - pn * NR < NR ? cout_g - pn * NR : NR; /* real channels */
            const float *wp = w + (g * cout_g + pn * NR) * kc;
            for (size_t j = 0; j < NR; j++) p[j] = (j < nj && bias) ? bias[g * cout_g + pn * NR + j] : 0.0f;
            float *q = p + NR;
            for (size_t i0 = 0; i0 < kc; i0 += 64) {
                const size_t n = kc - i0 < 64 ? kc - i0 : 64;
                size_t j = 0;
                for (; j + 4 <= nj; j += 4) rows4_to_columns(wp + j * kc + i0, kc, n, q + i0 * NR + j, NR);
                for (; j < NR; j++)
                    for (size_t i = i0; i < i0 + n; i++) q[i * NR + j] = j < nj ? wp[j * kc + i] : 0.0f;
            }
        }
    return p;
}

void fn_conv2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w, const float *bias,
                    float *packed) {
    k = conv_kernels(k, d);
    const size_t NR = k->gemm_nr, ks = d->kh * d->kw, kc = d->cin / d->groups;
    const size_t cout_g = d->cout / d->groups, npanels = div_up(cout_g, NR);
    const size_t off = pack_offset(packed);
    memset(packed, 0, off * sizeof(float));
    packed[0] = (float)off;
    float *p = packed + off;
    const fn_gconv_kernels *gk = gconv_for(k, d);
    if (gk) {
        const size_t vw = gk->vw, c = d->cout;
        for (size_t c0 = 0; c0 < c; c0 += vw) {
            for (size_t j = 0; j < vw; j++) p[j] = (c0 + j < c && bias) ? bias[c0 + j] : 0.0f;
            p += vw;
            for (size_t t = 0; t < ks; t++, p += kc * vw)
                for (size_t i = 0; i < kc; i++)
                    for (size_t j = 0; j < vw; j++) /* w: (cout, kc, kh, kw) */
                        p[fn_gconv_tap_slot(gk, kc, i, j)] = c0 + j < c ? w[((c0 + j) * kc + i) * ks + t] : 0.0f;
        }
        memset(p, 0, (size_t)(packed + fn_conv2d_packed_floats(k, d) - p) * sizeof(float));
        return;
    }
    /* A transpose in blocks of ib input channels: each output channel's ib*ks source floats are
     * contiguous (w: (cout, kc, kh, kw), tap t = ky*kw + kx) and read in one run before the next
     * channel's. Reading one float of each of NR channels per step instead put NR lines kc*ks floats
     * apart in flight; at a stride that is a multiple of 2-4 KiB they share an L1 set and every read
     * missed (ResNet-50's 53 packings took ~0.2 s, a third of its cold start after import). */
    if (ks == 1 && NR % 4 == 0) {
        p = pack_1x1(d, w, bias, NR, npanels, p);
    } else {
        const size_t ib = ks >= 64 ? 1 : 64 / ks;
        for (size_t g = 0; g < d->groups; g++) {
            for (size_t pn = 0; pn < npanels; pn++) {
                const size_t nj = cout_g - pn * NR < NR ? cout_g - pn * NR : NR; /* real channels */
                for (size_t j = 0; j < NR; j++) {
                    const size_t co = pn * NR + j;
                    p[j] = (j < nj && bias) ? bias[g * cout_g + co] : 0.0f;
                }
                p += NR;
                if (nj < NR) memset(p, 0, ks * kc * NR * sizeof(float));
                for (size_t i0 = 0; i0 < kc; i0 += ib) {
                    const size_t i1 = i0 + ib < kc ? i0 + ib : kc;
                    for (size_t j = 0; j < nj; j++) {
                        const float *src = w + ((g * cout_g + pn * NR + j) * kc + i0) * ks;
                        for (size_t i = i0; i < i1; i++)
                            for (size_t t = 0; t < ks; t++)
                                p[(t * kc + i) * NR + j] = *src++;
                    }
                }
                p += ks * kc * NR;
            }
        }
    }
    /* the kc zeros, and the header slack off leaves at the end */
    memset(p, 0, (size_t)(packed + fn_conv2d_packed_floats(k, d) - p) * sizeof(float));
}

/* The same packed layout from a linear layer's weight as ONNX's MatMul stores it, wt: (cin, cout)
 * row-major (fn_conv2d_pack's w transposed; 1x1, groups 1). Each panel row is then nj contiguous floats
 * of wt, one copy; transposing wt first and packing that read the weights twice more (ConvNeXt-atto's
 * 3.3 M MLP weights: ~12 ms of a ~90 ms .onnx load on Zen 3). */
void fn_conv2d_pack_kn(const fn_kernels *k, const fn_conv2d_desc *d, const float *wt, const float *bias,
                       float *packed) {
    k = conv_kernels(k, d);
    assert(d->kh == 1 && d->kw == 1 && d->groups == 1);
    const size_t NR = k->gemm_nr, kc = d->cin, cout = d->cout, npanels = div_up(cout, NR);
    const size_t off = pack_offset(packed);
    memset(packed, 0, off * sizeof(float));
    packed[0] = (float)off;
    float *p = packed + off;
    for (size_t pn = 0; pn < npanels; pn++) {
        const size_t c0 = pn * NR, nj = cout - c0 < NR ? cout - c0 : NR; /* real channels */
        for (size_t j = 0; j < NR; j++) p[j] = (j < nj && bias) ? bias[c0 + j] : 0.0f;
        p += NR;
        for (size_t i = 0; i < kc; i++, p += NR) {
            memcpy(p, wt + i * cout + c0, nj * sizeof(float));
            if (nj < NR) memset(p + nj, 0, (NR - nj) * sizeof(float));
        }
    }
    memset(p, 0, (size_t)(packed + fn_conv2d_packed_floats(k, d) - p) * sizeof(float));
}

/* The per-thread slices (thread_scratch_bytes), without which the conv does not run. */
static size_t threads_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, int nthreads) {
    return (size_t)(nthreads > 0 ? nthreads : 1) * thread_scratch_bytes(k, d);
}

/* Whole-input row copies (a gate or a pre-activation on a small input): the tile copies (gated_rows,
 * pre_rows) are made per tile and panel block, so a gated or pre-activated conv kept a block of many
 * panels and lost panel-major order and its next-panel prefetch (panel_major): its first m tile
 * streamed the block's weights from memory at the FMA rate. Where the input and output fit
 * panel_major's budget, the driver instead applies the gate or the pre-activation to the whole input
 * once, into scratch (rows of row_copy_stride floats: no 4 KiB aliasing), and runs the conv ungated
 * in panel-major order. Each element is the same product (or scale_shift_cols call per row) as in
 * the tile copies: the same bits. Bytes of that copy, or 0 where it does not apply. Measured (Xeon,
 * AVX2 via tools/cpuid_avx2.c, 1 thread, in-model step minima, bench/profile_models.py, two
 * alternating runs of each build): MobileNetV3-Large's SE-gated 960->160 at 7x7 +res 0.208-0.222 ->
 * 0.160-0.169 ms, 672->160 at 7x7 0.138 -> 0.108-0.111, 672->112 / 480->112 at 14x14 0.307 / 0.224
 * -> 0.299 / 0.213; later pairs (with the SPLIT_TAIL and xpm changes, host less loaded) 960->160
 * 0.177-0.193 -> 0.158-0.184, 672->160 0.113-0.119 -> 0.109-0.118. AVX-512 (DenseNet-121, its 1x1
 * convs at 7x7 / 14x14 against those at 56x56, which do not change): 1.41-1.45 -> 1.29-1.30. */
/* Aliased dense rows: a 1x1 conv whose input rows lie a multiple of 4 KiB apart (sw*ldx floats:
 * ResNet's and ResNeXt's 1024 and 2048 channels, 512 at stride 2) reads each k-step's 12 rows from
 * one L1 set. The driver copies the pixels it reads (every sw-th of every sh-th row) to scratch at
 * row_copy_stride once, compact, and runs the copy as a stride-1 conv on the dense-rows kernel: no
 * aliasing, one row pointer. The same products in the same order: the same bits as the indirect
 * path. Measured (AMD Zen 4, AVX-512, 1 thread, in-model step minima, bench/profile_models.py
 * resnext50, ORT's same layers in brackets): 1024->1024 at 14x14 4.26 -> 3.79 ms (3.63), 1024->512 at
 * 14x14 2.17 -> 1.97 (1.81), 2048->1024 at 7x7 2.65 -> 2.52 (1.93). */
static int aliased_rows(const fn_conv2d_desc *d, size_t ldx) {
    return fn_conv2d_dense_fits(d) && (d->sw * ldx * sizeof(float)) % 4096 == 0;
}
static size_t compact_copy_bytes(const fn_conv2d_desc *d, size_t n, size_t h, size_t w) {
    if (!aliased_rows(d, d->cin) || !d->sh || !d->sw) return 0;
    const size_t oh = fn_conv_out_extent(h, 1, d->sh, 1, 0, 0), ow = fn_conv_out_extent(w, 1, d->sw, 1, 0, 0);
    return 64 + n * oh * ow * row_copy_stride(d) * sizeof(float);
}

static size_t whole_copy_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w) {
    const size_t compact = compact_copy_bytes(d, n, h, w);
    if (!fn_conv2d_pre_fits(d) || !k->igemm_pf || !d->sh || !d->sw) return compact;
    const size_t oh = fn_conv_out_extent(h, 1, d->sh, 1, 0, 0), ow = fn_conv_out_extent(w, 1, d->sw, 1, 0, 0);
    if (!panel_major(k, d, n, h, w, n * oh * ow, 0)) return compact;
    const size_t whole = 64 + n * h * w * row_copy_stride(d) * sizeof(float);
    return whole > compact ? whole : compact;
}

size_t fn_conv2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                               size_t w, int nthreads) {
    k = conv_kernels(k, d);
    return threads_scratch_bytes(k, d, nthreads) + whole_copy_bytes(k, d, n, h, w);
}

/* A squeeze-and-excitation gate scales input channel i of every pixel of a sample by g[i], which is
 * the same as scaling row i of the weights: y = (x diag(g)) W = x (diag(g) W). Where a sample has more
 * pixels than the conv has (padded) output channels (4 times as many: below), scaling the kc x cout
 * weights per sample is cheaper than scaling its pixels x kc inputs (gated_rows), and the conv then
 * runs ungated: on the
 * dense kernel's tall one-vector tile for few output channels, without a row copy per tile and in
 * panel-major order with its prefetch. Measured (Xeon, Sapphire Rapids class, AVX-512, 1 thread,
 * in-model minima, bench/profile_models.py MODEL --no-ort): EfficientNet-B0's 32->16 at 112x112
 * 0.20 -> 0.12 ms, 144->24 / 96->24 at 56x56 0.245 / 0.156 -> 0.19 / 0.12, 144->40 at 28x28 0.085
 * -> 0.073 (its 1x1 convs 6.16 -> 5.88 ms); MobileNetV3's 120->40 at 28x28 0.073 -> 0.059. At 14x14
 * with 80-128 output channels (a ratio of 1.5-2) folding lost 3-9%: hence 4 pixels a padded channel
 * at least. The products round as x (g w) instead of (x g) w: within the conv's tolerance, and the
 * same for a sample whatever the batch, as the choice depends on the sample's pixels only. */
#ifndef FN_CONV_GATE_FOLD_MIN_RATIO
#define FN_CONV_GATE_FOLD_MIN_RATIO 4
#endif
static int gate_folds(const fn_kernels *k, const fn_conv2d_desc *d, size_t oh, size_t ow) {
    return fn_conv2d_gate_fits(d) &&
           oh * ow >= FN_CONV_GATE_FOLD_MIN_RATIO * div_up(d->cout, k->gemm_nr) * k->gemm_nr;
}

size_t fn_conv2d_gated_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                     size_t w, int nthreads) {
    k = conv_kernels(k, d);
    const size_t base = fn_conv2d_scratch_bytes(k, d, n, h, w, nthreads);
    if (!d->sh || !d->sw || !d->dh || !d->dw) return base;
    const size_t oh = fn_conv_out_extent(h, d->kh, d->sh, d->dh, d->pad_top, d->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, d->kw, d->sw, d->dw, d->pad_left, d->pad_right);
    if (!gate_folds(k, d, oh, ow)) return base;
    return (base + 63) / 64 * 64 + fn_conv2d_packed_floats(k, d) * sizeof(float);
}

/* The packed weights (1x1, groups 1; panels: past the header) with row i of every panel scaled by
 * g[i], into dst as a packed buffer (fn_conv2d_packed_floats; its own header offset, so that its
 * panels start on a 64-byte line) */
static void fold_gate(const fn_kernels *k, const fn_conv2d_desc *d, const float *panels, const float *g,
                      float *dst) {
    const size_t NR = k->gemm_nr, kc = d->cin, pf = panel_floats(k, d), npanels = div_up(d->cout, NR);
    const size_t off = pack_offset(dst);
    memset(dst, 0, off * sizeof(float));
    dst[0] = (float)off;
    const float *s = panels;
    float *p = dst + off;
    for (size_t pn = 0; pn < npanels; pn++, s += pf, p += pf) {
        memcpy(p, s, NR * sizeof(float)); /* the bias */
        for (size_t i = 0; i < kc; i++) {
            const float gi = g[i];
            const float *si = s + NR + i * NR;
            float *pi = p + NR + i * NR;
            for (size_t j = 0; j < NR; j++) pi[j] = si[j] * gi;
        }
    }
    memset(p, 0, (size_t)(dst + fn_conv2d_packed_floats(k, d) - p) * sizeof(float));
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

/* This thread's slice of scratch (as thread_scratch_bytes lays it out): its (ks, MR) row pointers,
 * and with rows not NULL, in *rows the 64-byte aligned block after them (the row taps' edge rows or
 * the row copies, where the slice has them). */
static const float **thread_slice(const fn_kernels *k, const fn_conv2d_desc *d, void *scratch, float **rows) {
    unsigned char *mine = (unsigned char *)scratch + (size_t)THREAD_ID() * thread_scratch_bytes(k, d);
    if (rows) {
        const uintptr_t e = (uintptr_t)(mine + d->kh * d->kw * k->gemm_mr * sizeof(const float *));
        *rows = (float *)(e + (64 - e % 64) % 64);
    }
    return (const float **)mine;
}

/* Fill a: (ks, MR) row pointers for the tile of output pixels [m0, m0 + mr) of group g. *pix holds
 * (b, oy, ox) of pixel m0 on entry and of pixel m0 + mr on return, so consecutive tiles need no
 * division (a 64-bit divide per pixel cost as much as the FMAs of a small-K tile). */
FN_INLINE void tile_rows_k(
    const size_t KH, const size_t KW, const fn_conv2d_desc *d, size_t h, size_t w, size_t oh,
    size_t ow, size_t MR, size_t mr, size_t g, const float *x, size_t ldx, const float *zeros,
    size_t pix[3], const float **a) {
    const size_t kc = d->cin / d->groups;
    const size_t dy = d->dh * w * ldx, dx = d->dw * ldx; /* pointer steps between taps */
    const size_t span_y = (KH - 1) * d->dh, span_x = (KW - 1) * d->dw;
    const float *xg = x + g * kc;
    size_t b = pix[0], oy = pix[1], ox = pix[2];
    for (size_t m = 0; m < mr; m++) {
        /* top-left input pixel of the window; unsigned wrap makes positions above or left of the
         * input fail the < h / < w tests */
        const size_t iy0 = oy * d->sh - d->pad_top, ix0 = ox * d->sw - d->pad_left;
        const float **am = a + m;
        if (iy0 < h && iy0 + span_y < h && ix0 < w && ix0 + span_x < w) {
            /* window inside the input (most of them): no per-tap tests */
            const float *row = xg + ((b * h + iy0) * w + ix0) * ldx;
            for (size_t ky = 0; ky < KH; ky++) {
                const float *p = row + ky * dy;
                for (size_t kx = 0; kx < KW; kx++, am += MR) am[0] = p + kx * dx;
            }
        } else {
            for (size_t ky = 0; ky < KH; ky++) {
                const size_t iy = iy0 + ky * d->dh;
                for (size_t kx = 0; kx < KW; kx++, am += MR) {
                    const size_t ix = ix0 + kx * d->dw;
                    am[0] = iy < h && ix < w ? xg + ((b * h + iy) * w + ix) * ldx : zeros;
                }
            }
        }
        if (++ox == ow) {
            ox = 0;
            if (++oy == oh) oy = 0, b++;
        }
    }
    pix[0] = b, pix[1] = oy, pix[2] = ox;
    /* rows mr..MR-1 of a partial tile repeat the last row (the kernel may read them) */
    if (mr < MR)
        for (size_t t = 0; t < KH * KW; t++)
            for (size_t m = mr; m < MR; m++) a[t * MR + m] = a[t * MR + mr - 1];
}

/* The kernel sizes that dominate CNNs get constant loop bounds (the setup is a visible share of
 * a small-K tile, e.g. 16 input channels at 3x3). */
static void tile_rows(const fn_conv2d_desc *d, size_t h, size_t w, size_t oh, size_t ow, size_t MR,
                      size_t mr, size_t g, const float *x, size_t ldx, const float *zeros, size_t pix[3],
                      const float **a) {
    if (d->kh == 3 && d->kw == 3)
        tile_rows_k(3, 3, d, h, w, oh, ow, MR, mr, g, x, ldx, zeros, pix, a);
    else if (d->kh == 1 && d->kw == 1)
        tile_rows_k(1, 1, d, h, w, oh, ow, MR, mr, g, x, ldx, zeros, pix, a);
    else
        tile_rows_k(d->kh, d->kw, d, h, w, oh, ow, MR, mr, g, x, ldx, zeros, pix, a);
}

/* Row-tap version of tile_rows: a: (kh, MR) pointers to kw*cin contiguous floats each. */
static void tile_rows_rowtap(const fn_conv2d_desc *d, size_t h, size_t w, size_t oh, size_t ow,
                             size_t MR, size_t mr, const float *x, const float *zeros, size_t pix[3],
                             const float **a, float *edge) {
    const size_t KH = d->kh, KW = d->kw, C = d->cin, kcr = KW * C;
    size_t b = pix[0], oy = pix[1], ox = pix[2];
    for (size_t m = 0; m < mr; m++) {
        const size_t iy0 = oy * d->sh - d->pad_top, ix0 = ox * d->sw - d->pad_left;
        const int inside_x = ix0 < w && ix0 + KW - 1 < w;
        for (size_t ky = 0; ky < KH; ky++) {
            const size_t iy = iy0 + ky * d->dh;
            const float **am = a + ky * MR + m;
            if (iy >= h) {
                am[0] = zeros;
            } else if (inside_x) {
                am[0] = x + ((b * h + iy) * w + ix0) * C;
            } else {
                float *row = edge + (ky * MR + m) * kcr;
                for (size_t kx = 0; kx < KW; kx++) {
                    const size_t ix = ix0 + kx;
                    for (size_t c = 0; c < C; c++)
                        row[kx * C + c] = ix < w ? x[((b * h + iy) * w + ix) * C + c] : 0.0f;
                }
                am[0] = row;
            }
        }
        if (++ox == ow) {
            ox = 0;
            if (++oy == oh) oy = 0, b++;
        }
    }
    pix[0] = b, pix[1] = oy, pix[2] = ox;
    if (mr < MR)
        for (size_t t = 0; t < KH; t++)
            for (size_t m = mr; m < MR; m++) a[t * MR + m] = a[t * MR + mr - 1];
}

/* Taps a tile may list for fn_igemm_taps_ukernel (kh*kw, or kh with row taps); past it none is dropped. */
#define FN_CONV_DROP_TAPS_MAX 256

/* A tile's taps whose MR row pointers are all the padding row (a: ks groups of MR, as tile_rows
 * builds them): products of zeros. Where they are at least a quarter of the taps, the others' groups
 * are moved up in place and their indices listed in taps; returns how many are kept (ks: none
 * dropped, a unchanged). A dilated conv on a small map has most of its taps there (DeepLab's ASPP,
 * dilation 18 on a 32x32 map: 61% of them), which the kernel summed as zeros. */
static size_t drop_padding_taps(const float **a, size_t ks, size_t MR, const float *zeros,
                                unsigned short *taps) {
    size_t pad = 0;
    for (size_t t = 0; t < ks; t++) {
        size_t m = 0;
        while (m < MR && a[t * MR + m] == zeros) m++;
        pad += m == MR;
    }
    if (4 * pad < ks) return ks;
    size_t nt = 0;
    for (size_t t = 0; t < ks; t++) {
        const float **at = a + t * MR;
        size_t m = 0;
        while (m < MR && at[m] == zeros) m++;
        if (m == MR) continue;
        if (nt != t)
            for (size_t r = 0; r < MR; r++) a[nt * MR + r] = at[r];
        taps[nt++] = (unsigned short)t;
    }
    return nt;
}

fn_status fn_conv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                         const float *x, const float *packed, const float *res, const fn_act *act,
                         float *y, void *scratch, size_t scratch_bytes, int nthreads) {
    return fn_conv2d_nhwc_ldx(k, d, n, h, w, x, d->cin, packed, res, act, y, d->cout, scratch,
                              scratch_bytes, nthreads);
}

fn_status fn_conv2d_nhwc_ldx(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                             const float *x, size_t ldx, const float *packed, const float *res,
                             const fn_act *act, float *y, size_t ldy, void *scratch, size_t scratch_bytes,
                             int nthreads) {
    return fn_conv2d_nhwc_gated(k, d, n, h, w, x, ldx, packed, res, act, y, ldy, NULL, scratch,
                                scratch_bytes, nthreads);
}

/* Rows [m0, m0 + mr) of a 1x1 conv's tile, each multiplied by its sample's gate, into the row copies
 * (a: MR row pointers, repointed; rows mr..MR-1 repeat the last). */
static void gated_rows(size_t m0, size_t mr, size_t MR, size_t pixels, size_t cin, const float *gate,
                       float *copies, size_t stride, const float **a) {
    for (size_t m = 0; m < mr; m++) {
        const float *src = a[m], *g = gate + (m0 + m) / pixels * cin;
        float *dst = copies + m * stride;
        for (size_t i = 0; i < cin; i++) dst[i] = src[i] * g[i];
        a[m] = dst;
    }
    for (size_t m = mr; m < MR; m++) a[m] = a[mr - 1];
}

/* One input row into its copy: pre_act(x * scale + shift) with pre (scale, then shift), else
 * multiplied by its sample's gate g: one scale_shift_cols call or one product per element. */
static void xform_row(const fn_kernels *k, size_t cin, const float *src, const float *pre,
                      const fn_act *pre_act, const float *g, float *dst) {
    if (pre)
        k->scale_shift_cols(1, cin, src, pre, pre + cin, pre_act, dst);
    else
        for (size_t i = 0; i < cin; i++) dst[i] = src[i] * g[i];
}

/* The epilogue past the activation (fn_post) on rows [m0, m0 + mr) x channels [co0, co0 + nc) of y,
 * just written: the same tile the kernel stored, still in L1 (a dense chunk: in L2). */
static void post_tile(const fn_kernels *k, const fn_post *post, float *y, size_t ldy, size_t m0, size_t mr,
                      size_t co0, size_t nc, size_t cout) {
    k->post_cols(mr, nc, y + m0 * ldy + co0, ldy, post->scale ? post->scale + co0 : NULL,
                 post->shift ? post->shift + co0 : NULL, post->res ? post->res + m0 * cout + co0 : NULL, cout);
}

/* The small-group kernel's driver: tasks are tiles of gk->mr output pixels, each every channel. */
static void gconv_run(const fn_kernels *k, const fn_gconv_kernels *gk, const fn_conv2d_desc *d,
                      size_t n, size_t h, size_t w, size_t oh, size_t ow, const float *x, size_t ldx,
                      const float *packed, const float *res, const fn_act *act, const fn_post *post,
                      float *y, size_t ldy, void *scratch, int nthreads) {
    const size_t GMR = gk->mr, ks = d->kh * d->kw, c = d->cout, g = c / d->groups;
    const size_t M = n * oh * ow, mtiles = div_up(M, GMR);
    const float *zeros = packed + div_up(c, gk->vw) * gconv_block_floats(gk, d);
    const fn_actk_apply_fn actk = fn_epilogue_actk(k, act);
    const size_t chunk = div_up(mtiles, (size_t)nthreads * FN_CONV_CHUNKS_PER_THREAD);
    size_t next_chunk = 0;
#pragma omp parallel num_threads(nthreads)
    {
        const float **a = thread_slice(k, d, scratch, NULL);
        size_t next = (size_t)-1, pix[3] = {0, 0, 0};
        for (;;) {
            size_t ch;
#pragma omp atomic capture
            ch = next_chunk++;
            if (ch >= div_up(mtiles, chunk)) break;
            const size_t hi = (ch + 1) * chunk < mtiles ? (ch + 1) * chunk : mtiles;
            for (size_t mt = ch * chunk; mt < hi; mt++) {
                const size_t m0 = mt * GMR, mr = M - m0 < GMR ? M - m0 : GMR;
                if (m0 != next) pix[0] = m0 / (oh * ow), pix[1] = m0 % (oh * ow) / ow, pix[2] = m0 % ow;
                tile_rows(d, h, w, oh, ow, GMR, mr, 0, x, ldx, zeros, pix, a);
                next = m0 + mr;
                gk->run(mr, g, c, ks, a, packed, y + m0 * ldy, ldy, res ? res + m0 * c : NULL, c, act);
                if (actk) fn_epilogue_rows(actk, act, y + m0 * ldy, ldy, mr, c);
                if (post) post_tile(k, post, y, ldy, m0, mr, 0, c, c);
            }
        }
    }
}

/* The dense-rows driver (fn_conv2d_dense_fits): a segment is a run of output pixels whose input rows
 * are evenly spaced (all n*oh*ow pixels at stride 1, else one output row); tasks are (panel block,
 * segment, chunk of up to FN_CONV_DENSE_TILES*MR rows, panel in block), one kernel call each, the
 * same whatever the thread count. A block of panels fits in about half of L2 (panels_per_block), as
 * in the indirect driver: with many output channels, one block's weights serve every chunk. */
/* With a gate or a pre-activation (fn_conv2d_nhwc_pre), each thread applies it to a chunk's rows as
 * it first meets the chunk in a panel block, into its slice of scratch (thread_scratch_bytes: a
 * chunk's rows at row_copy_stride), and the chunk's panels read that copy from L1: the same products
 * (one scale_shift_cols call or one multiply per element) as the indirect driver's tile copies. Where
 * the input does not fit panel_major's budget, gated and pre-activated convs took the indirect
 * kernel, whose 12 row pointers spill on AVX-512 (see FN_CONV_DENSE_MAX_KC). Measured (AMD Zen 4,
 * AVX-512, 1 thread, bench/profile_models.py densenet121 --no-ort, two alternating runs of each
 * build): DenseNet-121's 1x1 convs 28.64-28.68 -> 27.92-28.06 ms (224->128 at 56x56 1.73 -> 1.68),
 * the predict 40.33-40.34 -> 39.46-39.75 ms. */
static void dense_run(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                      size_t oh, size_t ow, const float *x, size_t ldx, const float *packed,
                      const float *res, const fn_act *act, const fn_post *post, float *y, size_t ldy,
                      const float *pf, size_t pf_floats, const float *gate, const float *pre,
                      const fn_act *pre_act, void *scratch, int nthreads) {
    const size_t kc = d->cin, NR = k->gemm_nr, R = dense_chunk_rows(k, d);
    const size_t npanels = div_up(d->cout, NR), pfloats = panel_floats(k, d);
    const int flat = d->sh == 1 && d->sw == 1;
    const size_t M = n * oh * ow, seg = flat ? M : ow, nseg = M / seg, lda = d->sw * ldx;
    /* a last chunk of one row joins the one before (dense_nv then splits its last MR + 1 rows) */
    const size_t nchunks = div_up(seg, R) - (SPLIT_TAIL(k->gemm_mr) && seg > R && seg % R == 1);
    const size_t nrc = nseg * nchunks, ntasks = nrc * npanels;
    const size_t nb = panels_per_block(k, d);
    const fn_actk_apply_fn actk = fn_igemm_act_in_kernel(k, act) ? NULL : fn_epilogue_actk(k, act);
    const size_t chunk = div_up(ntasks, (size_t)nthreads * FN_CONV_CHUNKS_PER_THREAD);
    size_t next_chunk = 0;
    /* The first pass over a block (its first rows chunk, rc 0) reads each panel from L3 or memory (a
     * predict of a whole model evicts them from L2) at a line per k-step of every tile, more than
     * one core gets without the hardware prefetcher, which stops at each 4 KiB page; the other
     * chunks find the block in L2. With few chunks (a small image: 7x7, 14x14) that pass is a large
     * share of the conv, so there each of its calls but the block's last also asks the next panel
     * of the block into L2, spread over the call's whole tiles (the next call reads it). Measured
     * (Xeon, 1 thread, L2 and L3 evicted before each call, medians of 60, two alternating runs of
     * each build): 160->960 at 7x7 +hardswish 268-272 -> 235 us on AVX2, 227-230 -> 189-190 on
     * AVX-512; 160->640 at 7x7 196-200 -> 171-172 and 163-167 -> 142-146; convs of 5 chunks and
     * more ran as before. MobileNetV3-Large on AVX2 beside the peers (three such convs): 7.7 ->
     * 7.5-7.6 ms. Up to 16 chunks (14x14; 28x28 with <= 64 channels), the same way, three runs:
     * AVX2 112->672 at 14x14 +hardswish 428-445 -> 409-418 us, 152->368 344 -> 329, 152->152
     * 187-193 -> 177-180, 80->480 277-285 -> 266-270; AVX-512 112->672 330-352 -> 299-314, 80->480
     * 197-208 -> 206-212 (the one loss), 40->240 at 28x28 277-291 -> 240-283. 56x56 and up: too
     * many chunks for the first pass to matter. The block's last panel asks the next block's first
     * (which its first pass read cold): Zen 4, AVX-512, in-model minima, ResNeXt's 2048->1024 at 7x7
     * 2.52 -> 2.40 ms, the model 1.05 -> 1.02 of OpenVINO. */
    const size_t p_lines = k->igemm_dense_pf && nrc <= FN_CONV_DENSE_PF_CHUNKS ? pfloats / 16 : 0;
    /* the next record's weights (pf): the other tasks, in order, ask lines [t, t + 1) * x_share, a
     * line per k-step of their whole tiles (as the indirect driver's tiles: fn_conv2d_nhwc_pre) */
    const size_t x_lines = k->igemm_dense_pf && pf ? pf_floats / 16 : 0;
    const size_t x_share = kc * (R / k->gemm_mr);
    /* The next rows chunk's input (stride 1: one contiguous run of rows) asked into L2 by the chunk's
     * first panel, spread over its tiles' k-steps, where input and output together outgrow L2 and
     * neither prefetch above runs: the hardware prefetcher stops at every 4 KiB page, and a chunk of
     * 96 rows of 64 channels spans six. Measured (Xeon, AVX-512, 1 thread, medians of 7 alternating
     * rounds, bench/adhoc/conv1x1_stream.py): 64->64 at 112x112 167 -> 194 GFLOP/s, 32->32 148 -> 159,
     * 128->128 197 -> 208, 64->256 at 56x56 199 -> 207; 64->64 at 56x56 (1.6 MB, fits) 207 -> 204,
     * hence the bound. Asking the next chunk's output lines too (the stores' RFOs) was mixed: 16->96
     * at 112x112 128 -> 140, 64->256 at 56x56 207 -> 199. */
    const size_t in_bytes = M * d->cin * sizeof(float), out_bytes = M * d->cout * sizeof(float);
    const int next_rows = flat && !p_lines && !x_lines && ldx <= 2 * d->cin &&
                          in_bytes + out_bytes > 4 * (size_t)FN_CONV_L2_BUDGET && k->igemm_dense_pf;
    const int xform = gate || pre;
    const size_t st = row_copy_stride(d), pixels = oh * ow;
#pragma omp parallel num_threads(nthreads)
    {
        float *rows = NULL; /* the chunk's gated or pre-activated rows (xform) */
        size_t have = (size_t)-1; /* (panel block, chunk) in rows */
        if (xform) thread_slice(k, d, scratch, &rows);
        for (;;) {
            size_t c;
#pragma omp atomic capture
            c = next_chunk++;
            if (c >= div_up(ntasks, chunk)) break;
            const size_t hi = (c + 1) * chunk < ntasks ? (c + 1) * chunk : ntasks;
            for (size_t task = c * chunk; task < hi; task++) {
                const size_t pb = task / (nrc * nb), rb = task % (nrc * nb);
                const size_t bw = npanels - pb * nb < nb ? npanels - pb * nb : nb;
                const size_t pn = pb * nb + rb % bw, rc = rb / bw;
                const size_t sg = rc / nchunks, r0 = rc % nchunks * R;
                const size_t m0 = sg * seg + r0, mr = rc % nchunks + 1 == nchunks ? seg - r0 : R;
                /* segment sg: output row (b, oy) = sg / oh, sg % oh when strided */
                const float *xa = flat ? x + m0 * ldx
                                       : x + ((sg / oh * h + sg % oh * d->sh) * w) * ldx + r0 * lda;
                const float *a = xa;
                size_t la = lda;
                if (xform) {
                    if (pb * nrc + rc != have) {
                        have = pb * nrc + rc;
                        for (size_t r = 0; r < mr; r++) {
                            const float *src = xa + r * lda;
                            float *dst = rows + r * st;
                            xform_row(k, kc, src, pre, pre_act, pre ? NULL : gate + (m0 + r) / pixels * kc, dst);
                        }
                    }
                    a = rows, la = st;
                }
                const size_t co0 = pn * NR, nc = d->cout - co0 < NR ? d->cout - co0 : NR;
                /* with p_lines, the tasks of the first passes so far (blocks before pb are whole) */
                const size_t fp = p_lines ? pb * nb + (rc ? bw : rb % bw + 1) : 0;
                const size_t nxt = M - m0 - mr < R ? M - m0 - mr : R; /* rows of the next chunk */
                if (next_rows && nxt && rb % bw == 0)
                    k->igemm_dense_pf(mr, nc, kc, a, la, packed + pn * pfloats, y + m0 * ldy + co0, ldy,
                                      res ? res + m0 * d->cout + co0 : NULL, d->cout, act,
                                      x + (m0 + mr) * ldx, nxt * ldx / 16);
                else if (p_lines && rc == 0 && pn + 1 < npanels)
                    k->igemm_dense_pf(mr, nc, kc, a, la, packed + pn * pfloats, y + m0 * ldy + co0, ldy,
                                      res ? res + m0 * d->cout + co0 : NULL, d->cout, act,
                                      packed + (pn + 1) * pfloats, p_lines);
                else if (!(p_lines && rc == 0) && (task - fp) * x_share < x_lines)
                    k->igemm_dense_pf(mr, nc, kc, a, la, packed + pn * pfloats, y + m0 * ldy + co0, ldy,
                                      res ? res + m0 * d->cout + co0 : NULL, d->cout, act,
                                      pf + 16 * (task - fp) * x_share, x_share);
                else
                    k->igemm_dense(mr, nc, kc, a, la, packed + pn * pfloats, y + m0 * ldy + co0, ldy,
                                   res ? res + m0 * d->cout + co0 : NULL, d->cout, act);
                if (actk) fn_epilogue_rows(actk, act, y + m0 * ldy + co0, ldy, mr, nc);
                if (post) post_tile(k, post, y, ldy, m0, mr, co0, nc, d->cout);
            }
        }
    }
}

/* One row (a batch-1 linear, a 1x1 conv of a single pixel, no padding: the row is x itself): a
 * one-row tile of one panel (NV accumulators, one weight stream) read weights evicted to memory at
 * ~12 GB/s; k->igemm_panels runs FN_CONV_PANELS full panels side by side (4 weight streams). Tasks
 * of FN_CONV_PANELS panels, then the partial last panel by k->igemm: the same calls whatever the
 * thread count, and the same bits as the row in a batch. Measured (Xeon, 1 thread, old and new
 * build in one process alternating, weights evicted by a 256 MB pass before each call, medians of
 * 25): FASTNORM_ISA=avx2 linear 1280->1000 0.454 -> 0.373 ms, 960->1280 0.422 -> 0.360,
 * 1024->1000 0.357 -> 0.309, 2048->1000 0.653 -> 0.557; avx512 0.408 -> 0.388, 0.404 -> 0.359,
 * 0.386 -> 0.322, 0.642 -> 0.575. Weights in L3 (a 12 MB pass): ~0.17 ms both, before and after
 * (the stream rate of L3, ~31 GB/s). In the models (bench/profile_models.py, per-step minima over
 * 3 alternating runs of each build, busy host), avx2: EfficientNet-B0's classifier 0.372 -> 0.305
 * ms and its 32 SE convs of a 1x1 image 0.272 -> 0.239; MobileNetV3-Large's 960->1280 + 1280->1000
 * 0.548 -> 0.410, SE convs 0.370 -> 0.293; DenseNet-121's 1024->1000 0.333 -> 0.263; Inception-v3's
 * 2048->1000 0.508 -> 0.476. avx512: 0.296 -> 0.277 (SE 0.261 -> 0.233), 0.344 -> 0.342 (SE 0.254
 * -> 0.242), 0.298 -> 0.258. RegNetY-200MF and ConvNeXt-atto's 368/320->1000 heads within noise. */
#ifndef FN_CONV_PANELS
#define FN_CONV_PANELS 4
#endif
static int panels_fit(const fn_conv2d_desc *d, size_t m) {
    return m == 1 && d->kh == 1 && d->kw == 1 && d->groups == 1 && !d->pad_top && !d->pad_left &&
           !d->pad_bottom && !d->pad_right;
}

static void panels_run(const fn_kernels *k, const fn_conv2d_desc *d, const float *x, const float *packed,
                       const float *res, const fn_act *act, const fn_post *post, float *y, int nthreads) {
    const size_t NR = k->gemm_nr, MR = k->gemm_mr, kc = d->cin, cout = d->cout, G = FN_CONV_PANELS;
    const size_t pfloats = panel_floats(k, d), full = cout / NR, ngroups = div_up(full, G);
    const size_t ntasks = ngroups + (cout % NR != 0);
    const fn_actk_apply_fn actk = fn_igemm_act_in_kernel(k, act) ? NULL : fn_epilogue_actk(k, act);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < ntasks; t++) {
        size_t co0, nc;
        if (t < ngroups) {
            const size_t p0 = t * G, np = full - p0 < G ? full - p0 : G;
            co0 = p0 * NR, nc = np * NR;
            k->igemm_panels(np, kc, x, packed + p0 * pfloats, pfloats, y + co0, res ? res + co0 : NULL, act);
        } else {
            const float *rows[16]; /* MR <= 16 (igemm_simd.h) */
            for (size_t r = 0; r < MR; r++) rows[r] = x;
            co0 = full * NR, nc = cout - co0;
            k->igemm(1, nc, kc, 1, rows, packed + full * pfloats, y + co0, cout, res ? res + co0 : NULL,
                     cout, act);
        }
        if (actk) fn_epilogue_rows(actk, act, y + co0, cout, 1, nc);
        if (post) post_tile(k, post, y, cout, 0, 1, co0, nc, cout);
    }
}

fn_status fn_conv2d_nhwc_gated(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                               const float *x, size_t ldx, const float *packed, const float *res,
                               const fn_act *act, float *y, size_t ldy, const float *gate, void *scratch,
                               size_t scratch_bytes, int nthreads) {
    return fn_conv2d_nhwc_pre(k, d, n, h, w, x, ldx, packed, res, act, y, ldy, gate, NULL, NULL, NULL, NULL, 0, scratch,
                              scratch_bytes, nthreads);
}

/* Rows [0, mr) of a 1x1 conv's tile as pre_act(x * scale + shift) into the row copies, by the ISA's
 * scale/shift kernel (a: MR row pointers, repointed; rows mr..MR-1 repeat the last). */
static void pre_rows(const fn_kernels *k, size_t mr, size_t MR, size_t cin, const float *pre,
                     const fn_act *pre_act, float *copies, size_t stride, const float **a) {
    for (size_t m = 0; m < mr; m++) {
        k->scale_shift_cols(1, cin, a[m], pre, pre + cin, pre_act, copies + m * stride);
        a[m] = copies + m * stride;
    }
    for (size_t m = mr; m < MR; m++) a[m] = a[mr - 1];
}

fn_status fn_conv2d_nhwc_pre(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                             const float *x, size_t ldx, const float *packed, const float *res,
                             const fn_act *act, float *y, size_t ldy, const float *gate, const float *pre,
                             const fn_act *pre_act, const fn_post *post, const float *pf, size_t pf_floats,
                             void *scratch, size_t scratch_bytes, int nthreads) {
    if (ldx < d->cin || ldy < d->cout) return FN_ERR_ARG;
    if (d->groups == 0) return FN_ERR_ARG;
    k = conv_kernels(k, d);
    if (post && !post->scale != !post->shift) return FN_ERR_ARG;
    if (post && !post->scale && !post->res) post = NULL;
    if (post && post->res && post->res == y) return FN_ERR_ARG; /* the tile is stored before it is added */
    if (gate && !fn_conv2d_gate_fits(d)) return FN_ERR_ARG;
    if (pre && (gate || !pre_act || pre_act->kind > FN_ACT_CLAMP || !fn_conv2d_pre_fits(d))) return FN_ERR_ARG;
    if (d->groups == 0 || d->cin % d->groups || d->cout % d->groups) return FN_ERR_ARG;
    if (!d->kh || !d->kw || !d->sh || !d->sw || !d->dh || !d->dw) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    if (scratch_bytes < threads_scratch_bytes(k, d, nthreads)) return FN_ERR_NOMEM;
    const size_t oh = fn_conv_out_extent(h, d->kh, d->sh, d->dh, d->pad_top, d->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, d->kw, d->sw, d->dw, d->pad_left, d->pad_right);
    const size_t MR = k->gemm_mr, NR = k->gemm_nr;
    /* row taps read kw*cin contiguous floats: a channel window (ldx > cin) takes the tap path */
    const int rowtap = use_row_taps(d) && ldx == d->cin;
    int rowcopy = use_row_copy(k, d) && !gate && !pre;
    const size_t ks = d->kh * d->kw, kc = d->cin / d->groups, cout_g = d->cout / d->groups;
    const size_t ks_run = rowtap ? d->kh : ks, kc_run = rowtap ? d->kw * kc : kc;
    const size_t npanels = div_up(cout_g, NR), M = n * oh * ow, mtiles = div_up(M, MR);
    /* M % MR == 1: the last two m tiles are of MR - h and h + 1 rows (tile_span) */
    const size_t split = SPLIT_TAIL(MR) && M > MR && M % MR == 1 ? (MR - 1) / 2 : 0;
    const size_t pfloats = panel_floats(k, d);
    const float off = packed[0];
    if (!(off >= 1.0f && off <= (float)FN_CONV_PACK_HEADER)) return FN_ERR_ARG; /* not packed */
    packed += (size_t)off;
    if (gate && gate_folds(k, d, oh, ow) &&
        scratch_bytes >= fn_conv2d_gated_scratch_bytes(k, d, n, h, w, nthreads)) {
        const size_t base = fn_conv2d_scratch_bytes(k, d, n, h, w, nthreads);
        float *wf = (float *)((unsigned char *)scratch + (base + 63) / 64 * 64);
        for (size_t b = 0; b < n; b++) { /* per sample: its gate, its weights, the conv ungated */
            fold_gate(k, d, packed, gate + b * d->cin, wf);
            fn_post pb;
            if (post) pb = *post, pb.res = post->res ? post->res + b * oh * ow * d->cout : NULL;
            const fn_status st = fn_conv2d_nhwc_pre(
                k, d, 1, h, w, x + b * h * w * ldx, ldx, wf, res ? res + b * oh * ow * d->cout : NULL, act,
                y + b * oh * ow * ldy, ldy, NULL, NULL, NULL, post ? &pb : NULL, b + 1 == n ? pf : NULL,
                pf_floats, scratch, base, nthreads);
            if (st != FN_OK) return st;
        }
        return FN_OK;
    }
    const float *zeros = packed + d->groups * npanels * pfloats;
    const size_t ntasks = d->groups * mtiles * npanels;
    if (M == 0 || d->cout == 0) return FN_OK;
    /* A fork/join and, on a loaded host, waiting for a descheduled second thread cost more than a
     * small conv: give each thread at least ~256K multiply-adds. */
    {
        const size_t macs = M * d->cout * ks * kc, per = (size_t)1 << 18;
        if (macs / per < (size_t)nthreads) nthreads = macs / per > 1 ? (int)(macs / per) : 1;
    }
    const size_t wcb = gate || pre ? whole_copy_bytes(k, d, n, h, w) : 0;
    if (wcb && scratch_bytes >= threads_scratch_bytes(k, d, nthreads) + wcb) {
        const uintptr_t e = (uintptr_t)((unsigned char *)scratch + threads_scratch_bytes(k, d, nthreads));
        float *xs = (float *)(e + (64 - e % 64) % 64);
        const size_t st = row_copy_stride(d), cin = d->cin, px = n * h * w, hw = h * w;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t p = 0; p < px; p++) {
            const float *src = x + p * ldx;
            float *dst = xs + p * st;
            xform_row(k, cin, src, pre, pre_act, pre ? NULL : gate + p / hw * cin, dst);
        }
        x = xs, ldx = st, gate = NULL, pre = NULL, rowcopy = 0;
    }
    if (panels_fit(d, M) && !gate && !pre) {
        panels_run(k, d, x, packed, res, act, post, y, nthreads);
        return FN_OK;
    }
    const fn_gconv_kernels *gk = gconv_for(k, d);
    if (gk) {
        gconv_run(k, gk, d, n, h, w, oh, ow, x, ldx, packed, res, act, post, y, ldy, scratch, nthreads);
        return FN_OK;
    }

    const size_t ccb = !gate && !pre && aliased_rows(d, ldx) ? compact_copy_bytes(d, n, h, w) : 0;
    if (ccb && scratch_bytes >= threads_scratch_bytes(k, d, nthreads) + ccb) {
        const uintptr_t e = (uintptr_t)((unsigned char *)scratch + threads_scratch_bytes(k, d, nthreads));
        float *xs = (float *)(e + (64 - e % 64) % 64);
        const size_t st = row_copy_stride(d), cin = d->cin;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t p = 0; p < M; p++) { /* output pixel p = (b, oy, ox): its input pixel */
            const size_t ox = p % ow, oy = p / ow % oh, b = p / ow / oh;
            memcpy(xs + p * st, x + ((b * h + oy * d->sh) * w + ox * d->sw) * ldx, cin * sizeof(float));
        }
        fn_conv2d_desc flat = *d;
        flat.sh = flat.sw = 1;
        dense_run(k, &flat, n, oh, ow, oh, ow, xs, st, packed, res, act, post, y, ldy, pf, pf_floats, NULL, NULL,
                  NULL, scratch, nthreads);
        return FN_OK;
    }
    if (fn_conv2d_dense_fits(d) && !rowcopy) {
        dense_run(k, d, n, h, w, oh, ow, x, ldx, packed, res, act, post, y, ldy, pf, pf_floats, gate, pre,
                  pre_act, scratch, nthreads);
        return FN_OK;
    }

    /* Task order (g, panel block, m tile, panel in block): a block of panels whose weights fit in
     * about half of L2 stays there while every m tile streams past it, and a tile's row pointers
     * are reused across the panels of the block. A task is one output tile computed by one kernel
     * call, the same call whatever the thread count, so results do not depend on nthreads. */
    const int pm = panel_major(k, d, n, h, w, M, rowtap || gate || pre);
    if (pm) rowcopy = 0; /* rows 4 KiB apart read in place (panel_major) */
    const size_t nb = pm ? 1 : panels_per_block(k, d);
    /* Grouped convs off the small-group kernel (group widths the vector width does not hold: 16 and
     * 32 on AVX2, 32 on AVX-512) whose weights fit in L2: task order (m tile, group, panel). In the
     * (group, ..., m tile) order each group's pass streamed the whole input again for its few
     * channels of each pixel (RegNetX's width-16 groups: a 64-byte slice of every 256-byte pixel);
     * here a tile's pixels are read once for all groups, from L1 after the first. Measured (Xeon,
     * AVX2 via tools/cpuid_avx2.c, batch 16, 2 threads, in-model step minima, bench/profile_models.py):
     * RegNetX-400MF's width-16 3x3/2 convs 64ch at 28x28 3.17 -> 1.94 ms, 160ch at 14x14 1.57 -> 1.09,
     * 32ch at 56x56 4.51 -> 3.62, its 3x3 convs 27.7 -> 21.3 ms, the model 85.4 -> 73.4 (ORT 77.0);
     * 1 thread, batch 16, 512ch width 32 at 14x14 stride 1 8.8-9.4 -> 7.3-7.4 ms; width 16 at stride
     * 1 within 5%. Same tiles, same calls: the same bits. */
    const int gmt = d->groups > 1 && d->groups * npanels * pfloats * sizeof(float) <= 2 * FN_CONV_L2_BUDGET;
    /* mish, ... on each stored tile (silu, hardswish, gelu: in the kernel's registers) */
    const fn_actk_apply_fn actk = fn_igemm_act_in_kernel(k, act) ? NULL : fn_epilogue_actk(k, act);

    /* Threads take contiguous chunks of tasks in order from a shared counter (a chunk is walked
     * with counters: the divisions that decode a task index cost more than a small tile's setup).
     * Chunks rather than a fixed split per thread so that a thread slowed down for a while (by
     * another process on its core) hands work to the other; this evens out slow stretches but
     * cannot help when a thread is descheduled outright, as the region's end waits for it. Which
     * thread runs a task never changes its result. */
    const size_t chunk = div_up(ntasks, (size_t)nthreads * FN_CONV_CHUNKS_PER_THREAD);
    size_t next_chunk = 0;

    /* Panel-major order's prefetch (panel_major): the first m tile over a panel would read it from
     * DRAM or L3 (a predict of a whole model evicts it from L2) at 2 lines per 12-cycle k-step on
     * AVX-512 (1 per 6-cycle step on AVX2), more than one core gets, while the other tiles find it
     * in L1/L2 and leave memory idle. So every full tile over panel j also prefetches a share of
     * panel j + 1 into L2: tile mt the pf_share lines from mt * pf_share, at pf_rate / 256 lines per
     * k-step. Spread over all the tiles rather than asked by the last ones at one line a step (as
     * first built), the requests stay under what memory delivers. Measured (Xeon, Sapphire Rapids
     * class, 1 thread, L2 and L3 evicted before each call: weights from DRAM; medians of 30, two or
     * three alternating runs; bench/adhoc/conv1x1_cold.py ISA): 1x1 convs at 7x7 / 8x8 (EfficientNet-B0's,
     * MobileNetV3's, RegNetY's, Inception's) summed 2.92-2.99 -> 2.76-2.83 ms on AVX-512 (2048->448
     * at 8x8 0.97 -> 0.87 ms), and on AVX2, which had no prefetch, 4.25-4.41 -> 4.03-4.20 ms
     * (1152->320 at 7x7 0.47-0.52 -> 0.43 ms); the last-tiles form gave AVX2 4.11-4.21. */
    const fn_igemm_pf_ukernel pfk = nb == 1 && !gmt && panel_major(k, d, n, h, w, M, 0) ? k->igemm_pf : NULL;
    const size_t pf_tiles = M / MR - (split > 0), pf_steps = ks_run * kc_run, pf_lines = pfloats / 16;
    /* few tiles over a long panel: one line a step, and the tiles past the panel's end ask none */
    /* m tiles a panel whose full tiles carry the next panel's lines: all of them, or with a next
     * record to prefetch on AVX2 (xpm below) as few as ask a line per FN_CONV_PF_STEPS k-steps */
#if defined(__x86_64__)
    const int xpm = pfk && pf && pf_steps && k->isa == FN_ISA_AVX2;
#else
    const int xpm = 0; /* measured on AVX2 only; NEON keeps the AVX-512 order */
#endif
    size_t pf_carriers = pf_tiles;
    if (xpm) {
        const size_t c = div_up(pf_lines * FN_CONV_PF_STEPS, pf_steps);
        if (c < pf_carriers) pf_carriers = c > 1 ? c : 1;
    }
    size_t pf_share = pf_carriers ? div_up(pf_lines, pf_carriers) : 0;
    if (pf_share > pf_steps) pf_share = pf_steps;
    const size_t pf_rate = pf_steps ? div_up(pf_share * 256, pf_steps) : 0;
    /* The next record's weights (pf: fn_plan_link_prefetch), a line per k-step (each request a new
     * line: the prefetching kernel costs its tile 6-7% with the weights in cache, so as few tiles as
     * carry them) in the full tiles past the first m tile (which reads this conv's weights from L3 or
     * memory: more requests slow it) that do not prefetch a panel of this conv: full tile o (in (g,
     * m tile - 1, panel) order) lines [o, o + 1) * x_share. */
    const size_t full_m = pf_tiles > 1 ? pf_tiles - 1 : 0, full_n = cout_g / NR;
    const size_t x_lines = k->igemm_pf && pf && full_m ? pf_floats / 16 : 0;
    const size_t x_share = pf_steps, x_rate = 256;
    /* xpm: in panel-major order every full tile but the first up to pf_carriers prefetches a panel,
     * so the (g, m tile - 1, panel) order above handed most of x_lines to tiles that never asked
     * them (960->160 at 7x7: the last panel's tiles, 10% of the next conv's weights). There the full
     * tiles mt in [x0, pf_tiles) of every panel carry them, in (g, panel, m tile) order. Measured
     * (Xeon, AVX2 via tools/cpuid_avx2.c, 1 thread, in-model step minima, two runs each,
     * bench/profile_models.py): MobileNetV3-Large's 1x1 convs 3.66-3.71 -> 3.40-3.48 ms (160->960
     * at 7x7 +hardswish 0.18-0.20 -> 0.16-0.17, the 960->160 before them 0.168 -> 0.151); a line per
     * 8 k-steps 3.57; Inception-v3 within noise. AVX-512 keeps the old order (EfficientNet-B0 within
     * noise either way, not a measured win there). */
    const size_t x0 = pf_carriers > 1 ? pf_carriers : 1, xn = pf_tiles > x0 ? pf_tiles - x0 : 0;
    /* tiles whose taps are partly all padding run only the others (drop_padding_taps) */
    const int drop = !gate && !pre && !rowcopy && ks_run > 1 && ks_run <= FN_CONV_DROP_TAPS_MAX &&
                     (d->pad_top || d->pad_bottom || d->pad_left || d->pad_right);

#pragma omp parallel num_threads(nthreads)
    {
        /* a: (ks, MR) row pointers of the tile this thread works on; with row taps, (kh, MR) and
         * then the edge rows. Per-thread slices as fn_conv2d_scratch_bytes lays them out. */
        float *edge = NULL; /* row taps' edge rows, or the row copies */
        const float **a = thread_slice(k, d, scratch, rowtap || rowcopy || gate || pre ? &edge : NULL);
        size_t built = (size_t)-1, next = (size_t)-1; /* tile in a; first pixel after it */
        size_t pix[3] = {0, 0, 0};
        unsigned short taps[FN_CONV_DROP_TAPS_MAX];
        size_t nt = ks_run; /* the tile's taps: fewer where drop_padding_taps dropped some */
        for (;;) {
            size_t c;
#pragma omp atomic capture
            c = next_chunk++;
            if (c >= div_up(ntasks, chunk)) break;
            const size_t lo = c * chunk, hi = lo + chunk < ntasks ? lo + chunk : ntasks;
            /* decode lo: block pb holds panels [pb*nb, pb*nb + bw), bw < nb for the last one */
            const size_t r = lo % (mtiles * npanels);
            size_t g = lo / (mtiles * npanels), pb = r / (mtiles * nb), rb = r % (mtiles * nb);
            size_t bw = npanels - pb * nb < nb ? npanels - pb * nb : nb;
            size_t mt = rb / bw, j = rb % bw;
            if (gmt) /* (m tile, group, panel) */
                mt = lo / (d->groups * npanels), g = lo / npanels % d->groups, j = lo % npanels, pb = 0,
                bw = npanels;
            for (size_t task = lo; task < hi; task++) {
                size_t m0 = mt * MR, mr = M - m0 < MR ? M - m0 : MR;
                if (split && mt + 2 >= mtiles) /* the last two tiles: MR - split, split + 1 rows */
                    m0 -= mt + 1 == mtiles ? split : 0, mr = mt + 1 == mtiles ? split + 1 : MR - split;
                if (g * mtiles + mt != built) {
                    built = g * mtiles + mt;
                    if (m0 != next) { /* not the tile after the last one: locate pixel m0 */
                        pix[0] = m0 / (oh * ow);
                        pix[1] = m0 % (oh * ow) / ow;
                        pix[2] = m0 % ow;
                    }
                    if (rowtap)
                        tile_rows_rowtap(d, h, w, oh, ow, MR, mr, x, zeros, pix, a, edge);
                    else
                        tile_rows(d, h, w, oh, ow, MR, mr, g, x, ldx, zeros, pix, a);
                    if (gate)
                        gated_rows(m0, mr, MR, oh * ow, d->cin, gate, edge, row_copy_stride(d), a);
                    if (pre) pre_rows(k, mr, MR, d->cin, pre, pre_act, edge, row_copy_stride(d), a);
                    if (rowcopy) {
                        const size_t st = row_copy_stride(d);
                        for (size_t m = 0; m < mr; m++) {
                            memcpy(edge + m * st, a[m], kc * sizeof(float));
                            a[m] = edge + m * st;
                        }
                        for (size_t m = mr; m < MR; m++) a[m] = a[mr - 1];
                    }
                    next = m0 + mr;
                    nt = drop ? drop_padding_taps(a, ks_run, MR, zeros, taps) : ks_run;
                }
                const size_t pn = pb * nb + j, co0 = g * cout_g + pn * NR;
                const size_t nc = cout_g - pn * NR < NR ? cout_g - pn * NR : NR;
                const float *wp = packed + (g * npanels + pn) * pfloats;
                float *yt = y + m0 * ldy + co0;
                const float *rt = res ? res + m0 * d->cout + co0 : NULL;
                /* full tile mt prefetches lines [mt, mt + 1) * pf_share of the next panel */
                if (nt < ks_run)
                    k->igemm_taps(mr, nc, kc_run, nt, a, taps, wp, yt, ldy, rt, d->cout, act);
                else if (pfk && mr == MR && nc == NR && mt * pf_share < pf_lines && pn + 1 < npanels)
                    pfk(mr, nc, kc_run, ks_run, a, wp, yt, ldy, rt, d->cout, act,
                        wp + pfloats + 16 * mt * pf_share, pf_rate);
                else if (xpm && x_lines && mt >= x0 && mr == MR && nc == NR &&
                         ((g * npanels + pn) * xn + mt - x0) * x_share < x_lines)
                    k->igemm_pf(mr, nc, kc_run, ks_run, a, wp, yt, ldy, rt, d->cout, act,
                                pf + 16 * ((g * npanels + pn) * xn + mt - x0) * x_share, x_rate);
                else if (!xpm && x_lines && mt && mr == MR && nc == NR &&
                         ((g * full_m + mt - 1) * full_n + pn) * x_share < x_lines)
                    k->igemm_pf(mr, nc, kc_run, ks_run, a, wp, yt, ldy, rt, d->cout, act,
                                pf + 16 * ((g * full_m + mt - 1) * full_n + pn) * x_share, x_rate);
                else
                    k->igemm(mr, nc, kc_run, ks_run, a, wp, yt, ldy, rt, d->cout, act);
                if (actk) fn_epilogue_rows(actk, act, y + m0 * ldy + co0, ldy, mr, nc);
                if (post) post_tile(k, post, y, ldy, m0, mr, co0, nc, d->cout);
                if (gmt) {
                    if (++j == npanels) {
                        j = 0;
                        if (++g == d->groups) g = 0, mt++;
                    }
                } else if (++j == bw) {
                    j = 0;
                    if (++mt == mtiles) {
                        mt = 0;
                        if (++pb * nb >= npanels) pb = 0, g++;
                        bw = npanels - pb * nb < nb ? npanels - pb * nb : nb;
                    }
                }
            }
        }
    }
    return FN_OK;
}
