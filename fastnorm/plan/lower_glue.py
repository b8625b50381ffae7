"""Lowering of the glue ops: free reshapes and permutes (a change of the value's layout tag),
broadcast add/mul, cat, pad, interpolate, the shuffles and the product of two activations."""
import math

import numpy as np

from fastnorm import _C
from fastnorm.errors import UnsupportedError
from fastnorm.graph import act_tuple
from fastnorm.plan import lower_shape


def _lower_flatten(plan, node, graph, loc, cache):
    b, layout = loc[node.inputs[0]]
    shape = plan.shapes[node.inputs[0]]
    out_shape = plan.shapes[node.outputs[0]]
    if layout == "nhwc":
        if len(out_shape) != 2:
            raise UnsupportedError("node %r: flatten of an image must keep the batch dim" % node.name)
        plan.flat_src[node.outputs[0]] = shape
        loc[node.outputs[0]] = (b, "flat_hwc")   # same memory, (h, w, c) order
    elif layout == "flat_hwc":
        plan.flat_src[node.outputs[0]] = plan.flat_src[node.inputs[0]]
        loc[node.outputs[0]] = (b, "flat_hwc")
    else:
        loc[node.outputs[0]] = (b, "plain")      # row-major reshape: same memory


def _plain_reshape(plan, node, graph, loc, cache):
    """A row-major reshape: the same memory once the value is in its logical layout."""
    loc[node.outputs[0]] = (plan.plain(node, node.inputs[0], loc), "plain")


def _lower_reshape(plan, node, graph, loc, cache):
    lower_shape.lower_reshape(plan, node, graph, loc, cache, _plain_reshape)


def _lower_transpose(plan, node, graph, loc, cache):
    """NCHW <-> NHWC permutes of a 4D value cost nothing: an image held NHWC *is* the permuted tensor,
    row-major; any other permute is one strided copy (lower_shape)."""
    perm = list(node.attrs["perm"])
    if perm == [0, 2, 3, 1] and len(plan.shapes[node.inputs[0]]) == 4:
        loc[node.outputs[0]] = (plan.nhwc(node, node.inputs[0], loc), "plain")
    elif perm == [0, 3, 1, 2] and loc[node.inputs[0]][1] == "plain":
        loc[node.outputs[0]] = (plan.plain(node, node.inputs[0], loc), "nhwc")
    else:
        lower_shape.lower_transpose(plan, node, graph, loc, cache)


_BIN_KIND = {"add": "BIN_ADD", "mul": "BIN_MUL", "sub": "BIN_SUB", "div": "BIN_DIV", "maximum": "BIN_MAX",
             "minimum": "BIN_MIN", "eq": "BIN_EQ", "ne": "BIN_NE", "lt": "BIN_LT", "gt": "BIN_GT", "le": "BIN_LE",
             "ge": "BIN_GE"}


@lower_shape.reads_windows
def _lower_binary(plan, node, graph, loc, cache):
    """One BINARY record over strided operands: a channel window of an NHWC image is read in place
    (xoff / x2off: its first channel; the pixel strides are its buffer's channels)."""
    _binary_record(plan, node, graph, loc, node.inputs, _BIN_KIND[node.op], node.outputs[0],
                   node.attrs.get("act"))


@lower_shape.reads_windows
def _lower_where(plan, node, graph, loc, cache):
    """where(c, a, b) as KEEP(a, c) + DROP(b, c): each term is its operand or exactly 0, so the sum is
    the operand (infinities and NaN included; a -0.0 comes out +0.0)."""
    c, a, b = node.inputs
    out = node.outputs[0]
    t1, t2 = out + "::keep", out + "::drop"
    plan.shapes[t1] = plan.shapes[t2] = plan.shapes[out]
    _binary_record(plan, node, graph, loc, [a, c], "BIN_KEEP", t1, None)
    _binary_record(plan, node, graph, loc, [b, c], "BIN_DROP", t2, None)
    _binary_record(plan, node, graph, loc, [t1, t2], "BIN_ADD", out, None)


