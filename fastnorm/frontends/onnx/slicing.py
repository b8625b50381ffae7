"""Handlers: Slice, Split, ScatterND (a slice write), Max, Min, Reciprocal (issue 12's zoo ops on activations; on constants they fold).
Sub / Div between activations and ReduceSum / ReduceMean / ReduceMax over any axes are glue.py's and
pool.py's."""
import numpy as np

from fastnorm.frontends.onnx._base import BATCH, BatchDep, Malformed, Unsupported, axis_attr, ints_of, op_identity
from fastnorm.shapes import gather_runs

_INT64_MAX = 2 ** 63 - 1


def _slice_node(c, node, name, shape, axis, start, end, step, out=None):
    """One slice node over `axis` with ONNX's clamping; the value name (or name itself for a no-op)."""
    n = shape[axis]
    if n is BATCH:
        if (start, end, step) == (0, _INT64_MAX, 1) or (start == 0 and end >= _INT64_MAX // 2 and step == 1):
            return name
        raise BatchDep("slices the batch dim")
    if step == 0:
        raise Malformed("Slice step 0")
    s, e, st = slice(start, end, step).indices(n)
    if st < 0:   # backwards (a flip): end -1 is "past index 0", which the IR says as None
        if axis == 0:
            raise Unsupported("a negative-step Slice of the batch dim")
        return c.emit(node, "slice", [name], {"dim": axis, "start": s, "end": min(e, s) if e >= 0 else None,
                                              "step": st}, out)
    if (s, max(e, s), st) == (0, n, 1):
        return name
    return c.emit(node, "slice", [name], {"dim": axis, "start": s, "end": max(e, s), "step": st}, out)


def op_slice(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    if c.opset < 10:
        starts, ends = list(attrs.get("starts", [])), list(attrs.get("ends", []))
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints_of(c, node, 1, "starts"), ints_of(c, node, 2, "ends")
        if starts is None or ends is None:
            raise Unsupported("starts/ends computed at run time")
        axes = ints_of(c, node, 3, "axes", list(range(len(starts))))
        steps = ints_of(c, node, 4, "steps", [1] * len(starts))
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        raise Malformed("starts/ends/axes/steps of different lengths")
    cur = name
    for k, (a, s, e, st) in enumerate(zip(axes, starts, ends, steps)):
        if not -r <= int(a) < r:
            raise Malformed("axis %d out of range for %dD" % (a, r))
        cur = _slice_node(c, node, cur, c._ir_value_shape.get(cur, shape) if cur != name else shape,
                          int(a) % r, int(s), min(int(e), _INT64_MAX), int(st))
    if cur == name:
        return op_identity(c, node, attrs)
    c.rename(cur, node.output[0])


def op_split(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = axis_attr(attrs, r, 0)
    if shape[axis] is BATCH:
        raise BatchDep("splits the batch dim")
    outs = [v for v in node.output]
    sizes = (ints_of(c, node, 1, "split") if c.opset >= 13 else
             (None if attrs.get("split") is None else [int(v) for v in attrs["split"]]))
    if sizes is None:
        n, k = shape[axis], len(outs)
        ns = attrs.get("num_outputs")
        if ns is not None:
            k = int(ns)
        per = -(-n // k)
        sizes = [min(per, n - i * per) for i in range(k)]
    if len(sizes) != len(outs) or sum(sizes) != shape[axis]:
        raise Malformed("split %r of a dim of %d into %d outputs" % (sizes, shape[axis], len(outs)))
    start = 0
    for v, size in zip(outs, sizes):
        if v:
            c.set_act(v, c.emit(node, "slice", [name], {"dim": axis, "start": start, "end": start + size,
                                                        "step": 1}, v))
        start += size


def op_scatternd(c, node, attrs):
    """ScatterND into an activation at constant indices that address one contiguous range of one dim,
    every other addressed dim whole, in row-major order: the TorchScript exporter's in-place slice
    write (timm ReXNet's `x[:, 0:C] += shortcut`). The data around the range and the updates, one
    concat; any other scatter is refused by name."""
    if attrs.get("reduction", "none") not in ("none", b"none"):
        raise Unsupported("ScatterND reduction %r (only none)" % attrs.get("reduction"))
    if len(node.input) < 3 or not node.input[1] or not node.input[2]:
        raise Malformed("ScatterND needs data, indices and updates")
    name, shape = c.act(node)
    if node.input[1] not in c.const:
        raise Unsupported("ScatterND indices computed at run time")
    upd, upd_shape = c.act(node, 2)
    idx = np.asarray(c.const[node.input[1]])
    if idx.dtype.kind not in "iu" or idx.ndim < 1:
        raise Malformed("ScatterND indices must be integers of 1 or more dims, got %s %r" % (idx.dtype, idx.shape))
    r, k = len(shape), int(idx.shape[-1])
    if not 1 <= k <= r:
        raise Malformed("ScatterND indices address %d dims of a %dD input" % (k, r))
    if any(d is BATCH for d in shape[:k]):
        raise BatchDep("ScatterND addresses the batch dim")
    if tuple(upd_shape) != tuple(idx.shape[:-1]) + tuple(shape[k:]):
        raise Malformed("ScatterND updates %r do not fit indices %r into data %r"
                        % (tuple(upd_shape), idx.shape, tuple(shape)))
    dims = np.array([int(v) for v in shape[:k]], np.int64)
    flat = idx.reshape(-1, k).astype(np.int64)
    flat = np.where(flat < 0, flat + dims, flat)
    if flat.size == 0 or (flat < 0).any() or (flat >= dims).any():
        raise Malformed("ScatterND indices out of range for data %r" % (tuple(shape),))
    lo, hi = flat.min(0), flat.max(0) + 1
    partial = [d for d in range(k) if (lo[d], hi[d]) != (0, dims[d])]
    grid = np.stack(np.meshgrid(*[np.arange(lo[d], hi[d]) for d in range(k)], indexing="ij"), -1).reshape(-1, k)
    if len(partial) > 1 or grid.shape != flat.shape or not np.array_equal(grid, flat):
        raise Unsupported("ScatterND at indices other than one contiguous range of one dim")
    d = partial[0] if partial else 0
    s, e, n = int(lo[d]), int(hi[d]), int(dims[d])
    if tuple(upd_shape) != tuple(shape[:d]) + (e - s,) + tuple(shape[d + 1:]):
        raise Unsupported("ScatterND updates of shape %r (the data's rank and dims expected)" % (tuple(upd_shape),))
    if (s, e) == (0, n):
        return c.set_act(node.output[0], upd)
    pieces = []
    if s > 0:
        pieces.append(c.emit(node, "slice", [name], {"dim": d, "start": 0, "end": s, "step": 1}))
    pieces.append(upd)
    if e < n:
        pieces.append(c.emit(node, "slice", [name], {"dim": d, "start": e, "end": n, "step": 1}))
    c.set_act(node.output[0], c.emit(node, "cat", pieces, {"dim": d}, node.output[0]))


def op_max_min(c, node, attrs):
    """Max / Min of activations and constants, folded pairwise."""
    op = "maximum" if node.op_type == "Max" else "minimum"
    ins = [v for v in node.input if v]
    acts = [v for v in ins if c.is_act(v)]
    consts = [np.asarray(c.const[v], np.float32) for v in ins if not c.is_act(v)]
    if not acts:
        raise Malformed("no activation input")
    if len(ins) == 1:
        return op_identity(c, node, attrs)
    cur = c.ir[acts[0]]
    for v in acts[1:]:
        cur = c.emit(node, op, [cur, c.ir[v]])
    if consts:
        k = consts[0]
        for x in consts[1:]:
            k = np.maximum(k, x) if op == "maximum" else np.minimum(k, x)
        cur = c.emit(node, op, [cur, c.weight(node, "const", k)])
    c.rename(cur, node.output[0])


def op_reciprocal(c, node, attrs):
    name, _ = c.act(node)
    c.set_act(node.output[0], c.emit(node, "div", [c.weight(node, "one", np.array([1.0], np.float32)), name], {},
                                     node.output[0]))


# ONNX op type -> handler(converter, node, attrs)
def op_gather(c, node, attrs):
    """Gather on an activation with constant indices on a non-batch axis: 1-D indices as slices of their
    runs and one concat (a channel reorder), a scalar index as a slice and a reshape that drops the axis."""
    name, shape = c.act(node)
    idx = c.cval(node, 1, "indices", required=True)
    r = len(shape)
    axis = axis_attr(attrs, r, 0)
    if axis == 0 and shape[0] is BATCH:
        raise BatchDep("a Gather on the batch axis")
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu" or idx.ndim > 1:
        raise Unsupported("Gather indices that are not a scalar or a 1-D integer list (%s, %d-D)"
                          % (idx.dtype, idx.ndim))
    try:
        runs = gather_runs(idx.reshape(-1).tolist(), int(shape[axis]))
    except ValueError as e:
        raise Malformed(str(e))
    out = None if idx.ndim == 0 or len(runs) > 1 else node.output[0]
    pieces = [c.emit(node, "slice", [name], {"dim": axis, "start": s0, "end": end, "step": st}, out)
              for s0, end, st in runs]
    if idx.ndim == 0:   # drop the axis
        if axis == 0:   # a fixed leading dim (the batch fixed, or moved by a transpose)
            keep = [int(v) for v in shape[1:]]
        else:
            lead = -1 if shape[0] is BATCH else int(shape[0])
            keep = [lead] + [int(v) for i, v in enumerate(shape) if i not in (0, axis)]
        c.set_act(node.output[0], c.emit(node, "reshape", pieces, {"shape": keep}, node.output[0]))
    elif len(pieces) > 1:
        c.set_act(node.output[0], c.emit(node, "cat", pieces, {"dim": axis}, node.output[0]))
    else:
        c.set_act(node.output[0], pieces[0])


def op_gathernd(c, node, attrs):
    """GatherND on an activation with constant indices over its leading dims, none of them the batch
    (torch's dynamo exporter writes an adaptive pool whose bins do not divide the map as a GatherND of
    the (H, W, N, C)-transposed image, then masks and sums): the indexed dims flattened into one, the
    flat positions gathered as slices of their runs and one concat, reshaped to the indices' shape."""
    name, shape = c.act(node)
    if int(attrs.get("batch_dims", 0)) != 0:
        raise Unsupported("GatherND with batch_dims %d" % int(attrs["batch_dims"]))
    idx = np.asarray(c.cval(node, 1, "indices", required=True))
    if idx.dtype.kind not in "iu" or idx.ndim < 1 or idx.shape[-1] < 1:
        raise Unsupported("GatherND indices that are not an integer array (%s, shape %s)" % (idx.dtype, idx.shape))
    k = int(idx.shape[-1])
    if k > len(shape):
        raise Malformed("GatherND indices of depth %d into a %dD input" % (k, len(shape)))
    if any(d is BATCH for d in shape):
        raise BatchDep("a GatherND of a value holding the batch")
    dims = [int(d) for d in shape[:k]]
    lim = np.array(dims, np.int64)
    if idx.size and ((idx < -lim).any() or (idx >= lim).any()):
        raise Malformed("GatherND index out of range for dims %s" % dims)
    flat = np.ravel_multi_index(tuple(idx[..., j].astype(np.int64) % dims[j] for j in range(k)), dims)
    rest = [int(d) for d in shape[k:]]
    n = int(np.prod(dims))
    src = name if k == 1 else c.emit(node, "reshape", [name], {"shape": [n] + rest})
    runs = gather_runs(flat.reshape(-1).tolist(), n)
    pieces = [c.emit(node, "slice", [src], {"dim": 0, "start": s0, "end": end, "step": st}) for s0, end, st in runs]
    g = pieces[0] if len(pieces) == 1 else c.emit(node, "cat", pieces, {"dim": 0})
    c.set_act(node.output[0], c.emit(node, "reshape", [g], {"shape": list(idx.shape[:-1]) + rest}, node.output[0]))


HANDLERS = {
    "GatherND": op_gathernd,
    "Gather": op_gather,
    "Slice": op_slice,
    "ScatterND": op_scatternd,
    "Split": op_split,
    "Max": op_max_min,
    "Min": op_max_min,
    "Reciprocal": op_reciprocal,
}
