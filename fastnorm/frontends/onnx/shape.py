"""Handlers: Cast, Dropout, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile.
"""
import math

import numpy as np

from fastnorm import onnxpb
from fastnorm.frontends.onnx._base import (BATCH, UNKNOWN, BatchDep, Malformed, Sym, Unsupported, axes_arg,
    MAX_RANK, dims_list, fmt_shape, insert_axes, has_batch, onnx_dtype_name, op_identity)


def op_cast(c, node, attrs):
    to = attrs.get("to")
    if isinstance(to, bytes):
        to = to.decode()
    if to not in (onnxpb.TensorProto.FLOAT, "FLOAT", "float"):
        raise Unsupported("Cast of an activation to %s (only float32 runs)"
                           % (onnx_dtype_name(to) if isinstance(to, int) else to))
    op_identity(c, node, attrs)


def op_dropout(c, node, attrs):
    x = node.input[0]
    if c.opset >= 12:
        tm = c.cval(node, 2, "training_mode")
        ratio = c.cval(node, 1, "ratio")
        if tm is not None and bool(np.asarray(tm).reshape(-1)[0]):
            if ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0:
                raise Unsupported("training_mode=True (random dropout)")
    if len(node.output) > 1 and node.output[1] and node.output[1] in c._used:
        raise Unsupported("the mask output")
    if x in c.const:
        c.const[node.output[0]] = c.const[x]
        return
    op_identity(c, node, attrs)


def _merge_groups(src, dst):
    """Groups of consecutive src dims whose products are the dst dims, or None."""
    groups, i = [], 0
    for t in dst:
        start = i
        if t is BATCH:
            if i >= len(src) or src[i] is not BATCH:
                return None
            i += 1
        elif t == 1 and i < len(src) and src[i] == 1:
            i += 1
        else:
            p = 1
            while i < len(src) and src[i] is not BATCH and p < t:
                p *= src[i]
                i += 1
            if p != t or i == start:
                return None
        groups.append([start, i])
    while i < len(src) and src[i] == 1 and groups:
        groups[-1][1] += 1
        i += 1
    if i != len(src) or (not groups and src):
        return None
    return groups


def _reshape_to(c, node, name, shape, dst, out_name):
    """Emit flattens turning `shape` into `dst` (a resolved target); alias when equal."""
    dst = tuple(dst)
    if dst == tuple(shape):
        c.ir[out_name] = name
        c.shape[out_name] = shape
        return
    src = c.producer_of(name)
    if src is not None and src.op in ("reshape", "flatten") and tuple(c._ir_value_shape[src.inputs[0]]) == dst:
        # a reshape back to what a reshape started from: the earlier value itself
        c.ir[out_name] = src.inputs[0]
        c.shape[out_name] = dst
        return
    groups = _merge_groups(tuple(shape), dst)
    if groups is None:
        if has_batch(shape) and (not dst or dst[0] is not BATCH or BATCH in dst[1:]):
            raise BatchDep("reshape %r -> %r moves the batch" % (fmt_shape(shape), fmt_shape(dst)))
        if not dst or any(d is not BATCH and d < 1 for d in dst):
            raise Unsupported("reshape %r -> %r (empty or scalar result)" % (fmt_shape(shape), fmt_shape(dst)))
        target = [-1 if d is BATCH else int(d) for d in dst]
        return c.rename(c.emit(node, "reshape", [name], {"shape": target}), out_name)
    if len(shape) == 4 and (len(dst) != 2 or groups[0] != [0, 1]):
        # the plan flattens an image only to (N, rest): anything else is a reshape
        target = [-1 if d is BATCH else int(d) for d in dst]
        if BATCH in dst[1:] or (has_batch(shape) and dst[0] is not BATCH):
            raise BatchDep("reshape %r -> %r moves the batch" % (fmt_shape(shape), fmt_shape(dst)))
        return c.rename(c.emit(node, "reshape", [name], {"shape": target}), out_name)
    cur = name
    merges = [(s, e) for s, e in groups if e - s > 1]
    for s, e in reversed(merges):
        cur = c.emit(node, "flatten", [cur], {"start_dim": s, "end_dim": e - 1})
    if not merges:
        c.ir[out_name] = name
        c.shape[out_name] = dst
        return
    c.rename(cur, out_name)