def _binary_record(plan, node, graph, loc, inputs, kind_name, out_value, act):
    """One BINARY record computing out_value = inputs[0] (kind) inputs[1], the output shape
    plan.shapes[out_value]: each operand broadcast to it."""
    out_shape = plan.shapes[out_value]
    rank = len(out_shape)
    image = rank == 4 and any(v in loc and loc[v][1] in ("nhwc", "nhwc_win") for v in inputs)
    perm = (0, 2, 3, 1) if image else tuple(range(rank))
    operands = []
    for v in inputs:
        shape = plan.shapes[v]
        off = 0
        full = (1,) * (rank - len(shape)) + tuple(shape)
        if v in graph.weights:
            b, layout = plan.const_buf(graph.weights[v]), "plain"
        elif image and len(shape) == 4 and loc[v][1] == "nhwc_win":
            b, layout = loc[v][0], "nhwc"
            off, cp = plan.win[v][:2]
            full = full[:1] + (cp,) + full[2:]     # the buffer's channels set the pixel stride
        elif image and len(shape) == 4:
            b, layout = plan.nhwc(node, v, loc), "nhwc"
        else:
            b, layout = plan.plain(node, v, loc), "plain"
        # element strides of the logical dims in this operand's memory
        phys_order = (0, 2, 3, 1) if layout == "nhwc" else tuple(range(rank))
        strides = [0] * rank
        step = 1
        for d in reversed(phys_order):
            strides[d] = step
            step *= full[d]
        strides = [0 if shape_d == 1 and out_shape[d] != 1 else strides[d]
                   for d, shape_d in enumerate((1,) * (rank - len(shape)) + tuple(shape))]
        operands.append((b, [strides[d] for d in perm], off))
    kind = getattr(_C, kind_name)
    out = plan.new_buf(int(math.prod(out_shape)))
    offs = {k: o for k, o in (("xoff", operands[0][2]), ("x2off", operands[1][2])) if o}
    plan.emit(node, type=_C.OP_BINARY, **{"in": operands[0][0], "in2": operands[1][0], "out": out},
              kind=kind, act=act_tuple(act), **offs,
              binary=(tuple(int(out_shape[d]) for d in perm), tuple(operands[0][1]), tuple(operands[1][1])))
    loc[out_value] = (out, "nhwc" if image else "plain")


def _lower_matmul(plan, node, graph, loc, cache):
    """One MATMUL record over the operands' logical (row-major) buffers: the leading dims flatten to
    the products, each operand whole there (a stride of its own matrix) or one for all (stride 0)."""
    out_shape = plan.shapes[node.outputs[0]]
    batch = tuple(out_shape[:-2])
    nb = int(math.prod(batch))
    strides = []
    for v in node.inputs:
        shape = plan.shapes[v]
        lead = (1,) * (len(batch) - len(shape) + 2) + tuple(shape[:-2])
        if lead == batch:
            strides.append(int(shape[-2]) * int(shape[-1]))
        elif math.prod(lead) == 1:
            strides.append(0)
        else:
            raise UnsupportedError("node %r: matmul of %r and %r broadcasts part of the leading dims %r"
                                   % (node.name, tuple(plan.shapes[node.inputs[0]]),
                                      tuple(plan.shapes[node.inputs[1]]), batch))
    a, b = (plan.plain(node, v, loc) for v in node.inputs)
    m, k, n = int(out_shape[-2]), int(plan.shapes[node.inputs[0]][-1]), int(out_shape[-1])
    out = plan.new_buf(int(math.prod(out_shape)))
    plan.emit(node, type=_C.OP_MATMUL, **{"in": a, "in2": b, "out": out}, n=nb, h=m, w=k, c=n,
              outer=strides[0], inner=strides[1])
    loc[node.outputs[0]] = (out, "plain")


@lower_shape.reads_windows
def _lower_cat(plan, node, graph, loc, cache):
    """One CAT record; a channel concat of NHWC images reads channel windows (split / slice pieces) in
    place: input j from its buffer at channel offs[j], pixels lds[j] floats apart."""
    out_shape = plan.shapes[node.outputs[0]]
    dim = node.attrs.get("dim", 0) % len(out_shape)
    image = len(out_shape) == 4 and dim == 1
    bufs, inner, offs, lds = [], [], [], []
    for v in node.inputs:
        shape = plan.shapes[v]
        if v in graph.weights:
            # a constant (CoordConv's coordinates): its batch-1 value repeated over the batch, in the
            # output's layout, bound once as a plan buffer
            w = np.asarray(graph.weights[v], np.float32)
            w = np.broadcast_to(w, (out_shape[0],) + w.shape[1:])
            bufs.append(plan.const_buf(w.transpose(0, 2, 3, 1) if image else w))
            inner.append(shape[1] if image else int(math.prod(w.shape[dim:])))
            if image:
                offs.append(0)
                lds.append(shape[1])
        elif image and loc[v][1] == "nhwc_win":
            c0, cp = plan.win[v][:2]
            bufs.append(loc[v][0])
            offs.append(c0)
            lds.append(cp)
            inner.append(shape[1])
        elif image:
            bufs.append(plan.nhwc(node, v, loc))
            inner.append(shape[1])
            offs.append(0)
            lds.append(shape[1])
        else:
            bufs.append(plan.plain(node, v, loc))
            inner.append(int(math.prod(shape[dim:])))
    outer = out_shape[0] * out_shape[2] * out_shape[3] if image else int(math.prod(out_shape[:dim]))
    out = plan.new_buf(int(math.prod(out_shape)))
    cat = (bufs, inner, offs, lds) if image and lds != inner else (bufs, inner)
    plan.emit(node, type=_C.OP_CAT, **{"in": bufs[0], "out": out}, outer=outer, cat=cat)
    loc[node.outputs[0]] = (out, "nhwc" if image else "plain")


