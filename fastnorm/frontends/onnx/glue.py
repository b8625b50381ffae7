"""Handlers: elementwise binary ops, Sum/Mean, Concat, Pad, DepthToSpace/SpaceToDepth.
"""
import numpy as np

from fastnorm.frontends.onnx._base import (BATCH, BatchDep, Malformed, Unsupported, attr_str, axis_attr, has_batch,
    fmt_shape, ints_of, op_identity)


def _legacy_broadcast(c, node, attrs, shape, const):
    """opset < 7 Add/Mul/...: broadcast=1 aligns B's dims at `axis` (default: the trailing dims)."""
    if c.opset >= 7 or not attrs.get("broadcast", 0) or const is None:
        return const
    r = len(shape)
    axis = attrs.get("axis")
    if axis is None:
        return const
    axis = int(axis) % r
    return const.reshape(const.shape + (1,) * (r - axis - const.ndim))


def _check_const_bcast(c, shape, const):
    if const.ndim > len(shape):
        if has_batch(shape):
            raise BatchDep("a constant of rank %d adds dims before the batch" % const.ndim)
        return
    if const.ndim == len(shape) and shape and shape[0] is BATCH and const.shape[0] != 1:
        raise BatchDep("a constant %r varies along the batch" % (const.shape,))


def op_binary(c, node, attrs):
    op = node.op_type
    a, b = node.input[0], node.input[1]
    aa, ba = c.is_act(a), c.is_act(b)
    if aa and ba:
        (na, sa), (nb, sb) = c.act(node, 0), c.act(node, 1)
        if c.opset < 7 and attrs.get("broadcast", 0) and attrs.get("axis") is not None and len(sb) < len(sa):
            raise Unsupported("legacy broadcast with axis between two activations")
        if op == "Add":
            out = c.emit(node, "add", [na, nb], {}, node.output[0])
        elif op == "Mul":
            out = c.emit(node, "mul", [na, nb], {}, node.output[0])
        elif op == "Sub":
            out = c.emit(node, "sub", [na, nb], {}, node.output[0])
        else:
            out = c.emit(node, "div", [na, nb], {}, node.output[0])
        return c.set_act(node.output[0], out)
    if aa:
        name, shape = c.act(node, 0)
        k = _legacy_broadcast(c, node, attrs, shape, c.fweight(node, 1, "B", True))
        _check_const_bcast(c, shape, k)
        if op == "Add":
            out = c.emit(node, "add", [name, c.weight(node, "B", k)], {}, node.output[0])
        elif op == "Sub":
            out = c.emit(node, "add", [name, c.weight(node, "B", -k.astype(np.float32))], {}, node.output[0])
        elif op == "Mul":
            out = c.emit(node, "mul", [name, c.weight(node, "B", k)], {}, node.output[0])
        else:
            out = c.emit(node, "mul", [name, c.weight(node, "B", (1.0 / k.astype(np.float64)))], {},
                         node.output[0])
        return c.set_act(node.output[0], out)
    name, shape = c.act(node, 1)
    k = c.fweight(node, 0, "A", True)
    if c.opset < 7 and attrs.get("broadcast", 0):
        raise Unsupported("legacy broadcast with a constant A")
    _check_const_bcast(c, shape, k)
    if op == "Add":
        out = c.emit(node, "add", [name, c.weight(node, "A", k)], {}, node.output[0])
    elif op == "Mul":
        out = c.emit(node, "mul", [name, c.weight(node, "A", k)], {}, node.output[0])
    elif op == "Sub":
        out = c.emit(node, "sub", [c.weight(node, "A", k), name], {}, node.output[0])
    else:
        out = c.emit(node, "div", [c.weight(node, "A", k), name], {}, node.output[0])
    c.set_act(node.output[0], out)


def op_sum_mean(c, node, attrs):
    ins = [v for v in node.input if v]
    if not ins:
        raise Malformed("no inputs")
    acts = [v for v in ins if c.is_act(v)]
    consts = [c.const[v].astype(np.float32) for v in ins if not c.is_act(v)]
    if not acts:
        raise Malformed("no activation input")
    cur = c.ir[acts[0]]
    shape = c.shape[acts[0]]
    for v in acts[1:]:
        cur = c.emit(node, "add", [cur, c.ir[v]])
    if consts:
        k = consts[0]
        for x in consts[1:]:
            k = k + x
        _check_const_bcast(c, shape, k)
        cur = c.emit(node, "add", [cur, c.weight(node, "const", k)])
    if node.op_type == "Mean" and len(ins) > 1:
        cur = c.emit(node, "mul", [cur, c.weight(node, "inv_n", np.array([1.0 / len(ins)]))])
    if cur == c.ir[acts[0]]:
        return op_identity(c, node, attrs)
    c.rename(cur, node.output[0])


