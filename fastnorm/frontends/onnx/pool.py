"""Handlers: MaxPool, AveragePool, global pools, ReduceMean/ReduceMax/ReduceSum (the spatial mean and max of an
image as adaptive pools, any other axes as reduce_* nodes).
"""
from fastnorm.frontends.onnx._base import (BATCH, BatchDep, Malformed, Unsupported, attr_str, axes_arg, has_batch,
    op_identity)
from fastnorm.frontends.onnx.conv import _attrs_2d, auto_pads


def _pool_common(c, node, attrs, shape):
    if len(shape) != 4:
        raise Unsupported("%dD pooling (only 1D, 2D and 3D run)" % (len(shape) - 2))
    k = [int(v) for v in attrs.get("kernel_shape", [])]
    if len(k) != 2:
        raise Malformed("kernel_shape %r" % k)
    strides = [int(v) for v in attrs.get("strides", [1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1])]
    auto_pad = attr_str(attrs.get("auto_pad"), "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = [int(v) for v in attrs.get("pads", [0, 0, 0, 0])]
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l, r) = auto_pads(auto_pad, shape[2:], k, strides, dil)
        pads = [t, l, b, r]
    else:
        raise Unsupported("auto_pad %r" % auto_pad)
    return k, strides, dil, pads, bool(attrs.get("ceil_mode", 0)), auto_pad


