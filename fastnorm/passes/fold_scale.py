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


def _const_mul(node, weights):
    """(activation, constant) of a plain mul of one activation by one weight, else None."""
    if node.op != "mul" or node.attrs or len(node.inputs) != 2:
        return None
    consts = [v in weights for v in node.inputs]
    if consts.count(True) != 1:
        return None
    return (node.inputs[1], node.inputs[0]) if consts[0] else tuple(node.inputs)


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
        operands = _const_mul(mul, g.weights)
        if operands is None:
            continue
        y, kname = operands
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



def _per_input_channel(k, shape, reader):
    """k (a constant multiplying a value of `shape`) as a float64 vector over reader's input channels
    (dim 1 of a conv2d's image, the last dim of a linear's input), or None when it does not broadcast
    along that dim alone."""
    if reader.op == "linear":
        return _per_feature(k, len(shape), shape[-1])
    if len(shape) != 4 or k.ndim > 4:
        return None
    c = shape[1]
    full = (1,) * (4 - k.ndim) + tuple(k.shape)
    if k.size == 1:
        return np.full(c, float(k.reshape(-1)[0]))
    if full[0] != 1 or full[1] != c or full[2:] != (1, 1):
        return None
    return k.reshape(-1).astype(np.float64)


def _scale_inputs(w, k, reader):
    """reader's weight with input channel i scaled by k[i], rounded to float32 once."""
    w64 = np.asarray(w, dtype=np.float64)
    if reader.op == "linear":          # (out, in)
        return (w64 * k[None, :]).astype(np.float32)
    groups = int(reader.attrs.get("groups", 1))
    cout, cin_g = w64.shape[:2]
    ks = k.reshape(groups, 1, cin_g, 1, 1)
    return (w64.reshape(groups, cout // groups, cin_g, *w64.shape[2:]) * ks).reshape(w64.shape).astype(np.float32)


def fold_input_scale(graph, shapes=None, _copy=True):
    """A constant multiply read only by conv2d / linear nodes (as their input, not a residual) folds into
    their weights, in float64, over the input channels (zero padding stays zero):

        z = y * k[c] ; u = conv2d(z, W, b)    ->    u = conv2d(y, W * k[None, :, None, None], b)

    NFNet's scaled activations (gelu(x) * 1.7015, then * beta), a model's own input scaling (x / 255 or
    x * (1 / std) before the stem) are this multiply. k must broadcast along the channels alone and the
    multiply keep y's shape. A scalar also folds into a grouped conv; a per-channel k too (each group its
    own slice of k)."""
    g = graph.copy() if _copy else graph
    if not any(n.op in ("conv2d", "linear") for n in g.nodes):
        return g
    if shapes is None:
        shapes = batch1_shapes(g)
    consumers = g.consumers()
    outputs = {t.name for t in g.outputs}
    removed = set()
    for mul in g.nodes:
        operands = _const_mul(mul, g.weights)
        if operands is None:
            continue
        y, kname = operands
        z = mul.outputs[0]
        readers = consumers.get(z, [])
        if (not readers or z in outputs or shapes.get(z) != shapes.get(y) or any(
                r.op not in ("conv2d", "linear") or r.inputs[0] != z or z in r.inputs[1:]
                or r.inputs[1] not in g.weights for r in readers)):
            continue
        ks = [_per_input_channel(np.asarray(g.weights[kname]), shapes[y], r) for r in readers]
        if any(k is None or not np.all(np.isfinite(k)) for k in ks):
            continue
        for r, k in zip(readers, ks):
            w_name = r.inputs[1] + "@" + mul.name
            g.weights[w_name] = _scale_inputs(g.weights[r.inputs[1]], k, r)
            r.inputs = [y, w_name] + r.inputs[2:]
            r.attrs["folded"] = list(r.attrs.get("folded", [])) + [mul.name]
        consumers[y] = [n for n in consumers.get(y, []) if n is not mul] + readers
        removed.add(mul.name)
    if removed:
        g.nodes = [n for n in g.nodes if n.name not in removed]
        used = {v for n in g.nodes for v in n.inputs}
        g.weights = {k: v for k, v in g.weights.items() if k in used}
    return g
