# Included by _C.pyx: bindings of the glue family (declarations in src_c/glue/fn_glue.h).
from libc.stdint cimport int32_t

cdef extern from "fastnorm.h" nogil:
    int FN_BIN_ADD, FN_BIN_RADD, FN_BIN_MUL, FN_BIN_SUB, FN_BIN_RSUB, FN_BIN_DIV, FN_BIN_RDIV
    int FN_BIN_MAX, FN_BIN_MIN, FN_BIN_EQ, FN_BIN_NE, FN_BIN_LT, FN_BIN_GT, FN_BIN_LE, FN_BIN_GE
    int FN_BIN_KEEP, FN_BIN_RKEEP, FN_BIN_DROP, FN_BIN_RDROP, FN_BIN_COUNT_
    int FN_INTERP_NEAREST, FN_INTERP_NEAREST_EXACT, FN_INTERP_LINEAR
    int FN_PAD_CONSTANT, FN_PAD_REFLECT, FN_PAD_REPLICATE
    int FN_BINARY_MAX_DIMS

    ctypedef struct fn_interp_tables:
        const int32_t *iy0
        const int32_t *iy1
        const int32_t *ix0
        const int32_t *ix1
        const float *ly0
        const float *ly1
        const float *lx0
        const float *lx1

    fn_status fn_binary(const fn_kernels *k, int op, float alpha, size_t ndim, const size_t *shape,
                        const Py_ssize_t *sa, const Py_ssize_t *sb, const float *a, const float *b,
                        const fn_act *act, float *y, int nthreads)
    fn_status fn_binary_same(const fn_kernels *k, int op, float alpha, size_t n, const float *a,
                             const float *b, const fn_act *act, float *y, int nthreads)
    fn_status fn_binary_channel_nchw(const fn_kernels *k, int op, float alpha, size_t n, size_t c,
                                     size_t hw, const float *x, const float *s, int s_per_sample,
                                     const fn_act *act, float *y, int nthreads)
    fn_status fn_binary_channel_nhwc(const fn_kernels *k, int op, float alpha, size_t n, size_t hw,
                                     size_t c, const float *x, const float *s, int s_per_sample,
                                     const fn_act *act, float *y, int nthreads)
    void fn_cat(const fn_kernels *k, size_t outer, size_t ninputs, const float *const *xs,
                const size_t *inner, float *y, int nthreads)
    fn_status fn_pad2d(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w, size_t e,
                       Py_ssize_t top, Py_ssize_t bottom, Py_ssize_t left, Py_ssize_t right, float value,
                       const float *x, float *y, int nthreads)
    void fn_interp_axis(int mode, size_t inp, size_t out, double scale, int align_corners, int32_t *i0,
                        int32_t *i1, float *l0, float *l1)
    fn_status fn_interp2d_nchw(const fn_kernels *k, int mode, size_t planes, size_t h, size_t w,
                               size_t oh, size_t ow, const fn_interp_tables *t, const float *x,
                               float *y, int nthreads)
    fn_status fn_interp2d_nhwc(const fn_kernels *k, int mode, size_t n, size_t h, size_t w, size_t c,
                               size_t oh, size_t ow, const fn_interp_tables *t, const float *x,
                               float *y, int nthreads)
    void fn_pixel_shuffle_nchw(size_t n, size_t c, size_t h, size_t w, size_t r, int inverse,
                               const float *x, float *y, int nthreads)
    void fn_channel_shuffle_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                                 const float *x, float *y, int nthreads)
    void fn_channel_shuffle_nhwc(size_t pixels, size_t c, size_t groups, const float *x, float *y,
                                 int nthreads)

