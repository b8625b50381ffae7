"""Lowering of slicing, permutes and reductions: slice, split, transpose (any rank up to 6), the
reshape -> transpose -> reshape channel shuffle, reduce_sum / reduce_mean / reduce_max.

A channel slice of an NHWC image (step 1) costs no record: its value becomes a *window* of the
producer's buffer (layout "nhwc_win", plan.win[value] = (first channel, the buffer's channels)).
Lowerings that read windows in place say so with `reads_windows = True` (conv2d's generic path reads
with a pixel stride); for every other reader the plan materialises the window once with one
STRIDED_COPY record (Plan.nhwc), attributed to the slice that made the window. Any other slice, split piece or permute is one STRIDED_COPY record,
written in the layout its readers want (NHWC for a 4D result of an image, row-major otherwise).
"""
import math

from fastnorm import _C
from fastnorm import shapes as S

_REDUCE_KIND = {"reduce_sum": "REDUCE_SUM", "reduce_mean": "REDUCE_MEAN", "reduce_max": "REDUCE_MAX",
                "reduce_min": "REDUCE_MIN", "reduce_prod": "REDUCE_PROD"}


def reads_windows(fn):
    fn.reads_windows = True
    return fn


def _row_major(shape):
    strides, step = [0] * len(shape), 1
    for d in reversed(range(len(shape))):
        strides[d] = step
        step *= shape[d]
    return strides


def view_of(plan, node, value, loc):
    """(buffer, element offset, element stride of each logical dim, layout) of a value as it sits in
    memory: an NHWC image, a channel window of one, or a row-major (plain) tensor."""
    b, layout = loc[value]
    shape = plan.shapes[value]
    if layout == "flat_hwc":
        b, layout = plan.plain(node, value, loc), "plain"
    if layout in ("nhwc", "nhwc_win"):
        n, c, h, w = shape
        c0, cp = plan.win[value][:2] if layout == "nhwc_win" else (0, c)
        return b, c0, [h * w * cp, 1, w * cp, cp], layout
    return b, 0, _row_major(shape), "plain"


def emit_copy(plan, node, buf, off, strides, out_shape, nhwc):
    """One STRIDED_COPY record: a fresh buffer holding the logical tensor out_shape read from buf at
    offset off with `strides`, laid out NHWC (a 4D image) if nhwc, else row-major."""
    order = (0, 2, 3, 1) if nhwc else tuple(range(len(out_shape)))
    out = plan.new_buf(int(math.prod(out_shape)))
    plan.emit(node, type=_C.OP_STRIDED_COPY, **{"in": buf, "out": out}, xoff=int(off),
              strided=(tuple(int(out_shape[d]) for d in order), tuple(int(strides[d]) for d in order)))
    return out


def materialize_window(plan, node, value, loc):
    """A contiguous NHWC copy of a channel window (Plan.nhwc calls this)."""
    b, off, strides, _ = view_of(plan, node, value, loc)
    nb = emit_copy(plan, plan.win[value][2], b, off, strides, plan.shapes[value], True)
    loc[value] = (nb, "nhwc")
    return nb


def _slice_to(plan, node, x, out, d, start, step, loc):
    shape, oshape = plan.shapes[x], plan.shapes[out]
    b, off, strides, layout = view_of(plan, node, x, loc)
    if layout != "plain" and d == 1 and step == 1:
        c0, cp = plan.win[x][:2] if layout == "nhwc_win" else (0, shape[1])
        if c0 + start == 0 and oshape[1] == cp:
            loc[out] = (b, "nhwc")           # the whole buffer
        else:
            plan.win[out] = (c0 + start, cp, node)  # a window: no record
            loc[out] = (b, "nhwc_win")
        return
    strides = list(strides)
    off += start * strides[d]
    strides[d] *= step
    image = layout != "plain" and len(oshape) == 4
    loc[out] = (emit_copy(plan, node, b, off, strides, oshape, image), "nhwc" if image else "plain")


