/* glue_drivers.c: threaded drivers of the glue family (binary ops, cat, pad, interpolate, shuffles). */
#include "glue_kernels.h"

#include <math.h>
#include <string.h>

/* Work is cut into tasks of about TASK_FLOATS output floats (64 KiB: in L2 with room); below
 * PAR_MIN_FLOATS (1 MiB of output) an op runs on the calling thread: these ops only move memory, at
 * ~10 GB/s or more on one core, so a single thread finishes such an op in tens of microseconds,
 * about a fork/join on an idle host and far less than waiting for a descheduled second thread on a
 * loaded one (measured: a 1x256x14x14 add took 9 us on one thread, milliseconds on two under load).
 * Every output element is computed by the same kernel arithmetic whatever task holds it, so the
 * result never depends on the thread count. Threads take tasks one at a time from a shared counter
 * (schedule(dynamic, 1); ~100 tasks of 64 KiB for an 8x64x56x56 tensor, so the counter costs
 * nothing) rather than a fixed half each: on a loaded host a thread that loses its core for a while
 * leaves its share to the other instead of holding up the region's end by its whole half. */
#define TASK_FLOATS 16384
#define PAR_MIN_FLOATS 262144

static int threads_for(size_t total, int nthreads) {
    return (nthreads < 1 || total < PAR_MIN_FLOATS) ? 1 : nthreads;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* ------------------------------------------------------------------------------------ binary ops */

fn_status fn_binary(const fn_kernels *k, int op, float alpha, size_t ndim, const size_t *shape,
                    const ptrdiff_t *sa_in, const ptrdiff_t *sb_in, const float *a, const float *b,
                    const fn_act *act, float *y, int nthreads) {
    if (ndim == 0 || ndim > FN_BINARY_MAX_DIMS || op < 0 || op >= FN_BIN_COUNT_)
        return FN_ERR_ARG;
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    size_t total = 1;
    for (size_t d = 0; d < ndim; d++) total *= shape[d];
    if (total == 0) return FN_OK;
    const ptrdiff_t *sa = sa_in, *sb = sb_in;
    /* the kernels stream their first operand: if only b is contiguous along the last dim, swap */
    if (sa[ndim - 1] == 0 && sb[ndim - 1] == 1) {
        const float *t = a;
        a = b, b = t, sa = sb_in, sb = sa_in;
        op = fn_bin_swapped(op);
    }
    const size_t n = shape[ndim - 1], rows = ndim >= 2 ? shape[ndim - 2] : 1;
    const size_t odims = ndim >= 2 ? ndim - 2 : 0;
    size_t outer = 1;
    for (size_t d = 0; d < odims; d++) outer *= shape[d];
    const ptrdiff_t ai = sa[ndim - 1], bi = sb[ndim - 1];
    const ptrdiff_t ar = ndim >= 2 ? sa[ndim - 2] : 0, br = ndim >= 2 ? sb[ndim - 2] : 0;
    /* 0: both contiguous rows; 1: a contiguous, b a scalar per row; 2: any strides (element-wise) */
    const int mode = (ai == 1 && bi == 1) ? 0 : (ai == 1 && bi == 0) ? 1 : 2;
    const int block_rows = mode == 1 && ar == (ptrdiff_t)n && br == 1; /* one binary_rows call per block */
    const size_t cn = n > TASK_FLOATS ? TASK_FLOATS : n, nch = ceil_div(n, cn);
    const size_t rb = n >= TASK_FLOATS ? 1 : (TASK_FLOATS / n > 0 ? TASK_FLOATS / n : 1);
    const size_t nrb = ceil_div(rows, rb), ntasks = outer * nrb * nch;
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < ntasks; t++) {
        const size_t ch = t % nch, blk = (t / nch) % nrb, o = t / (nch * nrb);
        ptrdiff_t oa = 0, ob = 0;
        for (size_t d = odims, rem = o; d-- > 0;) {
            const size_t i = rem % shape[d];
            rem /= shape[d];
            oa += (ptrdiff_t)i * sa[d], ob += (ptrdiff_t)i * sb[d];
        }
        const size_t r0 = blk * rb, r1 = min_sz(rows, r0 + rb), c0 = ch * cn, m = min_sz(n - c0, cn);
        float *yo = y + (o * rows) * n;
        if (block_rows) {
            g->binary_rows(op, r1 - r0, m, a + oa + (ptrdiff_t)r0 * ar + (ptrdiff_t)c0, b + ob + (ptrdiff_t)r0,
                           alpha, act, yo + r0 * n + c0);
            continue;
        }
        for (size_t r = r0; r < r1; r++) {
            const float *ap = a + oa + (ptrdiff_t)r * ar, *bp = b + ob + (ptrdiff_t)r * br;
            float *yp = yo + r * n + c0;
            if (mode == 0)
                g->binary(op, m, ap + c0, bp + c0, alpha, act, yp);
            else if (mode == 1)
                g->binary_rows(op, 1, m, ap + c0, bp, alpha, act, yp);
            else
                for (size_t i = 0; i < m; i++)
                    g->binary_rows(op, 1, 1, ap + (ptrdiff_t)(c0 + i) * ai, bp + (ptrdiff_t)(c0 + i) * bi, alpha,
                                   act, yp + i);
        }
    }
    return FN_OK;
}

