"""Fuse a residual add into the epilogue of the conv2d that produces one of its operands.

    y = conv(x) ; z = add(y, r)     ->     z = conv(x, residual=r)

The conv must have no fused activation yet (the add comes before any activation) and be the only
reader-producer of y; r must have y's shape (no broadcasting). The conv node moves to where the add
was, so r is computed before it even when the graph computed it after the conv (torchvision-style
blocks compute the downsample branch last). An activation after the add then fuses into the same
conv epilogue: y = act(conv + bias + r).
"""
from fastnorm.graph import batch1_shapes
from fastnorm.passes._merge import Merger


def fuse_residual_add(graph, shapes=None, _copy=True):
    """shapes: infer_shapes(graph) at batch 1, when the caller has it; _copy=False rewrites graph itself
    (fastnorm.passes.optimize, on its own copy)."""
    m = Merger(graph, _copy)
    g = m.graph
    if shapes is None:
        shapes = batch1_shapes(g)
    moves = {}  # add node name -> conv node to put in its place
    moved = set()  # the names of those convs (a set: one look-up per add, linear in the graph)
    for n in g.nodes:
        if n.op != "add" or n.attrs.get("act") or len(n.inputs) != 2:
            continue
        for i in (0, 1):
            y, r = n.inputs[i], n.inputs[1 - i]
            if r in g.weights or shapes[y] != shapes[r] or shapes[y] != shapes[n.outputs[0]]:
                continue
            prev = m.producers.get(y)
            if prev is None or prev.op != "conv2d" or "residual" in prev.attrs or prev.name in moved:
                continue
            n2 = type(n)(n.name, n.op, [y], n.outputs, n.attrs)  # the add as seen from y
            if m.absorbing_producer(n2, ("conv2d",)) is not prev:
                continue
            while len(prev.inputs) < 3:
                prev.inputs.append("")
            prev.inputs.append(r)
            prev.attrs["residual"] = True
            m.absorb(prev, n)
            moves[n.name] = prev
            moved.add(prev.name)
            break
    if moves:
        order = []
        for n in g.nodes:
            if n.name in moved:
                continue
            order.append(moves.get(n.name, n))
        g.nodes = order
    return m.result()
