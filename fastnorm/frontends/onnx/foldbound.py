"""The size of what constant folding is about to compute, checked before it is computed (issue 13).

Folding evaluates a node whose inputs are all constants; ConstantOfShape, Tile, Range, Expand and the
broadcasting ops can turn a few bytes of file into gigabytes. fold_bytes(op, inputs, attrs) gives the
bytes the node's output will take, from its inputs' shapes and values alone (nothing is allocated);
check_fold raises Malformed (a FormatError naming the node) when that exceeds the loader's
max_tensor_bytes.
"""
import math

import numpy as np

from fastnorm.frontends.onnx._base import Malformed

# ops whose output is the broadcast of their inputs' shapes
BROADCAST_OPS = frozenset(("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Equal", "Less", "Greater",
                           "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "Sum", "Mean"))
# TensorProto.data_type -> bytes per element (unknown: 8, the widest)
_ITEMSIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def _ints(a, what):
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise Malformed("%s must be integers, got %s" % (what, a.dtype))
    return [int(v) for v in a.reshape(-1)]


def _count(shape, what):
    if any(d < 0 for d in shape):
        raise Malformed("%s has a negative dim: %s" % (what, _short(shape)))
    return math.prod(shape)


def _short(seq):
    s = str(list(seq))
    return s if len(s) <= 80 else s[:80] + "...]"


def _broadcast(shapes):
    """numpy's (= ONNX's multidirectional) broadcast of shapes, on Python ints; None if incompatible."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        big = dims - {1}
        if len(big) > 1:
            return None
        out.append(big.pop() if big else 1)
    return out


def fold_bytes(op, ins, attrs):
    """Bytes of the output of op on constant inputs ins (numpy arrays; None for a missing optional input),
    or None when the output is no larger than its inputs (nothing to bound)."""
    if op == "ConstantOfShape":
        value = attrs.get("value")
        itemsize = 4 if value is None else _ITEMSIZE.get(getattr(value, "data_type", None), 8)
        return itemsize * _count(_ints(ins[0], "ConstantOfShape's shape"), "ConstantOfShape's shape")
    if op == "Tile" and len(ins) >= 2:
        reps = _ints(ins[1], "Tile's repeats")
        x = ins[0]
        if len(reps) != x.ndim:
            return None   # the evaluator names the mismatch
        _count(reps, "Tile's repeats")
        return x.itemsize * math.prod(d * r for d, r in zip(x.shape, reps))
    if op == "Range" and len(ins) == 3:
        start, limit, delta = (np.asarray(v).reshape(-1)[:1] for v in ins)
        if not (start.size and limit.size and delta.size):
            return None
        s, lim, d = float(start[0]), float(limit[0]), float(delta[0])
        if not all(math.isfinite(v) for v in (s, lim, d)):
            raise Malformed("Range with a non-finite start, limit or delta")
        if d == 0:
            raise Malformed("Range with delta 0")
        return np.asarray(ins[0]).itemsize * max(0, math.ceil((lim - s) / d))
    if op == "Expand" and len(ins) == 2:
        shape = _broadcast([list(ins[0].shape), _ints(ins[1], "Expand's shape")])
        return None if shape is None else ins[0].itemsize * _count(shape, "Expand's shape")
    if op in BROADCAST_OPS and len(ins) >= 2:
        shape = _broadcast([list(np.shape(x)) for x in ins if x is not None])
        return None if shape is None else max(np.asarray(x).itemsize for x in ins if x is not None) * math.prod(shape)
    return None


def check_fold(op, ins, attrs, max_tensor_bytes):
    """Malformed when folding op would compute an output over max_tensor_bytes."""
    n = fold_bytes(op, ins, attrs)
    if n is not None and n > max_tensor_bytes:
        raise Malformed("constant folding would compute a %s output of %d bytes, more than max_tensor_bytes=%d"
                        % (op, n, max_tensor_bytes))
