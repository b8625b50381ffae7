"""A NumPy constant folder for the shape-computation ops exporters emit (Shape -> Gather -> Unsqueeze ->
Concat -> Reshape and friends), written from the ONNX operator definitions, so that folding needs neither
onnx.reference nor onnx.

    fold(op_type, inputs, attrs, opset) -> list of np.ndarray outputs, or NotImplemented
inputs: one np.ndarray per node input (None for an omitted optional input); attrs: name -> value as
onnxpb.get_attribute_value gives it. NotImplemented means "not an op (or an input type) this folder
handles": the caller may fall back to another evaluator. An input the op definition forbids (axis out of
range, a shape that does not fit, integer division by zero) raises FoldError (a FormatError). Every output's
element count is bounded by max_elements, so a few bytes of model cannot ask for gigabytes.
"""
import numpy as np

from fastnorm.errors import FormatError

MAX_ELEMENTS = 1 << 24


class FoldError(FormatError):
    """Constant inputs that the op's definition rejects, or an output larger than the folder allows."""


def _int_list(a, what):
    a = np.asarray(a)
    if a.dtype.kind not in "iu" or a.ndim > 1:
        raise FoldError("%s must be a 1-D integer tensor, got %s %s" % (what, a.dtype, a.shape))
    return [int(v) for v in a.reshape(-1)]


def _axis(ax, rank, what="axis"):
    ax = int(ax)
    if not -rank <= ax < max(rank, 1) or (rank == 0 and ax not in (0, -1)):
        raise FoldError("%s %d is out of range for rank %d" % (what, ax, rank))
    return ax + rank if ax < 0 else ax


