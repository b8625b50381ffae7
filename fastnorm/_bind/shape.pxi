# Included by _C.pyx: bindings of the shape family (declarations in src_c/shape/fn_shape.h).

cdef extern from "fastnorm.h" nogil:
    int FN_REDUCE_SUM, FN_REDUCE_MEAN, FN_REDUCE_MAX, FN_REDUCE_MIN, FN_REDUCE_PROD, FN_REDUCE_ARGMAX
    int FN_REDUCE_ARGMIN, FN_REDUCE_ARGMAX_LAST, FN_REDUCE_ARGMIN_LAST, FN_REDUCE_COUNT_
    int FN_STRIDED_MAX_DIMS
    fn_status fn_strided_copy(const fn_kernels *k, size_t ndim, const size_t *shape, const Py_ssize_t *sx,
                              const float *x, float *y, int nthreads)
    fn_status fn_reduce(const fn_kernels *k, int kind, size_t outer, size_t len, size_t inner,
                        const float *x, float *y, int nthreads)

REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX = FN_REDUCE_SUM, FN_REDUCE_MEAN, FN_REDUCE_MAX
REDUCE_MIN, REDUCE_PROD = FN_REDUCE_MIN, FN_REDUCE_PROD
REDUCE_ARGMAX, REDUCE_ARGMIN = FN_REDUCE_ARGMAX, FN_REDUCE_ARGMIN
REDUCE_ARGMAX_LAST, REDUCE_ARGMIN_LAST = FN_REDUCE_ARGMAX_LAST, FN_REDUCE_ARGMIN_LAST


def strided_copy(int isa, tuple shape, tuple strides, Py_ssize_t offset, const float[::1] x, float[::1] y,
                 int nthreads):
    """y (contiguous, `shape`) = x[offset + sum idx[d] * strides[d]] (strides >= 0)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef Py_ssize_t nd = len(shape)
    if nd < 1 or nd > FN_STRIDED_MAX_DIMS or len(strides) != nd:
        raise ValueError("strided_copy: expected 1..%d dims with a stride each, got %r, %r"
                         % (FN_STRIDED_MAX_DIMS, shape, strides))
    cdef Py_ssize_t total = 1
    for s in shape:
        if s < 0:
            raise ValueError("strided_copy: negative extent in %r" % (shape,))
        total *= s
    if y.shape[0] != total:
        raise ValueError("strided_copy: output has %d elements, shape %r needs %d" % (y.shape[0], shape, total))
    if total == 0:
        return
    if offset < 0 or offset + _reach(shape, strides, "strided_copy") > x.shape[0]:
        raise ValueError("strided_copy: strides %r from %d reach past the input (%d elements)"
                         % (strides, offset, x.shape[0]))
    cdef size_t csh[8]
    cdef Py_ssize_t csx[8]
    for i in range(nd):
        csh[i] = shape[i]
        csx[i] = strides[i]
    cdef fn_status st
    with nogil:
        st = fn_strided_copy(k, nd, csh, csx, &x[offset], &y[0], nthreads)
    _check(st, "strided_copy")


def reduce(int isa, int kind, const float[:, :, ::1] x, float[:, ::1] y, int nthreads):
    """x: (outer, len, inner) -> y: (outer, inner), the sum / mean / max / min / product over len, or
    the position of the max / min as a float (REDUCE_*)."""
    cdef const fn_kernels *k = _kernels(isa)
    if kind < 0 or kind >= FN_REDUCE_COUNT_:
        raise ValueError("reduce: unknown kind %d" % kind)
    if x.shape[1] == 0:
        raise ValueError("reduce: empty axis")
    if y.shape[0] != x.shape[0] or y.shape[1] != x.shape[2]:
        raise ValueError("reduce: output %r does not fit input %r" % ((y.shape[0], y.shape[1]),
                                                                      (x.shape[0], x.shape[1], x.shape[2])))
    if x.shape[0] * x.shape[2] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_reduce(k, kind, x.shape[0], x.shape[1], x.shape[2], &x[0, 0, 0], &y[0, 0], nthreads)
    _check(st, "reduce")