fn_status fn_binary_same(const fn_kernels *k, int op, float alpha, size_t n, const float *a,
                         const float *b, const fn_act *act, float *y, int nthreads) {
    const size_t shape[1] = {n};
    const ptrdiff_t s[1] = {1};
    return fn_binary(k, op, alpha, 1, shape, s, s, a, b, act, y, nthreads);
}

fn_status fn_binary_channel_nchw(const fn_kernels *k, int op, float alpha, size_t n, size_t c,
                                 size_t hw, const float *x, const float *s, int s_per_sample,
                                 const fn_act *act, float *y, int nthreads) {
    const size_t shape[3] = {n, c, hw};
    const ptrdiff_t sx[3] = {(ptrdiff_t)(c * hw), (ptrdiff_t)hw, 1};
    const ptrdiff_t ss[3] = {s_per_sample ? (ptrdiff_t)c : 0, 1, 0};
    return fn_binary(k, op, alpha, 3, shape, sx, ss, x, s, act, y, nthreads);
}

fn_status fn_binary_channel_nhwc(const fn_kernels *k, int op, float alpha, size_t n, size_t hw,
                                 size_t c, const float *x, const float *s, int s_per_sample,
                                 const fn_act *act, float *y, int nthreads) {
    const size_t shape[3] = {n, hw, c};
    const ptrdiff_t sx[3] = {(ptrdiff_t)(c * hw), (ptrdiff_t)c, 1};
    const ptrdiff_t ss[3] = {s_per_sample ? (ptrdiff_t)c : 0, 0, 1};
    return fn_binary(k, op, alpha, 3, shape, sx, ss, x, s, act, y, nthreads);
}

/* ------------------------------------------------------------------------------------------- cat */

void fn_cat(const fn_kernels *k, size_t outer, size_t ninputs, const float *const *xs,
            const size_t *inner, float *y, int nthreads) {
    fn_cat_ld(k, outer, ninputs, xs, inner, NULL, y, nthreads);
}

void fn_cat_ld(const fn_kernels *k, size_t outer, size_t ninputs, const float *const *xs,
               const size_t *inner, const size_t *ld, float *y, int nthreads) {
    if (ld == NULL) ld = inner;
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    size_t row = 0, nch = 0;
    for (size_t i = 0; i < ninputs; i++) row += inner[i], nch += ceil_div(inner[i], TASK_FLOATS);
    if (outer * row == 0) return;
    nthreads = threads_for(outer * row, nthreads);
    if (row <= TASK_FLOATS || outer >= 4 * (size_t)nthreads) {
        /* blocks of whole output rows (NHWC channel concat: interleaved pixel rows) */
        const size_t rb = row >= TASK_FLOATS ? 1 : TASK_FLOATS / row, nb = ceil_div(outer, rb);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (size_t t = 0; t < nb; t++) {
            for (size_t o = t * rb; o < min_sz(outer, (t + 1) * rb); o++) {
                float *yo = y + o * row;
                for (size_t i = 0; i < ninputs; i++) {
                    if (xs[i] != NULL) g->copy(inner[i], xs[i] + o * ld[i], yo);
                    yo += inner[i];
                }
            }
        }
        return;
    }
    /* few long rows (NCHW channel concat of a small batch): chunks of each input's block */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < outer * nch; t++) {
        const size_t o = t / nch;
        size_t c = t % nch, i = 0, off = 0;
        while (c >= ceil_div(inner[i], TASK_FLOATS)) c -= ceil_div(inner[i], TASK_FLOATS), off += inner[i], i++;
        const size_t c0 = c * TASK_FLOATS, m = min_sz(inner[i] - c0, TASK_FLOATS);
        if (xs[i] != NULL) g->copy(m, xs[i] + o * ld[i] + c0, y + o * row + off + c0);
    }
}

