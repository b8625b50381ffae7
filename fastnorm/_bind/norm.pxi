# Included by _C.pyx: bindings of the norm family (declarations in src_c/norm/fn_norm.h).

cdef extern from "fastnorm.h" nogil:
    fn_status fn_group_norm_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw, size_t groups,
                                 const float *x, const float *gamma, const float *beta, double eps,
                                 const fn_act *act, float *y, int nthreads)
    size_t fn_group_norm_nhwc_scratch_bytes(size_t n, size_t hw, size_t c)
    fn_status fn_group_norm_nhwc(const fn_kernels *k, size_t n, size_t hw, size_t c, size_t groups,
                                 const float *x, const float *gamma, const float *beta, double eps,
                                 const fn_act *act, float *y, void *scratch, size_t scratch_bytes,
                                 int nthreads)
    fn_status fn_layer_norm_rows(const fn_kernels *k, size_t m, size_t d, const float *x,
                                 const float *gamma, const float *beta, double eps, const fn_act *act,
                                 float *y, int nthreads)
    fn_status fn_layer_norm_channels_nchw(const fn_kernels *k, size_t n, size_t c, size_t hw,
                                          const float *x, const float *gamma, const float *beta,
                                          double eps, const fn_act *act, float *y, int nthreads)
    fn_status fn_batch_norm_stats(const fn_kernels *k, size_t n, size_t c, size_t hw, const float *x,
                                  const float *gamma, const float *beta, double eps,
                                  const fn_act *act, float *y, int nthreads)


cdef const float *_affine_ptr(v, Py_ssize_t n, str what) except? NULL:
    # None -> NULL; else a (n,) float32 vector. The caller's array keeps the memory alive.
    if v is None:
        return NULL
    cdef const float[::1] m = v
    if m.shape[0] != n:
        raise ValueError("%s: expected %d values, got %d" % (what, n, m.shape[0]))
    return &m[0]


cdef int _same3(const float[:, :, ::1] x, float[:, :, ::1] y, str what) except -1:
    if _shape(y.shape, 3) != _shape(x.shape, 3):
        raise ValueError("%s: output shape %r != input shape %r" % (what, _shape(y.shape, 3), _shape(x.shape, 3)))
    return 0


cdef int _check_groups(size_t c, size_t groups, str what) except -1:
    if groups == 0 or c % groups:
        raise ValueError("%s: num_groups=%d must divide the %d channels" % (what, groups, c))
    return 0


def group_norm_nchw(int isa, const float[:, :, ::1] x, size_t groups, weight, bias, double eps,
                    tuple act, float[:, :, ::1] y, int nthreads):
    """x, y: (n, c, hw); statistics per (sample, group of c/groups channels)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t n = x.shape[0], c = x.shape[1], hw = x.shape[2]
    _same3(x, y, "group_norm")
    _check_groups(c, groups, "group_norm")
    cdef const float *gp = _affine_ptr(weight, c, "group_norm weight")
    cdef const float *bp = _affine_ptr(bias, c, "group_norm bias")
    if n * c * hw == 0:
        return
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_group_norm_nchw(k, n, c, hw, groups, &x[0, 0, 0], gp, bp, eps, &a, &y[0, 0, 0], nthreads)
    _check(st, "group_norm")


def group_norm_nhwc(int isa, const float[:, :, ::1] x, size_t groups, weight, bias, double eps,
                    tuple act, float[:, :, ::1] y, int nthreads):
    """x, y: (n, hw, c); statistics per (sample, group) over the pixels and the group's channels."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t n = x.shape[0], hw = x.shape[1], c = x.shape[2]
    _same3(x, y, "group_norm_nhwc")
    _check_groups(c, groups, "group_norm_nhwc")
    cdef const float *gp = _affine_ptr(weight, c, "group_norm weight")
    cdef const float *bp = _affine_ptr(bias, c, "group_norm bias")
    if n * c * hw == 0:
        return
    cdef fn_act a = _act(act)
    cdef size_t sb = fn_group_norm_nhwc_scratch_bytes(n, hw, c)
    cdef void *scratch = malloc(sb)
    if scratch == NULL:
        raise MemoryError()
    cdef fn_status st
    with nogil:
        st = fn_group_norm_nhwc(k, n, hw, c, groups, &x[0, 0, 0], gp, bp, eps, &a, &y[0, 0, 0],
                                scratch, sb, nthreads)
    free(scratch)
    _check(st, "group_norm_nhwc")