def _lower_pad(plan, node, graph, loc, cache):
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    l, r, t, bt = node.attrs["pads"]
    front, back = node.attrs.get("cpads", [0, 0])
    if front or back:
        # channels: NHWC's pixels as the rows of a (n*h*w) x c image of one-float "pixels", padded
        # left / right by PAD2D (constant); H/W after, as a second record when there are any
        cb = plan.new_buf(n * h * w * (c + front + back))
        plan.emit(node, type=_C.OP_PAD2D, **{"in": b, "out": cb}, n=1, h=n * h * w, w=c, c=1,
                  kind=_C.PAD_CONSTANT, pads=(0, 0, front, back), value=float(node.attrs.get("value", 0.0)))
        b, c = cb, c + front + back
        if not any((l, r, t, bt)):
            loc[node.outputs[0]] = (cb, "nhwc")
            return
    mode = {"constant": _C.PAD_CONSTANT, "reflect": _C.PAD_REFLECT, "replicate": _C.PAD_REPLICATE}[
        node.attrs.get("mode", "constant")]
    out = plan.new_buf(int(math.prod(plan.shapes[node.outputs[0]])))
    plan.emit(node, type=_C.OP_PAD2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, kind=mode,
              pads=(t, bt, l, r), value=float(node.attrs.get("value", 0.0)))
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_interpolate(plan, node, graph, loc, cache):
    from fastnorm.ops._glue import _INTERP_MODES
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    a = node.attrs
    mode = _INTERP_MODES[a.get("mode", "nearest")]
    # asymmetric: ONNX's linear coordinates without the half-pixel offset (interp_axis's 2)
    ac = (2 if a.get("asymmetric") else int(bool(a.get("align_corners")))) if a.get("mode") == "bilinear" else 0
    # scale_factor, when given, maps the coordinates, whether or not a size is given (shapes.py)
    scales = a.get("scale_factor") or [None, None]

    def make():
        ty = _C.interp_axis(mode, h, oh, -1.0 if scales[0] is None else float(scales[0]), ac)
        tx = _C.interp_axis(mode, w, ow, -1.0 if scales[1] is None else float(scales[1]), ac)
        return tuple(ty[:2]) + tuple(tx[:2]) + tuple(ty[2:]) + tuple(tx[2:])
    tabs = cache.get((node.name, "interp", h, w), make)
    out = plan.new_buf(n * oh * ow * c)
    plan.emit(node, type=_C.OP_INTERP2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
              kind=mode, interp=tabs)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_shuffle(plan, node, graph, loc, cache):
    n, c, h, w = plan.shapes[node.inputs[0]]
    out = plan.new_buf(n * c * h * w)
    if node.op == "channel_shuffle":
        b = plan.nhwc(node, node.inputs[0], loc)
        plan.emit(node, type=_C.OP_CHANNEL_SHUFFLE, **{"in": b, "out": out}, n=n, h=h, w=w, c=c,
                  groups=node.attrs["groups"])
        loc[node.outputs[0]] = (out, "nhwc")
        return
    b = plan.plain(node, node.inputs[0], loc)
    r = node.attrs["factor"]
    inverse = node.op == "pixel_unshuffle"
    # the driver takes the small extents: output channels and input size for a shuffle
    cs, hs, ws = (c, h // r, w // r) if inverse else (c // (r * r), h, w)
    plan.emit(node, type=_C.OP_PIXEL_SHUFFLE, **{"in": b, "out": out}, n=n, c=cs, h=hs, w=ws, groups=r,
              kind=int(inverse))
    loc[node.outputs[0]] = (out, "plain")


LOWER = {"flatten": _lower_flatten, "reshape": _lower_reshape, "transpose": _lower_transpose,
         "add": _lower_binary, "mul": _lower_binary, "sub": _lower_binary, "div": _lower_binary,
         "maximum": _lower_binary, "minimum": _lower_binary, "cat": _lower_cat, "pad": _lower_pad,
         "eq": _lower_binary, "ne": _lower_binary, "lt": _lower_binary, "gt": _lower_binary,
         "le": _lower_binary, "ge": _lower_binary, "where": _lower_where,
         "interpolate": _lower_interpolate, "pixel_shuffle": _lower_shuffle,
         "pixel_unshuffle": _lower_shuffle, "channel_shuffle": _lower_shuffle, "matmul": _lower_matmul}