/* ------------------------------------------------------------------------------------------- pad */

static ptrdiff_t pad_src(int mode, ptrdiff_t i, ptrdiff_t n) {
    if (mode == FN_PAD_REFLECT) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
        return i;
    }
    if (mode == FN_PAD_REPLICATE) return i < 0 ? 0 : i >= n ? n - 1 : i;
    return (i < 0 || i >= n) ? -1 : i;
}

fn_status fn_pad2d(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w, size_t e,
                   ptrdiff_t top, ptrdiff_t bottom, ptrdiff_t left, ptrdiff_t right, float value,
                   const float *x, float *y, int nthreads) {
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    const ptrdiff_t H = (ptrdiff_t)h, W = (ptrdiff_t)w;
    const ptrdiff_t oh = H + top + bottom, ow = W + left + right;
    if (oh < 0 || ow < 0 || mode < FN_PAD_CONSTANT || mode > FN_PAD_REPLICATE) return FN_ERR_ARG;
    const size_t rowf = (size_t)ow * e, total = planes * (size_t)oh * rowf;
    if (total == 0) return FN_OK;
    if (mode == FN_PAD_REFLECT && (top >= H || bottom >= H || left >= W || right >= W || -top >= H ||
                                   -bottom >= H || -left >= W || -right >= W))
        return FN_ERR_ARG;
    if (mode == FN_PAD_REPLICATE && (h == 0 || w == 0)) return FN_ERR_ARG;
    /* the middle run [m0, m1) of output columns reads input columns m0-left.. in order */
    const ptrdiff_t m0 = left < 0 ? 0 : left > ow ? ow : left;
    ptrdiff_t m1 = left + W < 0 ? 0 : left + W > ow ? ow : left + W;
    if (m1 < m0) m1 = m0;
    const size_t rows = planes * (size_t)oh, rb = rowf >= TASK_FLOATS ? 1 : TASK_FLOATS / rowf;
    const size_t nb = ceil_div(rows, rb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        for (size_t r = t * rb; r < min_sz(rows, (t + 1) * rb); r++) {
            const size_t p = r / (size_t)oh;
            const ptrdiff_t oy = (ptrdiff_t)(r % (size_t)oh), iy = pad_src(mode, oy - top, H);
            float *dst = y + r * rowf;
            if (iy < 0) {
                g->fill(rowf, value, dst);
                continue;
            }
            const float *src = x + (p * h + (size_t)iy) * w * e;
            if (m1 > m0) g->copy((size_t)(m1 - m0) * e, src + (m0 - left) * (ptrdiff_t)e, dst + m0 * (ptrdiff_t)e);
            if (mode == FN_PAD_CONSTANT) {
                g->fill((size_t)m0 * e, value, dst);
                g->fill((size_t)(ow - m1) * e, value, dst + m1 * (ptrdiff_t)e);
                continue;
            }
            for (ptrdiff_t ox = 0; ox < ow; ox = ox + 1 == m0 ? m1 : ox + 1) {
                if (ox >= m0 && ox < m1) continue; /* m0 == 0: the loop starts inside the run */
                const ptrdiff_t ix = pad_src(mode, ox - left, W);
                if (e == 1)
                    dst[ox] = src[ix];
                else
                    g->copy(e, src + ix * (ptrdiff_t)e, dst + ox * (ptrdiff_t)e);
            }
        }
    }
    return FN_OK;
}

/* ------------------------------------------------------------------------------------ interpolate */

