"""Global Response Normalization's tail (ConvNeXt-V2) in two big passes fewer.

    y = gamma * (x * nx) + beta + x     ->     y = x * (gamma * nx + 1) + beta

nx is the small per-(sample, channel) factor (x's L2 norm over the image, over its mean across channels),
so gamma * nx + 1 is a gate of a few floats a sample: the rewrite leaves one multiply of x by the gate and
one add of beta where the graph had two multiplies and two adds over the whole tensor. The add of beta
then folds into the bias of a linear that alone reads it (W (y + beta) + b = W y + (W beta + b)), and the
plan's conv_reads_gated lets that linear read x and the gate itself (fastnorm.plan.rewrites): the GRN
tail costs no pass over x at all. Other shapes of the same algebra (a large nx, several readers of an
intermediate) are left as they are. The rewrite changes the rounding (x (g nx + 1) in place of
g (x nx) + x), not the value.
"""
import numpy as np

from fastnorm.graph import Node
from fastnorm.passes._merge import Merger

GATE_MAX_FRACTION = 8   # nx at most 1/8 of x's elements a sample: a gate, not a second tensor


def _other(node, v):
    """The input of a two-input node that is not v (None when both or neither are)."""
    a, b = node.inputs
    return b if a == v and b != v else a if b == v and a != v else None


def fuse_grn(graph, shapes, _copy=True):
    """shapes: value -> shape at batch 1 (updated in place with the values this adds)."""
    m = Merger(graph, _copy)
    g = m.graph
    weights = g.weights
    prod = m.producers

    def sole(v, op):
        n = prod.get(v)
        if (n is None or n.op != op or len(n.inputs) != 2 or n.attrs or len(m.consumers.get(v, [])) != 1
                or v in m.outputs):
            return None
        return n

    replaced = {}   # name of the final add -> the nodes that take its place
    for a2 in g.nodes:
        if a2.op != "add" or len(a2.inputs) != 2 or a2.attrs or a2.name in m.removed:
            continue
        for x in a2.inputs:
            v = _other(a2, x)
            a1 = sole(v, "add") if v else None
            if a1 is None:
                continue
            beta = next((w for w in a1.inputs if w in weights), None)
            u = _other(a1, beta) if beta else None
            m2 = sole(u, "mul") if u else None
            if m2 is None:
                continue
            gamma = next((w for w in m2.inputs if w in weights), None)
            t = _other(m2, gamma) if gamma else None
            m1 = sole(t, "mul") if t else None
            if m1 is None or x not in m1.inputs:
                continue
            nx = _other(m1, x)
            if nx is None or nx in weights or x in weights:
                continue
            sx, snx = shapes.get(x), shapes.get(nx)
            if sx is None or snx is None or int(np.prod(snx)) * GATE_MAX_FRACTION > int(np.prod(sx)):
                continue
            gate_shape = tuple(np.broadcast_shapes(snx, np.shape(weights[gamma])))
            y_shape = shapes[a2.outputs[0]]
            if tuple(np.broadcast_shapes(sx, gate_shape)) != tuple(y_shape):
                continue
            base = a2.name
            one = base + ".grn_one"
            weights[one] = np.ones((), np.float32)
            shapes[one] = ()
            scaled, gate, xg = base + ".grn_scaled", base + ".grn_gate", base + ".grn_x_gate"
            new = [Node(base + "_grn_scale", "mul", [nx, gamma], [scaled]),
                   Node(base + "_grn_gate", "add", [scaled, one], [gate]),
                   Node(base + "_grn_mul", "mul", [x, gate], [xg]),
                   Node(base, "add", [xg, beta], list(a2.outputs))]
            shapes[scaled] = shapes[gate] = gate_shape
            shapes[xg] = tuple(y_shape)
            replaced[a2.name] = new
            m.removed.update({m1.name, m2.name, a1.name})
            break
    if not replaced:
        return g
    out = []
    for n in g.nodes:
        if n.name in m.removed:
            continue
        out.extend(replaced.get(n.name, [n]))
    g.nodes = out
    return fold_add_into_linear(g, shapes, _copy=False)


def fold_add_into_linear(graph, shapes, _copy=True):
    """add(y, beta) read only by a linear, beta a constant along the linear's input features (or a
    scalar): the linear reads y, its bias gains W beta (in float64, rounded once)."""
    m = Merger(graph, _copy)
    g = m.graph
    weights = g.weights
    for lin in g.nodes:
        if lin.op != "linear" or lin.inputs[1] not in weights:
            continue
        v = lin.inputs[0]
        add = m.producers.get(v)
        if (add is None or add.op != "add" or len(add.inputs) != 2 or add.attrs or v in m.outputs
                or len(m.consumers.get(v, [])) != 1):
            continue
        beta = next((w for w in add.inputs if w in weights), None)
        y = _other(add, beta) if beta else None
        if y is None or y in weights or tuple(shapes.get(y, ())) != tuple(shapes.get(v, ())):
            continue
        wt = np.asarray(weights[lin.inputs[1]], np.float64)
        out_f, in_f = wt.shape
        b = np.asarray(weights[beta], np.float64)
        if not (b.size == 1 or (b.shape[-1] == in_f and b.size == in_f)):
            continue
        shift = wt @ np.broadcast_to(b.reshape(-1), (in_f,))
        old = np.asarray(weights[lin.inputs[2]], np.float64) if len(lin.inputs) > 2 and lin.inputs[2] else 0.0
        name = lin.name + ".grn_bias"
        weights[name] = np.ascontiguousarray(old + shift, np.float32)
        shapes[name] = (out_f,)
        lin.inputs = [y, lin.inputs[1], name] + list(lin.inputs[3:])
        m.removed.add(add.name)
    return m.result()
