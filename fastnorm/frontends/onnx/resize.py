"""Handlers: Upsample and Resize.
"""
import math

import numpy as np

from fastnorm.frontends.onnx._base import BATCH, UNKNOWN, BatchDep, Malformed, Sym, Unsupported, attr_str, fmt_shape
from fastnorm.limits import _bound


def op_upsample(c, node, attrs):
    name, shape = c.act(node)
    mode = attr_str(attrs.get("mode"), "nearest")
    if c.opset < 9:
        scales = [float(v) for v in attrs.get("scales", [])]
        if not scales:  # opset < 7: height_scale / width_scale
            scales = [1.0, 1.0, float(attrs.get("height_scale", 1.0)), float(attrs.get("width_scale", 1.0))]
    else:
        s = c.cval(node, 1, "scales", required=True)
        scales = [float(v) for v in np.asarray(s).reshape(-1)]
    _resize_common(c, node, name, shape, mode, "asymmetric", "floor", scales, None, 0)


def op_resize(c, node, attrs):
    name, shape = c.act(node)
    mode = attr_str(attrs.get("mode"), "nearest")
    if c.opset < 11:
        s = c.cval(node, 1, "scales", required=True)
        scales = [float(v) for v in np.asarray(s).reshape(-1)]
        return _resize_common(c, node, name, shape, mode, "asymmetric", "floor", scales, None, 0)
    ctm = attr_str(attrs.get("coordinate_transformation_mode"), "half_pixel")
    nearest_mode = attr_str(attrs.get("nearest_mode"), "round_prefer_floor")
    if ctm == "tf_crop_and_resize":
        raise Unsupported("coordinate_transformation_mode 'tf_crop_and_resize'")
    scales = c.cval(node, 2, "scales")
    # sizes computed from a shape (Concat(Shape(x)[:2], [h, w])) may hold the symbolic batch: kept
    # symbolic here, _resize_common checks that only H and W change
    v = node.input[3] if len(node.input) > 3 else ""
    sizes = c.const[v] if v and v in c.const and np.asarray(c.const[v]).dtype == object else c.cval(node, 3, "sizes")
    scales = None if scales is None or np.asarray(scales).size == 0 else [float(v) for v in np.asarray(scales).reshape(-1)]
    sizes_v = None
    if sizes is not None and np.asarray(sizes).size:
        sizes_v = list(np.asarray(sizes).reshape(-1))
    antialias = int(attrs.get("antialias", 0))
    axes = attrs.get("axes")
    kar = attr_str(attrs.get("keep_aspect_ratio_policy"), "stretch")
    r = len(shape)
    if axes is not None:
        axes = [int(a) % r for a in axes]
        if scales is not None:
            full = [1.0] * r
            for a, s in zip(axes, scales):
                full[a] = s
            scales = full
        if sizes_v is not None:
            full = list(shape)
            for a, s in zip(axes, sizes_v):
                full[a] = s
            sizes_v = full
    if sizes_v is not None and kar != "stretch":
        raise Unsupported("keep_aspect_ratio_policy %r" % kar)
    _resize_common(c, node, name, shape, mode, ctm, nearest_mode, scales, sizes_v, antialias)


def onnx_out_size(n, scale):
    """An axis's output length for ONNX Resize scales: floor(n * scale) with the product in float32, as
    ONNX Runtime computes it (and torch, whose double scale the exporters wrote as this float32 one):
    10 * 0.7 is 7 there, while 10 * float64(float32(0.7)) = 6.99999988 floors to 6."""
    return int(math.floor(float(np.float32(n) * np.float32(scale))))


def _kernel_scales(scale):
    """The scales to try for an axis's Resize scale on fastnorm's kernel, which maps output o to source
    o * float32(1 / scale) (torch's rule) where ONNX Resize divides, o / scale in float32: the scale
    itself, then the two whose float32 reciprocals are that one's neighbours (with them the products
    fall where ONNX Runtime's quotients do: output 33 of a 16 -> 35 axis at scale 2.2 is source 15
    there, 14 at float32(1 / 2.2)). None (a size given): the ratio."""
    if scale is None:
        return [None]
    r = np.float32(1.0 / float(scale))
    return [float(scale)] + [1.0 / float(v) for v in (np.nextafter(r, np.float32(np.inf)),
                                                       np.nextafter(r, np.float32(0)))]


# the longest image axis Resize converts (2**24 pixels: far past any image, a 64 MB probe)
MAX_PROBE = 1 << 24


