"""Frontend-independent clean-up: fold per-channel constant Add/Mul into the op before them.

    y = linear(x, W) ; z = y + b          ->  z = linear(x, W, b)
    y = conv(x) ; z = y + k[c]            ->  z = conv(x) with bias + k
    y = norm(x) ; z = y * k[c] (+ k2[c])  ->  z = norm(x) with gamma * k, beta * k (+ k2)

Exporters emit these for a MatMul + Add linear layer, a separate bias Add (Caffe2, broadcast=1) or
torch's GroupNorm (InstanceNorm + Mul + Add). `canonicalize` runs them on every frontend's graph.
"""
import numpy as np

from fastnorm.graph import infer_shapes

# norm op -> (gamma input index, beta input index)
_AFFINE = {"group_norm": (1, 2), "layer_norm_channels": (1, 2), "instance_norm": (3, 4)}


def canonicalize(graph, shapes=None):
    """fuse_linear_bias then fold_affine, dropping nodes and weights nobody reads afterwards.
    `shapes` (value name -> shape, the batch may be symbolic) saves a shape inference."""
    g = fuse_linear_bias(graph)             # the one copy; the passes after it rewrite it in place
    g = remove_dead_nodes(fold_affine(remove_dead_nodes(g, _copy=False), shapes, _copy=False), _copy=False)
    used = {v for n in g.nodes for v in n.inputs}
    g.weights = {k: v for k, v in g.weights.items() if k in used}
    if getattr(graph, "notes", None) is not None:
        g.notes = list(graph.notes)
    return g


def _readers(nodes, drop=()):
    readers = {}
    for n in nodes:
        if id(n) in drop:
            continue
        for v in n.inputs:
            readers.setdefault(v, []).append(n)
    return readers


def fuse_linear_bias(graph):
    """A linear without bias, then an Add of a per-output-feature constant: the linear layer's bias."""
    g = graph.copy()
    nodes, weights, outputs = g.nodes, g.weights, [t.name for t in g.outputs]
    readers = _readers(nodes)
    drop = set()
    for n in nodes:
        if n.op != "linear" or (len(n.inputs) > 2 and n.inputs[2]) or n.outputs[0] in outputs:
            continue
        rs = readers.get(n.outputs[0], [])
        if len(rs) != 1 or rs[0].op != "add" or rs[0].attrs:
            continue
        add = rs[0]
        other = [v for v in add.inputs if v != n.outputs[0]]
        if len(other) != 1 or other[0] not in weights:
            continue
        b = weights[other[0]]
        out_f = weights[n.inputs[1]].shape[0]
        if b.size != out_f or (b.ndim and b.shape[-1] != out_f):
            continue
        bias_name = other[0] + "::bias"
        weights[bias_name] = np.ascontiguousarray(b.reshape(-1), np.float32)
        n.inputs = n.inputs[:2] + [bias_name]
        n.outputs = [add.outputs[0]]
        drop.add(id(add))
    g.nodes = [n for n in nodes if id(n) not in drop]
    return g


def _per_channel(w, rank, ch):
    """A constant that broadcasts over an (N, C, ...) value of `rank` along C only -> (C,) or None."""
    if w.ndim > rank or w.ndim < rank - 1 or w.size not in (1, ch):
        return None
    full = (1,) * (rank - w.ndim) + w.shape
    if any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return np.broadcast_to(w.reshape(-1).astype(np.float64), (ch,))


def fold_affine(graph, shapes=None, _copy=True):
    """Per-channel Mul/Add constants after a conv2d (into its bias) or a norm (into its gamma/beta).
    _copy=False rewrites graph itself (canonicalize, on its own copy)."""
    g = graph.copy() if _copy else graph
    nodes, weights, outputs = g.nodes, g.weights, {t.name for t in g.outputs}
    if shapes is None:
        if not any(n.op in ("conv2d",) + tuple(_AFFINE) for n in nodes):
            return g
        shapes = infer_shapes(g, {t.name: tuple(1 if d is None else d for d in t.shape) for t in g.inputs})
    else:
        shapes = dict(shapes)
    readers = _readers(nodes)
    drop = set()
    for n in nodes:
        if n.op not in ("conv2d",) + tuple(_AFFINE) or n.attrs.get("act") or n.attrs.get("residual"):
            continue
        shape = shapes.get(n.outputs[0])
        if shape is None or len(shape) < 2:
            continue
        ch, rank = shape[1], len(shape)
        while n.outputs[0] not in outputs:
            rs = readers.get(n.outputs[0], [])
            if len(rs) != 1 or rs[0].op not in ("add", "mul") or rs[0].attrs or id(rs[0]) in drop:
                break
            nxt = rs[0]
            other = [v for v in nxt.inputs if v != n.outputs[0]]
            if len(other) != 1 or other[0] not in weights:
                break
            k = _per_channel(weights[other[0]], rank, ch)
            if k is None or (n.op == "conv2d" and nxt.op == "mul"):
                break
            if n.op == "conv2d":
                b = weights[n.inputs[2]].astype(np.float64) if len(n.inputs) > 2 and n.inputs[2] else np.zeros(ch)
                name = n.name + "::bias_folded"
                weights[name] = (b + k).astype(np.float32)
                n.inputs = n.inputs[:2] + [name] + n.inputs[3:]
            else:
                gi, bi = _AFFINE[n.op]
                while len(n.inputs) <= bi:
                    n.inputs.append("")
                gamma = weights[n.inputs[gi]].astype(np.float64) if n.inputs[gi] else np.ones(ch)
                beta = weights[n.inputs[bi]].astype(np.float64) if n.inputs[bi] else np.zeros(ch)
                if nxt.op == "mul":
                    gamma, beta = gamma * k, beta * k
                else:
                    beta = beta + k
                n.inputs[gi], n.inputs[bi] = n.name + "::gamma_folded", n.name + "::beta_folded"
                weights[n.inputs[gi]] = gamma.astype(np.float32)
                weights[n.inputs[bi]] = beta.astype(np.float32)
            shapes[nxt.outputs[0]] = shape
            n.outputs = [nxt.outputs[0]]
            drop.add(id(nxt))
            readers = _readers(nodes, drop)
    g.nodes = [n for n in nodes if id(n) not in drop]
    return g


def remove_dead_nodes(graph, _copy=True):
    """Drop nodes whose results nobody reads (left behind by the folds). _copy=False rewrites graph itself
    (canonicalize, on its own copy)."""
    g = graph.copy() if _copy else graph
    outputs = [t.name for t in g.outputs]
    nodes = g.nodes
    while True:
        used = set(outputs)
        for n in nodes:
            used.update(v for v in n.inputs if v)
        keep = [n for n in nodes if any(v in used for v in n.outputs)]
        if len(keep) == len(nodes):
            g.nodes = nodes
            return g
        nodes = keep
