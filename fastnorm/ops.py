"""The functional API: torch.nn.functional's names, arguments and semantics, NumPy in and out.

Every function takes float32 arrays (float16/float64 are converted to float32; integer, bool and
complex arrays are a TypeError), returns a new float32 array, and runs its kernel with the GIL
released. Non-contiguous inputs are copied to contiguous memory first.
"""
import math

import numpy as np

from fastnorm import _C
from fastnorm.graph import pool_out_extent
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
    if x.dtype.kind != "f":
        raise TypeError("%s: expected a floating-point array (float32), got dtype %s" % (name, x.dtype))
    return x.astype(np.float32, order="C", copy=False)  # keeps 0-d arrays 0-d


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


def conv_padding(padding, kernel, dilation, stride, name="padding"):
    """torch's conv padding argument -> (top, left, bottom, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("%s='same' is not supported for strided convolutions (stride=%r), as in torch"
                                 % (name, stride))
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            return th // 2, tw // 2, th - th // 2, tw - tw // 2
        raise ValueError("%s: expected 'valid', 'same', an int or a pair, got %r" % (name, padding))
    ph, pw = _pair(padding, name)
    if ph < 0 or pw < 0:
        raise ValueError("%s: expected non-negative values, got %r" % (name, padding))
    return ph, pw, ph, pw


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    x, unbatched = _batched(as_float32(input, "input"), "input", 4)
    w = as_float32(weight, "weight")
    if w.ndim != 4:
        raise ValueError("weight: expected 4D (out_channels, in_channels/groups, kH, kW), got shape %s" % (w.shape,))
    stride, dilation = _positive(stride, "stride"), _positive(dilation, "dilation")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError("groups: expected a positive int, got %r" % (groups,))
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    if c != cg * groups:
        raise ValueError("input: expected %d channels (weight's %d x groups=%d), got %d"
                         % (cg * groups, cg, groups, c))
    if cout % groups:
        raise ValueError("weight: out_channels=%d is not divisible by groups=%d" % (cout, groups))
    b = _vector(bias, "bias", cout)
    pads = conv_padding(padding, (kh, kw), dilation, stride)
    desc = (c, cout, int(groups), kh, kw, stride[0], stride[1], dilation[0], dilation[1]) + pads
    oh = _C.conv_out_extent(h, kh, stride[0], dilation[0], pads[0], pads[2])
    ow = _C.conv_out_extent(wd, kw, stride[1], dilation[1], pads[1], pads[3])
    if oh == 0 or ow == 0:
        raise ValueError("input: spatial size %dx%d (padded %dx%d) is smaller than the kernel %dx%d (dilated)"
                         % (h, wd, h + pads[0] + pads[2], wd + pads[1] + pads[3],
                            dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1))
    packed = _C.conv2d_pack(-1, desc, w, b)
    y = np.empty((n, oh, ow, cout), np.float32)
    _C.conv2d_nhwc(-1, desc, _to_nhwc(x), packed, None, ACT_NONE, y, get_num_threads())
    y = _to_nchw(y)
    return y[0] if unbatched else y


def linear(input, weight, bias=None):
    x = as_float32(input, "input")
    w = as_float32(weight, "weight")
    if w.ndim != 2:
        raise ValueError("weight: expected 2D (out_features, in_features), got shape %s" % (w.shape,))
    out_f, in_f = w.shape
    if x.ndim < 1 or x.shape[-1] != in_f:
        raise ValueError("input: expected last dimension in_features=%d, got shape %s" % (in_f, x.shape))
    b = _vector(bias, "bias", out_f)
    lead = x.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    desc = (in_f, out_f, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed = _C.conv2d_pack(-1, desc, w.reshape(out_f, in_f, 1, 1), b)
    y = np.empty((rows, 1, 1, out_f), np.float32)
    if rows:
        _C.conv2d_nhwc(-1, desc, x.reshape(rows, 1, 1, in_f), packed, None, ACT_NONE, y, get_num_threads())
    return y.reshape(lead + (out_f,))


def _scale_shift(x, scale, shift, act):
    n, c = x.shape[0], x.shape[1]
    inner = math.prod(x.shape[2:])
    y = np.empty_like(x)
    _C.scale_shift(-1, x.reshape(n, c, inner), scale, shift, act, y.reshape(n, c, inner),
                   get_num_threads())
    return y


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Eval mode normalises with the running statistics; training=True with the batch's own
    (biased variance), as torch does for BatchNorm with track_running_stats=False. Running
    statistics are never updated (fastnorm is an inference runtime)."""
    x = as_float32(input, "input")
    if x.ndim < 2:
        raise ValueError("input: expected (N, C) or (N, C, *), got shape %s" % (x.shape,))
    c = x.shape[1]
    if not (isinstance(eps, (float, int)) and eps >= 0):
        raise ValueError("eps: expected a non-negative number, got %r" % (eps,))
    if training:
        count = x.size // c if c else 0
        if count <= 1:
            raise ValueError("input: expected more than 1 value per channel when training, got shape %s"
                             % (x.shape,))
        axes = (0,) + tuple(range(2, x.ndim))
        xd = x.astype(np.float64)
        mean = xd.mean(axis=axes).astype(np.float32)
        var = xd.var(axis=axes).astype(np.float32)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("running_mean/running_var: required when training=False")
        mean = _vector(running_mean, "running_mean", c)
        var = _vector(running_var, "running_var", c)
    scale, shift = _C.bnorm_prepare(mean, var, _vector(weight, "weight", c), _vector(bias, "bias", c),
                                    float(eps))
    return _scale_shift(x, scale, shift, ACT_NONE)


def relu(input, inplace=False):
    x = as_float32(input, "input")
    y = np.empty_like(x)
    _C.activation(-1, x.reshape(-1), ACT_RELU, y.reshape(-1), get_num_threads())
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable:
        input[...] = y
        return input
    return y


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


def flatten(input, start_dim=0, end_dim=-1):
    """torch.flatten: merge dims start_dim..end_dim (a copy, never a view of the caller's array)."""
    x = as_float32(input, "input")
    nd = max(x.ndim, 1)
    s, e = start_dim, end_dim
    if not (-nd <= s < nd and -nd <= e < nd):
        raise ValueError("flatten: dims (%d, %d) out of range for a %dD input" % (start_dim, end_dim, x.ndim))
    s, e = s % nd, e % nd
    if s > e:
        raise ValueError("flatten: start_dim %d comes after end_dim %d" % (start_dim, end_dim))
    if x.ndim == 0:
        return x.reshape(1).copy()
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]).copy()
