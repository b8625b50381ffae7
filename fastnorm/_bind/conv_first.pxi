# Included by _C.pyx: bindings of the first-layer conv (declarations in src_c/conv/fn_conv_first.h).

cdef extern from "fastnorm.h" nogil:
    enum:
        FN_CONV_FIRST_MAX_CIN
        FN_CONV_FIRST_MAX_K
    size_t fn_conv_first_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    void fn_conv_first_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                            const float *bias, float *packed)
    size_t fn_conv_first_pad_floats(const fn_conv2d_desc *d, size_t n, size_t h, size_t w)
    fn_status fn_conv_first(const fn_kernels *k, const fn_conv2d_desc *d, int nhwc_in, size_t n,
                            size_t h, size_t w, const float *x, const float *packed,
                            const fn_act *act, float *xpad, float *y, int nthreads)

CONV_FIRST_MAX_CIN = FN_CONV_FIRST_MAX_CIN
CONV_FIRST_MAX_K = FN_CONV_FIRST_MAX_K


def conv_first_supports(tuple desc):
    """True if fn_conv_first takes this conv descriptor (groups 1, dilation 1, cin <= 4, small K)."""
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return bool(d.groups == 1 and d.dh == 1 and d.dw == 1 and 1 <= d.cin <= CONV_FIRST_MAX_CIN
                and d.kh >= 1 and d.kw >= 1 and d.sh >= 1 and d.sw >= 1
                and d.cin * d.kh * d.kw <= CONV_FIRST_MAX_K)


cdef fn_conv2d_desc _conv_first_desc(tuple desc) except *:
    if not conv_first_supports(desc):
        raise ValueError("first-layer conv: expected groups 1, dilation 1, 1..%d input channels and "
                         "in_channels*kh*kw <= %d, got descriptor %r" % (CONV_FIRST_MAX_CIN, CONV_FIRST_MAX_K, desc))
    return _conv_desc(desc)


def conv_first_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """w: (cout, cin, kh, kw), bias: (cout,) or None -> this ISA's packed weights."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_first_desc(desc)
    if (w.shape[0] != <Py_ssize_t>d.cout or w.shape[1] != <Py_ssize_t>d.cin or
            w.shape[2] != <Py_ssize_t>d.kh or w.shape[3] != <Py_ssize_t>d.kw):
        raise ValueError("first-layer conv weight: expected shape %r, got %r"
                         % ((d.cout, d.cin, d.kh, d.kw), _shape(w.shape, 4)))
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if b.shape[0] != <Py_ssize_t>d.cout:
            raise ValueError("first-layer conv bias: expected %d values, got %d" % (d.cout, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(fn_conv_first_packed_floats(k, &d))
    cdef float[::1] o = out
    with nogil:
        fn_conv_first_pack(k, &d, &w[0, 0, 0, 0], bp, &o[0])
    return out


def conv_first_pad_floats(tuple desc, size_t n, size_t h, size_t w):
    cdef fn_conv2d_desc d = _conv_first_desc(desc)
    return fn_conv_first_pad_floats(&d, n, h, w)


def conv_first(int isa, tuple desc, bint nhwc_in, const float[:, :, :, ::1] x,
               const float[::1] packed, tuple act, float[:, :, :, ::1] y, int nthreads):
    """x: (n, cin, h, w), or (n, h, w, cin) with nhwc_in; y: (n, oh, ow, cout) NHWC."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_first_desc(desc)
    cdef size_t n = x.shape[0]
    cdef size_t h = x.shape[2] if not nhwc_in else x.shape[1]
    cdef size_t w = x.shape[3] if not nhwc_in else x.shape[2]
    cdef size_t c = x.shape[1] if not nhwc_in else x.shape[3]
    if c != d.cin:
        raise ValueError("first-layer conv input: expected %d channels, got %d" % (d.cin, c))
    cdef size_t oh = fn_conv_out_extent(h, d.kh, d.sh, 1, d.pad_top, d.pad_bottom)
    cdef size_t ow = fn_conv_out_extent(w, d.kw, d.sw, 1, d.pad_left, d.pad_right)
    if (y.shape[0] != <Py_ssize_t>n or y.shape[1] != <Py_ssize_t>oh or y.shape[2] != <Py_ssize_t>ow
            or y.shape[3] != <Py_ssize_t>d.cout):
        raise ValueError("first-layer conv output: expected shape %r, got %r"
                         % ((n, oh, ow, d.cout), _shape(y.shape, 4)))
    if <size_t>packed.shape[0] != fn_conv_first_packed_floats(k, &d):
        raise ValueError("first-layer conv packed weights: expected %d floats for ISA %s, got %d"
                         % (fn_conv_first_packed_floats(k, &d), k.name.decode(), packed.shape[0]))
    if n * oh * ow * d.cout == 0:
        return
    pad = np.empty(fn_conv_first_pad_floats(&d, n, h, w), dtype=np.float32)
    cdef float[::1] pv = pad
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_conv_first(k, &d, nhwc_in, n, h, w, &x[0, 0, 0, 0], &packed[0], &a, &pv[0],
                           &y[0, 0, 0, 0], nthreads)
    _check(st, "first-layer conv2d")
