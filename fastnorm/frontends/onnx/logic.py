"""Handlers: comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), Not / And / Or / Xor, Where,
ArgMax / ArgMin, ReduceMin / ReduceProd, and the value kinds they bring.

ONNX's bool and integer values run as float32: a bool as 0.0 / 1.0, an integer as its value (exact below
2^24: indices along an axis, class ids, counts). The converter keeps each such activation's kind
(c.kind[value]: "bool", "int64" or "int32"; a float value has none) so that a graph output of that kind
comes out with its dtype (TensorSpec.dtype), a Cast between kinds is a no-op where the float already
holds the value, and an op whose meaning on integers differs from the float one (Div truncates, Mod,
Pow, any float math) is refused on an integer value rather than answered in floats (KIND_OPS lists the
ops that take them).
"""
import numpy as np

from fastnorm import onnxpb
from fastnorm.optable import SWAPPED
from fastnorm.frontends.onnx._base import (BATCH, BatchDep, Malformed, Unsupported, axes_arg, axis_attr, has_batch,
    onnx_dtype_name, op_identity)

_CMP = {"Equal": "eq", "Less": "lt", "Greater": "gt", "LessOrEqual": "le", "GreaterOrEqual": "ge",
        "Xor": "ne", "And": "mul", "Or": "maximum"}

# ONNX dtype -> the value kind a Cast to it gives (None: float)
_T = onnxpb.TensorProto
CAST_KIND = {_T.FLOAT: None, _T.DOUBLE: None, _T.FLOAT16: None, _T.BOOL: "bool", _T.INT64: "int64",
             _T.INT32: "int32"}
if hasattr(_T, "BFLOAT16"):
    CAST_KIND[_T.BFLOAT16] = None

# ops that may read a bool / integer activation (the rest refuse one): moves, selections and the
# arithmetic whose float result is the integer one while values stay below 2^24
KIND_OPS = frozenset({
    "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "GatherND", "Concat",
    "Split", "Expand", "Tile", "Dropout", "Cast", "CastLike", "Where", "Equal", "Less", "Greater",
    "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "ArgMax", "ArgMin", "ReduceMax", "ReduceMin",
    "Max", "Min", "Add", "Sub", "Mul", "Neg", "Abs", "Relu"})
# ops whose output kind is the first activation input's (the others above name theirs)
KIND_KEEPING = KIND_OPS - {"Cast", "CastLike", "Where", "Equal", "Less", "Greater", "LessOrEqual",
                           "GreaterOrEqual", "Not", "And", "Or", "Xor", "ArgMax", "ArgMin"}
BOOL_OUT = frozenset({"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor"})


