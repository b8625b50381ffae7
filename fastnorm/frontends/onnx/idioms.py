"""Exporter idioms rewritten on the ONNX node list before conversion, each into one node a handler maps:
channels-last LayerNorm, erf-GELU, x * sigmoid(x), x * tanh(softplus(x)).
"""
import math

import numpy as np

from fastnorm import onnxpb
from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.frontends.onnx._base import OnnxNode, attr_value, is_sym


NO_MATCH = object()   # an attribute of the wrong kind: the pattern does not match
# the inputs each op of a pattern must have (named, not empty) for the pattern to read them; a node
# with fewer (an untrusted file) matches nothing and is left for its handler, which names the problem
_MIN_INPUTS = {"Transpose": 1, "LayerNormalization": 2, "Erf": 1, "Div": 2, "Mul": 2, "Add": 2, "Sigmoid": 1, "Softplus": 1, "Tanh": 1}


def _well_formed(n):
    k = _MIN_INPUTS.get(n.op_type, 0)
    return len(n.input) >= k and all(n.input[:k]) and len(n.output) >= 1 and bool(n.output[0])


def rewrite_patterns(nodes, graph_outputs, consts):
    """Exporter idioms that map onto one IR op, found on the ONNX node list:
    Transpose(0,2,3,1) -> LayerNormalization(axis=-1) -> Transpose(0,3,1,2): layer norm over channels;
    x * 0.5 * (1 + Erf(x / sqrt 2)) (torch's GELU below opset 20): Gelu."""
    readers = {}
    for n in nodes:
        for v in n.input:
            readers.setdefault(v, []).append(n)
    producer = {v: n for n in nodes if _well_formed(n) for v in n.output if v}

    def only_reader(v):
        r = readers.get(v, [])
        return r[0] if len(r) == 1 and v not in graph_outputs and _well_formed(r[0]) else None

    def attr(n, key, default=None, kinds=None):
        # A pattern only matches attributes of the expected kind; anything else (a mistyped or empty
        # attribute in an untrusted file) is left for the op handler, which names the problem.
        for a in n.attribute:
            if a.name == key:
                v = attr_value(a)
                return v if kinds is None or isinstance(v, kinds) else NO_MATCH
        return default

    def other_input(node, v):
        """node's one input other than v (None: it has none, e.g. Mul(x, x), or several)"""
        rest = [u for u in node.input if u != v]
        return rest[0] if len(rest) == 1 else None

    def scalar(v):
        if v is None:
            return None
        c = consts.get(v)
        pn = producer.get(v)
        if c is None and pn is not None and pn.op_type == "Constant":
            val = attr(pn, "value", None, onnxpb.TensorProto)
            if val is NO_MATCH:
                return None
            try:
                c = onnxpb.to_array(val) if val is not None else attr(pn, "value_float", None, float)
            except (ValueError, TypeError, FormatError, UnsupportedError):   # a tensor whose data does not fit its dims: the handler says so
                return None
            if c is NO_MATCH or (val is not None and c.dtype.kind not in "fiu"):
                return None
        if c is None or is_sym(np.asarray(c)) or np.asarray(c).size != 1:
            return None
        return float(np.asarray(c).reshape(-1)[0])

    drop, add = set(), {}
    nodes_ok = [n for n in nodes if _well_formed(n)]
    for t1 in nodes_ok:
        if t1.op_type != "Transpose" or attr(t1, "perm", [], list) != [0, 2, 3, 1]:
            continue
        ln = only_reader(t1.output[0])
        if ln is None or ln.op_type != "LayerNormalization" or attr(ln, "axis", -1, int) not in (-1, 3):
            continue
        if any(v and v in readers or v in graph_outputs for v in ln.output[1:]):
            continue
        t2 = only_reader(ln.output[0])
        if t2 is None or t2.op_type != "Transpose" or attr(t2, "perm", [], list) != [0, 3, 1, 2]:
            continue
        eps = attr(ln, "epsilon", 1e-5, float)
        if eps is NO_MATCH:
            continue
        proto = onnxpb.make_node("_LayerNormChannels", [t1.input[0]] + list(ln.input[1:]), [t2.output[0]],
                                 name=ln.proto.name, epsilon=eps)
        drop.update((id(t1), id(ln)))
        add[id(t2)] = OnnxNode(proto, 0, ln._fn_name)
    for erf in nodes_ok:
        if erf.op_type != "Erf":
            continue
        div = producer.get(erf.input[0])
        if div is None or div.op_type not in ("Div", "Mul") or only_reader(div.output[0]) is not erf:
            continue
        k = scalar(div.input[1])
        if k is None or abs((k if div.op_type == "Div" else 1.0 / k) - math.sqrt(2.0)) > 1e-4:
            continue
        x = div.input[0]
        add1 = only_reader(erf.output[0])
        if add1 is None or add1.op_type != "Add":
            continue
        one = [v for v in add1.input if v != erf.output[0]]
        if len(one) != 1 or scalar(one[0]) != 1.0:
            continue
        m1 = only_reader(add1.output[0])
        if m1 is None or m1.op_type != "Mul":
            continue
        other = [v for v in m1.input if v != add1.output[0]]
        if len(other) != 1:
            continue
        if other[0] == x:        # (x * (1 + erf)) * 0.5
            m2 = only_reader(m1.output[0])
            if m2 is None or m2.op_type != "Mul" or scalar(other_input(m2, m1.output[0])) != 0.5:
                continue
            chain, out = (div, erf, add1, m1, m2), m2.output[0]
        else:                    # (x * 0.5) * (1 + erf)
            half = producer.get(other[0])
            if (half is None or half.op_type != "Mul" or x not in half.input
                    or scalar(other_input(half, x)) != 0.5
                    or only_reader(half.output[0]) is not m1):
                continue
            chain, out = (half, div, erf, add1, m1), m1.output[0]
        proto = onnxpb.make_node("Gelu", [x], [out], name=erf.proto.name)
        drop.update(id(n) for n in chain[:-1])
        add[id(chain[-1])] = OnnxNode(proto, 0, erf._fn_name)
    for sig in nodes_ok:
        # x * Sigmoid(x): SiLU / Swish
        if sig.op_type != "Sigmoid" or id(sig) in drop:
            continue
        m = only_reader(sig.output[0])
        if m is None or m.op_type != "Mul" or id(m) in add or id(m) in drop:
            continue
        other = [v for v in m.input if v != sig.output[0]]
        if other != [sig.input[0]]:
            continue
        proto = onnxpb.make_node("_Silu", [sig.input[0]], [m.output[0]], name=sig.proto.name)
        drop.add(id(sig))
        add[id(m)] = OnnxNode(proto, 0, sig._fn_name)
    for sp in nodes_ok:
        # x * Tanh(Softplus(x)): Mish, as torch exports F.mish below opset 18 (CSPDarknet, YOLOv4).
        # Softplus has no attributes in any opset; an untrusted one with some is left to its handler.
        if sp.op_type != "Softplus" or id(sp) in drop or list(sp.attribute):
            continue
        th = only_reader(sp.output[0])
        if th is None or th.op_type != "Tanh" or id(th) in drop or id(th) in add:
            continue
        m = only_reader(th.output[0])
        if m is None or m.op_type != "Mul" or id(m) in add or id(m) in drop:
            continue
        other = [v for v in m.input if v != th.output[0]]
        if other != [sp.input[0]]:
            continue
        proto = onnxpb.make_node("Mish", [sp.input[0]], [m.output[0]], name=sp.proto.name)
        drop.update((id(sp), id(th)))
        add[id(m)] = OnnxNode(proto, 0, sp._fn_name)
    if not drop and not add:
        return nodes
    return [add.get(id(n), n) for n in nodes if id(n) not in drop]