def _onnx_axis_map(mode, ctm, nearest_mode, n_in, n_out, scale, probe, dtype=np.float64):
    """ONNX Resize (opset 19's definition: 'nearest' or 'linear', no antialias) applied to a 1D probe along
    one axis, written from the operator's specification: each output index i maps to a source coordinate x
    by the coordinate transformation mode; 'nearest' takes the sample nearest_mode picks (an integer x is
    itself), 'linear' blends the two samples around x; samples past either end repeat the edge.
    scale: the axis's float32 scale, or None when the size was given (the scale is then n_out / n_in).
    dtype: the coordinates' arithmetic: float64 (the definition, as onnx.reference evaluates it) or float32
    (as ONNX Runtime and torch's kernels compute them: 1 / float32(1/3) is 2.99999991 in float64, whose
    floor is 2, and 3.0 in float32)."""
    data = np.asarray(probe, np.float64).reshape(-1)
    f = np.dtype(dtype).type
    scale = f(n_out) / f(n_in) if scale is None else f(np.float32(scale))
    width = scale * f(n_in)         # the output width before rounding (a float)
    y = np.arange(n_out, dtype=dtype)
    if ctm == "align_corners":
        x = np.zeros(n_out, dtype) if width == 1 else y * f(n_in - 1) / (width - f(1))
    elif ctm == "asymmetric":
        x = y / scale
    elif ctm == "pytorch_half_pixel":
        x = np.full(n_out, -0.5, dtype) if width == 1 else (y + f(0.5)) / scale - f(0.5)
    elif ctm == "half_pixel":
        x = (y + f(0.5)) / scale - f(0.5)
    elif ctm == "half_pixel_symmetric":
        offset = f(n_in) / f(2) * (f(1) - f(n_out) / width)
        x = offset + (y + f(0.5)) / scale - f(0.5)
    else:
        raise ValueError("coordinate_transformation_mode %r" % ctm)
    x = x.astype(np.float64)
    lo = np.floor(x)
    frac = x - lo
    lo = lo.astype(np.int64)
    whole = frac == 0
    hi_at = np.clip(lo + 1, 0, n_in - 1)
    lo_at = np.clip(lo, 0, n_in - 1)
    if mode == "linear":
        out = data[lo_at] * (1 - frac) + data[hi_at] * frac
        return np.where(whole, data[lo_at], out)
    if nearest_mode == "round_prefer_floor":
        up = frac > 0.5
    elif nearest_mode == "round_prefer_ceil":
        up = frac >= 0.5
    elif nearest_mode == "floor":
        up = np.zeros(n_out, bool)
    elif nearest_mode == "ceil":
        up = np.ones(n_out, bool)
    else:
        raise ValueError("nearest_mode %r" % nearest_mode)
    return np.where(whole, data[lo_at], np.where(up, data[hi_at], data[lo_at]))


def _nhwc(shape, scales, sizes):
    """Whether a 4D Resize scales dims 1 and 2 and keeps dim 3: an NHWC image (tf2onnx, Keras)."""
    if scales is not None:
        return scales[0] == 1.0 and scales[3] == 1.0 and scales[1] != 1.0
    return (not isinstance(sizes[1], Sym) and not isinstance(sizes[3], Sym) and sizes[3] == shape[3]
            and sizes[1] != shape[1])


