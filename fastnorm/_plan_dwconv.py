"""Lowering of depthwise conv2d nodes (groups == in == out channels) to the DWCONV2D plan record,
or, with the 1x1 conv that alone reads its output, to one DWCONV_PW record.

Called first thing by plan._lower_conv2d; returns False for every other conv, which then takes the
generic path (a channel multiplier > 1 stays on the grouped GEMM).
"""
import os

import numpy as np

from fastnorm import _C
from fastnorm.graph import act_tuple

OP_DWCONV2D = 22  # fn_op_type FN_OP_DWCONV2D
OP_DWCONV_PW = 26  # fn_op_type FN_OP_DWCONV_PW

# Fuse a depthwise conv with the 1x1 conv after it when the depthwise output is at least this big:
# below, it stays in L2 between the two ops anyway and the banded schedule only adds fork/joins.
# FASTNORM_DWPW=0 turns the fusion off (read when a plan is built).
DWPW_MIN_BYTES = 1 << 20
# Also fuse the 1x1 expand conv before the depthwise one when its output is at least this big: each
# band then recomputes a halo of (kh - 1) expanded rows, which only pays when the expanded tensor
# would otherwise go to DRAM and back (MobileNetV2 at batch 16: 10-80 MB per block).
DWPW_EXPAND_MIN_BYTES = 4 << 20


def _pointwise_after(plan, node, graph, loc, c):
    """The 1x1 conv (stride 1, no padding, groups 1) that alone reads this depthwise output."""
    if os.environ.get("FASTNORM_DWPW", "1") == "0" or c <= 4:
        return None
    if node.outputs[0] in {t.name for t in graph.outputs}:
        return None
    readers = graph.consumers().get(node.outputs[0], [])
    if len(readers) != 1 or readers[0].op != "conv2d":
        return None
    pw = readers[0]
    a = pw.attrs
    wt = graph.weights.get(pw.inputs[1])
    if (wt is None or wt.ndim != 4 or tuple(wt.shape[1:]) != (c, 1, 1) or pw.inputs[0] != node.outputs[0]
            or a.get("groups", 1) != 1 or list(a.get("stride", [1, 1])) != [1, 1]
            or list(a.get("dilation", [1, 1])) != [1, 1] or any(a.get("padding", [0, 0, 0, 0]))):
        return None
    if a.get("residual") and (pw.inputs[3] not in loc or pw.inputs[3] == node.outputs[0]):
        return None
    return pw


def lower_dwconv(plan, node, graph, loc, cache):
    n, c, h, w = plan.shapes[node.inputs[0]]
    wt = graph.weights[node.inputs[1]]
    a = node.attrs
    if not (a.get("groups", 1) == c == wt.shape[0] and wt.shape[1] == 1):
        return False
    b = plan._nhwc(node, node.inputs[0], loc)
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    desc = (c, c, c, wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]), *a.get("dilation", [1, 1]),
            *a.get("padding", [0, 0, 0, 0]))
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    packed = cache.get((node.name, "dwconv"), lambda: _C.dwconv2d_pack(
        np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    pw = None if a.get("residual") or n * oh * ow * c * 4 < DWPW_MIN_BYTES else \
        _pointwise_after(plan, node, graph, loc, c)
    if pw is not None:
        _emit_dwconv_pw(plan, node, pw, graph, loc, cache, b, (n, c, h, w), (oh, ow), desc, packed)
        return True
    out = plan._new_buf(n * oh * ow * c)
    res = plan._nhwc(node, node.inputs[3], loc) if a.get("residual") else -1
    plan._emit(node, type=OP_DWCONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c, oh=oh,
               ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")
    return True


def _expand_record(plan, node, graph, b, n, c, h, w):
    """The CONV2D record just emitted for a 1x1 conv that alone feeds this depthwise conv, if any."""
    if n * h * w * c * 4 < DWPW_EXPAND_MIN_BYTES or not plan.records:
        return None
    from fastnorm.plan import OP_CONV2D  # plan imports this module: a late import
    rec, name = plan.records[-1], plan.node_of_record[-1]
    ex = next((m for m in graph.nodes if m.name == name), None)
    if (ex is None or ex.op != "conv2d" or rec.get("type") != OP_CONV2D or rec.get("out") != b
            or rec.get("in2", -1) >= 0 or ex.outputs[0] != node.inputs[0]
            or ex.outputs[0] in {t.name for t in graph.outputs}
            or len(graph.consumers().get(ex.outputs[0], [])) != 1):
        return None
    cin, cout, groups, kh, kw, sh, sw = rec["conv"][:7]
    if (cout, groups, kh, kw, sh, sw) != (c, 1, 1, 1, 1, 1) or any(rec["conv"][9:]):
        return None
    return ex


def _emit_dwconv_pw(plan, node, pw, graph, loc, cache, b, in_shape, out_hw, desc, packed):
    n, c, h, w = in_shape
    extra, ex = {}, _expand_record(plan, node, graph, b, n, c, h, w)
    if ex is not None:
        rec = plan.records.pop()
        plan.node_of_record.pop()
        b = rec["in"]
        extra = dict(conv_ex=rec["conv"], act_ex=rec["act"], weights_ex=rec["weights"])
    oh, ow = out_hw
    wt = graph.weights[pw.inputs[1]]
    cout = wt.shape[0]
    bias = graph.weights[pw.inputs[2]] if len(pw.inputs) > 2 and pw.inputs[2] else None
    desc2 = (c, cout, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)
    packed2 = cache.get((pw.name, plan.isa, "conv"), lambda: _C.conv2d_pack(
        plan.isa, desc2, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    res = plan._nhwc(pw, pw.inputs[3], loc) if pw.attrs.get("residual") else -1
    out = plan._new_buf(n * oh * ow * cout)
    plan._emit(node, type=OP_DWCONV_PW, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c,
               oh=oh, ow=ow, conv=desc, act=act_tuple(node.attrs.get("act")), weights=packed,
               conv2=desc2, act2=act_tuple(pw.attrs.get("act")), weights2=packed2, **extra)
    plan._absorbed.add(pw.name)
    if ex is not None:
        plan.absorbed_into.setdefault(node.name, []).append(ex.name)
    plan.absorbed_into.setdefault(node.name, []).append(pw.name)
    loc[pw.outputs[0]] = (out, "nhwc")
