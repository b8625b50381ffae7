"""Shared argument handling for fastnorm.ops: dtype/shape checks that name the argument, layouts."""
import math

import numpy as np

from fastnorm import _C
from fastnorm.threads import get_num_threads

ACT_NONE = (0, 0.0, 0.0)
ACT_RELU = (1, 0.0, float("inf"))


def as_float32(x, name):
    """x as a C-contiguous float32 array, or a TypeError that names `name`."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        else:
            raise TypeError("%s: expected a NumPy array, got %s" % (name, type(x).__name__))
    check_plain(x, name)
    if x.dtype.kind != "f":
        raise TypeError("%s: expected a floating-point array (float32), got dtype %s" % (name, x.dtype))
    return readable_f32(x)


def check_plain(x, name):
    """A TypeError naming `name` for an ndarray subclass whose meaning fastnorm would drop: a masked
    array's mask (the masked values would be computed on like any other), np.matrix's 2-D-only
    semantics, units or metadata of other subclasses. Plain arrays and memory maps (their data is all
    there is) pass."""
    if type(x) is np.ndarray or isinstance(x, np.memmap):
        return
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError("%s: a masked array: fastnorm cannot honour its mask; pass x.filled(value) (or "
                        "np.asarray(x) to compute on the masked entries too)" % name)
    raise TypeError("%s: an ndarray subclass (%s.%s) whose semantics fastnorm cannot honour; pass "
                    "np.asarray(x)" % (name, type(x).__module__, type(x).__name__))


def readable_f32(x):
    """x as a plain (not a subclass such as np.memmap) C-contiguous, aligned, native-order float32 array:
    x itself when it already is one (read-only is fine: the kernels only read it), else a copy. Keeps 0-d
    arrays 0-d."""
    x = np.asarray(x).astype(np.float32, order="C", copy=False)
    return x if x.flags.aligned else x.copy()


def _vector(v, name, n):
    if v is None:
        return None
    v = as_float32(v, name).reshape(-1) if np.ndim(v) <= 1 else None
    if v is None or v.shape[0] != n:
        raise ValueError("%s: expected %d values, got shape %s" % (name, n, np.shape(v)))
    return v


def _pair(v, name):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v):
        return int(v[0]), int(v[1])
    raise TypeError("%s: expected an int or a pair of ints, got %r" % (name, v))


def _positive(v, name):
    a, b = _pair(v, name)
    if a < 1 or b < 1:
        raise ValueError("%s: expected positive values, got %r" % (name, v))
    return a, b


def _batched(x, name, ndim):
    """Accept (N, C, ...) or unbatched (C, ...) as torch does; return batched x and a flag."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return x[None], True
    raise ValueError("%s: expected a %dD (batched) or %dD (unbatched) array, got %dD with shape %s"
                     % (name, ndim, ndim - 1, x.ndim, x.shape))


def _to_nhwc(x):
    n, c, h, w = x.shape
    y = np.empty((n, h, w, c), np.float32)
    _C.nchw_to_nhwc(x.reshape(n, c, h * w), y.reshape(n, h * w, c), get_num_threads())
    return y


def _to_nchw(x):
    n, h, w, c = x.shape
    y = np.empty((n, c, h, w), np.float32)
    _C.nhwc_to_nchw(x.reshape(n, h * w, c), y.reshape(n, c, h * w), get_num_threads())
    return y
