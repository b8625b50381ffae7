"""Lowering of the pool family: max, average and adaptive pooling (NHWC)."""
from fastnorm import _C
from fastnorm.errors import UnsupportedError


def maxpool_desc(node):
    """fn_pool2d_desc of a max_pool2d node: kernel, stride, dilation, padding (top, left)."""
    a = node.attrs
    k = a["kernel"]
    return (k[0], k[1], *a.get("stride", k), *a.get("dilation", [1, 1]), *a.get("padding", [0, 0]))


def _lower_max_pool2d(plan, node, graph, loc, cache):
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    desc = maxpool_desc(node)
    out = plan.new_buf(n * oh * ow * c)
    plan.emit(node, type=_C.OP_MAXPOOL2D, **{"in": b, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
              pool=desc)
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_pool(plan, node, graph, loc, cache):
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    out = plan.new_buf(n * oh * ow * c)
    rec = {"in": b, "out": out}
    if node.op == "avg_pool2d":
        a = node.attrs
        kh, kw = a["kernel"]
        sh, sw = a.get("stride", a["kernel"])
        ph, pw = a.get("padding", [0, 0])
        # torch pads symmetrically; the driver clips the ceil_mode overhang past that itself
        plan.emit(node, type=_C.OP_AVGPOOL2D, **rec, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
                  avg=(kh, kw, sh, sw, ph, pw, ph, pw, int(a.get("count_include_pad", True)),
                       int(a.get("divisor_override") or 0)))
    else:
        plan.emit(node, type=_C.OP_ADAPTIVE_POOL2D, **rec, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
                  kind=_C.POOL_KINDS["avg" if node.op == "adaptive_avg_pool2d" else "max"])
    loc[node.outputs[0]] = (out, "nhwc")


def _lower_max_pool2d_indices(plan, node, graph, loc, cache):
    """MAXPOOL2D with out2: the indices, NHWC floats (flat positions in a plane, exact below 2^24),
    which only max_unpool2d may read (a model that hands them to anything else, or returns them, is
    refused: their values are positions, not float data)."""
    idx = node.outputs[1]
    readers = graph.consumers().get(idx, [])
    if idx in {t.name for t in graph.outputs} or any(r.op != "max_unpool2d" or r.inputs[1] != idx
                                                      or r.inputs[0] == idx for r in readers):
        raise UnsupportedError("node %r: max_pool2d indices read by %s; only max_unpool2d's indices input "
                               "takes them" % (node.name, sorted({r.op for r in readers}) or "the model's outputs"))
    b = plan.nhwc(node, node.inputs[0], loc)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    if h * w > 1 << 24:
        raise UnsupportedError("node %r: max_pool2d indices of a %dx%d plane (at most 2^24 positions)"
                               % (node.name, h, w))
    out, out2 = plan.new_buf(n * oh * ow * c), plan.new_buf(n * oh * ow * c)
    plan.emit(node, type=_C.OP_MAXPOOL2D, **{"in": b, "out": out}, out2=out2, n=n, h=h, w=w, c=c, oh=oh, ow=ow,
              pool=maxpool_desc(node))
    loc[node.outputs[0]] = (out, "nhwc")
    loc[idx] = (out2, "nhwc")


def _lower_max_unpool2d(plan, node, graph, loc, cache):
    b = plan.nhwc(node, node.inputs[0], loc)
    ib, layout = loc[node.inputs[1]]
    if layout != "nhwc":
        raise UnsupportedError("node %r: max_unpool2d indices must come from a max_pool2d" % node.name)
    n, c, h, w = plan.shapes[node.inputs[0]]
    _, _, oh, ow = plan.shapes[node.outputs[0]]
    out = plan.new_buf(n * oh * ow * c)
    plan.emit(node, type=_C.OP_MAX_UNPOOL2D, **{"in": b, "in2": ib, "out": out}, n=n, h=h, w=w, c=c, oh=oh, ow=ow)
    loc[node.outputs[0]] = (out, "nhwc")


LOWER = {"max_pool2d": _lower_max_pool2d, "avg_pool2d": _lower_pool, "adaptive_avg_pool2d": _lower_pool,
         "adaptive_max_pool2d": _lower_pool, "max_pool2d_indices": _lower_max_pool2d_indices,
         "max_unpool2d": _lower_max_unpool2d}
