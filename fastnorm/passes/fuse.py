"""Fuse relu / clamp into the epilogue of the conv2d, linear or batch_norm before it."""
from fastnorm.passes._merge import Merger


def fuse_activations(graph):
    m = Merger(graph)
    for n in m.graph.nodes:
        if n.op not in ("relu", "clamp"):
            continue
        prev = m.absorbing_producer(n, ("conv2d", "linear", "batch_norm"))
        if prev is None:
            continue
        prev.attrs["act"] = ["relu"] if n.op == "relu" else ["clamp", n.attrs.get("min"), n.attrs.get("max")]
        m.absorb(prev, n)
    return m.result()
