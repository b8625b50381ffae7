# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin bindings over src_c/fastnorm.h: check what C cannot, release the GIL, map status codes.

Callers (fastnorm.ops, fastnorm.plan) hand in C-contiguous float32 arrays of the right shapes; these
functions still check shapes and sizes so that a mistake is an exception, never a crash.
`isa` is an fn_isa value, or -1 for the table chosen at import.
"""
from libc.stdlib cimport malloc, free, calloc
from libc.string cimport memset
cimport numpy as cnp
import os as _os
# _thread, not threading: the same lock, without threading's import (0.6 ms of `import fastnorm`)
import _thread
import weakref as _weakref

import numpy as np
include "_bind/c_api.pxi"

cnp.import_array()

# Packed weights are carved from shared chunks rather than allocated one by one: NumPy backs an
# allocation of 4 MiB or more with huge pages where the kernel allows, so a fresh process planning a
# model takes a few page faults instead of one per 4 KiB of its packed weights (issue 14's cold
# start). A chunk is referenced only by the buffers carved from it (weakly here): it is freed with
# the last of them. Larger buffers get an allocation of their own. Chunks start where NumPy puts
# them, not on 2 MiB boundaries: aligned, the huge pages cover all of a chunk instead of 6 of its 8
# MiB and a fresh process's first writes were faster (48 MB: 8.5-9.7 ms instead of 11.1-11.7), but
# on this KVM host, with another runtime's process between loads, Inception-v3's .fnm load then
# stalled more often on huge-page faults (load medians of 8: 101 ms aligned, 83 ms not).
_PACK_CHUNK_FLOATS = 1 << 21                     # 8 MiB
_pack_lock = _thread.allocate_lock()
_pack_chunk = None                               # weakref.ref of the current chunk
cdef Py_ssize_t _pack_used = 0


def _pack_after_fork():
    """A child of fork() starts without the parent's chunk and with a free lock (another thread of the
    parent may have held it at the fork: the child would wait on it forever)."""
    global _pack_lock, _pack_chunk, _pack_used
    _pack_lock = _thread.allocate_lock()
    _pack_chunk = None
    _pack_used = 0


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_pack_after_fork)


cdef object _packed_empty(size_t n):
    """An uninitialised float32 array of n floats for a packer to fill, starting on a 64-byte line."""
    global _pack_chunk, _pack_used
    cdef Py_ssize_t need = (<Py_ssize_t>n + 15) // 16 * 16
    cdef cnp.ndarray chunk
    cdef size_t addr
    if n == 0 or need > _PACK_CHUNK_FLOATS // 4:
        return np.empty(n, dtype=np.float32)
    with _pack_lock:
        chunk = _pack_chunk() if _pack_chunk is not None else None
        if chunk is None or _pack_used + need > chunk.shape[0]:
            chunk = np.empty(_PACK_CHUNK_FLOATS, dtype=np.float32)
            _pack_chunk = _weakref.ref(chunk)
            addr = <size_t>cnp.PyArray_DATA(chunk) // 4
            _pack_used = <Py_ssize_t>((16 - addr % 16) % 16)     # the first float on a 64-byte line
        out = chunk[_pack_used:_pack_used + <Py_ssize_t>n]
        _pack_used += need
    return out

def packed_empty(size_t n):
    """_packed_empty for Python: n uninitialised float32 on a 64-byte line, from the shared chunks (the
    BatchNorm fold's weights, which live as long as the packed ones)."""
    return _packed_empty(n)


ARCH = fn_cpu_arch().decode()
# The ISAs this build compiled, narrowest first: scalar, avx2, avx512 on x86-64; scalar, neon on aarch64.
ISA_NAMES = tuple(fn_kernels_for(<fn_isa>i).name.decode() for i in range(FN_ISA_COUNT))

def _best_isa():
    cdef fn_cpu_features f
    fn_cpu_detect(&f)
    return <int>fn_cpu_best_isa(&f)


_chosen = fn_dispatch_init()
if _chosen == -2:
    raise ImportError("FASTNORM_AVX512_HALF_RATE=%r: expected 0 or 1 (unset: detected from the CPU)"
                      % _os.environ.get("FASTNORM_AVX512_HALF_RATE"))
if _chosen < 0:
    import os as _os
    raise ImportError(
        "FASTNORM_ISA=%r: expected one of %s that this CPU supports (best here: %s)"
        % (_os.environ.get("FASTNORM_ISA"), ", ".join(ISA_NAMES), ISA_NAMES[_best_isa()]))


def cpu_features():
    cdef fn_cpu_features f
    fn_cpu_detect(&f)
    if ARCH == "aarch64":  # HWCAP
        found = dict(asimd=f.asimd, dotprod=f.asimd_dotprod, fp16=f.asimd_fp16, sve=f.sve, sve2=f.sve2)
    else:  # CPUID + XGETBV (all false on an architecture fastnorm has no detection for)
        found = dict(
            sse2=f.sse2, avx=f.avx, fma=f.fma, avx2=f.avx2, avx512f=f.avx512f, avx512bw=f.avx512bw,
            avx512dq=f.avx512dq, avx512vl=f.avx512vl, avx512_vnni=f.avx512_vnni,
            avx512_bf16=f.avx512_bf16, os_avx=f.os_avx, os_avx512=f.os_avx512)
    return {k: bool(v) for k, v in found.items()}


def best_isa():
    return ISA_NAMES[_best_isa()]


def avx512_half_rate():
    """Whether the AVX-512 table hands convs whose last 32-wide panel wastes lanes to AVX2's table
    (a CPU whose 512-bit FMAs are two 256-bit halves, or FASTNORM_AVX512_HALF_RATE=1; kernels.h
    fn_conv_table)."""
    return bool(fn_avx512_half_rate())


def active_isa():
    return fn_kernels_active().name.decode()


def gemm_tile(int isa):
    cdef const fn_kernels *k = _kernels(isa)
    return int(k.gemm_mr), int(k.gemm_nr)


def omp_max_threads():
    return fn_omp_max_threads()


def omp_enabled():
    return bool(fn_omp_enabled())


# Per-thread testing state in C thread-locals (a Python threading.local lookup costs more than a
# small predict): the ISA forced by fastnorm.testing.force_isa (-1: none) and the table that ran last.
cdef extern from *:
    """
    static _Thread_local int fn_py_force_isa = -1;
    static _Thread_local int fn_py_last_isa = -1;
    """
    int fn_py_force_isa
    int fn_py_last_isa

cdef int _BEST = _best_isa()


def last_isa():
    """Name of the kernel table the latest kernel call in this thread used (None before any)."""
    return ISA_NAMES[fn_py_last_isa] if fn_py_last_isa >= 0 else None


cdef const fn_kernels *_kernels(int isa) except NULL:
    global fn_py_last_isa
    # isa < 0: the thread's override (fastnorm.testing.force_isa) or else the table chosen at import
    if isa < 0:
        isa = fn_py_force_isa
    cdef const fn_kernels *k
    if isa < 0:
        k = fn_kernels_active()
    elif isa > _BEST or isa >= FN_ISA_COUNT:
        raise ValueError("ISA %r is not supported by this CPU (best: %s)"
                         % (ISA_NAMES[isa] if isa < FN_ISA_COUNT else isa, ISA_NAMES[_BEST]))
    else:
        k = fn_kernels_for(<fn_isa>isa)
    fn_py_last_isa = <int>k.isa
    return k


def _set_thread_isa(int isa):
    """Testing hook behind fastnorm.testing.force_isa: this thread's calls use table `isa` (-1: reset)."""
    if isa > _BEST:
        raise ValueError("ISA %s is not supported by this CPU (best: %s)" % (ISA_NAMES[isa], ISA_NAMES[_BEST]))
    global fn_py_force_isa
    fn_py_force_isa = isa if isa >= 0 else -1


def resolve_isa(int isa):
    """The fn_isa value a call with `isa` would use in this thread."""
    return <int>_kernels(isa).isa


cdef tuple _shape(Py_ssize_t *shape, int n):
    return tuple([shape[i] for i in range(n)])


cdef int _check(fn_status st, what) except -1:
    if st == FN_OK:
        return 0
    if st == FN_ERR_NOMEM:
        raise MemoryError("%s: scratch too small or out of memory" % what)
    raise ValueError("%s: arguments the kernel cannot handle" % what)


cdef fn_act _act(tuple act):
    cdef fn_act a
    a.kind = act[0]
    a.lo = act[1]
    a.hi = act[2]
    return a


cdef fn_conv2d_desc _conv_desc(tuple d) except *:
    # d = (cin, cout, groups, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr)
    cdef fn_conv2d_desc c
    if len(d) != 13:
        raise ValueError("conv descriptor: expected 13 fields, got %d" % len(d))
    for v in d:
        if v < 0:
            raise ValueError("conv descriptor: negative field in %r" % (d,))
    (c.cin, c.cout, c.groups, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw,
     c.pad_top, c.pad_left, c.pad_bottom, c.pad_right) = d
    if c.groups == 0 or c.cin % c.groups or c.cout % c.groups:
        raise ValueError("conv: groups=%d must divide in_channels=%d and out_channels=%d"
                         % (c.groups, c.cin, c.cout))
    if c.kh == 0 or c.kw == 0 or c.sh == 0 or c.sw == 0 or c.dh == 0 or c.dw == 0:
        raise ValueError("conv: kernel, stride and dilation must be positive, got %r" % (d,))
    return c


def conv_out_extent(size_t n, size_t k, size_t s, size_t d, size_t p0, size_t p1):
    return fn_conv_out_extent(n, k, s, d, p0, p1)


def conv2d_tile(int isa, tuple desc):
    """(mr, nr, isa name) of the micro-kernel table the conv desc runs on under ISA isa (-1: the
    active one): that ISA's, or on AVX-512 AVX2's for at most 8 output channels a group."""
    cdef fn_conv2d_desc d = _conv_desc(desc)
    cdef const fn_kernels *k = fn_conv2d_kernels(_kernels(isa), &d)
    return int(k.gemm_mr), int(k.gemm_nr), k.name.decode()


def conv2d_pack(int isa, tuple desc, const float[:, :, :, ::1] w, bias):
    """w: (cout, cin/groups, kh, kw) -> packed weights for this ISA's micro-kernel."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if (w.shape[0] != <Py_ssize_t>d.cout or w.shape[1] != <Py_ssize_t>(d.cin // d.groups)
            or w.shape[2] != <Py_ssize_t>d.kh or w.shape[3] != <Py_ssize_t>d.kw):
        raise ValueError("conv weight: expected shape %r, got %r" % (
            (d.cout, d.cin // d.groups, d.kh, d.kw), _shape(w.shape, 4)))
    return _conv2d_packed(k, &d, &w[0, 0, 0, 0], bias, False)


def conv2d_pack_kn(int isa, tuple desc, const float[:, ::1] wt, bias):
    """wt: (cin, cout), a linear weight stored transposed (desc 1x1, groups 1) -> conv2d_pack's result
    for wt.T."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    if d.kh != 1 or d.kw != 1 or d.groups != 1:
        raise ValueError("conv2d_pack_kn: a 1x1 conv with groups 1 only, got %r" % (desc,))
    if wt.shape[0] != <Py_ssize_t>d.cin or wt.shape[1] != <Py_ssize_t>d.cout:
        raise ValueError("linear weight (transposed): expected shape %r, got %r"
                         % ((d.cin, d.cout), _shape(wt.shape, 2)))
    return _conv2d_packed(k, &d, &wt[0, 0], bias, True)


cdef object _conv2d_packed(const fn_kernels *k, const fn_conv2d_desc *d, const float *w, bias, bint kn):
    """fn_conv2d_pack (kn: fn_conv2d_pack_kn) of w, whose shape the caller checked, and bias."""
    cdef const float[::1] b
    cdef const float *bp = NULL
    if bias is not None:
        b = bias
        if b.shape[0] != <Py_ssize_t>d.cout:
            raise ValueError("conv bias: expected %d values, got %d" % (d.cout, b.shape[0]))
        bp = &b[0]
    out = _packed_empty(fn_conv2d_packed_floats(k, d))
    cdef float[::1] o = out
    with nogil:
        if kn:
            fn_conv2d_pack_kn(k, d, w, bp, &o[0])
        else:
            fn_conv2d_pack(k, d, w, bp, &o[0])
    return out


def conv2d_dense_fits(tuple desc):
    """Whether conv2d_nhwc runs this conv on the dense-rows kernel (1x1, no padding, few channels)."""
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return bool(fn_conv2d_dense_fits(&d))


def conv2d_scratch_bytes(int isa, tuple desc, size_t n, size_t h, size_t w, int nthreads):
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    return fn_conv2d_scratch_bytes(k, &d, n, h, w, nthreads)


def conv2d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, const float[::1] packed,
                res, tuple act, float[:, :, :, ::1] y, int nthreads):
    """x: (n, h, w, cin), y: (n, oh, ow, cout), res: None or like y."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_conv2d_desc d = _conv_desc(desc)
    cdef size_t n = x.shape[0], h = x.shape[1], w = x.shape[2]
    if x.shape[3] != <Py_ssize_t>d.cin:
        raise ValueError("conv input: expected %d channels, got %d" % (d.cin, x.shape[3]))
    cdef size_t oh = fn_conv_out_extent(h, d.kh, d.sh, d.dh, d.pad_top, d.pad_bottom)
    cdef size_t ow = fn_conv_out_extent(w, d.kw, d.sw, d.dw, d.pad_left, d.pad_right)
    if (y.shape[0] != <Py_ssize_t>n or y.shape[1] != <Py_ssize_t>oh or y.shape[2] != <Py_ssize_t>ow
            or y.shape[3] != <Py_ssize_t>d.cout):
        raise ValueError("conv output: expected shape %r, got %r"
                         % ((n, oh, ow, d.cout), _shape(y.shape, 4)))
    if <size_t>packed.shape[0] != fn_conv2d_packed_floats(k, &d):
        raise ValueError("conv packed weights: expected %d floats for ISA %s, got %d"
                         % (fn_conv2d_packed_floats(k, &d), k.name.decode(), packed.shape[0]))
    cdef const float[:, :, :, ::1] r
    cdef const float *rp = NULL
    if res is not None:
        r = res
        if _shape(r.shape, 4) != _shape(y.shape, 4):
            raise ValueError("conv residual: expected shape %r, got %r"
                             % (_shape(y.shape, 4), _shape(r.shape, 4)))
        rp = &r[0, 0, 0, 0]
    if n * oh * ow * d.cout == 0:
        return
    cdef fn_act a = _act(act)
    cdef size_t sb = fn_conv2d_scratch_bytes(k, &d, n, h, w, nthreads)
    cdef void *scratch = malloc(sb if sb else 1)
    if scratch == NULL:
        raise MemoryError()
    cdef fn_status st
    with nogil:
        st = fn_conv2d_nhwc(k, &d, n, h, w, &x[0, 0, 0, 0], &packed[0], rp, &a, &y[0, 0, 0, 0],
                            scratch, sb, nthreads)
    free(scratch)
    _check(st, "conv2d")


def bnorm_prepare(const float[::1] mean, const float[::1] var, weight, bias, double eps):
    """Eval BatchNorm -> (scale, shift) per channel, computed in double."""
    cdef Py_ssize_t c = mean.shape[0]
    if var.shape[0] != c:
        raise ValueError("batch_norm: running_var has %d values, running_mean %d" % (var.shape[0], c))
    cdef const float[::1] g, b
    cdef const float *gp = NULL
    cdef const float *bp = NULL
    if weight is not None:
        g = weight
        if g.shape[0] != c:
            raise ValueError("batch_norm: weight has %d values, expected %d" % (g.shape[0], c))
        gp = &g[0]
    if bias is not None:
        b = bias
        if b.shape[0] != c:
            raise ValueError("batch_norm: bias has %d values, expected %d" % (b.shape[0], c))
        bp = &b[0]
    scale = np.empty(c, dtype=np.float32)
    shift = np.empty(c, dtype=np.float32)
    cdef float[::1] s = scale, t = shift
    if c:
        with nogil:
            fn_bnorm_prepare(c, &mean[0], &var[0], gp, bp, eps, &s[0], &t[0])
    return scale, shift


def fold_scale_rows(const float[:, ::1] w, const double[::1] s, bint with_error=True, out=None, int isa=-1):
    """(out, err): out = float32(w * s[:, None]) with the product in float64 (one rounding), and err
    (None unless with_error) the float64 sum over each row of |out - w * s[:, None]|. out: a float32
    array of w's shape not overlapping w (default: a new one). isa: the table (-1: the active one)."""
    cdef const fn_kernels *k = _kernels(isa)
    if s.shape[0] != w.shape[0]:
        raise ValueError("fold_scale_rows: %d scales for %d rows" % (s.shape[0], w.shape[0]))
    cdef size_t rows = w.shape[0], cols = w.shape[1]
    if out is None:
        out = np.empty((rows, cols), dtype=np.float32)
    elif (not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != (rows, cols)
          or np.shares_memory(out, np.asarray(w))):
        raise ValueError("fold_scale_rows: out must be a float32 array of shape %r apart from w"
                         % ((rows, cols),))
    err = np.zeros(rows, dtype=np.float64) if with_error else None
    cdef float[:, ::1] o = out
    cdef double[::1] e
    cdef double *ep = NULL
    if with_error:
        e = err
        if rows:
            ep = &e[0]
    if rows and cols:
        with nogil:
            fn_fold_scale_rows(k, rows, cols, &w[0, 0], &s[0], &o[0, 0], ep)
    return out, err