def _resolve_target(c, node, shape, target, allowzero=False):
    """ONNX Reshape target (ints with 0 / -1, or a symbolic vector) against the input shape."""
    out = []
    for i, t in enumerate(target):
        if t is UNKNOWN:
            raise BatchDep("target shape computed from the batch size")
        if t is BATCH:
            out.append(BATCH)
        elif int(t) == 0 and not allowzero:
            if i >= len(shape):
                raise Malformed("target %r copies dim %d of a %dD input" % (list(target), i, len(shape)))
            out.append(shape[i])
        else:
            out.append(int(t))
    if sum(1 for d in out if d is not BATCH and d == -1) > 1:
        raise Malformed("target %r has more than one -1" % (list(target),))
    # the fixed-batch-1 export: Reshape(x, [1, ...]) on a batch-1 model keeps the batch
    if (out and out[0] is not BATCH and out[0] == 1 and shape and shape[0] is BATCH
            and all(b == 1 for b in c.declared_batch.values()) and c.declared_batch
            and BATCH not in out[1:]):
        rest_known = math.prod(d for d in shape[1:])
        tail = [d for d in out[1:]]
        if -1 in tail or math.prod(tail) == rest_known:
            out[0] = BATCH
            c.note("batch1_reshape", node, "Reshape to %r on a batch-1 model taken as keeping the batch"
                   % ([int(t) if not isinstance(t, Sym) else t for t in target],))
    # torch.onnx.export's dynamo exporter (torch's default) writes a constant target with -1 first,
    # Reshape(x, [-1, 2048]) on (N, 2048, 1, 1): when the other dims hold exactly one sample's elements
    # the -1 is the batch for every N, and it stays the first axis
    if (out and out[0] is not BATCH and out[0] == -1 and shape and shape[0] is BATCH and BATCH not in shape[1:]
            and BATCH not in out[1:] and all(d >= 1 for d in out[1:])
            and math.prod(out[1:]) == math.prod(shape[1:])):
        out[0] = BATCH
    if -1 in [d for d in out if d is not BATCH]:
        j = [k for k, d in enumerate(out) if d is not BATCH and d == -1][0]
        sb, ob = shape.count(BATCH) if BATCH in shape else 0, out.count(BATCH)
        if sb != ob:
            raise BatchDep("reshape %r -> %r moves the batch" % (fmt_shape(shape), list(target)))
        total = math.prod(d for d in shape if d is not BATCH)
        known = math.prod(d for k, d in enumerate(out) if d is not BATCH and k != j)
        if known == 0 or total % known:
            raise Malformed("cannot reshape %r to %r" % (fmt_shape(shape), list(target)))
        out[j] = total // known
    if shape.count(BATCH) != out.count(BATCH):
        raise BatchDep("reshape %r -> %r moves the batch" % (fmt_shape(shape), fmt_shape(out)))
    if math.prod(d for d in out if d is not BATCH) != math.prod(d for d in shape if d is not BATCH):
        raise Malformed("cannot reshape %r to %r" % (fmt_shape(shape), fmt_shape(out)))
    return out


def op_reshape(c, node, attrs):
    name, shape = c.act(node)
    if c.opset < 5:
        target = list(attrs.get("shape", []))
    else:
        v = node.input[1] if len(node.input) > 1 else ""
        if not v or v not in c.const:
            raise Unsupported("shape computed at run time")
        target = list(np.asarray(c.const[v]).reshape(-1))
    if len(target) > MAX_RANK:
        raise Malformed("target shape has %d dims (at most %d)" % (len(target), MAX_RANK))
    dst = _resolve_target(c, node, shape, target, bool(attrs.get("allowzero", 0)))
    _reshape_to(c, node, name, shape, dst, node.output[0])


