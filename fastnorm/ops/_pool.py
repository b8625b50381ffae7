"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d (torch semantics).

The kernels run on NHWC (the graph executor's layout); these NCHW functions convert around them,
except global pooling (adaptive output 1x1), which reduces each NCHW plane directly.
Averages accumulate in float32: windows from 0.0 in row-major tap order, as torch (so results
match it to the last bit in practice); global NCHW averages in 64 interleaved partial sums folded
in halves (fn_pool.h), within float32 rounding of torch's mean.
"""
import numpy as np

from fastnorm import _C
from fastnorm.graph import pool_out_extent
from fastnorm.ops._common import _batched, _pair, _positive, _to_nchw, _to_nhwc, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"]


def _window(kernel_size, stride, padding):
    k = _positive(kernel_size, "kernel_size")
    s = _positive(stride, "stride") if stride is not None and not (
        isinstance(stride, (list, tuple)) and len(stride) == 0) else k
    p = _pair(padding, "padding")
    if p[0] < 0 or p[1] < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError("padding: expected non-negative and at most half the kernel size %r, got %r"
                         % (k, padding))
    return k, s, p


def _flag(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s: expected a bool, got %r" % (name, v))
    return bool(v)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported (inference only)")
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    k, s, p = _window(kernel_size, stride, padding)
    d = _positive(dilation, "dilation")
    ceil_mode = _flag(ceil_mode, "ceil_mode")
    n, c, h, w = x.shape
    oh = pool_out_extent(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = pool_out_extent(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError("input: spatial size %dx%d is too small for kernel %r with padding %r and dilation %r"
                         % (h, w, k, p, d))
    y = np.empty((n, oh, ow, c), np.float32)
    _C.maxpool2d_nhwc(-1, (k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1]), _to_nhwc(x), y,
                      get_num_threads())
    y = _to_nchw(y)
    return y[0] if unbatched else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch's divisor: the window clipped to the padded input when count_include_pad (never the
    ceil_mode overhang past it), else the number of input elements under it; divisor_override
    (a non-zero int) replaces it."""
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    k, s, p = _window(kernel_size, stride, padding)
    ceil_mode = _flag(ceil_mode, "ceil_mode")
    count_include_pad = _flag(count_include_pad, "count_include_pad")
    if divisor_override is None:
        div = 0
    elif isinstance(divisor_override, (int, np.integer)) and not isinstance(divisor_override, bool):
        div = int(divisor_override)
        if div == 0:
            raise ValueError("divisor_override: expected a non-zero int, got 0")
    else:
        raise TypeError("divisor_override: expected None or an int, got %r" % (divisor_override,))
    n, c, h, w = x.shape
    oh = pool_out_extent(h, k[0], s[0], p[0], 1, ceil_mode)
    ow = pool_out_extent(w, k[1], s[1], p[1], 1, ceil_mode)
    if oh < 1 or ow < 1:
        raise ValueError("input: spatial size %dx%d is too small for kernel %r with padding %r"
                         % (h, w, k, p))
    y = np.empty((n, oh, ow, c), np.float32)
    _C.avgpool2d_nhwc(-1, (k[0], k[1], s[0], s[1], p[0], p[1], p[0], p[1], count_include_pad, div),
                      _to_nhwc(x), y, get_num_threads())
    y = _to_nchw(y)
    return y[0] if unbatched else y


def _output_size(output_size, h, w):
    """torch's output_size: an int, or a pair whose None entries keep the input's size."""
    def one(v, size):
        if v is None:
            return size
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            if v < 1:
                raise ValueError("output_size: expected positive sizes (or None), got %r" % (output_size,))
            return int(v)
        raise TypeError("output_size: expected an int or a pair of ints/None, got %r" % (output_size,))
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise TypeError("output_size: expected an int or a pair of ints/None, got %r" % (output_size,))
        return one(output_size[0], h), one(output_size[1], w)
    if output_size is None:
        raise TypeError("output_size: expected an int or a pair of ints/None, got None")
    v = one(output_size, h)
    return v, v


def _adaptive(kind, input, output_size):
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    n, c, h, w = x.shape
    oh, ow = _output_size(output_size, h, w)
    if h < 1 or w < 1:
        raise ValueError("input: expected a non-empty image, got spatial size %dx%d" % (h, w))
    if oh == 1 and ow == 1:
        # global pooling: one reduction per NCHW plane, no layout change
        y = np.empty((n, c, 1, 1), np.float32)
        if n * c:
            _C.global_pool_nchw(-1, kind, x.reshape(n * c, h * w), y.reshape(n * c), get_num_threads())
    else:
        y = np.empty((n, oh, ow, c), np.float32)
        _C.adaptive_pool2d_nhwc(-1, kind, _to_nhwc(x), y, get_num_threads())
        y = _to_nchw(y)
    return y[0] if unbatched else y


def adaptive_avg_pool2d(input, output_size):
    """torch's bins: output i covers [floor(i*In/Out), ceil((i+1)*In/Out)) on each axis. Unlike
    torch, output_size 0 (an empty result) is rejected."""
    return _adaptive("avg", input, output_size)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices=True is not supported "
                                  "(inference only)")
    return _adaptive("max", input, output_size)
