/* dwpw.c: a depthwise conv and the 1x1 conv that reads it, a band of rows at a time (fn_dwconv.h). */
#include "dwconv_kernels.h"

#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Bytes of depthwise output per band: the band is written, then read by the 1x1 conv once per
 * block of its output panels, and should stay in L2 beside that conv's weights. MobileNetV2 at
 * batch 16, 1 thread: 32 KiB 150 ms, 64-96 KiB 139, 192-384 KiB 135-136, 768 KiB 140 (2 threads:
 * 96 KiB 87 ms, 192 79, 256 73, 384 74; minima of 7). */
#ifndef FN_DWPW_BAND_BYTES
#define FN_DWPW_BAND_BYTES (192u * 1024u)
#endif

static size_t band_rows(const fn_conv2d_desc *dw, size_t oh, size_t ow) {
    const size_t row = ow * dw->cin * sizeof(float);
    size_t r = row ? FN_DWPW_BAND_BYTES / row : 1;
    r = r < 1 ? 1 : r;
    return r > oh ? (oh ? oh : 1) : r;
}

static size_t band_bytes(size_t rows, size_t ow, size_t c) {
    return (rows * ow * c * sizeof(float) + 63) / 64 * 64;
}

/* Scratch: [1x1 conv scratch for nthreads][nthreads band buffers], 64-byte aligned pieces. */
size_t fn_dwconv_pw_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *dw,
                                  const fn_conv2d_desc *pw, size_t h, size_t w, int nthreads) {
    const int nt = nthreads < 1 ? 1 : nthreads;
    const size_t oh = fn_conv_out_extent(h, dw->kh, dw->sh, dw->dh, dw->pad_top, dw->pad_bottom);
    const size_t ow = fn_conv_out_extent(w, dw->kw, dw->sw, dw->dw, dw->pad_left, dw->pad_right);
    const size_t r = band_rows(dw, oh, ow);
    const size_t conv = (fn_conv2d_scratch_bytes(k, pw, 1, r, ow, nt) + 63) / 64 * 64;
    return 64 + conv + (size_t)nt * band_bytes(r, ow, dw->cin);
}

fn_status fn_dwconv_pw_nhwc(const fn_kernels *k, const fn_conv2d_desc *dw, size_t n, size_t h,
                            size_t w, const float *x, const float *dw_packed, const fn_act *dw_act,
                            const fn_conv2d_desc *pw, const float *pw_packed, const float *res,
                            const fn_act *pw_act, float *y, void *scratch, size_t scratch_bytes,
                            int nthreads) {
    if (pw->kh != 1 || pw->kw != 1 || pw->sh != 1 || pw->sw != 1 || pw->groups != 1 ||
        pw->pad_top || pw->pad_bottom || pw->pad_left || pw->pad_right || pw->cin != dw->cin)
        return FN_ERR_ARG;
    fn_dwconv_run p;
    fn_status st = fn_dwconv_prepare(k, dw, h, w, dw_packed, dw_act, &p);
    if (st != FN_OK) return st;
    const int nt = nthreads < 1 ? 1 : nthreads;
    if (scratch_bytes < fn_dwconv_pw_scratch_bytes(k, dw, pw, h, w, nt)) return FN_ERR_NOMEM;
    const size_t c = dw->cin, cout = pw->cout, oh = p.oh, ow = p.g.ow;
    if (n == 0 || oh == 0 || ow == 0 || c == 0 || cout == 0) return FN_OK;
    const size_t R = band_rows(dw, oh, ow), per_sample = (oh + R - 1) / R, nbands = n * per_sample;

    const uintptr_t base = (uintptr_t)scratch;
    unsigned char *conv = (unsigned char *)(base + (64 - base % 64) % 64);
    const size_t conv_bytes = (fn_conv2d_scratch_bytes(k, pw, 1, R, ow, nt) + 63) / 64 * 64;
    const size_t per_thread_conv = conv_bytes / (size_t)nt / 64 * 64;
    float *bands = (float *)(conv + conv_bytes);
    const size_t band_floats = band_bytes(R, ow, c) / sizeof(float);

    if (nt > 1 && nbands >= 2 * (size_t)nt) {
        /* enough bands: each thread makes and consumes whole bands on its own */
        fn_status err = FN_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (size_t q = 0; q < nbands; q++) {
#ifdef _OPENMP
            const int t = omp_get_thread_num();
#else
            const int t = 0;
#endif
            float *band = bands + (size_t)t * band_floats;
            const size_t b = q / per_sample, y0 = q % per_sample * R;
            const size_t rows = oh - y0 < R ? oh - y0 : R;
            for (size_t r = 0; r < rows; r++)
                fn_dwconv_row_at(&p, b, y0 + r, x, NULL, band + r * ow * c);
            const size_t m0 = (b * oh + y0) * ow;
            const fn_status s = fn_conv2d_nhwc(
                k, pw, 1, rows, ow, band, pw_packed, res ? res + m0 * cout : NULL, pw_act,
                y + m0 * cout, conv + (size_t)t * per_thread_conv, per_thread_conv, 1);
            if (s != FN_OK) {
#pragma omp critical(fn_dwpw_err)
                err = s;
            }
        }
        return err;
    }
    /* few bands (small images at batch 1): bands one after the other, threads inside each */
    for (size_t q = 0; q < nbands; q++) {
        const size_t b = q / per_sample, y0 = q % per_sample * R;
        const size_t rows = oh - y0 < R ? oh - y0 : R;
        const int dnt = (size_t)nt < rows && rows * ow * c * dw->kh * dw->kw >= ((size_t)1 << 17) * nt ? nt : 1;
#pragma omp parallel for schedule(static) num_threads(dnt) if (dnt > 1)
        for (size_t r = 0; r < rows; r++)
            fn_dwconv_row_at(&p, b, y0 + r, x, NULL, bands + r * ow * c);
        const size_t m0 = (b * oh + y0) * ow;
        st = fn_conv2d_nhwc(k, pw, 1, rows, ow, bands, pw_packed, res ? res + m0 * cout : NULL,
                            pw_act, y + m0 * cout, conv, conv_bytes, nt);
        if (st != FN_OK) return st;
    }
    return FN_OK;
}
