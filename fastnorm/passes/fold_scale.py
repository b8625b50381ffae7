"""Fold a per-feature constant multiply into the linear before it, in float64.

    y = linear(x, W, b) ; z = y * k[f]      ->     z = linear(x, W * k[:, None], b * k)

ConvNeXt's layer scale is this multiply (x * gamma after the MLP's second linear, over the last dim of
a channels-last tensor); folded, the linear's epilogue can then take the residual add after it
(fastnorm.plan.rewrites.conv_takes_residual_add). The linear must have no fused activation or
residual and be the only producer-reader of y, which is not a graph output; k must broadcast along
the last (feature) dim only. Rounding the scaled weights to float32 moves an output by at most
about one float32 ulp of each product, as fold_bn's scaling does.
"""
import numpy as np

from fastnorm.graph import batch1_shapes
from fastnorm.passes._merge import Merger


def _per_feature(k, rank, features):
    """k broadcast over a (..., features) value of `rank` along the last dim only -> (features,) or None."""
    if k.ndim > rank or k.size not in (1, features) or any(d != 1 for d in k.shape[:-1]):
        return None
    return np.broadcast_to(k.reshape(-1).astype(np.float64), (features,))


def _scaled(w, k):
    """(w * k[:, None]) rounded to float32 once. Where w and k are float32 values the float32 product
    is that rounding already (a product of two 24-bit significands is exact in float64), without the
    float64 copies of w (ConvNeXt-atto: 1.6 M weights, ~5 ms of its .onnx load)."""
    k32 = k.astype(np.float32)
    if w.dtype == np.float32 and np.array_equal(k32, k):
        return w * k32[:, None]
    return (w.astype(np.float64) * k[:, None]).astype(np.float32)


def fold_linear_scale(graph, shapes=None, _copy=True):
    """shapes: infer_shapes(graph) at batch 1, when the caller has it; _copy=False rewrites graph itself
    (fastnorm.passes.optimize, on its own copy)."""
    if not any(n.op == "linear" for n in graph.nodes):
        return graph.copy() if _copy else graph
    m = Merger(graph, _copy)
    g = m.graph
    if shapes is None:
        shapes = batch1_shapes(g)
    for mul in g.nodes:
        if mul.op != "mul" or mul.attrs or len(mul.inputs) != 2:
            continue
        consts = [v in g.weights for v in mul.inputs]
        if consts.count(True) != 1:
            continue
        y, kname = (mul.inputs[1], mul.inputs[0]) if consts[0] else tuple(mul.inputs)
        view = type(mul)(mul.name, mul.op, [y], mul.outputs, mul.attrs)  # the mul as seen from y
        prev = m.absorbing_producer(view, ("linear",))
        if prev is None or prev.attrs.get("residual"):
            continue
        w = g.weights[prev.inputs[1]]
        k = _per_feature(g.weights[kname], len(shapes[y]), w.shape[0])
        if k is None or shapes[mul.outputs[0]] != shapes[y]:
            continue
        b = (g.weights[prev.inputs[2]].astype(np.float64)
             if len(prev.inputs) > 2 and prev.inputs[2] else np.zeros(w.shape[0]))
        w_name, b_name = prev.inputs[1] + "@" + mul.name, prev.name + ".bias@" + mul.name
        g.weights[w_name] = _scaled(w, k)
        g.weights[b_name] = (b * k).astype(np.float32)
        prev.inputs = [prev.inputs[0], w_name, b_name]
        prev.attrs["folded"] = list(prev.attrs.get("folded", [])) + [mul.name]
        m.absorb(prev, mul)
    g = m.result()
    used = {v for n in g.nodes for v in n.inputs}
    g.weights = {k: v for k, v in g.weights.items() if k in used}
    return g