def op_concat(c, node, attrs):
    ins = [v for v in node.input if v]
    acts = [v for v in ins if c.is_act(v)]
    if not acts:
        raise Malformed("no activation input")
    ref = c.shape[acts[0]]
    r = len(ref)
    axis = axis_attr(attrs, r, 1 if c.opset < 4 else 0)
    if axis == 0 and has_batch(ref):
        raise BatchDep("concatenates along the batch")
    if len(ins) == 1:
        return op_identity(c, node, attrs)
    names = []
    for i, v in enumerate(node.input):
        if not v:
            continue
        if c.is_act(v):
            names.append(c.ir[v])
            continue
        # a constant among activations (CoordConv's coordinate channels, a learned token): a weight of
        # the activations' rank whose batch is 1 or theirs, the same dims off the axis
        k = c.fweight(node, i, "input %d" % i, True)
        if k.ndim != r or any(int(k.shape[d]) != int(ref[d]) for d in range(1, r) if d != axis) \
                or (ref[0] is not BATCH and k.shape[0] != ref[0]):
            raise Malformed("constant input %d of shape %s cannot join %s on axis %d"
                            % (i, fmt_shape(k.shape), fmt_shape(ref), axis))
        if ref[0] is BATCH and not (k.shape[0] == 1 and v in c.bconst):
            raise BatchDep("constant input %d has batch %d (only an Expand to the batch size joins any batch)"
                           % (i, k.shape[0]))
        if ref[0] is not BATCH and ref[0] != 1 and k.shape[0] == ref[0]:
            if any((k[j] != k[0]).any() for j in range(1, k.shape[0])):
                raise Unsupported("constant input %d differs across the batch" % i)
        names.append(c.weight(node, "const%d" % i, np.ascontiguousarray(k[:1], np.float32)))
    c.set_act(node.output[0], c.emit(node, "cat", names, {"dim": axis}, node.output[0]))