BIN_ADD, BIN_RADD, BIN_MUL = FN_BIN_ADD, FN_BIN_RADD, FN_BIN_MUL
BIN_SUB, BIN_RSUB, BIN_DIV, BIN_RDIV = FN_BIN_SUB, FN_BIN_RSUB, FN_BIN_DIV, FN_BIN_RDIV
BIN_MAX, BIN_MIN = FN_BIN_MAX, FN_BIN_MIN
BIN_EQ, BIN_NE, BIN_LT, BIN_GT, BIN_LE, BIN_GE = FN_BIN_EQ, FN_BIN_NE, FN_BIN_LT, FN_BIN_GT, FN_BIN_LE, FN_BIN_GE
BIN_KEEP, BIN_RKEEP, BIN_DROP, BIN_RDROP = FN_BIN_KEEP, FN_BIN_RKEEP, FN_BIN_DROP, FN_BIN_RDROP
INTERP_NEAREST, INTERP_NEAREST_EXACT, INTERP_LINEAR = FN_INTERP_NEAREST, FN_INTERP_NEAREST_EXACT, FN_INTERP_LINEAR
PAD_CONSTANT, PAD_REFLECT, PAD_REPLICATE = FN_PAD_CONSTANT, FN_PAD_REFLECT, FN_PAD_REPLICATE


cdef Py_ssize_t _reach(tuple shape, tuple strides, what) except -1:
    """1 + the largest element offset strides reach over shape (strides must be >= 0)."""
    cdef Py_ssize_t r = 0
    for s, st in zip(shape, strides):
        if st < 0:
            raise ValueError("%s: negative stride in %r" % (what, strides))
        r += (s - 1) * st
    return r + 1


