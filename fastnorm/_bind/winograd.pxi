# Included by _C.pyx: bindings of the Winograd convs (declarations in src_c/conv/fn_winograd.h):
# winograd3x3_* for F(4x4, 3x3) and F(2x2, 5x5), winograd2x3_* for F(2x2, 3x3). Descriptors and
# activations are conv2d's (_conv_desc, _act).

cdef extern from "fastnorm.h" nogil:
    int fn_winograd3x3_supported(const fn_conv2d_desc *d)
    size_t fn_winograd3x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    fn_status fn_winograd3x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                                  const float *bias, float *packed)
    size_t fn_winograd3x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                        size_t h, size_t w, int nthreads)
    fn_status fn_winograd3x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                      size_t w, const float *x, const float *packed, const float *res,
                                      const fn_act *act, float *y, size_t ldy, void *scratch,
                                      size_t scratch_bytes, int nthreads)
    int fn_winograd2x3_supported(const fn_conv2d_desc *d)
    size_t fn_winograd2x3_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    fn_status fn_winograd2x3_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                                  const float *bias, float *packed)
    size_t fn_winograd2x3_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                        size_t h, size_t w, int nthreads)
    fn_status fn_winograd2x3_nhwc_ldy(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h,
                                      size_t w, const float *x, const float *packed, const float *res,
                                      const fn_act *act, float *y, size_t ldy, void *scratch,
                                      size_t scratch_bytes, int nthreads)

# f2 = 0: F(4x4, 3x3) / F(2x2, 5x5) (the winograd3x3_* names), 1: F(2x2, 3x3) (winograd2x3_*)
cdef str _wino_name(bint f2):
    return "winograd2x3" if f2 else "winograd3x3"


cdef fn_conv2d_desc _wino_desc(tuple desc, bint f2) except *:
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if f2 and not fn_winograd2x3_supported(&d):
        raise ValueError("winograd2x3: expected a 3x3, stride 1, dilation 1, groups 1 conv with channels, "
                         "got descriptor %r" % (desc,))
    if not f2 and not fn_winograd3x3_supported(&d):
        raise ValueError("winograd3x3: expected a 3x3 or 5x5, stride 1, dilation 1, groups 1 conv with "
                         "channels, got descriptor %r" % (desc,))
    return d


cdef size_t _wino_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d, bint f2):
    return fn_winograd2x3_packed_floats(k, d) if f2 else fn_winograd3x3_packed_floats(k, d)


cdef size_t _wino_scratch(const fn_kernels *k, const fn_conv2d_desc *d, size_t n, size_t h, size_t w,
                          int nthreads, bint f2):
    return (fn_winograd2x3_scratch_bytes(k, d, n, h, w, nthreads) if f2
            else fn_winograd3x3_scratch_bytes(k, d, n, h, w, nthreads))


