"""Depthwise conv2d (groups == in_channels == out_channels): the channels-last kernel behind
fastnorm.ops.conv2d for those convs (the public function is conv2d; nothing is exported here)."""
import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_NONE, _to_nchw, _to_nhwc
from fastnorm.threads import get_num_threads

__all__ = []


def is_depthwise(cin, cout, groups):
    """Channel multiplier 1: one input and one output channel per group."""
    return groups == cin == cout


def dwconv2d_nchw(x, w, b, desc, oh, ow):
    """x: (n, c, h, w) float32, w: (c, 1, kh, kw) -> (n, c, oh, ow), through NHWC."""
    n = x.shape[0]
    packed = _C.dwconv2d_pack(w, b)
    y = np.empty((n, oh, ow, w.shape[0]), np.float32)
    _C.dwconv2d_nhwc(-1, desc, _to_nhwc(x), packed, None, ACT_NONE, y, get_num_threads())
    return _to_nchw(y)
