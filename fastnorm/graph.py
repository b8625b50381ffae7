"""The IR every frontend produces: nodes with canonical op names over named values; weights as arrays.

Logical layouts are torch's (NCHW). Layout choices for speed are the plan's business (fastnorm.plan).
The op table (fastnorm.optable: OPS) is the one place that knows each op's attributes and output shape;
the shape rules are in fastnorm.shapes.
"""
import math

import numpy as np

from fastnorm._record import Record
from fastnorm.errors import UnsupportedError
from fastnorm.optable import ACT_ATTR, KNOWN_OPS, OPS, WEIGHT_OPS, OpSpec  # noqa: F401 (re-exported)
from fastnorm.shapes import EPILOGUE_ACTS, broadcast_shapes, pool_out_extent  # noqa: F401 (re-exported)


class TensorSpec(Record):
    FIELDS = ("name", "shape", "dtype")

    def __init__(self, name, shape, dtype="float32"):
        self.name = name
        self.shape = shape        # ints, None where dynamic (the batch)
        self.dtype = dtype

    def to_dict(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d):
        return cls(d["name"], tuple(d["shape"]), d.get("dtype", "float32"))


_ATOMS = (int, float, str, bool, bytes, type(None))


def _copy_value(v):
    """copy.deepcopy for attribute values (numbers, strings, lists, tuples, dicts of them), several
    times faster: Graph.copy runs a few times per load and was a fifth of a small model's load."""
    if isinstance(v, _ATOMS):
        return v
    if type(v) is list:
        return [_copy_value(x) for x in v]
    if type(v) is dict:
        return {k: _copy_value(x) for k, x in v.items()}
    if type(v) is tuple:
        return tuple(_copy_value(x) for x in v)
    import copy
    return copy.deepcopy(v)


def _copy_attrs(attrs):
    """A node's attrs as to_dict / from_dict would copy them: a new dict, lists and dicts inside copied."""
    out = {}
    for k, v in attrs.items():
        out[k] = v if isinstance(v, _ATOMS) else _copy_value(v)
    return out


class Node(Record):
    FIELDS = ("name", "op", "inputs", "outputs", "attrs")

    def __init__(self, name, op, inputs, outputs, attrs=None):
        self.name = name
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = {} if attrs is None else attrs

    def to_dict(self):
        return {"name": self.name, "op": self.op, "inputs": list(self.inputs),
                "outputs": list(self.outputs), "attrs": _copy_value(self.attrs)}

    @classmethod
    def from_dict(cls, d):
        return cls(d["name"], d["op"], list(d["inputs"]), list(d["outputs"]), dict(d.get("attrs", {})))