cdef object _wino_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias, bint f2):
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _wino_desc(desc, f2)
    name = _wino_name(f2)
    if _shape(w.shape, 4) != (d.cout, d.cin, d.kh, d.kw):
        raise ValueError("%s weight: expected shape %r, got %r"
                         % (name, (d.cout, d.cin, d.kh, d.kw), _shape(w.shape, 4)))
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if <size_t>b.shape[0] != d.cout:
            raise ValueError("%s bias: expected %d values, got %d" % (name, d.cout, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(_wino_packed_floats(k, &d, f2))
    cdef float[::1] o = out
    cdef fn_status st
    with nogil:
        if f2:
            st = fn_winograd2x3_pack(k, &d, &w[0, 0, 0, 0], bp, &o[0])
        else:
            st = fn_winograd3x3_pack(k, &d, &w[0, 0, 0, 0], bp, &o[0])
    _check(st, name + "_pack")
    return out


cdef object _wino_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                       res, tuple act, float[:, :, :, ::1] y, int nthreads, bint f2):
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _wino_desc(desc, f2)
    name = _wino_name(f2)
    cdef size_t n = x.shape[0], h = x.shape[1], w = x.shape[2]
    if x.shape[3] != <Py_ssize_t>d.cin:
        raise ValueError("%s input: expected %d channels, got %d" % (name, d.cin, x.shape[3]))
    cdef size_t oh = fn_conv_out_extent(h, d.kh, 1, 1, d.pad_top, d.pad_bottom)
    cdef size_t ow = fn_conv_out_extent(w, d.kw, 1, 1, d.pad_left, d.pad_right)
    if (y.shape[0] != <Py_ssize_t>n or y.shape[1] != <Py_ssize_t>oh or y.shape[2] != <Py_ssize_t>ow
            or y.shape[3] != <Py_ssize_t>d.cout):
        raise ValueError("%s output: expected shape %r, got %r"
                         % (name, (n, oh, ow, d.cout), _shape(y.shape, 4)))
    cdef size_t want = _wino_packed_floats(k, &d, f2)
    if <size_t>packed.shape[0] != want:
        raise ValueError("%s packed weights: expected %d floats for ISA %s, got %d"
                         % (name, want, k.name.decode(), packed.shape[0]))
    cdef const float[:, :, :, ::1] r
    cdef const float *rp = NULL
    if res is not None:
        r = res
        if _shape(r.shape, 4) != _shape(y.shape, 4):
            raise ValueError("%s residual: expected shape %r, got %r"
                             % (name, _shape(y.shape, 4), _shape(r.shape, 4)))
        rp = &r[0, 0, 0, 0]
    if n * oh * ow * d.cout == 0:
        return
    cdef fn_act a = _act(act)
    cdef size_t sb = _wino_scratch(k, &d, n, h, w, nthreads, f2)
    cdef void *scratch = malloc(sb if sb else 1)
    if scratch == NULL:
        raise MemoryError()
    cdef fn_status st
    with nogil:
        if f2:
            st = fn_winograd2x3_nhwc_ldy(k, &d, n, h, w, &x[0, 0, 0, 0], &packed[0], rp, &a,
                                         &y[0, 0, 0, 0], d.cout, scratch, sb, nthreads)
        else:
            st = fn_winograd3x3_nhwc_ldy(k, &d, n, h, w, &x[0, 0, 0, 0], &packed[0], rp, &a,
                                         &y[0, 0, 0, 0], d.cout, scratch, sb, nthreads)
    free(scratch)
    _check(st, name)


def winograd3x3_supported(tuple desc):
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return bool(fn_winograd3x3_supported(&d))


def winograd3x3_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """w: (cout, cin, k, k) (k = 3 or 5, the desc's), bias: (cout,) or None -> the packed transformed weights of ISA `isa`."""
    return _wino_pack(isa, desc, w, bias, False)


def winograd3x3_scratch_bytes(int isa, tuple desc, size_t n, size_t h, size_t w, int nthreads):
    cdef fn_conv2d_desc d = _wino_desc(desc, False)
    return _wino_scratch(_kernels(isa), &d, n, h, w, nthreads, False)


def winograd3x3_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                     res, tuple act, float[:, :, :, ::1] y, int nthreads):
    """x: (n, h, w, cin), y: (n, oh, ow, cout), res: None or like y (may be y itself)."""
    _wino_nhwc(isa, desc, x, packed, res, act, y, nthreads, False)


def winograd2x3_supported(tuple desc):
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return bool(fn_winograd2x3_supported(&d))


def winograd2x3_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """F(2x2, 3x3): w (cout, cin, 3, 3), bias (cout,) or None -> the packed transformed weights of ISA `isa`."""
    return _wino_pack(isa, desc, w, bias, True)


def winograd2x3_scratch_bytes(int isa, tuple desc, size_t n, size_t h, size_t w, int nthreads):
    cdef fn_conv2d_desc d = _wino_desc(desc, True)
    return _wino_scratch(_kernels(isa), &d, n, h, w, nthreads, True)


def winograd2x3_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                     res, tuple act, float[:, :, :, ::1] y, int nthreads):
    """F(2x2, 3x3): x (n, h, w, cin), y (n, oh, ow, cout), res None or like y (may be y itself)."""
    _wino_nhwc(isa, desc, x, packed, res, act, y, nthreads, True)