def _resize_common(c, node, name, shape, mode, ctm, nearest_mode, scales, sizes, antialias, out=True):
    """out: True (the node's output gets the result) or False (the IR name is returned)."""
    from fastnorm.ops._glue import _interpolate_to
    r = len(shape)
    if r != 4:
        raise Unsupported("a %dD input (only 4D images)" % r)
    if scales is not None and len(scales) != r:
        raise Malformed("scales %r for a %dD input" % (scales, r))
    if sizes is not None and len(sizes) != r:
        raise Malformed("sizes %r for a %dD input" % (sizes, r))
    if scales is None and sizes is None:
        raise Malformed("neither scales nor sizes")
    if out and _nhwc(shape, scales, sizes):
        # an NHWC image: resized as NCHW between two transposes
        t = c.emit(node, "transpose", [name], {"perm": [0, 3, 1, 2]})
        p = [0, 3, 1, 2]
        y = _resize_common(c, node, t, tuple(shape[i] for i in p), mode, ctm, nearest_mode,
                           None if scales is None else [scales[i] for i in p],
                           None if sizes is None else [sizes[i] for i in p], antialias, out=False)
        c.set_act(node.output[0], c.emit(node, "transpose", [y], {"perm": [0, 2, 3, 1]}, node.output[0]))
        return
    if scales is not None and (scales[0] != 1.0 or scales[1] != 1.0):
        if scales[0] != 1.0 and shape[0] is BATCH:
            raise BatchDep("scales the batch dim")
        raise Unsupported("scales %r (only H and W may be scaled)" % scales)
    if sizes is not None:
        sizes = [s if isinstance(s, Sym) else int(s) for s in sizes]
        if any(s is UNKNOWN for s in sizes):
            raise BatchDep("sizes computed from the batch")
        if shape[0] is BATCH and sizes[0] is not BATCH:
            if c.declared_batch and all(b == sizes[0] for b in c.declared_batch.values()):
                c.note("batch_sizes", node, "Resize sizes[0]=%d, the declared batch, taken as keeping the batch"
                       % sizes[0])
                sizes[0] = BATCH
            else:
                raise BatchDep("sizes[0]=%d fixes the batch" % sizes[0])
        if (sizes[0] is not shape[0] and sizes[0] != shape[0]) or sizes[1] != shape[1]:
            raise Unsupported("sizes %r (only H and W may change)" % fmt_shape(sizes))
    if mode not in ("nearest", "linear", "bilinear"):
        raise Unsupported("mode %r" % mode)
    if ctm not in ("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners", "half_pixel_symmetric"):
        raise Unsupported("coordinate_transformation_mode %r" % ctm)
    if mode == "nearest" and nearest_mode not in ("floor", "ceil", "round_prefer_floor", "round_prefer_ceil"):
        raise Unsupported("nearest_mode %r" % nearest_mode)
    ins = shape[2:]
    if sizes is not None:
        outs = [int(sizes[2]), int(sizes[3])]
        axis_scales = [None, None]
    else:
        outs = [onnx_out_size(ins[i], scales[2 + i]) for i in range(2)]
        axis_scales = [scales[2], scales[3]]
    if min(outs) < 1:
        raise Malformed("output size %r" % outs)
    if max(outs + list(ins)) > MAX_PROBE:
        # the mapping below evaluates ONNX Resize on one row of each axis: bound it before
        # allocating (a declared height of 2**31 - 1 took 8 GiB here; found by tools/fuzz_onnx.py)
        raise Malformed("resize %r -> %r: an axis longer than %d" % (list(ins), outs, MAX_PROBE))
    # the output at batch 1 against max_tensor_bytes before the probes below (ONNX's reference Resize
    # takes ~7 us an output pixel: a 2**20-pixel axis took 15 s to convert a model then refused)
    _bound(c.where(node), "output %r" % node.output[0],
           (1, shape[1] if isinstance(shape[1], int) else 1, outs[0], outs[1]), c.max_tensor_bytes)
    if antialias and mode != "nearest" and any(o < i for o, i in zip(outs, ins)):
        raise Unsupported("antialias=1 when downsampling")
    onnx_mode = "linear" if mode in ("linear", "bilinear") else "nearest"
    rng = np.random.default_rng(7)
    # (IR mode, interp_axis's align_corners: 0, 1, or 2 for ONNX's asymmetric linear coordinates)
    candidates = ([("nearest", 0), ("nearest-exact", 0)] if onnx_mode == "nearest"
                  else [("bilinear", 0), ("bilinear", 1), ("bilinear", 2)])
    ok = None
    for ir_mode, ac in candidates:
        chosen = []      # per axis: the scale given to the kernel (None: the size's ratio)
        for ax in range(2):
            n_in, n_out = ins[ax], outs[ax]
            probe = (np.arange(n_in, dtype=np.float32) if onnx_mode == "nearest"
                     else rng.standard_normal(n_in).astype(np.float32))
            try:
                # the definition's coordinates, and ONNX Runtime's float32 ones (they part where a
                # coordinate falls on an integer in one and just beside it in the other): either will do
                wants = [_onnx_axis_map(onnx_mode, ctm, nearest_mode, n_in, n_out, axis_scales[ax], probe, dt)
                         for dt in (np.float64, np.float32)]
            except Exception as e:  # noqa: BLE001
                raise Unsupported("attributes the Resize definition rejects (%s)" % e)
            x = probe.reshape(1, 1, n_in, 1) if ax == 0 else probe.reshape(1, 1, 1, n_in)
            for s in _kernel_scales(axis_scales[ax]):
                try:
                    got = _interpolate_to(x, (n_out, 1) if ax == 0 else (1, n_out),
                                          (s, None) if ax == 0 else (None, s), ir_mode, ac).reshape(-1)
                except ValueError:
                    continue
                if any(got.shape == w.shape and np.allclose(got, w, rtol=1e-5, atol=1e-5) for w in wants):
                    chosen.append(s)
                    break
            else:
                break
        if len(chosen) == 2:
            ok = (ir_mode, ac)
            break
    if ok is None:
        desc = "mode %r with coordinate_transformation_mode %r" % (mode, ctm)
        if onnx_mode == "nearest":
            desc += " and nearest_mode %r" % nearest_mode
        raise Unsupported("%s for %s -> %s (fastnorm's interpolate has torch's nearest, nearest-exact "
                           "and bilinear with or without align_corners, and bilinear on asymmetric "
                           "coordinates)" % (desc, list(ins), outs))
    attrs = {"mode": ok[0]}
    if ok[0] == "bilinear":
        attrs["align_corners"] = ok[1] == 1
        if ok[1] == 2:
            attrs["asymmetric"] = True
    if sizes is not None:
        attrs["size"] = outs
    else:
        attrs["scale_factor"] = [float(v) for v in chosen]
        if [int(math.floor(i * s)) for i, s in zip(ins, attrs["scale_factor"])] != outs:
            attrs["size"] = outs     # the IR's size for the shape, its scale for the coordinates
    if not out:
        return c.emit(node, "interpolate", [name], attrs)
    c.set_act(node.output[0], c.emit(node, "interpolate", [name], attrs, node.output[0]))


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Upsample": op_upsample,
    "Resize": op_resize,
}
