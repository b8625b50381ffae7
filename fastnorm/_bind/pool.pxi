# Included by _C.pyx: bindings of the pool family (declarations in src_c/pool/fn_pool.h).
# maxpool2d_nhwc (the plan's max pool) lives in _C.pyx; these are the family's newer drivers.

cdef extern from "fastnorm.h" nogil:
    ctypedef struct fn_avgpool2d_desc:
        size_t kh, kw, sh, sw
        size_t pad_top, pad_left, pad_bottom, pad_right
        int count_include_pad
        long divisor_override

    fn_status fn_avgpool2d_nhwc(const fn_kernels *k, const fn_avgpool2d_desc *d, size_t n, size_t h,
                                size_t w, size_t c, size_t oh, size_t ow, const float *x, float *y,
                                int nthreads)
    fn_status fn_maxpool2d_nchw(const fn_kernels *k, const fn_pool2d_desc *d, size_t planes, size_t h,
                                size_t w, size_t oh, size_t ow, const float *x, float *y, int nthreads)
    fn_status fn_avgpool2d_nchw(const fn_kernels *k, const fn_avgpool2d_desc *d, size_t planes,
                                size_t h, size_t w, size_t oh, size_t ow, const float *x, float *y,
                                int nthreads)
    fn_status fn_adaptive_pool2d_nhwc(const fn_kernels *k, int kind, size_t n, size_t h, size_t w,
                                      size_t c, size_t oh, size_t ow, const float *x, float *y,
                                      int nthreads)
    fn_status fn_global_pool_nhwc(const fn_kernels *k, int kind, size_t n, size_t hw, size_t c,
                                  const float *x, float *y, int nthreads)
    fn_status fn_global_pool_nchw(const fn_kernels *k, int kind, size_t planes, size_t hw,
                                  const float *x, float *y, int nthreads)

    enum:
        FN_POOL_MAX
        FN_POOL_AVG

POOL_KINDS = {"max": FN_POOL_MAX, "avg": FN_POOL_AVG}  # fn_pool_kind (src_c/pool/fn_pool.h)


cdef int _pool_kind(kind) except -1:
    if kind not in POOL_KINDS:
        raise ValueError("pool kind: expected 'max' or 'avg', got %r" % (kind,))
    return POOL_KINDS[kind]


cdef fn_avgpool2d_desc _avg_desc(tuple desc) except *:
    cdef fn_avgpool2d_desc d
    if len(desc) != 10:
        raise ValueError("avg_pool2d descriptor: expected 10 fields, got %d" % len(desc))
    for v in desc[:8]:
        if v < 0:
            raise ValueError("avg_pool2d descriptor: negative field in %r" % (desc,))
    (d.kh, d.kw, d.sh, d.sw, d.pad_top, d.pad_left, d.pad_bottom, d.pad_right) = desc[:8]
    d.count_include_pad = 1 if desc[8] else 0
    d.divisor_override = desc[9]
    if d.kh == 0 or d.kw == 0 or d.sh == 0 or d.sw == 0:
        raise ValueError("avg_pool2d: kernel and stride must be positive, got %r" % (desc,))
    if d.pad_top > d.kh // 2 or d.pad_bottom > d.kh // 2 or d.pad_left > d.kw // 2 or d.pad_right > d.kw // 2:
        raise ValueError("avg_pool2d: padding must be at most half the kernel, got %r" % (desc,))
    return d


cdef fn_pool2d_desc _max_desc(tuple desc) except *:
    cdef fn_pool2d_desc d
    if len(desc) != 8:
        raise ValueError("max_pool2d descriptor: expected 8 fields, got %d" % len(desc))
    for v in desc:
        if v < 0:
            raise ValueError("max_pool2d descriptor: negative field in %r" % (desc,))
    (d.kh, d.kw, d.sh, d.sw, d.dh, d.dw, d.pad_top, d.pad_left) = desc
    if d.kh == 0 or d.kw == 0 or d.sh == 0 or d.sw == 0 or d.dh == 0 or d.dw == 0:
        raise ValueError("max_pool2d: kernel, stride and dilation must be positive, got %r" % (desc,))
    return d


cdef int _check_windows(what, size_t h, size_t w, Py_ssize_t oh, Py_ssize_t ow, size_t sh, size_t sw,
                        size_t pt, size_t pl) except -1:
    # every window must start inside the input or its top/left padding (torch's output-size rule)
    if (oh > 0 and <size_t>(oh - 1) * sh >= h + pt) or (ow > 0 and <size_t>(ow - 1) * sw >= w + pl):
        raise ValueError("%s: output %dx%d does not fit input %dx%d" % (what, oh, ow, h, w))
    return 0


