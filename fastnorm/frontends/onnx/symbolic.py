"""Symbolic shape folding: Shape/Gather/Concat/... on shape vectors whose first entry may be the batch,
and the handlers that only produce constants (Constant, Shape, Size).
"""
import math

import numpy as np

from fastnorm import onnxpb
from fastnorm.errors import FormatError, UnsupportedError
from fastnorm.frontends.onnx._base import (BATCH, UNKNOWN, Malformed, Sym, Unsupported, axes_arg, has_batch, ints_of,
    insert_axes, is_sym, sym_result, sym_vector)


def _sym_gather(c, node, attrs):
    data = c.const[node.input[0]]
    idx = c.cval(node, 1, "indices")
    axis = int(attrs.get("axis", 0))
    sym_result(c, node.output[0], np.take(data, np.asarray(idx).astype(np.int64), axis=axis))


def _sym_identity(c, node, attrs):
    sym_result(c, node.output[0], c.const[node.input[0]])


def _sym_unsqueeze(c, node, attrs):
    data = c.const[node.input[0]]
    axes = axes_arg(c, node, attrs, 1, 13)
    if axes is None:
        raise Malformed("Unsqueeze needs axes")
    shape = insert_axes(list(data.shape), axes)
    sym_result(c, node.output[0], data.reshape(shape))


def _sym_squeeze(c, node, attrs):
    data = c.const[node.input[0]]
    axes = axes_arg(c, node, attrs, 1, 13)
    if axes is None:
        out = data.reshape([d for d in data.shape if d != 1])
    else:
        out = np.squeeze(data, axis=tuple(a % data.ndim for a in axes))
    sym_result(c, node.output[0], out)


def _sym_concat(c, node, attrs):
    parts = []
    for v in node.input:
        if not v:
            continue
        a = c.const[v]
        parts.append(a if is_sym(a) else np.asarray(a).astype(object))
    sym_result(c, node.output[0], np.concatenate(parts, axis=int(attrs.get("axis", 0))))


def _sym_slice(c, node, attrs):
    data = c.const[node.input[0]]
    if c.opset < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints_of(c, node, 1, "starts"), ints_of(c, node, 2, "ends")
        axes = ints_of(c, node, 3, "axes", list(range(len(starts))))
        steps = ints_of(c, node, 4, "steps", [1] * len(starts))
    sl = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        sl[a % data.ndim] = slice(s, e, st)
    sym_result(c, node.output[0], data[tuple(sl)])