void fn_interp_axis(int mode, size_t in, size_t out, double scale, int align_corners, int32_t *i0,
                    int32_t *i1, float *l0, float *l1) {
    const int64_t last = (int64_t)in - 1;
    if (mode == FN_INTERP_LINEAR) {
        const int asym = align_corners == 2;
        float ratio;
        if (align_corners == 1)
            ratio = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
        else
            ratio = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
        for (size_t o = 0; o < out; o++) {
            if (out == in && !asym) { /* torch: same size is a copy whatever the scale */
                i0[o] = i1[o] = (int32_t)o, l0[o] = 1.0f, l1[o] = 0.0f;
                continue;
            }
            float src = align_corners ? ratio * (float)o : ratio * ((float)o + 0.5f) - 0.5f;
            if (!align_corners && src < 0) src = 0;
            int64_t idx = (int64_t)floorf(src);
            if (idx > last) idx = last;
            float lam = src - (float)idx;
            lam = lam < 0 ? 0 : lam > 1 ? 1 : lam;
            i0[o] = (int32_t)idx;
            i1[o] = (int32_t)(idx + (idx < last ? 1 : 0));
            l1[o] = lam;
            l0[o] = 1.0f - lam;
        }
        return;
    }
    const float s = scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
    for (size_t o = 0; o < out; o++) {
        int64_t idx;
        if (mode == FN_INTERP_NEAREST_EXACT)
            idx = (int64_t)floorf(((float)o + 0.5f) * s);
        else if (out == in)
            idx = (int64_t)o;
        else if (out == 2 * in)
            idx = (int64_t)(o >> 1);
        else
            idx = (int64_t)floorf((float)o * s);
        i0[o] = (int32_t)(idx > last ? last : idx);
    }
}

static int is_dup2(size_t w, size_t ow, const int32_t *ix) {
    if (ow != 2 * w) return 0;
    for (size_t o = 0; o < ow; o++)
        if (ix[o] != (int32_t)(o >> 1)) return 0;
    return 1;
}

fn_status fn_interp2d_nchw(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w,
                           size_t oh, size_t ow, const fn_interp_tables *tb, const float *x,
                           float *y, int nthreads) {
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    const size_t total = planes * oh * ow;
    if (total == 0) return FN_OK;
    if (h == 0 || w == 0) return FN_ERR_ARG;
    const int linear = mode == FN_INTERP_LINEAR, dup = !linear && is_dup2(w, ow, tb->ix0);
    const size_t rows = planes * oh, rb = ow >= TASK_FLOATS ? 1 : TASK_FLOATS / ow, nb = ceil_div(rows, rb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        const size_t rs = t * rb;
        for (size_t r = rs; r < min_sz(rows, rs + rb); r++) {
            const size_t p = r / oh, oy = r % oh;
            const float *xp = x + p * h * w;
            float *dst = y + r * ow;
            if (linear) {
                g->bilinear_row(ow, w, xp + (size_t)tb->iy0[oy] * w, xp + (size_t)tb->iy1[oy] * w, tb->ly0[oy],
                                tb->ly1[oy], tb->ix0, tb->ix1, tb->lx0, tb->lx1, dst);
            } else if (r > rs && oy > 0 && tb->iy0[oy] == tb->iy0[oy - 1]) {
                g->copy(ow, dst - ow, dst); /* same source row as the row above, computed in this task */
            } else if (dup) {
                g->dup2(w, xp + (size_t)tb->iy0[oy] * w, dst);
            } else {
                g->gather(ow, xp + (size_t)tb->iy0[oy] * w, tb->ix0, dst);
            }
        }
    }
    return FN_OK;
}

