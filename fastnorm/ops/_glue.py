"""Shape and data-movement glue: flatten, add/mul (broadcasting), cat, pad, interpolate,
pixel_shuffle / pixel_unshuffle, channel_shuffle. torch's names, arguments and semantics; NCHW."""
import math
import numbers

import numpy as np

from fastnorm import _C
from fastnorm.ops._common import ACT_NONE, as_float32
from fastnorm.threads import get_num_threads

__all__ = ["flatten", "add", "mul", "cat", "pad", "interpolate", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle"]


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


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


# ------------------------------------------------------------------------------------ add / mul

def _operand(v, name):
    if isinstance(v, numbers.Real) and not isinstance(v, (np.ndarray,)):
        if isinstance(v, bool):
            raise TypeError("%s: expected a float32 array or a number, got bool" % name)
        return np.asarray(v, np.float32)
    return as_float32(v, name)


def _broadcast_plan(ashape, bshape):
    """Output shape and the merged (shape, a strides, b strides) the C driver walks, in elements."""
    try:
        out = np.broadcast_shapes(ashape, bshape)
    except ValueError:
        raise ValueError("other: shape %s cannot be broadcast with input shape %s" % (bshape, ashape)) from None
    nd = len(out)

    def strides(shape):
        shape = (1,) * (nd - len(shape)) + tuple(shape)
        st, acc = [0] * nd, 1
        for d in range(nd - 1, -1, -1):
            st[d] = acc if shape[d] == out[d] and shape[d] != 1 else 0
            acc *= shape[d]
        return st

    sa, sb = strides(ashape), strides(bshape)
    dims = [(out[d], sa[d], sb[d]) for d in range(nd) if out[d] != 1]
    merged = []
    for n, x, y in dims:
        if merged:
            pn, px, py = merged[-1]
            if px == x * n and py == y * n:
                merged[-1] = (pn * n, x, y)
                continue
        merged.append((n, x, y))
    if not merged:
        merged = [(1, 1, 1)] if math.prod(out) else [(0, 1, 1)]
    return out, merged


def _binary(op, input, other, alpha, act=ACT_NONE):
    a = _operand(input, "input")
    b = _operand(other, "other")
    out, merged = _broadcast_plan(a.shape, b.shape)
    y = np.empty(out, np.float32)
    if y.size == 0:
        return y
    if len(merged) > 8:  # alternating broadcast dims beyond the driver's rank: materialise both
        a = np.ascontiguousarray(np.broadcast_to(a, out))
        b = np.ascontiguousarray(np.broadcast_to(b, out))
        merged = [(y.size, 1, 1)]
    shape = tuple(m[0] for m in merged)
    _C.binary(-1, op, float(alpha), shape, tuple(m[1] for m in merged), tuple(m[2] for m in merged),
              a.reshape(-1), b.reshape(-1), act, y.reshape(-1), get_num_threads())
    return y


def add(input, other, alpha=1):
    """torch.add: input + alpha * other, with NumPy/torch broadcasting; other may be a number."""
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool):
        raise TypeError("alpha: expected a number, got %r" % (alpha,))
    return _binary(_C.BIN_ADD, input, other, alpha)


def mul(input, other):
    """torch.mul: input * other, with NumPy/torch broadcasting; other may be a number."""
    return _binary(_C.BIN_MUL, input, other, 1.0)


# -------------------------------------------------------------------------------------------- cat

