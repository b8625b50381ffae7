/* conv2d.c: conv2d / linear driver on NHWC activations: weight packing, indirection, threading. */
#include "../kernels.h"

#include <string.h>

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

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* Packed layout, per group g and NR-wide panel p of that group's output channels:
 *   [NR bias][ks taps][kc input channels][NR outputs]     (ks = kh*kw, kc = cin/groups)
 * followed, after the last panel, by kc zeros that padding taps point at. */
static size_t panel_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t ks = d->kh * d->kw, kc = d->cin / d->groups;
    return k->gemm_nr * (1 + ks * kc);
}

size_t fn_conv2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d) {
    const size_t cout_g = d->cout / d->groups, kc = d->cin / d->groups;
    return d->groups * div_up(cout_g, k->gemm_nr) * panel_floats(k, d) + (kc ? kc : 1);
}

void fn_conv2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w, const float *bias,
                    float *packed) {
    const size_t NR = k->gemm_nr, ks = d->kh * d->kw, kc = d->cin / d->groups;
    const size_t cout_g = d->cout / d->groups, npanels = div_up(cout_g, NR);
    float *p = packed;
    for (size_t g = 0; g < d->groups; g++) {
        for (size_t pn = 0; pn < npanels; pn++) {
            for (size_t j = 0; j < NR; j++) {
                const size_t co = pn * NR + j;
                p[j] = (co < cout_g && bias) ? bias[g * cout_g + co] : 0.0f;
            }
            p += NR;
            for (size_t t = 0; t < ks; t++) {
                for (size_t i = 0; i < kc; i++) {
                    for (size_t j = 0; j < NR; j++) {
                        const size_t co = pn * NR + j;
                        /* w: (cout, kc, kh, kw); tap t = ky*kw + kx */
                        p[j] = co < cout_g ? w[((g * cout_g + co) * kc + i) * ks + t] : 0.0f;
                    }
                    p += NR;
                }
            }
        }
    }
    memset(p, 0, (kc ? kc : 1) * sizeof(float));
}

size_t fn_conv2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                               size_t w, int nthreads) {
    (void)n; (void)h; (void)w;
    const size_t ks = d->kh * d->kw;
    return (size_t)(nthreads > 0 ? nthreads : 1) * ks * k->gemm_mr * sizeof(const float *);
}

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#else
#define THREAD_ID() 0
#endif

fn_status fn_conv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                         const float *x, const float *packed, const float *res, const fn_act *act,
                         float *y, void *scratch, size_t scratch_bytes, int nthreads) {
    if (d->groups == 0 || d->cin % d->groups || d->cout % d->groups) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    if (scratch_bytes < fn_conv2d_scratch_bytes(k, d, n, h, w, nthreads)) return FN_ERR_NOMEM;
    const size_t oh = fn_conv_out_extent(h, d->kh, d->sh, d->dh, d->pad_top, d->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, d->kw, d->sw, d->dw, d->pad_left, d->pad_right);
    const size_t MR = k->gemm_mr, NR = k->gemm_nr;
    const size_t ks = d->kh * d->kw, kc = d->cin / d->groups, cout_g = d->cout / d->groups;
    const size_t npanels = div_up(cout_g, NR), M = n * oh * ow, mtiles = div_up(M, MR);
    const size_t pfloats = panel_floats(k, d);
    const float *zeros = packed + d->groups * npanels * pfloats;
    const size_t ntasks = d->groups * mtiles * npanels;
    if (M == 0 || d->cout == 0) return FN_OK;

    /* Task order (g, panel block, m tile, panel): a block of panels whose weights fit in about half
     * of L2 stays there while every m tile streams past it, and a tile's indirection rows are reused
     * across the panels of the block. Each output tile is one task, computed by the same kernel call
     * whatever the thread count, so results do not depend on nthreads. */
    const size_t pbytes = pfloats * sizeof(float);
    size_t nb = FN_CONV_L2_BUDGET / (pbytes ? pbytes : 1);
    nb = nb < 1 ? 1 : nb > npanels ? npanels : nb;
    const size_t per_group = mtiles * npanels;

#pragma omp parallel num_threads(nthreads)
    {
        /* a: (ks, MR) row pointers of the tile this thread works on */
        const float **a = (const float **)scratch + (size_t)THREAD_ID() * ks * MR;
        size_t cur = (size_t)-1;
#pragma omp for schedule(static)
        for (size_t task = 0; task < ntasks; task++) {
            const size_t g = task / per_group, r = task % per_group;
            /* panel block pb holds panels [pb*nb, pb*nb + bw); the last one may be narrower */
            const size_t pb = r / (mtiles * nb), rb = r % (mtiles * nb);
            const size_t bw = npanels - pb * nb < nb ? npanels - pb * nb : nb;
            const size_t mt = rb / bw, pn = pb * nb + rb % bw; /* rb = mt * bw + panel in block */
            const size_t m0 = mt * MR, mr = M - m0 < MR ? M - m0 : MR;
            const size_t gm = g * mtiles + mt;
            if (gm != cur) {
                cur = gm;
                /* walk the tile's pixels in order: one division for the first, then increments (a
                 * 64-bit divide per pixel cost as much as the FMAs of a small-K tile) */
                size_t b = m0 / (oh * ow), rem = m0 % (oh * ow), oy = rem / ow, ox = rem % ow;
                for (size_t m = 0; m < mr; m++) {
                    for (size_t ky = 0; ky < d->kh; ky++) {
                        /* unsigned wrap makes out-of-range rows fail the < h test */
                        const size_t iy = oy * d->sh + ky * d->dh - d->pad_top;
                        for (size_t kx = 0; kx < d->kw; kx++) {
                            const size_t ix = ox * d->sw + kx * d->dw - d->pad_left;
                            a[(ky * d->kw + kx) * MR + m] =
                                (iy < h && ix < w) ? x + ((b * h + iy) * w + ix) * d->cin + g * kc
                                                   : zeros;
                        }
                    }
                    if (++ox == ow) {
                        ox = 0;
                        if (++oy == oh) oy = 0, b++;
                    }
                }
                /* rows mr..MR-1 of a partial tile repeat the last row (the kernel may read them) */
                for (size_t t = 0; t < ks; t++)
                    for (size_t m = mr; m < MR; m++) a[t * MR + m] = a[t * MR + mr - 1];
            }
            const size_t co0 = g * cout_g + pn * NR;
            const size_t nc = cout_g - pn * NR < NR ? cout_g - pn * NR : NR;
            k->igemm(mr, nc, kc, ks, a, packed + (g * npanels + pn) * pfloats, y + m0 * d->cout + co0,
                     d->cout, res ? res + m0 * d->cout + co0 : NULL, d->cout, act);
        }
    }
    return FN_OK;
}
