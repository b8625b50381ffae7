# Included by _C.pyx: bindings of the 1-D Winograd conv for 1xk / kx1 convs (declarations in
# src_c/conv/fn_winograd1d.h). Descriptors and activations are conv2d's (_conv_desc, _act).

cdef extern from "fastnorm.h" nogil:
    int fn_winograd1d_supported(const fn_conv2d_desc *d)
    size_t fn_winograd1d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    fn_status fn_winograd1d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                                 const float *bias, float *packed)
    size_t fn_winograd1d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                       size_t h, size_t w, int nthreads)
    fn_status fn_winograd1d_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                     size_t w, const float *x, const float *packed, const float *res,
                                     const fn_act *act, float *y, size_t ldy, void *scratch,
                                     size_t scratch_bytes, int nthreads)

cdef fn_conv2d_desc _wino1d_desc(tuple desc) except *:
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if not fn_winograd1d_supported(&d):
        raise ValueError("winograd1d: expected a 1xk or kx1 (k = 3, 5, 7), stride 1, dilation 1, groups 1 "
                         "conv with channels, got descriptor %r" % (desc,))
    return d


def winograd1d_supported(tuple desc):
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return bool(fn_winograd1d_supported(&d))


def winograd1d_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """w: (cout, cin, kh, kw), bias: (cout,) or None -> the packed transformed weights of ISA `isa`."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _wino1d_desc(desc)
    if _shape(w.shape, 4) != (d.cout, d.cin, d.kh, d.kw):
        raise ValueError("winograd1d weight: expected shape %r, got %r"
                         % ((d.cout, d.cin, d.kh, d.kw), _shape(w.shape, 4)))
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if <size_t>b.shape[0] != d.cout:
            raise ValueError("winograd1d bias: expected %d values, got %d" % (d.cout, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(fn_winograd1d_packed_floats(k, &d))
    cdef float[::1] o = out
    cdef fn_status st
    with nogil:
        st = fn_winograd1d_pack(k, &d, &w[0, 0, 0, 0], bp, &o[0])
    _check(st, "winograd1d_pack")
    return out


def winograd1d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                    res, tuple act, float[:, :, :, :] y, int nthreads):
    """x: (n, h, w, cin), y: (n, oh, ow, cout) (its pixels may be ldy >= cout floats apart: a channel
    slice of a wider NHWC array), res: None or (n, oh, ow, cout) dense (may be y itself when dense)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _wino1d_desc(desc)
    cdef size_t n = x.shape[0], h = x.shape[1], w = x.shape[2]
    if x.shape[3] != <Py_ssize_t>d.cin:
        raise ValueError("winograd1d input: expected %d channels, got %d" % (d.cin, x.shape[3]))
    cdef size_t oh = fn_conv_out_extent(h, d.kh, 1, 1, d.pad_top, d.pad_bottom)
    cdef size_t ow = fn_conv_out_extent(w, d.kw, 1, 1, d.pad_left, d.pad_right)
    if (y.shape[0] != <Py_ssize_t>n or y.shape[1] != <Py_ssize_t>oh or y.shape[2] != <Py_ssize_t>ow
            or y.shape[3] != <Py_ssize_t>d.cout):
        raise ValueError("winograd1d output: expected shape %r, got %r"
                         % ((n, oh, ow, d.cout), _shape(y.shape, 4)))
    cdef size_t ldy = y.strides[2] // sizeof(float)
    if (y.strides[3] != sizeof(float) or y.strides[1] != <Py_ssize_t>(ow * ldy * sizeof(float))
            or y.strides[0] != <Py_ssize_t>(oh * ow * ldy * sizeof(float))):
        raise ValueError("winograd1d output: expected an NHWC channel block (pixels evenly strided)")
    if <size_t>packed.shape[0] != fn_winograd1d_packed_floats(k, &d):
        raise ValueError("winograd1d packed weights: expected %d floats for ISA %s, got %d"
                         % (fn_winograd1d_packed_floats(k, &d), k.name.decode(), packed.shape[0]))
    cdef const float[:, :, :, ::1] r
    cdef const float *rp = NULL
    if res is not None:
        r = res
        if _shape(r.shape, 4) != _shape(y.shape, 4):
            raise ValueError("winograd1d residual: expected shape %r, got %r"
                             % (_shape(y.shape, 4), _shape(r.shape, 4)))
        rp = &r[0, 0, 0, 0]
    if n * oh * ow * d.cout == 0:
        return
    cdef fn_act a = _act(act)
    cdef size_t sb = fn_winograd1d_scratch_bytes(k, &d, n, h, w, nthreads)
    cdef void *scratch = malloc(sb if sb else 1)
    if scratch == NULL:
        raise MemoryError()
    cdef fn_status st
    with nogil:
        st = fn_winograd1d_nhwc_ldy(k, &d, n, h, w, &x[0, 0, 0, 0], &packed[0], rp, &a,
                                    &y[0, 0, 0, 0], ldy, scratch, sb, nthreads)
    free(scratch)
    _check(st, "winograd1d")