def binary(int isa, int op, float alpha, tuple shape, tuple sa, tuple sb, const float[::1] a,
           const float[::1] b, tuple act, float[::1] y, int nthreads):
    """y (contiguous, `shape`) = act(a op b), a and b read with element strides sa, sb (0 broadcasts)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef Py_ssize_t nd = len(shape)
    if nd < 1 or nd > FN_BINARY_MAX_DIMS or len(sa) != nd or len(sb) != nd:
        raise ValueError("binary: expected 1..%d dims with a stride per dim, got shape %r, strides %r, %r"
                         % (FN_BINARY_MAX_DIMS, shape, sa, sb))
    if op < 0 or op >= FN_BIN_COUNT_:
        raise ValueError("binary: unknown op %d" % op)
    cdef Py_ssize_t total = 1
    for s in shape:
        if s < 0:
            raise ValueError("binary: negative extent in %r" % (shape,))
        total *= s
    if y.shape[0] != total:
        raise ValueError("binary: output has %d elements, shape %r needs %d" % (y.shape[0], shape, total))
    if total == 0:
        return
    if _reach(shape, sa, "binary a") > a.shape[0] or _reach(shape, sb, "binary b") > b.shape[0]:
        raise ValueError("binary: strides %r / %r over shape %r reach past the inputs (%d, %d elements)"
                         % (sa, sb, shape, a.shape[0], b.shape[0]))
    cdef size_t csh[8]
    cdef Py_ssize_t csa[8]
    cdef Py_ssize_t csb[8]
    for i in range(nd):
        csh[i] = shape[i]
        csa[i] = sa[i]
        csb[i] = sb[i]
    cdef fn_act ac = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_binary(k, op, alpha, nd, csh, csa, csb, &a[0], &b[0], &ac, &y[0], nthreads)
    _check(st, "binary")


def binary_same(int isa, int op, float alpha, const float[::1] a, const float[::1] b, tuple act,
                float[::1] y, int nthreads):
    """Equal shapes: y = act(a op b) over n floats (the executor's residual add)."""
    cdef const fn_kernels *k = _kernels(isa)
    if b.shape[0] != a.shape[0] or y.shape[0] != a.shape[0]:
        raise ValueError("binary_same: sizes %d, %d -> %d differ" % (a.shape[0], b.shape[0], y.shape[0]))
    if a.shape[0] == 0:
        return
    cdef fn_act ac = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_binary_same(k, op, alpha, a.shape[0], &a[0], &b[0], &ac, &y[0], nthreads)
    _check(st, "binary_same")


def binary_channel(int isa, int op, float alpha, bint nhwc, const float[:, :, ::1] x, const float[::1] s,
                   tuple act, float[:, :, ::1] y, int nthreads):
    """Per-channel operand s, (n*c,) per sample or (c,) shared. NCHW: x, y (n, c, hw); NHWC: (n, hw, c)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t n = x.shape[0], c = x.shape[2] if nhwc else x.shape[1], hw = x.shape[1] if nhwc else x.shape[2]
    if _shape(y.shape, 3) != _shape(x.shape, 3):
        raise ValueError("binary_channel: output shape %r != input %r" % (_shape(y.shape, 3), _shape(x.shape, 3)))
    if <size_t>s.shape[0] != n * c and <size_t>s.shape[0] != c:
        raise ValueError("binary_channel: expected %d or %d per-channel values, got %d" % (n * c, c, s.shape[0]))
    if n * c * hw == 0:
        return
    cdef int per = <size_t>s.shape[0] == n * c and n > 1
    cdef fn_act ac = _act(act)
    cdef fn_status st
    with nogil:
        if nhwc:
            st = fn_binary_channel_nhwc(k, op, alpha, n, hw, c, &x[0, 0, 0], &s[0], per, &ac, &y[0, 0, 0], nthreads)
        else:
            st = fn_binary_channel_nchw(k, op, alpha, n, c, hw, &x[0, 0, 0], &s[0], per, &ac, &y[0, 0, 0], nthreads)
    _check(st, "binary_channel")


def cat(int isa, list xs, size_t outer, float[::1] y, int nthreads):
    """xs: flat arrays of outer*inner_i floats; y: (outer, sum inner_i) flat."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t m = len(xs), i, tot = 0
    if m == 0:
        raise ValueError("cat: expected at least one input")
    cdef const float **ptrs = <const float **>malloc(m * sizeof(float *))
    cdef size_t *inner = <size_t *>malloc(m * sizeof(size_t))
    cdef const float[::1] v
    cdef list keep = []
    if ptrs == NULL or inner == NULL:
        free(ptrs)
        free(inner)
        raise MemoryError()
    try:
        for i in range(m):
            v = xs[i]
            keep.append(v)
            if outer == 0 or v.shape[0] % outer:
                if v.shape[0] != 0 or outer != 0:
                    raise ValueError("cat: input %d has %d elements, not a multiple of outer=%d"
                                     % (i, v.shape[0], outer))
            inner[i] = v.shape[0] // outer if outer else 0
            ptrs[i] = &v[0] if v.shape[0] else NULL
            tot += inner[i]
        if <size_t>y.shape[0] != outer * tot:
            raise ValueError("cat: output has %d elements, expected %d" % (y.shape[0], outer * tot))
        if outer * tot:
            with nogil:
                fn_cat(k, outer, m, ptrs, inner, &y[0], nthreads)
    finally:
        free(ptrs)
        free(inner)


def pad2d(int isa, int mode, const float[:, :, :, ::1] x, tuple pads, float value,
          float[:, :, :, ::1] y, int nthreads):
    """x: (planes, h, w, e) -> y: (planes, h+top+bottom, w+left+right, e); pads = (left, right, top, bottom)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef Py_ssize_t l = pads[0], r = pads[1], t = pads[2], b = pads[3]
    want = (x.shape[0], x.shape[1] + t + b, x.shape[2] + l + r, x.shape[3])
    if _shape(y.shape, 4) != want:
        raise ValueError("pad: output shape %r, expected %r" % (_shape(y.shape, 4), want))
    if y.shape[0] * y.shape[1] * y.shape[2] * y.shape[3] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_pad2d(k, mode, x.shape[0], x.shape[1], x.shape[2], x.shape[3], t, b, l, r, value,
                      &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    _check(st, "pad")


def interp_axis(int mode, size_t inp, size_t out, double scale, int align_corners):
    """(i0, i1, l0, l1) source indices and weights along one axis (torch's float32 rules; align_corners
    0, 1, or 2: ONNX's asymmetric linear coordinates)."""
    if align_corners < 0 or align_corners > 2:
        raise ValueError("interpolate: align_corners %d (expected 0, 1 or 2)" % align_corners)
    if inp < 1 or inp > 2147483647:
        raise ValueError("interpolate: input extent %d out of range" % inp)
    i0 = np.zeros(out, np.int32)
    i1 = np.zeros(out, np.int32)
    l0 = np.zeros(out, np.float32)
    l1 = np.zeros(out, np.float32)
    cdef int32_t[::1] a = i0, b = i1
    cdef float[::1] c = l0, d = l1
    if out:
        with nogil:
            fn_interp_axis(mode, inp, out, scale, align_corners, &a[0], &b[0], &c[0], &d[0])
    return i0, i1, l0, l1


cdef int _check_table(const int32_t[::1] t, Py_ssize_t n, Py_ssize_t limit, what) except -1:
    if t.shape[0] != n:
        raise ValueError("interpolate: %s table has %d entries, expected %d" % (what, t.shape[0], n))
    cdef Py_ssize_t i
    for i in range(n):
        if t[i] < 0 or t[i] >= limit:
            raise ValueError("interpolate: %s index %d out of [0, %d)" % (what, t[i], limit))
    return 0


cdef int _fill_tables(fn_interp_tables *tb, int mode, tuple ty, tuple tx, Py_ssize_t h, Py_ssize_t w,
                      Py_ssize_t oh, Py_ssize_t ow, list keep) except -1:
    cdef const int32_t[::1] iy0 = ty[0], iy1 = ty[1], ix0 = tx[0], ix1 = tx[1]
    cdef const float[::1] ly0 = ty[2], ly1 = ty[3], lx0 = tx[2], lx1 = tx[3]
    keep.extend([iy0, iy1, ix0, ix1, ly0, ly1, lx0, lx1])
    _check_table(iy0, oh, h, "row")
    _check_table(ix0, ow, w, "column")
    if mode == FN_INTERP_LINEAR:
        _check_table(iy1, oh, h, "row")
        _check_table(ix1, ow, w, "column")
        if ly0.shape[0] != oh or ly1.shape[0] != oh or lx0.shape[0] != ow or lx1.shape[0] != ow:
            raise ValueError("interpolate: weight tables do not match the output size")
        for i in range(1, ow):
            if ix0[i] < ix0[i - 1] or ix1[i] < ix1[i - 1] or ix1[i] < ix0[i]:
                raise ValueError("interpolate: column tables must be non-decreasing with i0 <= i1")
    tb.iy0 = &iy0[0] if oh else NULL
    tb.iy1 = &iy1[0] if oh else NULL
    tb.ix0 = &ix0[0] if ow else NULL
    tb.ix1 = &ix1[0] if ow else NULL
    tb.ly0 = &ly0[0] if oh else NULL
    tb.ly1 = &ly1[0] if oh else NULL
    tb.lx0 = &lx0[0] if ow else NULL
    tb.lx1 = &lx1[0] if ow else NULL
    return 0


def interp2d_nchw(int isa, int mode, const float[:, :, ::1] x, tuple ty, tuple tx, float[:, :, ::1] y,
                  int nthreads):
    """x: (planes, h, w) -> y: (planes, oh, ow); ty, tx: interp_axis tables for rows and columns."""
    cdef const fn_kernels *k = _kernels(isa)
    if y.shape[0] != x.shape[0]:
        raise ValueError("interpolate: output has %d planes, input %d" % (y.shape[0], x.shape[0]))
    if y.shape[0] * y.shape[1] * y.shape[2] == 0:
        return
    cdef fn_interp_tables tb
    cdef list keep = []
    _fill_tables(&tb, mode, ty, tx, x.shape[1], x.shape[2], y.shape[1], y.shape[2], keep)
    cdef fn_status st
    with nogil:
        st = fn_interp2d_nchw(k, mode, x.shape[0], x.shape[1], x.shape[2], y.shape[1], y.shape[2], &tb,
                              &x[0, 0, 0], &y[0, 0, 0], nthreads)
    _check(st, "interpolate")


def interp2d_nhwc(int isa, int mode, const float[:, :, :, ::1] x, tuple ty, tuple tx,
                  float[:, :, :, ::1] y, int nthreads):
    """x: (n, h, w, c) -> y: (n, oh, ow, c)."""
    cdef const fn_kernels *k = _kernels(isa)
    if y.shape[0] != x.shape[0] or y.shape[3] != x.shape[3]:
        raise ValueError("interpolate: output shape %r does not fit input %r"
                         % (_shape(y.shape, 4), _shape(x.shape, 4)))
    if y.shape[0] * y.shape[1] * y.shape[2] * y.shape[3] == 0:
        return
    cdef fn_interp_tables tb
    cdef list keep = []
    _fill_tables(&tb, mode, ty, tx, x.shape[1], x.shape[2], y.shape[1], y.shape[2], keep)
    cdef fn_status st
    with nogil:
        st = fn_interp2d_nhwc(k, mode, x.shape[0], x.shape[1], x.shape[2], x.shape[3], y.shape[1],
                              y.shape[2], &tb, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    _check(st, "interpolate")


def pixel_shuffle_nchw(const float[:, :, :, ::1] x, size_t r, bint inverse, float[:, :, :, ::1] y,
                       int nthreads):
    """inverse=False: x (n, c*r*r, h, w) -> y (n, c, h*r, w*r); inverse=True the other way round."""
    if r < 1:
        raise ValueError("pixel_shuffle: factor must be positive, got %d" % r)
    cdef tuple xs = _shape(x.shape, 4), ys = _shape(y.shape, 4)
    cdef tuple big = xs if inverse else ys, small = ys if inverse else xs
    cdef size_t n = small[0], c = big[1], h = small[2], w = small[3]
    if big != (n, c, h * r, w * r) or small != (n, c * r * r, h, w):
        raise ValueError("pixel_shuffle: shapes %r -> %r do not match factor %d" % (xs, ys, r))
    if n * c * h * w == 0:
        return
    with nogil:
        fn_pixel_shuffle_nchw(n, c, h, w, r, inverse, &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)


def channel_shuffle_nchw(int isa, const float[:, :, ::1] x, size_t groups, float[:, :, ::1] y, int nthreads):
    """x, y: (n, c, hw)."""
    cdef const fn_kernels *k = _kernels(isa)
    if _shape(x.shape, 3) != _shape(y.shape, 3):
        raise ValueError("channel_shuffle: output shape %r != input %r" % (_shape(y.shape, 3), _shape(x.shape, 3)))
    if groups < 1 or x.shape[1] % groups:
        raise ValueError("channel_shuffle: groups=%d must divide the %d channels" % (groups, x.shape[1]))
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        fn_channel_shuffle_nchw(k, x.shape[0], x.shape[1], x.shape[2], groups, &x[0, 0, 0], &y[0, 0, 0], nthreads)


def channel_shuffle_nhwc(const float[:, ::1] x, size_t groups, float[:, ::1] y, int nthreads):
    """x, y: (pixels, c)."""
    if _shape(x.shape, 2) != _shape(y.shape, 2):
        raise ValueError("channel_shuffle: output shape %r != input %r" % (_shape(y.shape, 2), _shape(x.shape, 2)))
    if groups < 1 or x.shape[1] % groups:
        raise ValueError("channel_shuffle: groups=%d must divide the %d channels" % (groups, x.shape[1]))
    if x.shape[0] * x.shape[1] == 0:
        return
    with nogil:
        fn_channel_shuffle_nhwc(x.shape[0], x.shape[1], groups, &x[0, 0], &y[0, 0], nthreads)
