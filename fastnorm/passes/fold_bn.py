"""Fold eval-mode BatchNorm into the conv2d / conv_transpose2d / linear before it, in float64.

  s  = gamma / sqrt(running_var + eps)
  w' = w * s            (per output channel: dim 0 of a conv2d / linear weight; for a
                         conv_transpose2d (cin, cout/groups, kh, kw), dim 1 within each group)
  b' = (b - mean) * s + beta

A BN folds when its input comes from a conv2d or linear with no fused activation, read by nothing
else and not a graph output. Other BNs stay as standalone scale/shift kernels.
"""
import numpy as np

from fastnorm.graph import infer_shapes
from fastnorm.passes._merge import Merger


def _bn_params(graph, bn):
    w = graph.weights
    c = w[bn.inputs[1]].shape[0]
    mean = w[bn.inputs[1]].astype(np.float64)
    var = w[bn.inputs[2]].astype(np.float64)
    gamma = w[bn.inputs[3]].astype(np.float64) if len(bn.inputs) > 3 and bn.inputs[3] else np.ones(c)
    beta = w[bn.inputs[4]].astype(np.float64) if len(bn.inputs) > 4 and bn.inputs[4] else np.zeros(c)
    return mean, var, gamma, beta, float(bn.attrs.get("eps", 1e-5))


def fold_batchnorm(graph):
    m = Merger(graph)
    g = m.graph
    shapes = infer_shapes(g, {t.name: tuple(1 if d is None else d for d in t.shape) for t in g.inputs})
    for bn in g.nodes:
        if bn.op != "batch_norm" or bn.attrs.get("act") or bn.attrs.get("batch_stats"):
            continue
        prev = m.absorbing_producer(bn, ("conv2d", "linear", "conv_transpose2d"))
        if prev is None or prev.attrs.get("residual") or (
                prev.op == "linear" and len(shapes[bn.inputs[0]]) != 2):
            continue  # a linear's features are the last dim; BN's channels are dim 1: same only in 2D
        mean, var, gamma, beta, eps = _bn_params(g, bn)
        w = g.weights[prev.inputs[1]].astype(np.float64)
        cout = _out_channels(prev, w)
        if mean.shape[0] != cout:
            continue
        s = gamma / np.sqrt(var + eps)
        b = (g.weights[prev.inputs[2]].astype(np.float64)
             if len(prev.inputs) > 2 and prev.inputs[2] else np.zeros(cout))
        w_name, b_name = prev.inputs[1] + "@" + bn.name, prev.name + ".bias@" + bn.name
        g.weights[w_name] = _scale_out_channels(prev, w, s).astype(np.float32)
        g.weights[b_name] = ((b - mean) * s + beta).astype(np.float32)
        prev.inputs = [prev.inputs[0], w_name, b_name]
        prev.attrs["folded"] = list(prev.attrs.get("folded", [])) + [bn.name]
        m.absorb(prev, bn)
    g = m.result()
    _drop_unused_weights(g)
    return g


def _drop_unused_weights(g):
    used = {v for n in g.nodes for v in n.inputs}
    g.weights = {k: v for k, v in g.weights.items() if k in used}


def _out_channels(node, w):
    if node.op == "conv_transpose2d":
        return w.shape[1] * node.attrs.get("groups", 1)
    return w.shape[0]


def _scale_out_channels(node, w, s):
    """w times s[o] over each output channel o's weights."""
    if node.op == "conv_transpose2d":
        # w: (cin, cout_g, kh, kw); input channel ci of group ci // cin_g feeds o = g*cout_g + co
        groups = node.attrs.get("groups", 1)
        cin, cout_g = w.shape[:2]
        return (w.reshape(groups, cin // groups, cout_g, *w.shape[2:])
                * s.reshape(groups, 1, cout_g, 1, 1)).reshape(w.shape)
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1))