def cat(tensors, dim=0):
    """torch.cat: join along dim (default 0, as torch). 1-D empty arrays are skipped, as torch's
    legacy rule; every other input must have the same rank and sizes outside dim."""
    if isinstance(tensors, np.ndarray) or not isinstance(tensors, (list, tuple)):
        raise TypeError("tensors: expected a list or tuple of arrays, got %s" % type(tensors).__name__)
    if len(tensors) == 0:
        raise ValueError("tensors: expected a non-empty list of arrays")
    if not _is_int(dim):
        raise TypeError("dim: expected an int, got %r" % (dim,))
    xs = [as_float32(t, "tensors[%d]" % i) for i, t in enumerate(tensors)]
    keep = [(i, x) for i, x in enumerate(xs) if not (x.ndim == 1 and x.shape[0] == 0)]
    if not keep:
        return np.empty((0,), np.float32)
    i0, ref = keep[0]
    nd = ref.ndim
    if nd == 0:
        raise ValueError("tensors[%d]: zero-dimensional arrays cannot be concatenated" % i0)
    if not -nd <= dim < nd:
        raise ValueError("dim: expected a value in [%d, %d] for %dD inputs, got %d" % (-nd, nd - 1, nd, dim))
    d = dim % nd
    for i, x in keep:
        if x.ndim != nd:
            raise ValueError("tensors[%d]: expected %dD like tensors[%d], got %dD" % (i, nd, i0, x.ndim))
        if x.shape[:d] != ref.shape[:d] or x.shape[d + 1:] != ref.shape[d + 1:]:
            raise ValueError("tensors[%d]: sizes must match except in dim %d: expected %s, got %s" % (
                i, d, ref.shape[:d] + ("*",) + ref.shape[d + 1:], x.shape))
    shape = ref.shape[:d] + (sum(x.shape[d] for _, x in keep),) + ref.shape[d + 1:]
    y = np.empty(shape, np.float32)
    if y.size == 0:
        return y
    outer = math.prod(ref.shape[:d])
    _C.cat(-1, [x.reshape(-1) for _, x in keep], outer, y.reshape(-1), get_num_threads())
    return y


# -------------------------------------------------------------------------------------------- pad