def op_flatten(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = int(attrs.get("axis", 1))
    if not -r <= axis <= r:
        raise Malformed("axis %d out of range for %dD" % (axis, r))
    if axis < 0:
        axis += r
    if axis == 0:
        if has_batch(shape):
            raise BatchDep("Flatten axis 0 merges the batch")
        dst = (1, math.prod(shape))
    else:
        head, tail = shape[:axis], shape[axis:]
        if has_batch(head) and len(head) > 1:
            raise BatchDep("Flatten axis %d merges the batch with other dims" % axis)
        dst = ((BATCH,) if has_batch(head) else (math.prod(head),)) + (math.prod(tail),)
    _reshape_to(c, node, name, shape, dst, node.output[0])


def op_squeeze(c, node, attrs):
    name, shape = c.act(node)
    axes = axes_arg(c, node, attrs, 1, 13)
    r = len(shape)
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
        if has_batch(shape):
            if c._can_fix():
                # a file that declares batch 1: ONNX squeezes it (a (1, C, 1, 1) pool becomes (C,)), so
                # the model keeps that batch rather than generalizing over it
                raise BatchDep("Squeeze without axes squeezes the declared batch of 1")
            # a symbolic batch is not squeezed at batch 1: ONNX would, fastnorm keeps dim 0 as the batch
            c.note("squeeze_batch", node, "Squeeze without axes: the batch dim is kept")
    axes = sorted(a % r for a in axes)
    if 0 in axes and shape[0] is BATCH:
        raise BatchDep("squeezes the batch dim")
    for a in axes:
        if shape[a] != 1:
            raise Malformed("cannot squeeze dim %d of size %r" % (a, shape[a]))
    dst = tuple(d for i, d in enumerate(shape) if i not in axes)
    _reshape_to(c, node, name, shape, dst, node.output[0])


def op_unsqueeze(c, node, attrs):
    name, shape = c.act(node)
    axes = axes_arg(c, node, attrs, 1, 13)
    if axes is None:
        raise Malformed("Unsqueeze needs axes")
    dst = insert_axes(shape, axes)
    if dst[0] is not BATCH and has_batch(shape):
        raise BatchDep("unsqueeze before the batch dim")
    _reshape_to(c, node, name, shape, tuple(dst), node.output[0])


def op_transpose(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    perm = dims_list(attrs.get("perm", list(reversed(range(r)))), "perm")
    if sorted(perm) != list(range(r)):
        raise Malformed("perm %r" % perm)
    # a transpose that only moves dims of size 1 is a reshape
    moved = [p for i, p in enumerate(perm) if p != i]
    big = [p for p in perm if shape[p] is BATCH or shape[p] != 1]
    if not moved or big == sorted(big):
        dst = tuple(shape[p] for p in perm)
        return _reshape_to(c, node, name, shape, dst, node.output[0])
    if r == 4 and perm in ([0, 2, 3, 1], [0, 3, 1, 2]):
        c.set_act(node.output[0], c.emit(node, "transpose", [name], {"perm": perm}, node.output[0]))
        return
    if shape[0] is BATCH and perm[0] != 0:
        raise BatchDep("perm %r moves the batch" % perm)
    if r > 6:
        raise Unsupported("perm %r on %r (transposes up to 6-D)" % (perm, fmt_shape(shape)))
    c.set_act(node.output[0], c.emit(node, "transpose", [name], {"perm": perm}, node.output[0]))


def op_expand(c, node, attrs):
    """Expand that changes nothing (a target of ones or of the input's own dims) is the identity."""
    name, shape = c.act(node)
    raw = c.const.get(node.input[1]) if len(node.input) > 1 else None
    if raw is not None and raw.dtype == object:
        # a target computed from a shape (x * y.expand_as(x)): entries that are the batch or unknown are
        # fine where every reader broadcasts anyway
        readers = [n for n in c.graph.node if node.output[0] in n.input]
        t = list(raw.reshape(-1))
        if readers and all(n.op_type in _BROADCASTING and _restores(c, n, node.output[0], shape, t) for n in readers):
            fixed = [(v, d) for v, d in zip(t[::-1], shape[::-1]) if v is not BATCH and not isinstance(v, Sym)]
            if len(t) <= len(shape) and all(int(v) == 1 or int(v) == d or d == 1 for v, d in fixed):
                return op_identity(c, node, attrs)
    if raw is not None and raw.dtype == object:
        # the batch entry of a computed target is the batch (kept); any other unknown is refused
        t = list(raw.reshape(-1))
        if len(t) != len(shape) or any(isinstance(v, Sym) and not (i == 0 and v is BATCH) for i, v in enumerate(t)):
            raise Unsupported("Expand of an activation to a target computed from the input's shape (%r)" % (t,))
        t = [1 if v is BATCH else int(v) for v in t]
    else:
        t = [int(v) for v in np.asarray(c.cval(node, 1, "shape", True)).reshape(-1)]
    if len(t) <= len(shape) and all(v == 1 or v == d for v, d in zip(t[::-1], shape[::-1])):
        return op_identity(c, node, attrs)
    # a real broadcast (BoTNet's relative logits: x.unsqueeze(2).expand(-1, -1, H, -1, -1)): x plus
    # zeros of the expanded shape past the batch
    if len(t) != len(shape) or (t[0] != 1 and not (shape[0] is BATCH or t[0] == shape[0])):
        raise Unsupported("Expand of an activation to %r (only to the same rank, keeping the batch)" % t)
    out = [shape[0]]
    for v, d in zip(t[1:], shape[1:]):
        if v != 1 and d != 1 and v != d:
            raise Malformed("Expand of %s to %r" % (fmt_shape(shape), t))
        out.append(max(int(v), int(d)))
    if math.prod(out[1:]) > (1 << 24):
        raise Unsupported("Expand of an activation to %r (over 2^24 elements a sample)" % t)
    zeros = np.zeros([1] + out[1:], np.float32)
    c.set_act(node.output[0], c.emit(node, "add", [name, c.weight(node, "zeros", zeros)], {}, node.output[0]))


_BROADCASTING = ("Mul", "Add", "Sub", "Div", "Max", "Min")


def _restores(c, reader, value, shape, target):
    """Whether reader's other operand alone has the extent of every axis the Expand of `value` (of
    `shape`, to `target`) widens: then reading the unexpanded value broadcasts to the same result. A
    scalar, or an operand as small, would leave the result small."""
    others = [v for v in reader.input if v and v != value]
    if len(others) != 1 or reader.input.count(value) != 1:
        return False
    o = others[0]
    oshape = c.shape.get(o) if o in c.shape else (tuple(np.asarray(c.const[o]).shape) if o in c.const else None)
    if oshape is None:
        return False
    r = max(len(shape), len(target))
    for i in range(1, r + 1):
        d = shape[-i] if i <= len(shape) else 1
        t = target[-i] if i <= len(target) else 1
        if d == 1 and not (isinstance(t, (int, np.integer)) and int(t) == 1):
            od = oshape[-i] if i <= len(oshape) else 1
            if od == 1 or (isinstance(t, (int, np.integer)) and od != int(t)):
                return False
    return True


def op_tile(c, node, attrs):
    """Tile of an activation (x.repeat(1, 3, 1, 1): a grey image made RGB) as one cat per repeated axis
    (the batch axis only where the batch is fixed). A constant tiled by the batch size (PointNet's T-net identity,
    eye(k).view(1, -1).repeat(B, 1)) whose readers all broadcast is the constant itself (tiled along
    its other axes); tiled another way, the batch is fixed (BatchDep)."""
    x = node.input[0]
    raw = c.const.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    if raw is None:
        raise Unsupported("Tile with repeats computed from activations")
    reps = list(np.asarray(raw).reshape(-1))
    sym = [i for i, r in enumerate(reps) if r is BATCH or isinstance(r, Sym)]
    if x in c.const:
        val = np.asarray(c.const[x])
        if len(reps) != val.ndim:
            raise Malformed("repeats %r for a %dD input" % (reps, val.ndim))
        readers = [n for n in c.graph.node if node.output[0] in n.input]
        if (sym == [0] and reps[0] is BATCH and val.shape[0] == 1 and readers
                and all(n.op_type in _BROADCASTING for n in readers)):
            c.const[node.output[0]] = np.tile(val, [1] + [int(r) for r in reps[1:]])
            return
        raise BatchDep("Tile of a constant by %r" % (reps,))
    name, shape = c.act(node)
    if sym:
        raise BatchDep("Tile of an activation by %r" % (reps,))
    reps = [int(r) for r in reps]
    if len(reps) != len(shape):
        raise Malformed("repeats %r for a %dD input" % (reps, len(shape)))
    if min(reps) < 1:
        raise Unsupported("repeats %r (an empty output)" % reps)
    if reps[0] != 1 and has_batch(shape):
        raise BatchDep("tiles the batch")
    cur = name
    for axis, r in enumerate(reps):
        if r > 1:
            cur = c.emit(node, "cat", [cur] * r, {"dim": axis})
    if cur == name:
        return op_identity(c, node, attrs)
    c.rename(cur, node.output[0])


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "Identity": op_identity,
    "Cast": op_cast,
    "Dropout": op_dropout,
    "Flatten": op_flatten,
    "Reshape": op_reshape,
    "Squeeze": op_squeeze,
    "Unsqueeze": op_unsqueeze,
    "Transpose": op_transpose,
    "Expand": op_expand,
    "Tile": op_tile,
}