def _axes(axes, rank, what="axes"):
    out = [_axis(a, rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise FoldError("%s %s repeat an axis" % (what, list(axes)))
    return out


def _check_size(shape, limit, op):
    if len(shape) > 64:
        raise FoldError("%s: output of rank %d (at most 64)" % (op, len(shape)))
    if any(d < 0 for d in shape):
        raise FoldError("%s: negative dim in output shape %s" % (op, list(shape)[:8]))
    if 0 in shape:
        return 0
    n = 1
    for d in shape:
        n *= d
        if n > limit:
            raise FoldError("%s: output of shape %s has over %d elements (the folder allows %d)"
                            % (op, list(shape)[:8], limit, limit))
    return n


def _opt_input_or_attr(inputs, i, attrs, name, opset, since):
    """An operand that moved from an attribute to an input at opset `since`."""
    if opset >= since:
        v = inputs[i] if len(inputs) > i else None
        return None if v is None else _int_list(v, name)
    v = attrs.get(name)
    return None if v is None else [int(x) for x in v]


def _same_dtype(op, arrays):
    dts = {a.dtype for a in arrays}
    if len(dts) > 1:
        raise FoldError("%s: operands of different types %s" % (op, sorted(str(d) for d in dts)))


def _broadcast(op, arrays, limit):
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        raise FoldError("%s: shapes %s do not broadcast" % (op, [a.shape for a in arrays])) from None
    _check_size(shape, limit, op)
    return shape


def _int_div(a, b):
    if np.any(b == 0):
        raise FoldError("Div: integer division by zero")
    q = a // b
    fix = (q * b != a) & ((a < 0) != (b < 0))     # ONNX (C) integer division truncates toward zero
    return q + fix.astype(q.dtype)


_BINARY = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
    "Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
}
_UNARY = {"Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Floor": np.floor, "Ceil": np.ceil,
          "Not": np.logical_not, "Reciprocal": np.reciprocal, "Identity": lambda x: x.copy()}


def _op_shape(x, attrs, opset):
    dims = np.array(x.shape, np.int64)
    if opset < 15:
        return dims
    r = len(dims)
    start, end = int(attrs.get("start", 0)), attrs.get("end")
    end = r if end is None else int(end)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return dims[start:end]


def _op_gather(x, idx, attrs):
    if idx.dtype.kind not in "iu":
        raise FoldError("Gather: indices of type %s" % idx.dtype)
    ax = _axis(attrs.get("axis", 0), x.ndim)
    n = x.shape[ax]
    idx = idx.astype(np.int64)
    if np.any(idx < -n) or np.any(idx >= n):
        raise FoldError("Gather: an index is outside [-%d, %d)" % (n, n))
    return np.take(x, np.where(idx < 0, idx + n, idx), axis=ax)


def _op_unsqueeze(x, axes):
    if axes is None:
        raise FoldError("Unsqueeze without axes")
    r = x.ndim + len(axes)
    if r > 64:
        raise FoldError("Unsqueeze: %d axes make a rank-%d tensor" % (len(axes), r))
    axes = set(_axes(axes, r))
    src = iter(x.shape)
    return x.reshape([1 if i in axes else next(src) for i in range(r)])


def _op_squeeze(x, axes):
    if axes is None:
        return x.reshape([d for d in x.shape if d != 1])
    axes = set(_axes(axes, x.ndim))
    if any(x.shape[a] != 1 for a in axes):
        raise FoldError("Squeeze: axes %s of shape %s are not all 1" % (sorted(axes), x.shape))
    return x.reshape([d for i, d in enumerate(x.shape) if i not in axes])


def _op_slice(x, starts, ends, axes, steps):
    if starts is None or ends is None or len(starts) != len(ends):
        raise FoldError("Slice: starts and ends must be given with the same length")
    axes = list(range(len(starts))) if axes is None else _axes(axes, x.ndim)
    steps = [1] * len(starts) if steps is None else steps
    if len(axes) != len(starts) or len(steps) != len(starts):
        raise FoldError("Slice: starts, ends, axes and steps differ in length")
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        d = x.shape[ax]
        if st == 0:
            raise FoldError("Slice: a step of 0")
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
            sl[ax] = slice(s, e, st)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            sl[ax] = slice(s, None if e < 0 else e, st)
    return x[tuple(sl)]


def _op_reshape(x, shape, allowzero):
    if len(shape) > 64:
        raise FoldError("Reshape: %d dims (at most 64)" % len(shape))
    out = []
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            if i >= x.ndim:
                raise FoldError("Reshape: 0 at position %d copies a dim the input (rank %d) lacks" % (i, x.ndim))
            d = x.shape[i]
        out.append(d)
    if out.count(-1) > 1 or any(d < -1 for d in out):
        raise FoldError("Reshape: shape %s" % shape)
    known = 1
    for d in out:
        known *= d if d != -1 else 1
    if -1 in out:
        if known == 0 or x.size % known:
            raise FoldError("Reshape: %s cannot take %d elements" % (shape, x.size))
        out[out.index(-1)] = x.size // known
    elif known != x.size:
        raise FoldError("Reshape: %s cannot take %d elements" % (shape, x.size))
    return x.reshape(out)


def _op_range(start, limit, delta, limit_elems):
    for v, what in ((start, "start"), (limit, "limit"), (delta, "delta")):
        if v.size != 1:
            raise FoldError("Range: %s must be a scalar" % what)
    _same_dtype("Range", [start, limit, delta])
    dt = start.dtype
    s, lim, d = start.reshape(-1)[0], limit.reshape(-1)[0], delta.reshape(-1)[0]
    if d == 0:
        raise FoldError("Range: delta is 0")
    if dt.kind in "iu":
        s, lim, d = int(s), int(lim), int(d)
        n = max(-((s - lim) // d), 0)       # ceil((lim - s) / d) in exact integers
    else:
        n = float(np.ceil((float(lim) - float(s)) / float(d)))
        if not np.isfinite(n):
            raise FoldError("Range: %r, %r, %r give no finite length" % (s, lim, d))
        n = max(int(n), 0)
    _check_size([n], limit_elems, "Range")
    return (s + np.arange(n, dtype=dt) * np.asarray(d, dt)).astype(dt)


def _op_reduce(op, x, axes, keepdims, noop_empty):
    if not axes:
        if noop_empty:
            return x.copy()
        axes = list(range(x.ndim))
    axes = tuple(_axes(axes, x.ndim))
    f = {"ReduceSum": np.sum, "ReduceProd": np.prod, "ReduceMax": np.max, "ReduceMin": np.min}[op]
    if op in ("ReduceMax", "ReduceMin") and any(x.shape[a] == 0 for a in axes):
        raise FoldError("%s over an empty axis" % op)
    return np.asarray(f(x, axis=axes, keepdims=bool(keepdims))).astype(x.dtype, copy=False)


def _cast(x, to):
    from fastnorm.onnxpb.tensor import _DTYPE
    from fastnorm.onnxpb.messages import TensorProto as T
    if to in (T.STRING, T.BFLOAT16) or to not in _DTYPE or x.dtype.kind in "OUS":
        return NotImplemented
    dt = np.dtype(_DTYPE[to])
    if dt == np.bool_:
        return x != 0
    return x.astype(dt)


def _constant(attrs):
    from fastnorm.onnxpb.tensor import sparse_to_dense, to_array
    if "value" in attrs:
        return np.asarray(to_array(attrs["value"])).copy()
    if "sparse_value" in attrs:
        return sparse_to_dense(attrs["sparse_value"])
    for k, dt in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                  ("value_ints", np.int64)):
        if k in attrs:
            return np.array(attrs[k], dt)
    return NotImplemented


def fold(op_type, inputs, attrs, opset, max_elements=MAX_ELEMENTS):
    """Evaluate one node on constant inputs -> [outputs] or NotImplemented (see the module docstring)."""
    inputs = [None if v is None else np.asarray(v) for v in inputs]
    if any(v is not None and v.dtype.kind in "OSUV" for v in inputs):
        return NotImplemented            # symbolic or string tensors: not this folder's business
    try:
        with np.errstate(all="ignore"):  # integer wrap-around and float inf/nan follow NumPy = C semantics
            out = _dispatch(op_type, inputs, attrs, opset, max_elements)
    except FoldError:
        raise
    except (ValueError, IndexError, TypeError, OverflowError, KeyError) as e:
        raise FoldError("%s: %s" % (op_type, e)) from None
    if out is NotImplemented:
        return out
    out = [np.asarray(o) for o in out]
    for o in out:
        _check_size(o.shape, max_elements, op_type)
    return out


def _need(inputs, n, op):
    if len(inputs) < n or any(v is None for v in inputs[:n]):
        raise FoldError("%s needs %d inputs" % (op, n))
    return inputs[:n]


def _dispatch(op, inputs, attrs, opset, limit):
    if op == "Constant":
        r = _constant(attrs)
        return r if r is NotImplemented else [r]
    if op in _UNARY:
        (x,) = _need(inputs, 1, op)
        if op == "Not" and x.dtype != np.bool_:
            raise FoldError("Not of a %s tensor" % x.dtype)
        return [np.asarray(_UNARY[op](x)).astype(x.dtype, copy=False)]
    if op in _BINARY or op in ("Div", "Pow", "Mod"):
        a, b = _need(inputs, 2, op)
        if op != "Pow":
            _same_dtype(op, [a, b])
        _broadcast(op, [a, b], limit)
        if op == "Div":
            r = _int_div(a, b) if a.dtype.kind in "iu" else np.true_divide(a, b)
        elif op == "Pow":
            r = np.power(a, b.astype(a.dtype)) if a.dtype.kind == "f" else np.power(a, b.astype(np.int64))
        elif op == "Mod":
            if a.dtype.kind in "iu" and np.any(b == 0):
                raise FoldError("Mod: integer modulo by zero")
            r = np.fmod(a, b) if int(attrs.get("fmod", 0)) else np.mod(a, b)
        else:
            r = _BINARY[op](a, b)
        r = np.asarray(r)
        return [r if r.dtype == np.bool_ else r.astype(a.dtype, copy=False)]
    if op in ("Max", "Min", "Sum", "Mean"):
        xs = [v for v in inputs if v is not None]
        if not xs:
            raise FoldError("%s without inputs" % op)
        _same_dtype(op, xs)
        _broadcast(op, xs, limit)
        f = {"Max": np.maximum, "Min": np.minimum, "Sum": np.add, "Mean": np.add}[op]
        r = xs[0]
        for v in xs[1:]:
            r = f(r, v)
        if op == "Mean":
            r = r / len(xs)
        return [np.asarray(r).astype(xs[0].dtype, copy=False)]
    if op == "Shape":
        return [_op_shape(_need(inputs, 1, op)[0], attrs, opset)]
    if op == "Size":
        return [np.array(_need(inputs, 1, op)[0].size, np.int64)]
    if op == "Gather":
        return [_op_gather(*_need(inputs, 2, op), attrs)]
    if op == "Unsqueeze":
        x = _need(inputs, 1, op)[0]
        return [_op_unsqueeze(x, _opt_input_or_attr(inputs, 1, attrs, "axes", opset, 13))]
    if op == "Squeeze":
        x = _need(inputs, 1, op)[0]
        return [_op_squeeze(x, _opt_input_or_attr(inputs, 1, attrs, "axes", opset, 13))]
    if op == "Concat":
        xs = [v for v in inputs if v is not None]
        if not xs or "axis" not in attrs:
            raise FoldError("Concat needs inputs and an axis")
        _same_dtype(op, xs)
        if len({v.ndim for v in xs}) != 1:
            raise FoldError("Concat: inputs of different ranks")
        ax = _axis(attrs["axis"], xs[0].ndim)
        _check_size(xs[0].shape[:ax] + (sum(v.shape[ax] for v in xs),) + xs[0].shape[ax + 1:], limit, op)
        return [np.concatenate(xs, axis=ax)]
    if op == "Slice":
        x = _need(inputs, 1, op)[0]
        if opset < 10:
            g = [attrs.get(k) for k in ("starts", "ends", "axes")]
            starts, ends, axes = [None if v is None else [int(i) for i in v] for v in g]
            steps = None
        else:
            starts, ends, axes, steps = [_opt_input_or_attr(inputs, i, {}, k, opset, 10)
                                         for i, k in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))]
        return [_op_slice(x, starts, ends, axes, steps)]
    if op == "Cast":
        x = _need(inputs, 1, op)[0]
        if "to" not in attrs:
            raise FoldError("Cast without 'to'")
        r = _cast(x, int(attrs["to"]))
        return r if r is NotImplemented else [r]
    if op == "Reshape":
        if opset < 5:
            shape = [int(v) for v in attrs.get("shape", [])]
            x = _need(inputs, 1, op)[0]
        else:
            x, s = _need(inputs, 2, op)
            shape = _int_list(s, "Reshape shape")
        return [_op_reshape(x, shape, int(attrs.get("allowzero", 0)))]
    if op == "Flatten":
        x = _need(inputs, 1, op)[0]
        ax = int(attrs.get("axis", 1))
        ax = ax + x.ndim if ax < 0 else ax
        if not 0 <= ax <= x.ndim:
            raise FoldError("Flatten: axis %d for rank %d" % (ax, x.ndim))
        return [x.reshape(int(np.prod(x.shape[:ax], dtype=np.int64)), -1 if x.size else 0)]
    if op == "Transpose":
        x = _need(inputs, 1, op)[0]
        perm = attrs.get("perm")
        perm = list(range(x.ndim))[::-1] if perm is None else [int(p) for p in perm]
        if sorted(perm) != list(range(x.ndim)):
            raise FoldError("Transpose: perm %s for rank %d" % (perm, x.ndim))
        return [np.ascontiguousarray(np.transpose(x, perm))]
    if op == "ConstantOfShape":
        s = _int_list(_need(inputs, 1, op)[0], "ConstantOfShape shape")
        _check_size(s, limit, op)
        val = np.zeros(1, np.float32)
        if attrs.get("value") is not None:
            from fastnorm.onnxpb.tensor import to_array
            val = np.asarray(to_array(attrs["value"])).reshape(-1)
            if val.size != 1:
                raise FoldError("ConstantOfShape: value has %d elements" % val.size)
        return [np.full(s, val[0], val.dtype)]
    if op == "Range":
        return [_op_range(*_need(inputs, 3, op), limit)]
    if op == "Where":
        c, x, y = _need(inputs, 3, op)
        if c.dtype != np.bool_:
            raise FoldError("Where: condition of type %s" % c.dtype)
        _same_dtype(op, [x, y])
        _broadcast(op, [c, x, y], limit)
        return [np.where(c, x, y)]
    if op == "Expand":
        x, s = _need(inputs, 2, op)
        s = _int_list(s, "Expand shape")
        if any(d < 0 for d in s):
            raise FoldError("Expand: negative dim in %s" % s)
        try:
            shape = np.broadcast_shapes(x.shape, tuple(s))
        except ValueError:
            raise FoldError("Expand: shape %s does not broadcast with %s" % (s[:8], x.shape)) from None
        _check_size(shape, limit, op)
        return [np.broadcast_to(x, shape).copy()]
    if op == "Tile":
        x, reps = _need(inputs, 2, op)
        reps = _int_list(reps, "Tile repeats")
        if len(reps) != x.ndim or any(r < 0 for r in reps):
            raise FoldError("Tile: repeats %s for rank %d" % (reps, x.ndim))
        _check_size([d * r for d, r in zip(x.shape, reps)], limit, op)
        return [np.tile(x, reps)]
    if op in ("ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin"):
        x = _need(inputs, 1, op)[0]
        since = 13 if op == "ReduceSum" else 18
        axes = _opt_input_or_attr(inputs, 1, attrs, "axes", opset, since)
        return [_op_reduce(op, x, axes, attrs.get("keepdims", 1), attrs.get("noop_with_empty_axes", 0))]
    if op == "CumSum":
        return [_op_cumsum(*_need(inputs, 2, op), attrs)]
    return NotImplemented


def _op_cumsum(x, axis, attrs):
    """Running sums along axis (EdgeNeXt's position encoding, from the input's shape): exclusive starts
    at 0 (each sum leaves its own element out), reverse runs from the end."""
    if x.ndim == 0:
        raise FoldError("CumSum of a 0-d tensor")
    a = _int_list(axis, "CumSum axis")
    if len(a) != 1 or not -x.ndim <= a[0] < x.ndim:
        raise FoldError("CumSum: axis %s for rank %d" % (a[:4], x.ndim))
    a = a[0] % x.ndim
    y = np.flip(x, a) if int(attrs.get("reverse", 0)) else x
    c = np.cumsum(y, axis=a, dtype=x.dtype)
    if int(attrs.get("exclusive", 0)):
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=a)), np.take(c, range(c.shape[a] - 1), axis=a)], a)
    return np.flip(c, a) if int(attrs.get("reverse", 0)) else c


SUPPORTED = frozenset(list(_BINARY) + list(_UNARY) + [
    "Constant", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Shape", "Size", "Gather", "Unsqueeze", "Squeeze",
    "Concat", "Slice", "Cast", "Reshape", "Flatten", "Transpose", "ConstantOfShape", "Range", "Where", "Expand",
    "Tile", "ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin"])