def instance_norm_nchw(int isa, x, weight, bias, double eps, tuple act, y, int nthreads):
    """x, y: (n, c, hw): group norm with one group per channel."""
    group_norm_nchw(isa, x, x.shape[1], weight, bias, eps, act, y, nthreads)


def instance_norm_nhwc(int isa, x, weight, bias, double eps, tuple act, y, int nthreads):
    """x, y: (n, hw, c): group norm with one group per channel."""
    group_norm_nhwc(isa, x, x.shape[2], weight, bias, eps, act, y, nthreads)


def layer_norm_rows(int isa, const float[:, ::1] x, weight, bias, double eps, tuple act,
                    float[:, ::1] y, int nthreads):
    """x, y: (m, d); statistics per row; weight/bias (d,): both or neither."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t m = x.shape[0], d = x.shape[1]
    if _shape(y.shape, 2) != _shape(x.shape, 2):
        raise ValueError("layer_norm: output shape %r != input shape %r" % (_shape(y.shape, 2), _shape(x.shape, 2)))
    if (weight is None) != (bias is None):
        raise ValueError("layer_norm_rows: weight and bias must both be given or both be None")
    cdef const float *gp = _affine_ptr(weight, d, "layer_norm weight")
    cdef const float *bp = _affine_ptr(bias, d, "layer_norm bias")
    if m * d == 0:
        return
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_layer_norm_rows(k, m, d, &x[0, 0], gp, bp, eps, &a, &y[0, 0], nthreads)
    _check(st, "layer_norm")


def layer_norm_channels_nchw(int isa, const float[:, :, ::1] x, weight, bias, double eps, tuple act,
                             float[:, :, ::1] y, int nthreads):
    """x, y: (n, c, hw); statistics per (sample, pixel) over c; weight/bias (c,): both or neither."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t n = x.shape[0], c = x.shape[1], hw = x.shape[2]
    _same3(x, y, "layer_norm_channels")
    if (weight is None) != (bias is None):
        raise ValueError("layer_norm_channels: weight and bias must both be given or both be None")
    cdef const float *gp = _affine_ptr(weight, c, "layer_norm_channels weight")
    cdef const float *bp = _affine_ptr(bias, c, "layer_norm_channels bias")
    if n * c * hw == 0:
        return
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_layer_norm_channels_nchw(k, n, c, hw, &x[0, 0, 0], gp, bp, eps, &a, &y[0, 0, 0], nthreads)
    _check(st, "layer_norm_channels")


def layer_norm_channels_nhwc(int isa, x, weight, bias, double eps, tuple act, y, int nthreads):
    """x, y: (n, hw, c): each pixel's c channels are one contiguous row."""
    layer_norm_rows(isa, x.reshape(-1, x.shape[2]), weight, bias, eps, act, y.reshape(-1, y.shape[2]),
                    nthreads)


def batch_norm_stats(int isa, const float[:, :, ::1] x, weight, bias, double eps, tuple act,
                     float[:, :, ::1] y, int nthreads):
    """x, y: (n, c, hw); normalised with the batch's per-channel mean and biased variance."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t n = x.shape[0], c = x.shape[1], hw = x.shape[2]
    _same3(x, y, "batch_norm")
    cdef const float *gp = _affine_ptr(weight, c, "batch_norm weight")
    cdef const float *bp = _affine_ptr(bias, c, "batch_norm bias")
    if n * c * hw == 0:
        return
    cdef fn_act a = _act(act)
    cdef fn_status st
    with nogil:
        st = fn_batch_norm_stats(k, n, c, hw, &x[0, 0, 0], gp, bp, eps, &a, &y[0, 0, 0], nthreads)
    _check(st, "batch_norm")
