# Included by _C.pyx: bindings of conv_transpose2d (declarations in src_c/conv/fn_convt.h).
# The descriptor is conv2d's 13-tuple (cin, cout, groups, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr),
# read as the transposed conv's: cin/cout are its input/output channels.

cdef extern from "conv/fn_convt.h" nogil:
    size_t fn_conv_transpose_out_extent(size_t inp, size_t k, size_t s, size_t d, size_t p0,
                                        size_t p1, size_t op)
    size_t fn_conv_transpose2d_packed_floats(const fn_kernels *k, const fn_conv2d_desc *d)
    void fn_conv_transpose2d_pack(const fn_kernels *k, const fn_conv2d_desc *d, const float *w,
                                  const float *bias, float *packed)
    size_t fn_conv_transpose2d_scratch_bytes(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                             size_t h, size_t w, int nthreads)
    fn_status fn_conv_transpose2d_nhwc(const fn_kernels *k, const fn_conv2d_desc *d, size_t n,
                                       size_t h, size_t w, size_t oh, size_t ow, const float *x,
                                       const float *packed, const fn_act *act, float *y,
                                       void *scratch, size_t scratch_bytes, int nthreads)


def conv_transpose_out_extent(size_t n, size_t k, size_t s, size_t d, size_t p0, size_t p1,
                              size_t op):
    return fn_conv_transpose_out_extent(n, k, s, d, p0, p1, op)


def conv_transpose2d_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """w: (cin, cout/groups, kh, kw) -> packed weights (and bias) for this ISA's micro-kernel."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if (w.shape[0] != <Py_ssize_t>d.cin or w.shape[1] != <Py_ssize_t>(d.cout // d.groups)
            or w.shape[2] != <Py_ssize_t>d.kh or w.shape[3] != <Py_ssize_t>d.kw):
        raise ValueError("conv_transpose2d weight: expected shape %r, got %r" % (
            (d.cin, d.cout // d.groups, d.kh, d.kw), _shape(w.shape, 4)))
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if b.shape[0] != <Py_ssize_t>d.cout:
            raise ValueError("conv_transpose2d bias: expected %d values, got %d" % (d.cout, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(fn_conv_transpose2d_packed_floats(k, &d))
    cdef float[::1] o = out
    cdef const float *wp = &w[0, 0, 0, 0] if w.shape[0] * w.shape[1] else NULL
    with nogil:
        fn_conv_transpose2d_pack(k, &d, wp, bp, &o[0])
    return out


def conv_transpose2d_scratch_bytes(int isa, tuple desc, size_t n, size_t h, size_t w, int nthreads):
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return fn_conv_transpose2d_scratch_bytes(k, &d, n, h, w, nthreads)


def conv_transpose2d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                          tuple act, float[:, :, :, ::1] y, int nthreads):
    """x: (n, h, w, cin), y: (n, oh, ow, cout); oh, ow are y's (output_padding is implied)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    cdef size_t n = x.shape[0], h = x.shape[1], w = x.shape[2]
    if x.shape[3] != <Py_ssize_t>d.cin:
        raise ValueError("conv_transpose2d input: expected %d channels, got %d" % (d.cin, x.shape[3]))
    if y.shape[0] != <Py_ssize_t>n or y.shape[3] != <Py_ssize_t>d.cout:
        raise ValueError("conv_transpose2d output: expected shape (%d, oh, ow, %d), got %r"
                         % (n, d.cout, _shape(y.shape, 4)))
    if <size_t>packed.shape[0] != fn_conv_transpose2d_packed_floats(k, &d):
        raise ValueError("conv_transpose2d packed weights: expected %d floats for ISA %s, got %d"
                         % (fn_conv_transpose2d_packed_floats(k, &d), k.name.decode(), packed.shape[0]))
    cdef size_t oh = y.shape[1], ow = y.shape[2]
    if n * oh * ow * d.cout == 0:
        return
    cdef fn_act a = _act(act)
    cdef size_t sb = fn_conv_transpose2d_scratch_bytes(k, &d, n, h, w, nthreads)
    cdef void *scratch = malloc(sb if sb else 1)
    if scratch == NULL:
        raise MemoryError()
    cdef const float *xp = &x[0, 0, 0, 0] if n * h * w * d.cin else NULL
    cdef fn_status st
    with nogil:
        st = fn_conv_transpose2d_nhwc(k, &d, n, h, w, oh, ow, xp, &packed[0], &a, &y[0, 0, 0, 0],
                                      scratch, sb, nthreads)
    free(scratch)
    _check(st, "conv_transpose2d")