fn_status fn_interp2d_nhwc(const fn_kernels *k, int mode, size_t n, size_t h, size_t w, size_t c,
                           size_t oh, size_t ow, const fn_interp_tables *tb, const float *x,
                           float *y, int nthreads) {
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    const size_t total = n * oh * ow * c, rowf = ow * c;
    if (total == 0) return FN_OK;
    if (h == 0 || w == 0) return FN_ERR_ARG;
    const int linear = mode == FN_INTERP_LINEAR;
    const size_t rows = n * oh, rb = rowf >= TASK_FLOATS ? 1 : TASK_FLOATS / rowf, nb = ceil_div(rows, rb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        const size_t rs = t * rb;
        for (size_t r = rs; r < min_sz(rows, rs + rb); r++) {
            const size_t b = r / oh, oy = r % oh;
            const float *xb = x + b * h * w * c;
            float *dst = y + r * rowf;
            if (linear) {
                const float *s0 = xb + (size_t)tb->iy0[oy] * w * c, *s1 = xb + (size_t)tb->iy1[oy] * w * c;
                for (size_t o = 0; o < ow; o++) {
                    const size_t j0 = (size_t)tb->ix0[o] * c, j1 = (size_t)tb->ix1[o] * c;
                    g->lerp2d(c, s0 + j0, s0 + j1, s1 + j0, s1 + j1, tb->ly0[oy], tb->ly1[oy], tb->lx0[o],
                              tb->lx1[o], dst + o * c);
                }
            } else if (r > rs && oy > 0 && tb->iy0[oy] == tb->iy0[oy - 1]) {
                g->copy(rowf, dst - rowf, dst);
            } else {
                const float *s0 = xb + (size_t)tb->iy0[oy] * w * c;
                for (size_t o = 0; o < ow; o++) g->copy(c, s0 + (size_t)tb->ix0[o] * c, dst + o * c);
            }
        }
    }
    return FN_OK;
}

/* -------------------------------------------------------------------------------------- shuffles */

void fn_pixel_shuffle_nchw(size_t n, size_t c, size_t h, size_t w, size_t r, int inverse,
                           const float *x, float *y, int nthreads) {
    /* big: (n, c, h*r, w*r); small: (n, c*r*r, h, w). A task is a block of rows of the big tensor. */
    const size_t W = w * r, rows = n * c * h * r, total = rows * W;
    if (total == 0) return;
    const float *src = x;
    float *dst = y;
    const size_t rb = W >= TASK_FLOATS ? 1 : TASK_FLOATS / W, nb = ceil_div(rows, rb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        for (size_t R = t * rb; R < min_sz(rows, (t + 1) * rb); R++) {
            const size_t nc = R / (h * r), rem = R % (h * r), hh = rem / r, i = rem % r;
            for (size_t j = 0; j < r; j++) {
                const size_t srow = ((nc * r * r + i * r + j) * h + hh) * w;
                if (!inverse) {
                    const float *s = src + srow;
                    float *d = dst + R * W + j;
                    if (r == 2) /* a constant stride: the compiler interleaves with shuffles */
                        for (size_t q = 0; q < w; q++) d[q * 2] = s[q];
                    else
                        for (size_t q = 0; q < w; q++) d[q * r] = s[q];
                } else {
                    const float *s = src + R * W + j;
                    float *d = dst + srow;
                    if (r == 2)
                        for (size_t q = 0; q < w; q++) d[q] = s[q * 2];
                    else
                        for (size_t q = 0; q < w; q++) d[q] = s[q * r];
                }
            }
        }
    }
}

void fn_channel_shuffle_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                             const float *x, float *y, int nthreads) {
    const fn_glue_kernels *g = fn_glue_kernels_for(k->isa);
    const size_t planes = n * c, total = planes * hw;
    if (total == 0 || groups == 0) return;
    const size_t cpg = c / groups, pb = hw >= TASK_FLOATS ? 1 : TASK_FLOATS / hw, nb = ceil_div(planes, pb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        for (size_t p = t * pb; p < min_sz(planes, (t + 1) * pb); p++) {
            const size_t b = p / c, oc = p % c, jj = oc / groups, gg = oc % groups; /* oc = jj*groups + gg */
            g->copy(hw, x + (b * c + gg * cpg + jj) * hw, y + p * hw);
        }
    }
}

void fn_channel_shuffle_nhwc(size_t pixels, size_t c, size_t groups, const float *x, float *y,
                             int nthreads) {
    const size_t total = pixels * c;
    if (total == 0 || groups == 0) return;
    const size_t cpg = c / groups, pb = c >= TASK_FLOATS ? 1 : TASK_FLOATS / c, nb = ceil_div(pixels, pb);
    nthreads = threads_for(total, nthreads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (size_t t = 0; t < nb; t++) {
        for (size_t p = t * pb; p < min_sz(pixels, (t + 1) * pb); p++) {
            const float *xp = x + p * c;
            float *yp = y + p * c;
            for (size_t gg = 0; gg < groups; gg++)
                for (size_t jj = 0; jj < cpg; jj++) yp[jj * groups + gg] = xp[gg * cpg + jj];
        }
    }
}
