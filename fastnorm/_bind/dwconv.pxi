# Included by _C.pyx: bindings of the depthwise conv (declarations in src_c/conv/fn_dwconv.h).

cdef extern from "fastnorm.h" nogil:
    size_t fn_dwconv_packed_floats(size_t c, size_t kh, size_t kw)
    void fn_dwconv_pack(size_t c, size_t kh, size_t kw, const float *w, const float *bias,
                        float *packed)
    fn_status fn_dwconv2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                               size_t w, const float *x, const float *packed, const float *res,
                               const fn_act *act, float *y, int nthreads)


cdef fn_conv2d_desc _dwconv_desc(tuple desc) except *:
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if d.groups != d.cin or d.cout != d.cin:
        raise ValueError("depthwise conv: expected groups == in_channels == out_channels, got "
                         "groups=%d, in_channels=%d, out_channels=%d" % (d.groups, d.cin, d.cout))
    return d


def dwconv2d_packed_floats(size_t c, size_t kh, size_t kw):
    return fn_dwconv_packed_floats(c, kh, kw)


def dwconv2d_pack(const float[:, :, :, ::1] w, bias):
    """w: (c, 1, kh, kw), bias: (c,) or None -> packed weights (the same layout for every ISA)."""
    cdef size_t c = w.shape[0], kh = w.shape[2], kw = w.shape[3]
    if w.shape[1] != 1:
        raise ValueError("depthwise conv weight: expected shape (c, 1, kh, kw), got %r" % (_shape(w.shape, 4),))
    if c == 0 or kh == 0 or kw == 0:
        raise ValueError("depthwise conv weight: expected a non-empty (c, 1, kh, kw), got %r" % (_shape(w.shape, 4),))
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if b.shape[0] != <Py_ssize_t>c:
            raise ValueError("depthwise conv bias: expected %d values, got %d" % (c, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(fn_dwconv_packed_floats(c, kh, kw))
    cdef float[::1] o = out
    with nogil:
        fn_dwconv_pack(c, kh, kw, &w[0, 0, 0, 0], bp, &o[0])
    return out


def dwconv2d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                  res, tuple act, float[:, :, :, ::1] y, int nthreads):
    """desc: a conv descriptor with groups == cin == cout. x: (n, h, w, c), y: (n, oh, ow, c),
    res: None or like y (may be y itself)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _dwconv_desc(desc)
    cdef size_t n = x.shape[0], h = x.shape[1], w = x.shape[2]
    if x.shape[3] != <Py_ssize_t>d.cin:
        raise ValueError("depthwise conv input: expected %d channels, got %d" % (d.cin, x.shape[3]))
    cdef size_t oh = fn_conv_out_extent(h, d.kh, d.sh, d.dh, d.pad_top, d.pad_bottom)
    cdef size_t ow = fn_conv_out_extent(w, d.kw, d.sw, d.dw, d.pad_left, d.pad_right)
    if (y.shape[0] != <Py_ssize_t>n or y.shape[1] != <Py_ssize_t>oh or y.shape[2] != <Py_ssize_t>ow
            or y.shape[3] != <Py_ssize_t>d.cout):
        raise ValueError("depthwise conv output: expected shape %r, got %r"
                         % ((n, oh, ow, d.cout), _shape(y.shape, 4)))
    if <size_t>packed.shape[0] != fn_dwconv_packed_floats(d.cin, d.kh, d.kw):
        raise ValueError("depthwise conv packed weights: expected %d floats, got %d"
                         % (fn_dwconv_packed_floats(d.cin, d.kh, d.kw), packed.shape[0]))
    cdef const float[:, :, :, ::1] r
    cdef const float *rp = NULL
    if res is not None:
        r = res
        if _shape(r.shape, 4) != _shape(y.shape, 4):
            raise ValueError("depthwise conv residual: expected shape %r, got %r"
                             % (_shape(y.shape, 4), _shape(r.shape, 4)))
        rp = &r[0, 0, 0, 0]
    if n * oh * ow * d.cout == 0:
        return
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_dwconv2d_nhwc(k, &d, n, h, w, &x[0, 0, 0, 0], &packed[0], rp, &a, &y[0, 0, 0, 0],
                              nthreads)
    _check(st, "depthwise conv2d")