_PAD_MODES = {"constant": _C.PAD_CONSTANT, "reflect": _C.PAD_REFLECT, "replicate": _C.PAD_REPLICATE}


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad of the last one or two dims: pad = (left, right[, top, bottom]).
    constant: any rank >= len(pad)/2, negative pads crop; reflect/replicate: 2-tuple on 2D/3D
    input, 4-tuple on 3D/4D input, as torch; reflect needs every pad < the padded extent."""
    x = as_float32(input, "input")
    if not isinstance(pad, (tuple, list)) or not all(_is_int(p) for p in pad):
        raise TypeError("pad: expected a tuple of ints, got %r" % (pad,))
    if len(pad) not in (2, 4):
        raise ValueError("pad: expected 2 or 4 values (left, right[, top, bottom]), got %d" % len(pad))
    if mode not in _PAD_MODES:
        raise ValueError("mode: expected one of %s, got %r" % (", ".join(_PAD_MODES), mode))
    if value is None:
        value = 0.0
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError("value: expected a number, got %r" % (value,))
    if mode != "constant" and value != 0:
        raise ValueError("value: padding mode %r does not take a fill value, got %r" % (mode, value))
    l, r = int(pad[0]), int(pad[1])
    t, b = (int(pad[2]), int(pad[3])) if len(pad) == 4 else (0, 0)
    k = len(pad) // 2
    if mode == "constant":
        if x.ndim < k:
            raise ValueError("pad: %d values pad %d dims, input has %d" % (len(pad), k, x.ndim))
    else:
        ok = (2, 3) if k == 1 else (3, 4)
        if x.ndim not in ok:
            raise ValueError("input: %s padding with %d values needs a %dD or %dD input, got %dD"
                             % (mode, len(pad), ok[0], ok[1], x.ndim))
    w = x.shape[-1]
    h = x.shape[-2] if k == 2 else 1
    lead = x.shape[:-k]
    planes = math.prod(lead)
    if mode == "reflect":
        for name, p, size in (("left", l, w), ("right", r, w), ("top", t, h), ("bottom", b, h)):
            if abs(p) >= size and (name in ("left", "right") or k == 2):
                raise ValueError("pad: reflect %s padding %d must be smaller than the input extent %d"
                                 % (name, p, size))
    if mode == "replicate" and x.size == 0:
        raise ValueError("input: replicate padding needs a non-empty input, got shape %s" % (x.shape,))
    oh, ow = h + t + b, w + l + r
    # torch crops (narrows) before it pads: each dim's crops together must fit in that dim
    if w + min(l, 0) + min(r, 0) < 0 or h + min(t, 0) + min(b, 0) < 0 or oh < 0 or ow < 0:
        raise ValueError("pad: %r crops more than the input shape %s holds" % (tuple(pad), x.shape))
    y = np.empty(lead + ((oh, ow) if k == 2 else (ow,)), np.float32)
    if y.size == 0:
        return y
    _C.pad2d(-1, _PAD_MODES[mode], x.reshape(planes, h, w, 1), (l, r, t, b), float(value),
             y.reshape(planes, oh, ow, 1), get_num_threads())
    return y


# ------------------------------------------------------------------------------------ interpolate

_INTERP_MODES = {"nearest": _C.INTERP_NEAREST, "nearest-exact": _C.INTERP_NEAREST_EXACT,
                 "bilinear": _C.INTERP_LINEAR, "linear": _C.INTERP_LINEAR}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """torch.nn.functional.interpolate for 'nearest', 'nearest-exact' (3D or 4D input), 'linear'
    (3D) and 'bilinear' (4D), with torch's index rules and the scale it uses when scale_factor is
    given (1/scale_factor unless recompute_scale_factor=True)."""
    x = as_float32(input, "input")
    if mode not in _INTERP_MODES:
        raise ValueError("mode: expected one of %s, got %r" % (", ".join(_INTERP_MODES), mode))
    if antialias:
        raise ValueError("antialias: only antialias=False is supported")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("align_corners: can only be set with the interpolating modes linear | bilinear, "
                         "got align_corners=%r with mode %r" % (align_corners, mode))
    need = {"linear": (3,), "bilinear": (4,)}.get(mode, (3, 4))
    if x.ndim not in need:
        raise ValueError("input: mode %r needs a %s input, got %dD with shape %s"
                         % (mode, " or ".join("%dD" % n for n in need), x.ndim, x.shape))
    if (size is None) == (scale_factor is None):
        raise ValueError("size/scale_factor: %s" % ("only one of size or scale_factor should be defined"
                                                     if size is not None else
                                                     "either size or scale_factor should be defined"))
    sp = x.ndim - 2
    ins = x.shape[2:]
    if size is not None:
        sz = tuple(size) if isinstance(size, (tuple, list)) else (size,) * sp
        if len(sz) != sp or not all(_is_int(s) for s in sz):
            raise ValueError("size: expected an int or %d ints, got %r" % (sp, size))
        outs = tuple(int(s) for s in sz)
        scales = (None,) * sp
    else:
        sf = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * sp
        if len(sf) != sp or not all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in sf):
            raise ValueError("scale_factor: expected a number or %d numbers, got %r" % (sp, scale_factor))
        if any(not s > 0 for s in sf):
            raise ValueError("scale_factor: expected positive values, got %r" % (scale_factor,))
        outs = tuple(int(math.floor(float(n) * float(s))) for n, s in zip(ins, sf))
        scales = (None,) * sp if recompute_scale_factor else tuple(float(s) for s in sf)
    if any(n <= 0 for n in ins) or any(o <= 0 for o in outs):
        raise ValueError("input/size: input and output sizes should be greater than 0, got input %s output %s"
                         % (ins, outs))
    return _interpolate_to(x, outs, scales, mode, int(bool(align_corners)) if linear else 0)


def _interpolate_to(x, outs, scales, mode, align_corners):
    """interpolate's kernel call: x (N, C, *ins) to the spatial sizes outs, each axis's source
    coordinates by its scale (None: in / out). The size and the scale apart, as ONNX Resize has them
    (its output size is the float32 product of the two; fastnorm.frontends.onnx.resize). align_corners:
    0, 1, or 2 for ONNX's asymmetric linear coordinates (src = o / scale)."""
    sp = x.ndim - 2
    ins = x.shape[2:]
    m = _INTERP_MODES[mode]
    ac = int(align_corners)
    tabs = [_C.interp_axis(m, n, o, -1.0 if s is None else s, ac) for n, o, s in zip(ins, outs, scales)]
    if sp == 1:
        # one row, read twice with weights 1/2 + 1/2: exact (t/2 + t/2 == t, inf stays inf), where
        # 1 and 0 would turn an inf into NaN (0 * inf) that torch's one-factor 1D kernel never makes
        ty = (np.zeros(1, np.int32), np.zeros(1, np.int32), np.full(1, 0.5, np.float32),
              np.full(1, 0.5, np.float32))
        h, oh, tx = 1, 1, tabs[0]
    else:
        (h, _), (oh, _), ty, tx = ins, outs, tabs[0], tabs[1]
    w, ow = ins[-1], outs[-1]
    n, c = x.shape[:2]
    y = np.empty((n, c) + outs, np.float32)
    _C.interp2d_nchw(-1, m, x.reshape(n * c, h, w), ty, tx, y.reshape(n * c, oh, ow), get_num_threads())
    return y


