"""Lowering of first-layer convs (1..4 input channels, groups 1, dilation 1) to the CONV_FIRST record.

Called first thing by plan._lower_conv2d; returns False for every other conv. The kernel reads its
input in either layout through a zero-padded planar copy (an arena buffer of the plan), so when the
conv reads the model's NCHW input it takes that buffer directly and the plan's NCHW->NHWC change of
the input is dropped (unless something lowered earlier reads it).
"""
import numpy as np

from fastnorm import _C
from fastnorm.graph import act_tuple

OP_CONV_FIRST = 24  # fn_op_type FN_OP_CONV_FIRST
OP_TO_NHWC = 5


def lower_conv_first(plan, node, graph, loc, cache):
    a = node.attrs
    if a.get("residual"):
        return False
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, cout, oh, ow = plan.shapes[node.outputs[0]]
    wt = graph.weights[node.inputs[1]]
    desc = (c, cout, a.get("groups", 1), wt.shape[2], wt.shape[3], *a.get("stride", [1, 1]),
            *a.get("dilation", [1, 1]), *a.get("padding", [0, 0, 0, 0]))
    if not _C.conv_first_supports(desc):
        return False
    b, layout = loc[node.inputs[0]]
    if layout == "nhwc":
        nchw = _input_nchw(plan, b)
        if nchw is not None:
            b, layout = nchw, "plain"
            loc[node.inputs[0]] = (b, "plain")  # a later reader converts it again, lazily
    if layout not in ("nhwc", "plain"):
        b, layout = plan._nhwc(node, node.inputs[0], loc), "nhwc"
    bias = graph.weights[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    packed = cache.get((node.name, plan.isa, "conv_first"), lambda: _C.conv_first_pack(
        plan.isa, desc, np.ascontiguousarray(wt, np.float32),
        None if bias is None else np.ascontiguousarray(bias, np.float32)))
    pad = plan._new_buf(_C.conv_first_pad_floats(desc, n, h, w))
    out = plan._new_buf(n * oh * ow * cout)
    plan._emit(node, type=OP_CONV_FIRST, **{"in": b, "in2": pad, "out": out}, n=n, h=h, w=w, c=c,
               oh=oh, ow=ow, conv=desc, act=act_tuple(a.get("act")), weights=packed,
               kind=int(layout == "nhwc"))
    loc[node.outputs[0]] = (out, "nhwc")
    return True


def _input_nchw(plan, nhwc_buf):
    """The model-input buffer that nhwc_buf was converted from, if that conversion has no other
    reader yet; the conversion record is then removed (this conv reads the NCHW input instead)."""
    for i, r in enumerate(plan.records):
        if r["type"] == OP_TO_NHWC and r["out"] == nhwc_buf:
            if plan.buf_external[r["in"]] is None or plan.buf_external[r["in"]][0] != "input":
                return None
            if any(nhwc_buf in (q.get("in"), q.get("in2")) or nhwc_buf in q.get("cat", ((), ()))[0]
                   for j, q in enumerate(plan.records) if j != i):
                return None
            del plan.records[i]
            del plan.node_of_record[i]
            return r["in"]
    return None
