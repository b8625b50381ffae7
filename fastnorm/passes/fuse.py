"""Fuse relu / clamp into the epilogue of the op before it (conv, linear, add, every normalization), and
the parameterless activations (silu, gelu, hardswish, sigmoid, ...) into a conv2d / linear before it."""
from fastnorm.graph import EPILOGUE_ACTS
from fastnorm.optable import OPS
from fastnorm.passes._merge import Merger

# ops whose kernels apply a clamp epilogue (an "act" attribute): one read and one write for "op + relu"
FUSES_ACTIVATION = tuple(k for k, v in OPS.items() if v.fuses_act)


# ops whose kernels also apply the parameterless activations (silu, gelu, hardswish, sigmoid, ...) to
# each output tile as they store it (graph.EPILOGUE_ACTS; src_c/fastnorm.h, FN_ACT_ACTK0): the output
# is written once instead of written, read and written again by an activation record
FUSES_EPILOGUE = ("conv2d", "linear", "conv3d")


def fuse_activations(graph, _copy=True):
    """_copy=False rewrites graph itself (fastnorm.passes.optimize, on its own copy)."""
    m = Merger(graph, _copy)
    for n in m.graph.nodes:
        if n.op in ("relu", "clamp"):
            prev = m.absorbing_producer(n, FUSES_ACTIVATION)
            if prev is None:
                continue
            prev.attrs["act"] = ["relu"] if n.op == "relu" else ["clamp", n.attrs.get("min"), n.attrs.get("max")]
        elif n.op in EPILOGUE_ACTS and len(n.inputs) == 1:
            prev = m.absorbing_producer(n, FUSES_EPILOGUE)
            if prev is None:
                continue
            approximate = n.attrs.get("approximate", "none") if n.op == "gelu" else "none"
            prev.attrs["act"] = [n.op] + (["tanh"] if approximate == "tanh" else [])
        else:
            continue
        m.absorb(prev, n)
    return m.result()
