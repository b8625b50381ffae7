/* pool2d.c: max_pool2d driver on NHWC: gathers the valid taps of each window for the micro-kernel. */
#include "../kernels.h"

#define TAP_CHUNK 64

fn_status fn_maxpool2d_nhwc(const fn_kernels *k, const fn_pool2d_desc *d, size_t n, size_t h,
                            size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                            int nthreads) {
    if (d->sh == 0 || d->sw == 0 || d->kh == 0 || d->kw == 0) return FN_ERR_ARG;
    if (nthreads < 1) nthreads = 1;
    const size_t npix = n * oh * ow;
    int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nthreads) reduction(| : bad)
    for (size_t pix = 0; pix < npix; pix++) {
        const size_t b = pix / (oh * ow), rem = pix % (oh * ow), oy = rem / ow, ox = rem % ow;
        float *out = y + pix * c;
        const float *taps[TAP_CHUNK];
        size_t nt = 0, started = 0;
        for (size_t ky = 0; ky < d->kh; ky++) {
            const size_t iy = oy * d->sh + ky * d->dh - d->pad_top;
            if (iy >= h) continue;
            for (size_t kx = 0; kx < d->kw; kx++) {
                const size_t ix = ox * d->sw + kx * d->dw - d->pad_left;
                if (ix >= w) continue;
                taps[nt++] = x + ((b * h + iy) * w + ix) * c;
                if (nt == TAP_CHUNK) {
                    k->maxpool(nt, c, taps, out);
                    started = 1;
                    taps[0] = out; /* the running max is the first tap of the next chunk */
                    nt = 1;
                }
            }
        }
        if (nt > (size_t)started) k->maxpool(nt, c, taps, out);
        else if (!started) bad = 1;
    }
    return bad ? FN_ERR_ARG : FN_OK;
}
