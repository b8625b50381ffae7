"""Lowering of the activation family: the epilogue clamp (ACT), the other elementwise kinds (ACTK),
prelu and softmax."""
import math
import numpy as np

from fastnorm import _C
from fastnorm.graph import act_tuple
from fastnorm.optable import OPS, activations


def _lower_act(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    size = int(math.prod(plan.shapes[node.inputs[0]]))
    act = ["relu"] if node.op == "relu" else ["clamp", node.attrs.get("min"), node.attrs.get("max")]
    out = plan.new_buf(size)
    plan.emit(node, type=_C.OP_ACT, **{"in": b, "out": out}, n=size, act=act_tuple(act))
    loc[node.outputs[0]] = (out, layout)
    if layout == "flat_hwc":
        plan.flat_src[node.outputs[0]] = plan.flat_src[node.inputs[0]]


def _act_params(node):
    """(kind, fn_act_params tuple) for an elementwise activation node: the op table's ActKernel row
    (fastnorm.optable) names the kind and fills the params; the kind's number comes from C (_C.ACTK_*)."""
    from fastnorm.ops import _act as A
    kind, p = OPS[node.op].act.lower(node.attrs)
    return getattr(_C, "ACTK_" + kind), A.params(**p)


def _lower_actk(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    size = int(math.prod(plan.shapes[node.inputs[0]]))
    kind, p = _act_params(node)
    out = plan.new_buf(size)
    plan.emit(node, type=_C.OP_ACTK, **{"in": b, "out": out}, n=size, kind=kind, actp=p)
    loc[node.outputs[0]] = (out, layout)
    if layout == "flat_hwc":
        plan.flat_src[node.outputs[0]] = plan.flat_src[node.inputs[0]]


def _axis_split(shape, layout, dim):
    """(outer, len, inner) of logical axis `dim` in the value's physical layout."""
    phys = shape
    if layout == "nhwc":
        phys = (shape[0], shape[2], shape[3], shape[1])
        dim = {0: 0, 1: 3, 2: 1, 3: 2}[dim]
    return int(math.prod(phys[:dim])), int(phys[dim]), int(math.prod(phys[dim + 1:]))


def _lower_prelu(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    b, layout = loc[node.inputs[0]]
    if layout == "flat_hwc":
        b, layout = plan.plain(node, node.inputs[0], loc), "plain"
    w = np.ascontiguousarray(graph.weights[node.inputs[1]], np.float32).reshape(-1)
    c = shape[1] if len(shape) > 1 else 1
    if w.size == 1:
        w = cache.get((node.name, "prelu"), lambda: np.full(c, w[0], np.float32))
    outer, cc, inner = _axis_split(shape, layout, 1) if len(shape) > 1 else (shape[0], 1, 1)
    out = plan.new_buf(int(math.prod(shape)))
    plan.emit(node, type=_C.OP_PRELU, **{"in": b, "out": out}, outer=outer, c=cc, inner=inner, weights=w)
    loc[node.outputs[0]] = (out, layout)


def _lower_softmax(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    b, layout = loc[node.inputs[0]]
    if layout == "flat_hwc":
        b, layout = plan.plain(node, node.inputs[0], loc), "plain"
    dim = node.attrs["dim"] % max(len(shape), 1)
    outer, ln, inner = _axis_split(shape, layout, dim)
    out = plan.new_buf(int(math.prod(shape)))
    plan.emit(node, type=_C.OP_SOFTMAX, **{"in": b, "out": out}, outer=outer, c=ln, inner=inner,
              kind=int(node.op == "log_softmax"))
    loc[node.outputs[0]] = (out, layout)


LOWER = {"relu": _lower_act, "clamp": _lower_act, "prelu": _lower_prelu, "softmax": _lower_softmax,
         "log_softmax": _lower_softmax}
LOWER.update({row.name: _lower_actk for row in activations()})