def scale_shift(int isa, const float[:, :, ::1] x, const float[::1] scale, const float[::1] shift,
                tuple act, float[:, :, ::1] y, int nthreads):
    """x, y: (outer, c, inner); y = act(x * scale[c] + shift[c])."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef size_t outer = x.shape[0], c = x.shape[1], inner = x.shape[2]
    if scale.shape[0] != <Py_ssize_t>c or shift.shape[0] != <Py_ssize_t>c:
        raise ValueError("scale_shift: expected %d scales and shifts, got %d and %d"
                         % (c, scale.shape[0], shift.shape[0]))
    if _shape(y.shape, 3) != _shape(x.shape, 3):
        raise ValueError("scale_shift: output shape %r != input shape %r"
                         % (_shape(y.shape, 3), _shape(x.shape, 3)))
    if outer * c * inner == 0:
        return
    cdef fn_act a = _act(act)
    with nogil:
        fn_scale_shift(k, outer, c, inner, &x[0, 0, 0], &scale[0], &shift[0], &a, &y[0, 0, 0],
                       nthreads)


def activation(int isa, const float[::1] x, tuple act, float[::1] y, int nthreads):
    cdef const fn_kernels *k = _kernels(isa)
    if y.shape[0] != x.shape[0]:
        raise ValueError("activation: output has %d elements, input %d" % (y.shape[0], x.shape[0]))
    if x.shape[0] == 0:
        return
    cdef fn_act a = _act(act)
    with nogil:
        fn_activation(k, x.shape[0], &x[0], &a, &y[0], nthreads)


def maxpool2d_nhwc(int isa, tuple desc, const float[:, :, :, ::1] x, float[:, :, :, ::1] y,
                   int nthreads):
    """desc = (kh, kw, sh, sw, dh, dw, pad_top, pad_left); x: (n, h, w, c), y: (n, oh, ow, c)."""
    cdef const fn_kernels *k = _kernels(isa)
    cdef fn_pool2d_desc d
    (d.kh, d.kw, d.sh, d.sw, d.dh, d.dw, d.pad_top, d.pad_left) = desc
    if y.shape[0] != x.shape[0] or y.shape[3] != x.shape[3]:
        raise ValueError("max_pool2d: output shape %r does not fit input %r"
                         % (_shape(y.shape, 4), _shape(x.shape, 4)))
    if y.shape[0] * y.shape[1] * y.shape[2] * y.shape[3] == 0:
        return
    cdef fn_status st
    with nogil:
        st = fn_maxpool2d_nhwc(k, &d, x.shape[0], x.shape[1], x.shape[2], x.shape[3], y.shape[1],
                               y.shape[2], &x[0, 0, 0, 0], &y[0, 0, 0, 0], nthreads)
    _check(st, "max_pool2d")


def nchw_to_nhwc(const float[:, :, ::1] x, float[:, :, ::1] y, int nthreads, int isa=-1):
    """x: (n, c, hw) -> y: (n, hw, c)."""
    cdef const fn_kernels *k = _kernels(isa)
    if x.shape[0] != y.shape[0] or x.shape[1] != y.shape[2] or x.shape[2] != y.shape[1]:
        raise ValueError("nchw_to_nhwc: shapes %r -> %r" % (_shape(x.shape, 3), _shape(y.shape, 3)))
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        fn_nchw_to_nhwc(k, x.shape[0], x.shape[1], x.shape[2], &x[0, 0, 0], &y[0, 0, 0], nthreads)


def nhwc_to_nchw(const float[:, :, ::1] x, float[:, :, ::1] y, int nthreads, int isa=-1):
    """x: (n, hw, c) -> y: (n, c, hw)."""
    cdef const fn_kernels *k = _kernels(isa)
    if x.shape[0] != y.shape[0] or x.shape[1] != y.shape[2] or x.shape[2] != y.shape[1]:
        raise ValueError("nhwc_to_nchw: shapes %r -> %r" % (_shape(x.shape, 3), _shape(y.shape, 3)))
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        fn_nhwc_to_nchw(k, x.shape[0], x.shape[2], x.shape[1], &x[0, 0, 0], &y[0, 0, 0], nthreads)


include "_bind/plan.pxi"
include "_bind/norm.pxi"
include "_bind/act.pxi"
include "_bind/pool.pxi"
include "_bind/glue.pxi"
include "_bind/dwconv.pxi"
include "_bind/winograd.pxi"
include "_bind/winograd1d.pxi"
include "_bind/conv_first.pxi"
include "_bind/convt.pxi"
include "_bind/shape.pxi"