class Graph(Record):
    FIELDS = ("inputs", "outputs", "nodes", "weights")

    def __init__(self, inputs, outputs, nodes, weights):
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.weights = weights

    def copy(self):
        """A copy whose node list and attrs may be edited; weight arrays are shared (never mutated)."""
        return Graph([TensorSpec(t.name, t.shape, t.dtype) for t in self.inputs],
                     [TensorSpec(t.name, t.shape, t.dtype) for t in self.outputs],
                     [Node(n.name, n.op, list(n.inputs), list(n.outputs), _copy_attrs(n.attrs)) for n in self.nodes],
                     dict(self.weights))

    def to_dict(self):
        return {"inputs": [t.to_dict() for t in self.inputs],
                "outputs": [t.to_dict() for t in self.outputs],
                "nodes": [n.to_dict() for n in self.nodes]}

    @classmethod
    def from_dict(cls, d, weights):
        return cls([TensorSpec.from_dict(t) for t in d["inputs"]],
                   [TensorSpec.from_dict(t) for t in d["outputs"]],
                   [Node.from_dict(n) for n in d["nodes"]], dict(weights))

    def consumers(self):
        """value name -> list of nodes reading it."""
        out = {}
        for n in self.nodes:
            for v in n.inputs:
                if v:
                    out.setdefault(v, []).append(n)
        return out

    def producers(self):
        return {v: n for n in self.nodes for v in n.outputs}

    def check(self):
        """Structural and registry checks; raises UnsupportedError listing every unknown op/attr."""
        for what, specs in (("input", self.inputs), ("output", self.outputs)):
            names = [t.name for t in specs]
            if len(set(names)) != len(names):
                dup = next(v for v in names if names.count(v) > 1)
                raise ValueError("graph %s %r is listed twice" % (what, dup))
        problems = []
        for n in self.nodes:
            spec = OPS.get(n.op)
            if spec is None:
                problems.append("node %r: op %r" % (n.name, n.op))
                continue
            for a in n.attrs:
                if a not in spec.attrs:
                    problems.append("node %r (%s): attribute %r" % (n.name, n.op, a))
        if problems:
            raise UnsupportedError("unsupported: " + "; ".join(problems))
        for n in self.nodes:
            for i, v in enumerate(n.inputs):
                is_weight = v in self.weights
                if n.op in ("cat", "add", "mul", "sub", "div", "maximum", "minimum", "eq", "ne", "lt", "gt", "le",
                            "ge", "where"):
                    if n.op == "cat" and i == 0 and all(u in self.weights for u in n.inputs):
                        raise ValueError("node %r: every cat input is a weight (one must be an activation)"
                                         % n.name)
                    continue
                if i == 0 and is_weight:
                    raise ValueError("node %r: input 0 (%r) must be an activation, not a weight" % (n.name, v))
                if n.op == "conv2d" and i == 3:
                    if is_weight:
                        raise ValueError("node %r: the residual input %r must be an activation" % (n.name, v))
                    continue
                if i > 0 and v and n.op in WEIGHT_OPS and not is_weight:
                    raise ValueError("node %r: input %d (%r) must be a weight" % (n.name, i, v))
        return self


def infer_shapes(graph, input_shapes):
    """value name -> concrete shape, given {input name: shape}."""
    shapes = {}
    for t in graph.inputs:
        shapes[t.name] = tuple(input_shapes[t.name])
    for name, w in graph.weights.items():
        shapes[name] = tuple(w.shape)
    for n in graph.nodes:
        ins = [shapes[v] if v else None for v in n.inputs]
        outs = OPS[n.op].shape(n, ins, graph.weights)
        for v, s in zip(n.outputs, outs):
            shapes[v] = tuple(int(d) for d in s)
    return shapes


def batch1_shapes(graph):
    """infer_shapes at the declared input shapes, batch 1 where dynamic (what the passes fold at)."""
    return infer_shapes(graph, {t.name: tuple(1 if d is None else d for d in t.shape) for t in graph.inputs})


def epilogue_kind(act):
    """The act family's kind name of a fused "act" attribute past the clamp, or None (none, a clamp)."""
    if not act or act[0] in ("relu", "clamp"):
        return None
    return EPILOGUE_ACTS["gelu_tanh" if act[0] == "gelu" and act[1:] == ["tanh"] else act[0]]


def act_tuple(act):
    """Graph 'act' attribute -> the kernels' (kind, lo, hi)."""
    if not act:
        return (0, 0.0, 0.0)
    if act[0] == "relu":
        return (1, 0.0, float("inf"))
    if act[0] == "clamp":
        lo = -float("inf") if act[1] is None else float(act[1])
        hi = float("inf") if act[2] is None else float(act[2])
        return (1, lo, hi)
    if act[0] in EPILOGUE_ACTS:
        from fastnorm import _C
        return (_C.ACT_ACTK0 + getattr(_C, "ACTK_" + epilogue_kind(act)), 0.0, 0.0)
    raise UnsupportedError("unsupported fused activation %r" % (act,))


def count_macs(graph, shapes):
    """Multiply-accumulates per run, for summaries."""
    total = 0
    for n in graph.nodes:
        if n.op == "conv2d":
            out = shapes[n.outputs[0]]
            w = graph.weights[n.inputs[1]].shape
            total += math.prod(out) * w[1] * w[2] * w[3]
        elif n.op == "linear":
            out = shapes[n.outputs[0]]
            total += math.prod(out) * graph.weights[n.inputs[1]].shape[1]
        elif n.op == "conv_transpose2d":   # every input pixel meets every tap of its group
            w = graph.weights[n.inputs[1]].shape
            total += math.prod(shapes[n.inputs[0]]) * w[1] * w[2] * w[3]
    return total


def as_f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)
