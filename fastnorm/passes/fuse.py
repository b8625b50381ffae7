"""Fuse relu / clamp into the epilogue of the op before it (conv, linear, add, every normalization)."""
from fastnorm.optable import OPS
from fastnorm.passes._merge import Merger

# ops whose kernels apply a clamp epilogue (an "act" attribute): one read and one write for "op + relu"
FUSES_ACTIVATION = tuple(k for k, v in OPS.items() if v.fuses_act)


def fuse_activations(graph):
    m = Merger(graph)
    for n in m.graph.nodes:
        if n.op not in ("relu", "clamp"):
            continue
        prev = m.absorbing_producer(n, FUSES_ACTIVATION)
        if prev is None:
            continue
        prev.attrs["act"] = ["relu"] if n.op == "relu" else ["clamp", n.attrs.get("min"), n.attrs.get("max")]
        m.absorb(prev, n)
    return m.result()
