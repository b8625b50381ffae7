"""Lowering of depthwise conv2d nodes (groups == in == out channels) to the DWCONV2D plan record.

Called first thing by plan._lower_conv2d; returns False for every other conv, which then takes the
generic path (a channel multiplier > 1 stays on the grouped GEMM).
"""
import numpy as np

from fastnorm import _C
from fastnorm.graph import act_tuple

OP_DWCONV2D = 22  # fn_op_type FN_OP_DWCONV2D


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
    out = plan._new_buf(n * oh * ow * c)
    res = plan._nhwc(node, node.inputs[3], loc) if a.get("residual") else -1
    plan._emit(node, type=OP_DWCONV2D, **{"in": b, "in2": res, "out": out}, n=n, h=h, w=w, c=c, oh=oh,
               ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed)
    loc[node.outputs[0]] = (out, "nhwc")
    return True