@reads_windows
def _lower_slice(plan, node, graph, loc, cache):
    d, start, _, step = S.slice_range(node, plan.shapes[node.inputs[0]])
    _slice_to(plan, node, node.inputs[0], node.outputs[0], d, start, step, loc)


@reads_windows
def _lower_split(plan, node, graph, loc, cache):
    x = node.inputs[0]
    d = node.attrs["dim"] % len(plan.shapes[x])
    start = 0
    for out, size in zip(node.outputs, node.attrs["sizes"]):
        _slice_to(plan, node, x, out, d, start, 1, loc)
        start += size


def _shuffle_idiom(plan, node, graph):
    """reshape (n, c, h, w) -> (n, g, c/g, h, w) -> transpose (0, 2, 1, 3, 4) -> reshape (n, c, h, w),
    each read only by the next: ShuffleNet's channel shuffle. Returns (groups, the last node) or None."""
    x, mid = node.inputs[0], node.outputs[0]
    src, s5 = plan.shapes[x], plan.shapes[mid]
    if len(src) != 4 or len(s5) != 5 or s5[0] != src[0] or s5[1] * s5[2] != src[1] or tuple(s5[3:]) != src[2:]:
        return None
    users = graph.consumers()
    t = users.get(mid, [])
    if len(t) != 1 or t[0].op != "transpose" or list(t[0].attrs.get("perm")) != [0, 2, 1, 3, 4]:
        return None
    r = users.get(t[0].outputs[0], [])
    if len(r) != 1 or r[0].op not in ("reshape", "flatten") or plan.shapes[r[0].outputs[0]] != src:
        return None
    if any(v in (t[0].outputs[0], mid) for v in (o.name for o in graph.outputs)):
        return None
    return s5[1], t[0], r[0]


def lower_reshape(plan, node, graph, loc, cache, fallback):
    """A reshape that starts the channel-shuffle idiom runs as one CHANNEL_SHUFFLE record; any other
    goes to `fallback` (the row-major reshape)."""
    idiom = _shuffle_idiom(plan, node, graph)
    if idiom is None:
        return fallback(plan, node, graph, loc, cache)
    groups, t, r = idiom
    n, c, h, w = plan.shapes[node.inputs[0]]
    b = plan.nhwc(node, node.inputs[0], loc)
    out = plan.new_buf(n * c * h * w)
    plan.emit(node, type=_C.OP_CHANNEL_SHUFFLE, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, groups=groups)
    loc[r.outputs[0]] = (out, "nhwc")
    plan.absorbed.update((t.name, r.name))
    plan.absorbed_into.setdefault(node.name, []).extend([t.name, r.name])


def lower_transpose(plan, node, graph, loc, cache):
    """A permute as one STRIDED_COPY record (the free NCHW <-> NHWC cases are lower_glue's)."""
    x, out = node.inputs[0], node.outputs[0]
    perm = list(node.attrs["perm"])
    b, off, strides, layout = view_of(plan, node, x, loc)
    oshape = plan.shapes[out]
    image = layout != "plain" and len(oshape) == 4
    loc[out] = (emit_copy(plan, node, b, off, [strides[p] for p in perm], oshape, image),
                "nhwc" if image else "plain")