def avgpool2d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, float[:, :, :, ::1] y,
                   int nthreads):
    """desc = (kh, kw, sh, sw, pad_top, pad_left, pad_bottom, pad_right, count_include_pad,
    divisor_override or 0); x: (n, h, w, c), y: (n, oh, ow, c) with the caller's oh, ow."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_avgpool2d_desc d = _avg_desc(desc)
    cdef size_t h = x.shape[1], w = x.shape[2]
    if y.shape[0] != x.shape[0] or y.shape[3] != x.shape[3]:
        raise ValueError("avg_pool2d: output shape %r does not fit input %r"
                         % (_shape(y.shape, 4), _shape(x.shape, 4)))
    _check_windows("avg_pool2d", h, w, y.shape[1], y.shape[2], d.sh, d.sw, d.pad_top, d.pad_left)
    if y.shape[0] * y.shape[1] * y.shape[2] * y.shape[3] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_avgpool2d_nhwc(k, &d, x.shape[0], h, w, x.shape[3], y.shape[1], y.shape[2],
                               &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    _check(st, "avg_pool2d")


def avgpool2d_nchw(int isa, tuple desc, const float[:, :, ::1] x, float[:, :, ::1] y, int nthreads):
    """desc as avgpool2d_nhwc; x: (planes, h, w), y: (planes, oh, ow)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_avgpool2d_desc d = _avg_desc(desc)
    cdef size_t h = x.shape[1], w = x.shape[2]
    if y.shape[0] != x.shape[0]:
        raise ValueError("avg_pool2d: output has %d planes, input %d" % (y.shape[0], x.shape[0]))
    _check_windows("avg_pool2d", h, w, y.shape[1], y.shape[2], d.sh, d.sw, d.pad_top, d.pad_left)
    if y.shape[0] * y.shape[1] * y.shape[2] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_avgpool2d_nchw(k, &d, x.shape[0], h, w, y.shape[1], y.shape[2], &x[0, 0, 0],
                               &y[0, 0, 0], nthreads)
    _check(st, "avg_pool2d")


def maxpool2d_nchw(int isa, tuple desc, const float[:, :, ::1] x, float[:, :, ::1] y, int nthreads):
    """desc = (kh, kw, sh, sw, dh, dw, pad_top, pad_left); x: (planes, h, w), y: (planes, oh, ow)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_pool2d_desc d = _max_desc(desc)
    cdef size_t h = x.shape[1], w = x.shape[2]
    if y.shape[0] != x.shape[0]:
        raise ValueError("max_pool2d: output has %d planes, input %d" % (y.shape[0], x.shape[0]))
    _check_windows("max_pool2d", h, w, y.shape[1], y.shape[2], d.sh, d.sw, d.pad_top, d.pad_left)
    if y.shape[0] * y.shape[1] * y.shape[2] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_maxpool2d_nchw(k, &d, x.shape[0], h, w, y.shape[1], y.shape[2], &x[0, 0, 0],
                               &y[0, 0, 0], nthreads)
    _check(st, "max_pool2d")


def adaptive_pool2d_nhwc(int isa, kind, const float[:, :, :, ::1] x, float[:, :, :, ::1] y,
                         int nthreads):
    """kind 'max' or 'avg'; x: (n, h, w, c), y: (n, oh, ow, c), torch's adaptive bins."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef int kd = _pool_kind(kind)
    if y.shape[0] != x.shape[0] or y.shape[3] != x.shape[3]:
        raise ValueError("adaptive_pool2d: output shape %r does not fit input %r"
                         % (_shape(y.shape, 4), _shape(x.shape, 4)))
    if y.shape[1] == 0 or y.shape[2] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError("adaptive_pool2d: expected non-empty spatial sizes, got input %r output %r"
                         % (_shape(x.shape, 4), _shape(y.shape, 4)))
    if y.shape[0] * y.shape[3] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_adaptive_pool2d_nhwc(k, kd, x.shape[0], x.shape[1], x.shape[2], x.shape[3],
                                     y.shape[1], y.shape[2], &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    _check(st, "adaptive_pool2d")


def global_pool_nhwc(int isa, kind, const float[:, :, ::1] x, float[:, ::1] y, int nthreads):
    """x: (n, hw, c) -> y: (n, c)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef int kd = _pool_kind(kind)
    if y.shape[0] != x.shape[0] or y.shape[1] != x.shape[2]:
        raise ValueError("global_pool_nhwc: expected output shape %r, got %r"
                         % ((x.shape[0], x.shape[2]), _shape(y.shape, 2)))
    if x.shape[1] == 0:
        raise ValueError("global_pool_nhwc: expected at least one pixel, got input %r" % (_shape(x.shape, 3),))
    if y.shape[0] * y.shape[1] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_global_pool_nhwc(k, kd, x.shape[0], x.shape[1], x.shape[2], &x[0, 0, 0], &y[0, 0],
                                 nthreads)
    _check(st, "global_pool_nhwc")


def global_pool_nchw(int isa, kind, const float[:, ::1] x, float[::1] y, int nthreads):
    """x: (planes, hw) -> y: (planes,)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef int kd = _pool_kind(kind)
    if y.shape[0] != x.shape[0]:
        raise ValueError("global_pool_nchw: expected %d outputs, got %d" % (x.shape[0], y.shape[0]))
    if x.shape[1] == 0:
        raise ValueError("global_pool_nchw: expected at least one pixel per plane, got input %r"
                         % (_shape(x.shape, 2),))
    if y.shape[0] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_global_pool_nchw(k, kd, x.shape[0], x.shape[1], &x[0, 0], &y[0], nthreads)
    _check(st, "global_pool_nchw")