def _onnx_pool_out(n, k, s, d, p0, p1, ceil_mode, auto_pad):
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return -(-n // s)
    if auto_pad == "VALID":
        span = (k - 1) * d + 1
        return (n - span) // s + 1 if not ceil_mode else -(-(n - span + 1) // s)
    span = (k - 1) * d + 1
    if ceil_mode:
        out = -(-(n + p0 + p1 - span) // s) + 1
        if (out - 1) * s >= n + p0:
            out -= 1
        return out
    return (n + p0 + p1 - span) // s + 1


def _pool3d(c, node, attrs, pool2d, name, shape):
    """A 3-D pool on (n, c, t, h, w) as two 2-D pools between reshapes that keep the batch: the frames
    axis over (n, c, t, h*w) with a (kt, 1) window, then the image axes over (n, c*ot, h, w). Max is
    separable; so is an average (the window's count is the product of its axes' counts, with or without
    the padding)."""
    k = [int(v) for v in attrs.get("kernel_shape", [])]
    if len(k) != 3:
        raise Malformed("kernel_shape %r" % k)
    strides = [int(v) for v in attrs.get("strides", [1, 1, 1])]
    dil = [int(v) for v in attrs.get("dilations", [1, 1, 1])]
    auto_pad = attr_str(attrs.get("auto_pad"), "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = [int(v) for v in attrs.get("pads", [0] * 6)]
    elif auto_pad == "VALID":
        pads = [0] * 6
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        be = auto_pads(auto_pad, shape[2:], k, strides, dil)
        pads = [b for b, _ in be] + [e for _, e in be]
    else:
        raise Unsupported("auto_pad %r" % auto_pad)
    if len(strides) != 3 or len(dil) != 3 or len(pads) != 6:
        raise Malformed("strides %r / dilations %r / pads %r for a 3-D pool" % (strides, dil, pads))
    lead = -1 if shape[0] is BATCH else int(shape[0])
    n, ch, t, h, w = shape
    common = {kk: attrs[kk] for kk in ("ceil_mode", "count_include_pad") if kk in attrs}
    a1 = dict(common, kernel_shape=[k[0], 1], strides=[strides[0], 1], dilations=[dil[0], 1],
              pads=[pads[0], 0, pads[3], 0])
    v, ot = name, int(t)
    if (k[0], strides[0], pads[0], pads[3]) != (1, 1, 0, 0):   # else nothing to pool along T
        v = c.emit(node, "reshape", [v], {"shape": [lead, int(ch), int(t), int(h) * int(w)]})
        v = pool2d(c, node, a1, v, (n, ch, t, h * w))
        ot = int(c._ir_value_shape[v][2])
    a2 = dict(common, kernel_shape=k[1:], strides=strides[1:], dilations=dil[1:],
              pads=[pads[1], pads[2], pads[4], pads[5]])
    oh, ow = int(h), int(w)
    if (k[1], k[2], strides[1], strides[2]) != (1, 1, 1, 1) or any(pads[i] for i in (1, 2, 4, 5)):
        v = c.emit(node, "reshape", [v], {"shape": [lead, int(ch) * ot, int(h), int(w)]})
        v = pool2d(c, node, a2, v, (n, ch * ot, h, w))
        oh, ow = (int(d) for d in c._ir_value_shape[v][2:])
    c.set_act(node.output[0], c.emit(node, "reshape", [v], {"shape": [lead, int(ch), ot, oh, ow]}, node.output[0]))


def _pool(c, node, attrs, pool2d):
    """MaxPool / AveragePool: 2-D as is, 1-D on (n, c, l) as the 2-D pool over (n, c, 1, l) between reshapes,
    3-D as two 2-D pools (_pool3d)."""
    name, shape = c.act(node)
    if len(shape) == 5:
        return _pool3d(c, node, attrs, pool2d, name, shape)
    if len(shape) != 3:
        return c.rename(pool2d(c, node, attrs, name, shape), node.output[0])
    lead = -1 if shape[0] is BATCH else int(shape[0])
    up = c.emit(node, "reshape", [name], {"shape": [lead, int(shape[1]), 1, int(shape[2])]})
    y = pool2d(c, node, _attrs_2d(attrs), up, (shape[0], shape[1], 1, shape[2]))
    ys = c._ir_value_shape[y]
    c.set_act(node.output[0], c.emit(node, "reshape", [y], {"shape": [lead, int(ys[1]), int(ys[3])]},
                                     node.output[0]))


def op_maxpool(c, node, attrs):
    if len(node.output) > 1 and node.output[1] and node.output[1] in c._used:
        raise Unsupported("the Indices output")
    _pool(c, node, attrs, _maxpool2d)


def op_avgpool(c, node, attrs):
    _pool(c, node, attrs, _avgpool2d)


def _maxpool2d(c, node, attrs, name, shape):
    k, strides, dil, pads, ceil, auto_pad = _pool_common(c, node, attrs, shape)
    t, l, b, r = pads
    want = [_onnx_pool_out(shape[2 + i], k[i], strides[i], dil[i], pads[i], pads[2 + i], ceil, auto_pad)
            for i in range(2)]
    if t == b and l == r and t <= k[0] // 2 and l <= k[1] // 2:
        out = c.emit(node, "max_pool2d", [name], {"kernel": k, "stride": strides, "padding": [t, l],
                                                  "dilation": dil, "ceil_mode": ceil})
    else:
        # asymmetric or large pads: pad with -inf, then pool without padding
        p = c.emit(node, "pad", [name], {"pads": [l, r, t, b], "mode": "constant", "value": float("-inf")})
        out = c.emit(node, "max_pool2d", [p], {"kernel": k, "stride": strides, "padding": [0, 0],
                                               "dilation": dil, "ceil_mode": ceil})
    got = list(c._ir_value_shape[out][2:])
    if got != want:
        raise Unsupported("output %r differs from ONNX's %r for these pads/ceil_mode" % (got, want))
    return out


def _avgpool2d(c, node, attrs, name, shape):
    k, strides, dil, pads, ceil, auto_pad = _pool_common(c, node, attrs, shape)
    if dil != [1, 1]:
        raise Unsupported("dilations %r" % dil)
    cip = bool(attrs.get("count_include_pad", 0))
    t, l, b, r = pads
    want = [_onnx_pool_out(shape[2 + i], k[i], strides[i], dil[i], pads[i], pads[2 + i], ceil, auto_pad)
            for i in range(2)]
    if t == b and l == r and t <= k[0] // 2 and l <= k[1] // 2:
        out = c.emit(node, "avg_pool2d", [name], {"kernel": k, "stride": strides, "padding": [t, l],
                                                  "ceil_mode": ceil, "count_include_pad": cip})
    elif cip and not ceil:
        p = c.emit(node, "pad", [name], {"pads": [l, r, t, b], "mode": "constant", "value": 0.0})
        out = c.emit(node, "avg_pool2d", [p], {"kernel": k, "stride": strides, "padding": [0, 0],
                                               "ceil_mode": False, "count_include_pad": True})
    else:
        raise Unsupported("pads %r with count_include_pad=%d%s (asymmetric or larger than half the kernel)"
                           % (pads, cip, ", ceil_mode" if ceil else ""))
    got = list(c._ir_value_shape[out][2:])
    if got != want:
        raise Unsupported("output %r differs from ONNX's %r for these pads/ceil_mode" % (got, want))
    return out


def op_global_pool(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:   # (n, c, l) (AdaptiveAvgPool1d(1): Swin's head), (n, c, t, h, w): a reduction
        if len(shape) < 3:
            raise Unsupported("%dD input (an (N, C, ...) tensor is pooled over its dims past C)" % len(shape))
        op = "reduce_mean" if node.op_type == "GlobalAveragePool" else "reduce_max"
        c.set_act(node.output[0], c.emit(node, op, [name], {"axes": list(range(2, len(shape))), "keepdim": True},
                                         node.output[0]))
        return
    op = "adaptive_avg_pool2d" if node.op_type == "GlobalAveragePool" else "adaptive_max_pool2d"
    c.set_act(node.output[0], c.emit(node, op, [name], {"output_size": [1, 1]}, node.output[0]))


def op_reduce(c, node, attrs):
    name, shape = c.act(node)
    since = 13 if node.op_type == "ReduceSum" else 18  # ReduceSum: axes an input since 13, the rest 18
    axes = axes_arg(c, node, attrs, 1, since)
    keep = int(attrs.get("keepdims", 1))
    r = len(shape)
    if axes is None or len(axes) == 0:
        if (c.opset >= since or node.op_type == "ReduceSum") and attrs.get("noop_with_empty_axes", 0):
            # each element reduced over no axes: x itself for a sum / mean / max, but the square (sum of
            # squares) and the magnitude (L2 norm) for the norms
            if node.op_type == "ReduceSumSquare":
                return c.set_act(node.output[0], c.emit(node, "square", [name], {}, node.output[0]))
            if node.op_type == "ReduceL2":
                return c.set_act(node.output[0], c.emit(node, "abs", [name], {}, node.output[0]))
            return op_identity(c, node, attrs)
        axes = list(range(r))
    axes = sorted(a % r for a in axes)
    if node.op_type in ("ReduceL2", "ReduceSumSquare"):
        # sqrt(sum(x ** 2)) (F.normalize's norm) / sum(x ** 2): square, reduce_sum[, sqrt]
        if 0 in axes and has_batch(shape):
            raise BatchDep("reduces over the batch")
        sq = c.emit(node, "square", [name])
        if node.op_type == "ReduceSumSquare":
            c.set_act(node.output[0], c.emit(node, "reduce_sum", [sq], {"axes": axes, "keepdim": bool(keep)},
                                             node.output[0]))
            return
        s = c.emit(node, "reduce_sum", [sq], {"axes": axes, "keepdim": bool(keep)})
        c.set_act(node.output[0], c.emit(node, "sqrt", [s], {}, node.output[0]))
        return
    if r != 4 or axes != [2, 3] or node.op_type == "ReduceSum":
        if 0 in axes and has_batch(shape):
            raise BatchDep("reduces over the batch")
        op = {"ReduceMean": "reduce_mean", "ReduceSum": "reduce_sum", "ReduceMax": "reduce_max"}[node.op_type]
        c.set_act(node.output[0], c.emit(node, op, [name], {"axes": axes, "keepdim": bool(keep)}, node.output[0]))
        return
    op = "adaptive_avg_pool2d" if node.op_type == "ReduceMean" else "adaptive_max_pool2d"
    if keep:
        c.set_act(node.output[0], c.emit(node, op, [name], {"output_size": [1, 1]}, node.output[0]))
    else:
        p = c.emit(node, op, [name], {"output_size": [1, 1]})
        c.set_act(node.output[0], c.emit(node, "flatten", [p], {"start_dim": 1, "end_dim": -1}, node.output[0]))


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "MaxPool": op_maxpool,
    "AveragePool": op_avgpool,
    "GlobalAveragePool": op_global_pool,
    "GlobalMaxPool": op_global_pool,
    "ReduceMean": op_reduce,
    "ReduceMax": op_reduce,
    "ReduceSum": op_reduce,
    "ReduceL2": op_reduce,
    "ReduceSumSquare": op_reduce,
}