def _lower_reduce(plan, node, graph, loc, cache):
    """One REDUCE record per run of reduced axes adjacent in memory, the last run first (a mean of
    equal-sized means is the mean)."""
    x = node.inputs[0]
    shape = plan.shapes[x]
    axes = S.reduce_axes(node, shape)
    keep = bool(node.attrs.get("keepdim", False))
    b, _, _, layout = view_of(plan, node, x, loc)
    if layout == "nhwc_win":
        b, layout = plan.nhwc(node, x, loc), "nhwc"
    order = [0, 2, 3, 1] if layout == "nhwc" else list(range(len(shape)))
    phys = [int(shape[d]) for d in order]            # the memory's extents, outermost first
    red = [d in axes for d in order]
    kind = getattr(_C, _REDUCE_KIND[node.op])
    i = len(phys)
    while i > 0:
        if not red[i - 1] or phys[i - 1] == 1:
            i -= 1
            continue
        j = i - 1
        while j > 0 and red[j - 1]:
            j -= 1
        outer, ln, inner = int(math.prod(phys[:j])), int(math.prod(phys[j:i])), int(math.prod(phys[i:]))
        out = plan.new_buf(outer * inner)
        plan.emit(node, type=_C.OP_REDUCE, **{"in": b, "out": out}, kind=kind, outer=outer, c=ln, inner=inner)
        b = out
        phys[j:i] = [1] * (i - j)
        i = j
    oshape = plan.shapes[node.outputs[0]]
    kept = [d for d in order if keep or d not in axes]   # logical dims in memory order
    if keep and len(shape) == 4 and layout == "nhwc":
        loc[node.outputs[0]] = (b, "nhwc")
    elif all(u < v for u, v in zip(kept, kept[1:])):
        if b == loc[x][0]:  # nothing reduced (every axis of extent 1): a copy keeps values apart
            b = emit_copy(plan, node, b, 0, _row_major(oshape), oshape, False)
        loc[node.outputs[0]] = (b, "plain")
    else:  # e.g. NHWC reduced over h only: (n, w, c) in memory, (n, c, w) logically
        ext = {d: (1 if d in axes else shape[d]) for d in order}
        mem = _row_major([ext[d] for d in order])
        st = {d: mem[k] for k, d in enumerate(order)}
        out_strides = [st[d] for d in range(len(shape)) if keep or d not in axes]
        loc[node.outputs[0]] = (emit_copy(plan, node, b, 0, out_strides, oshape, False), "plain")


def _lower_argreduce(plan, node, graph, loc, cache):
    """One REDUCE record (kind ARGMAX / ARGMIN[_LAST]) over the axis as it sits in memory: the
    positions along it as floats; an axis of extent 1 gives zeros."""
    x = node.inputs[0]
    shape = plan.shapes[x]
    axis = S.reduce_axes(node, shape)[0]
    keep = bool(node.attrs.get("keepdim", False))
    b, _, _, layout = view_of(plan, node, x, loc)
    if layout == "nhwc_win":
        b, layout = plan.nhwc(node, x, loc), "nhwc"
    order = [0, 2, 3, 1] if layout == "nhwc" else list(range(len(shape)))
    phys = [int(shape[d]) for d in order]
    j = order.index(axis)
    outer, ln, inner = int(math.prod(phys[:j])), phys[j], int(math.prod(phys[j + 1:]))
    kind = getattr(_C, "REDUCE_" + node.op.upper() + ("_LAST" if node.attrs.get("select_last") else ""))
    out = plan.new_buf(outer * inner)
    plan.emit(node, type=_C.OP_REDUCE, **{"in": b, "out": out}, kind=kind, outer=outer, c=ln, inner=inner)
    oshape = plan.shapes[node.outputs[0]]
    kept = [d for d in order if keep or d != axis]
    if keep and len(shape) == 4 and layout == "nhwc":
        loc[node.outputs[0]] = (out, "nhwc")
    elif all(u < v for u, v in zip(kept, kept[1:])):
        loc[node.outputs[0]] = (out, "plain")
    else:
        ext = {d: (1 if d == axis else shape[d]) for d in order}
        mem = _row_major([ext[d] for d in order])
        st = {d: mem[k] for k, d in enumerate(order)}
        out_strides = [st[d] for d in range(len(shape)) if keep or d != axis]
        loc[node.outputs[0]] = (emit_copy(plan, node, out, 0, out_strides, oshape, False), "plain")


LOWER = {"slice": _lower_slice, "split": _lower_split, "reduce_sum": _lower_reduce,
         "reduce_mean": _lower_reduce, "reduce_max": _lower_reduce, "reduce_min": _lower_reduce,
         "reduce_prod": _lower_reduce, "argmax": _lower_argreduce, "argmin": _lower_argreduce}
