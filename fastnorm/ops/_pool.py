"""Pooling."""
import numpy as np

from fastnorm import _C
from fastnorm.graph import pool_out_extent
from fastnorm.ops._common import _batched, _pair, _positive, _to_nchw, _to_nhwc, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["max_pool2d"]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True is not supported (inference only)")
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    k = _positive(kernel_size, "kernel_size")
    s = _positive(stride, "stride") if stride not in (None, [], ()) else k
    p = _pair(padding, "padding")
    d = _positive(dilation, "dilation")
    if p[0] < 0 or p[1] < 0 or p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError("padding: expected non-negative and at most half the kernel size %r, got %r"
                         % (k, padding))
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