# -------------------------------------------------------------------------------------- shuffles

def _factor(v, name):
    if not _is_int(v):
        raise TypeError("%s: expected an int, got %r" % (name, v))
    if v < 1:
        raise ValueError("%s: expected a positive int, got %d" % (name, v))
    return int(v)


def pixel_shuffle(input, upscale_factor):
    """torch.nn.functional.pixel_shuffle: (*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    x = as_float32(input, "input")
    r = _factor(upscale_factor, "upscale_factor")
    if x.ndim < 3:
        raise ValueError("input: expected at least 3 dims (*, C, H, W), got shape %s" % (x.shape,))
    c2, h, w = x.shape[-3:]
    if c2 % (r * r):
        raise ValueError("input: channels (%d) must be divisible by upscale_factor**2 = %d" % (c2, r * r))
    lead = x.shape[:-3]
    n, c = math.prod(lead), c2 // (r * r)
    y = np.empty(lead + (c, h * r, w * r), np.float32)
    if y.size:
        _C.pixel_shuffle_nchw(x.reshape(n, c2, h, w), r, False, y.reshape(n, c, h * r, w * r),
                              get_num_threads())
    return y


def pixel_unshuffle(input, downscale_factor):
    """torch.nn.functional.pixel_unshuffle: (*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    x = as_float32(input, "input")
    r = _factor(downscale_factor, "downscale_factor")
    if x.ndim < 3:
        raise ValueError("input: expected at least 3 dims (*, C, H, W), got shape %s" % (x.shape,))
    c, H, W = x.shape[-3:]
    if H % r or W % r:
        raise ValueError("input: height and width (%d, %d) must be divisible by downscale_factor %d" % (H, W, r))
    lead = x.shape[:-3]
    n, h, w = math.prod(lead), H // r, W // r
    y = np.empty(lead + (c * r * r, h, w), np.float32)
    if y.size:
        _C.pixel_shuffle_nchw(x.reshape(n, c, H, W), r, True, y.reshape(n, c * r * r, h, w),
                              get_num_threads())
    return y


def channel_shuffle(input, groups):
    """torch.nn.functional.channel_shuffle (nn.ChannelShuffle): (N, C, *) with C = g * k; channel
    i*k + j goes to j*g + i."""
    x = as_float32(input, "input")
    g = _factor(groups, "groups")
    if x.ndim < 3:
        raise ValueError("input: expected more than 2 dims (N, C, *), got shape %s" % (x.shape,))
    n, c = x.shape[:2]
    if c % g:
        raise ValueError("groups: the %d channels must be divisible by groups=%d" % (c, g))
    y = np.empty_like(x)
    if y.size:
        hw = math.prod(x.shape[2:])
        _C.channel_shuffle_nchw(-1, x.reshape(n, c, hw), g, y.reshape(n, c, hw), get_num_threads())
    return y