def const_kind(a):
    """The kind of a constant array as an operand of Where (bool, an integer, or float: None)."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return "bool"
    if a.dtype.kind in "iu":
        return "int32" if a.dtype == np.int32 else "int64"
    return None


def op_compare(c, node, attrs):
    op = _CMP[node.op_type]
    a, b = node.input[0], node.input[1] if len(node.input) > 1 else ""
    aa, ba = c.is_act(a), c.is_act(b)
    if node.op_type in ("And", "Or", "Xor"):
        for v in (a, b):
            kind = c.kind.get(v) if c.is_act(v) else const_kind(c.const.get(v, np.zeros(1, bool)))
            if kind != "bool":
                raise Unsupported("%s of a non-bool operand %r" % (node.op_type, v))
    if aa and ba:
        (na, _), (nb, _) = c.act(node, 0), c.act(node, 1)
        ins = [na, nb]
    elif aa:
        name, shape = c.act(node, 0)
        ins = [name, c.weight(node, "B", _const_operand(c, node, 1, shape))]
    else:
        name, shape = c.act(node, 1)
        ins = [name, c.weight(node, "A", _const_operand(c, node, 0, shape))]
        op = SWAPPED[op]
    c.set_act(node.output[0], c.emit(node, op, ins, {}, node.output[0]))


def _const_operand(c, node, i, shape):
    k = c.fweight(node, i, "operand %d" % i, True)
    if k.ndim > len(shape) and has_batch(shape):
        raise BatchDep("a constant of rank %d adds dims before the batch" % k.ndim)
    if k.ndim == len(shape) and shape and shape[0] is BATCH and k.shape[0] != 1:
        raise BatchDep("a constant %r varies along the batch" % (k.shape,))
    return k


def op_not(c, node, attrs):
    name, _ = c.act(node)
    if c.kind.get(node.input[0]) != "bool":
        raise Unsupported("Not of a non-bool value")
    # x in {0, 1}: not x is x == 0
    c.set_act(node.output[0], c.emit(node, "eq", [name, c.weight(node, "zero", np.zeros(1, np.float32))], {},
                                     node.output[0]))


def op_where(c, node, attrs):
    if len(node.input) != 3 or not all(node.input):
        raise Malformed("Where takes 3 inputs")
    ins = []
    shapes = []
    for i, v in enumerate(node.input):
        if c.is_act(v):
            name, shape = c.act(node, i)
            ins.append(name)
            shapes.append(shape)
        else:
            ins.append(None)
            shapes.append(None)
    ref = next(s for s in shapes if s is not None)
    for i, v in enumerate(node.input):
        if ins[i] is None:
            ins[i] = c.weight(node, ("cond", "X", "Y")[i], _const_operand(c, node, i, ref))
    cv = node.input[0]
    if (c.kind.get(cv) if c.is_act(cv) else const_kind(c.const[cv])) != "bool":
        raise Unsupported("Where with a non-bool condition")
    c.set_act(node.output[0], c.emit(node, "where", ins, {}, node.output[0]))
    kinds = [c.kind.get(v) if c.is_act(v) else const_kind(c.const[v]) for v in node.input[1:]]
    if kinds[0] != kinds[1]:
        raise Malformed("Where of a %s and a %s operand" % (kinds[0] or "float", kinds[1] or "float"))
    return kinds[0]


def op_argreduce(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = axis_attr(attrs, r, 0)
    if axis == 0 and has_batch(shape):
        raise BatchDep("reduces over the batch")
    a = {"axes": [axis], "keepdim": bool(int(attrs.get("keepdims", 1))),
         "select_last": bool(int(attrs.get("select_last_index", 0)))}
    c.set_act(node.output[0], c.emit(node, "argmax" if node.op_type == "ArgMax" else "argmin", [name], a,
                                     node.output[0]))


def op_cast(c, node, attrs):
    """A Cast to float, bool or int64 / int32 (c.kind says what the source holds); a float value cast to
    float16 / bfloat16 is rounded to that type's values (round_f16 / round_bf16) and stays float."""
    to = attrs.get("to")
    src = c.kind.get(node.input[0])
    if node.op_type == "CastLike":
        like = node.input[1] if len(node.input) > 1 else ""
        if c.is_act(like):
            dst = c.kind.get(like)
        elif like in c.const:
            dst = const_kind(c.const[like])
        else:
            raise Malformed("CastLike needs a second input")
    else:
        if to not in CAST_KIND:
            raise Unsupported("Cast of an activation to %s (float, bool, int64 and int32 run)"
                              % (onnx_dtype_name(to) if isinstance(to, int) else to))
        dst = CAST_KIND[to]
    rounding = {_T.FLOAT16: "round_f16", getattr(_T, "BFLOAT16", -1): "round_bf16"}
    if node.op_type == "CastLike" and not c.is_act(like) and np.asarray(c.const[like]).dtype == np.float16:
        to = _T.FLOAT16
    if src is None and node.op_type in ("Cast", "CastLike") and to in rounding:
        # a float value to float16 / bfloat16: the values that type holds (the rounding), run as float
        name, _ = c.act(node)
        c.set_act(node.output[0], c.emit(node, rounding[to], [name], {}, node.output[0]))
        return None
    if dst is None or src == "bool" or (src is not None and dst != "bool"):
        # the same values: float <- anything, int / bool <- bool, int64 <-> int32
        op_identity(c, node, attrs)
        return dst
    name, _ = c.act(node)
    if dst == "bool":   # x != 0
        c.set_act(node.output[0], c.emit(node, "ne", [name, c.weight(node, "zero", np.zeros(1, np.float32))], {},
                                         node.output[0]))
        return "bool"
    raise Unsupported("Cast of a float activation to %s (the truncation to an integer does not run)" % dst)


def op_reduce_min_prod(c, node, attrs):
    name, shape = c.act(node)
    axes = axes_arg(c, node, attrs, 1, 18)
    keep = int(attrs.get("keepdims", 1))
    r = len(shape)
    if axes is None or len(axes) == 0:
        if c.opset >= 18 and attrs.get("noop_with_empty_axes", 0):
            return op_identity(c, node, attrs)
        axes = list(range(r))
    axes = sorted({a % r for a in axes})
    if 0 in axes and has_batch(shape):
        raise BatchDep("reduces over the batch")
    op = "reduce_min" if node.op_type == "ReduceMin" else "reduce_prod"
    c.set_act(node.output[0], c.emit(node, op, [name], {"axes": axes, "keepdim": bool(keep)}, node.output[0]))


# ONNX op type -> handler(converter, node, attrs); a handler may return the output's kind
HANDLERS = {
    "Equal": op_compare, "Less": op_compare, "Greater": op_compare, "LessOrEqual": op_compare,
    "GreaterOrEqual": op_compare, "And": op_compare, "Or": op_compare, "Xor": op_compare, "Not": op_not,
    "Where": op_where, "ArgMax": op_argreduce, "ArgMin": op_argreduce, "ReduceMin": op_reduce_min_prod,
    "ReduceProd": op_reduce_min_prod, "Cast": op_cast, "CastLike": op_cast,
}