def op_pad(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    mode = attr_str(attrs.get("mode"), "constant")
    if c.opset < 11:
        pads = [int(v) for v in attrs.get("pads", attrs.get("paddings", []))]
        value = float(attrs.get("value", 0.0))
        axes = list(range(r))
    else:
        pads = ints_of(c, node, 1, "pads")
        if pads is None:
            raise Malformed("pads input is required")
        cv = c.cval(node, 2, "constant_value")
        value = 0.0 if cv is None or np.asarray(cv).size == 0 else float(np.asarray(cv).reshape(-1)[0])
        axes = ints_of(c, node, 3, "axes", list(range(r)))
    axes = [a % r for a in axes]
    if len(pads) != 2 * len(axes):
        raise Malformed("pads %r for %d axes" % (pads, len(axes)))
    full = [0] * (2 * r)
    for i, a in enumerate(axes):
        full[a], full[r + a] = pads[i], pads[len(axes) + i]
    if mode in ("reflect", "edge") and min(full) < 0:
        # negative pads crop: the crop first (a slice per axis), then the positive pads reflect / repeat
        # the cropped tensor's edge (onnxruntime's order)
        name, shape = _crop(c, node, name, shape, full)
        full = [max(p, 0) for p in full]
    if r == 5 and shape[1] == 1 and not (full[1] or full[6]) and (full[2] or full[7]):
        # (n, 1, c, h, w) padded on c: torch's LocalResponseNorm decomposition (a 5-D view of the image,
        # its channels padded, then a (size, 1, 1) average pool): the image's channel pad
        return _pad_unit5(c, node, name, shape, full, mode, value)
    mid = [full[a] or full[r + a] for a in range(2 if r in (3, 4) else 1, r - 2)]
    if r < 2 or full[0] or full[r] or any(mid):
        raise Unsupported("pads %r (only the last two dims, and C of a 3D or 4D tensor)" % pads)
    if r != 4:   # (n, ..., h, w) as an image (n, m, h, w): a Conv1d's causal padding, attention's pads
        return _pad_nd(c, node, name, shape, full, mode, value)
    if (full[1] or full[r + 1]) and (mode != "constant" or full[1] < 0 or full[r + 1] < 0):
        raise Unsupported("pads %r on the channels (only constant, >= 0)" % pads)
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise Unsupported("mode %r" % mode)
    t, l, b, rr = full[2], full[3], full[6], full[7]
    if not any(full):
        return op_identity(c, node, attrs)
    a = {"pads": [l, rr, t, b], "mode": modes[mode], "value": value}
    if full[1] or full[r + 1]:
        a["cpads"] = [full[1], full[r + 1]]
    c.set_act(node.output[0], c.emit(node, "pad", [name], a, node.output[0]))


def _crop(c, node, name, shape, full):
    r = len(shape)
    for a in range(r):
        front, back = min(full[a], 0), min(full[r + a], 0)
        if not (front or back):
            continue
        if shape[a] is BATCH or a == 0:
            raise Unsupported("negative pads %r on the batch" % full)
        d = int(shape[a])
        if d + front + back < 0:
            raise Malformed("pads %r crop more than dim %d's %d" % (full, a, d))
        if d + front + back == 0:
            raise Unsupported("pads %r crop dim %d to nothing (an empty tensor)" % (full, a))
        name = c.emit(node, "slice", [name], {"dim": a, "start": -front, "end": d + back, "step": 1})
        shape = c.shape_of_ir(name)
    return name, shape


def _pad_unit5(c, node, name, shape, full, mode, value):
    if mode != "constant" or full[2] < 0 or full[7] < 0:
        raise Unsupported("pads %r on dim 2 of a 5D tensor (only constant, >= 0)" % full)
    lead = -1 if shape[0] is BATCH else int(shape[0])
    dims = [int(d) for d in shape[2:]]
    x4 = c.emit(node, "reshape", [name], {"shape": [lead] + dims})
    y = c.emit(node, "pad", [x4], {"pads": [full[4], full[9], full[3], full[8]], "mode": "constant",
                                  "value": value, "cpads": [full[2], full[7]]})
    out = [1] + [dims[i] + full[2 + i] + full[7 + i] for i in range(3)]
    c.set_act(node.output[0], c.emit(node, "reshape", [y], {"shape": [lead] + out}, node.output[0]))


def _pad_nd(c, node, name, shape, full, mode, value):
    """Pad of a 2-D, 3-D or 5-D+ tensor on its last two dims (and the channels of a 3-D one) as the image
    pad on a view (n, m, h, w): (n, l) -> (n, 1, 1, l); (n, c, l) -> (n, c, 1, l), the channels as
    cpads; (n, d1, .., h, w) -> (n, d1 * .., h, w)."""
    r = len(shape)
    dims = [int(d) for d in shape[1:]]
    if r == 3:
        view, front, back = [dims[0], 1, dims[1]], [full[1], 0, full[2]], [full[4], 0, full[5]]
    elif r == 2:
        view, front, back = [1, 1, dims[0]], [0, 0, full[1]], [0, 0, full[3]]
    else:
        m = 1
        for d in dims[:-2]:
            m *= d
        view, front, back = [m] + dims[-2:], [0, full[r - 2], full[r - 1]], [0, full[2 * r - 2], full[2 * r - 1]]
    if (front[0] or back[0]) and (mode != "constant" or front[0] < 0 or back[0] < 0):
        raise Unsupported("pads %r on the channels (only constant, >= 0)" % full)
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
    if mode not in modes:
        raise Unsupported("mode %r" % mode)
    if not any(full):
        return op_identity(c, node, {})
    lead = -1 if shape[0] is BATCH else int(shape[0])
    up = c.emit(node, "reshape", [name], {"shape": [lead] + view})
    a = {"pads": [front[2], back[2], front[1], back[1]], "mode": modes[mode], "value": value}
    if front[0] or back[0]:
        a["cpads"] = [front[0], back[0]]
    y = c.emit(node, "pad", [up], a)
    out = [dims[i] + full[1 + i] + full[r + 1 + i] for i in range(r - 1)]
    c.set_act(node.output[0], c.emit(node, "reshape", [y], {"shape": [lead] + out}, node.output[0]))


def op_depth_to_space(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise Malformed("input must be 4D")
    bs = int(attrs.get("blocksize"))
    mode = attr_str(attrs.get("mode"), "DCR")
    if shape[1] % (bs * bs):
        raise Malformed("%d channels not divisible by blocksize^2" % shape[1])
    cur = name
    if mode == "DCR":
        # DCR channel k = s*C' + c; CRD (pixel_shuffle) wants c*b^2 + s: a channel shuffle with b^2 groups
        cur = c.emit(node, "channel_shuffle", [cur], {"groups": bs * bs})
    elif mode != "CRD":
        raise Unsupported("mode %r" % mode)
    c.set_act(node.output[0], c.emit(node, "pixel_shuffle", [cur], {"factor": bs}, node.output[0]))


def op_space_to_depth(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise Malformed("input must be 4D")
    bs = int(attrs.get("blocksize"))
    mode = attr_str(attrs.get("mode"), "DCR")
    if mode not in ("DCR", "CRD"):
        raise Unsupported("mode %r" % mode)
    u = c.emit(node, "pixel_unshuffle", [name], {"factor": bs})
    # pixel_unshuffle gives channel c*b^2 + s (CRD); DCR wants s*C + c: a channel shuffle with C groups
    if shape[1] == 1 or mode == "CRD":
        return c.rename(u, node.output[0])
    c.set_act(node.output[0], c.emit(node, "channel_shuffle", [u], {"groups": shape[1]}, node.output[0]))


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Add": op_binary,
    "Sub": op_binary,
    "Mul": op_binary,
    "Div": op_binary,
    "Sum": op_sum_mean,
    "Mean": op_sum_mean,
    "Concat": op_concat,
    "Pad": op_pad,
    "DepthToSpace": op_depth_to_space,
    "SpaceToDepth": op_space_to_depth,
}