def _sym_reshape(c, node, attrs):
    data = c.const[node.input[0]]
    shape = ints_of(c, node, 1, "shape") if c.opset >= 5 else list(attrs["shape"])
    shape = [data.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    sym_result(c, node.output[0], data.reshape(shape))


def _sym_binary(c, node, attrs):
    a, b = (c.const[v] for v in node.input[:2])
    a, b = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    op = node.op_type
    out = np.empty(a.shape, dtype=object)
    for i in np.ndindex(a.shape):
        x, y = a[i], b[i]
        xs, ys = isinstance(x, Sym), isinstance(y, Sym)
        if not xs and not ys:
            x, y = (x.item() if hasattr(x, "item") else x), (y.item() if hasattr(y, "item") else y)
            r = {"Add": lambda: x + y, "Sub": lambda: x - y, "Mul": lambda: x * y,
                 "Div": lambda: x // y if isinstance(x, int) and isinstance(y, int) else x / y}[op]()
        elif xs and not ys and ((op in ("Mul", "Div") and y == 1) or (op in ("Add", "Sub") and y == 0)):
            r = x
        elif ys and not xs and op == "Mul" and x == 1:
            r = y
        elif ys and not xs and op == "Add" and x == 0:
            r = y
        else:
            r = UNKNOWN
        out[i] = r
    sym_result(c, node.output[0], out)


def _sym_equal(c, node, attrs):
    """Equal on shape vectors: the batch (>= 1) is never 0 or negative (the TorchScript exporter's
    expand(b, -1, ...) writes Where(Equal(shape, -1), ones, shape)); anything else about it unknown."""
    a, b = (np.asarray(c.const[v], dtype=object) for v in node.input[:2])
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape, dtype=object)
    for i in np.ndindex(a.shape):
        x, y = a[i], b[i]
        if not isinstance(x, Sym) and not isinstance(y, Sym):
            out[i] = bool(x == y)
        elif (x is BATCH and not isinstance(y, Sym) and y <= 0) or (y is BATCH and not isinstance(x, Sym) and x <= 0):
            out[i] = False
        else:
            out[i] = UNKNOWN
    if any(e is UNKNOWN for e in out.reshape(-1)):
        c.const[node.output[0]] = out
    else:
        c.const[node.output[0]] = out.astype(bool)


def _sym_where(c, node, attrs):
    cond, x, y = (np.asarray(c.const[v], dtype=object) for v in node.input[:3])
    cond, x, y = np.broadcast_arrays(cond, x, y)
    out = np.empty(cond.shape, dtype=object)
    for i in np.ndindex(cond.shape):
        k = cond[i]
        out[i] = UNKNOWN if isinstance(k, Sym) else (x[i] if k else y[i])
    sym_result(c, node.output[0], out)


def _sym_expand(c, node, attrs):
    """Expand of a float constant to a shape whose first entry is the batch (CoordConv's coordinate
    channels, expand(b, 1, h, w)): the same for every sample, kept as its batch-1 value and marked a
    batch constant (c.bconst), which only elementwise folds and the readers that broadcast it over the
    batch may take (converter.BCONST_*)."""
    data, t = c.const[node.input[0]], c.const[node.input[1]]
    t = list(np.asarray(t, dtype=object).reshape(-1))
    if (not is_sym(data) and np.asarray(data).dtype.kind == "f" and t and t[0] is BATCH
            and not any(isinstance(e, Sym) for e in t[1:]) and 1 <= np.ndim(data) <= len(t)
            and (np.ndim(data) < len(t) or np.shape(data)[0] == 1)):
        try:
            shape = np.broadcast_shapes(np.shape(data), tuple([1] + [int(e) for e in t[1:]]))
        except ValueError:
            raise Malformed("Expand of %s to %r" % (np.shape(data), t)) from None
        if math.prod(shape) * 4 > c.max_tensor_bytes:
            raise MemoryError("Expand to %r: over max_tensor_bytes (%d) a sample" % (t, c.max_tensor_bytes))
        c.const[node.output[0]] = np.ascontiguousarray(np.broadcast_to(data, shape))
        c.bconst.add(node.output[0])
        return
    _sym_unknown(c, node, attrs)


def _sym_unknown(c, node, attrs):
    """Ops on shape vectors we do not follow symbolically: entries computed from the batch are unknown."""
    for v in node.output:
        if v:
            src = [c.const[x] for x in node.input if x]
            if node.op_type == "Shape":
                arr = np.asarray(src[0]).shape
                sym_result(c, v, np.array(arr, dtype=np.int64))
            else:
                c.const[v] = sym_vector([UNKNOWN])


SYM_OPS = {
    "Gather": _sym_gather, "Identity": _sym_identity, "Cast": _sym_identity, "Unsqueeze": _sym_unsqueeze,
    "Squeeze": _sym_squeeze, "Concat": _sym_concat, "Slice": _sym_slice, "Reshape": _sym_reshape,
    "Add": _sym_binary, "Sub": _sym_binary, "Mul": _sym_binary, "Div": _sym_binary,
    "Floor": _sym_identity, "Ceil": _sym_identity, "Shape": _sym_unknown, "Equal": _sym_equal,
    "Where": _sym_where, "Expand": _sym_expand,
}


for _k in ("Equal", "Where", "Expand", "ConstantOfShape", "Range", "ReduceProd", "Max", "Min", "Abs", "Neg",
           "Sqrt", "Size"):
    SYM_OPS.setdefault(_k, _sym_unknown)

# never folded by evaluating the node (random, or handled directly)


NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
            "Bernoulli", "Dropout"}


def op_constant(c, node, attrs):
    try:
        a = _constant_value(attrs)
    except UnsupportedError as e:
        raise Unsupported(str(e))
    except FormatError as e:
        raise Malformed(str(e))
    c.const[node.output[0]] = np.asarray(a)


def _constant_value(attrs):
    if "value" in attrs:
        if not isinstance(attrs["value"], onnxpb.TensorProto):
            raise Malformed("attribute 'value' is not a tensor")
        a = onnxpb.to_array(attrs["value"])
    elif "value_float" in attrs:
        a = np.array(attrs["value_float"], np.float32)
    elif "value_floats" in attrs:
        a = np.array(list(attrs["value_floats"]), np.float32)
    elif "value_int" in attrs:
        a = np.array(attrs["value_int"], np.int64)
    elif "value_ints" in attrs:
        a = np.array(list(attrs["value_ints"]), np.int64)
    elif "sparse_value" in attrs:
        if not isinstance(attrs["sparse_value"], onnxpb.SparseTensorProto):
            raise Malformed("attribute 'sparse_value' is not a sparse tensor")
        a = onnxpb.sparse_to_dense(attrs["sparse_value"])
    elif "value_string" in attrs or "value_strings" in attrs:
        raise Unsupported("string constants")
    else:
        raise Malformed("Constant without a value")
    return a


def op_shape(c, node, attrs):
    _, shape = c.act(node)
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    vec = list(shape)[start:None if end is None else int(end)]
    sym_result(c, node.output[0], sym_vector(vec))


def op_size(c, node, attrs):
    _, shape = c.act(node)
    if has_batch(shape):
        c.const[node.output[0]] = sym_vector([UNKNOWN]).reshape(())
    else:
        c.const[node.output[0]] = np.array(math.prod(shape), np.int64)


def op_constant_of_shape(c, node, attrs):
    raise Unsupported("ConstantOfShape of a shape computed at run time")


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Constant": op_constant,
    "Shape": op_shape,
    "Size": op_size,
    "ConstantOfShape": op_constant_of_shape,
}
