"""Lowering of the pool family: max, average and adaptive pooling (NHWC)."""
from fastnorm import _C


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


LOWER = {"max_pool2d": _lower_max_pool2d, "avg_pool2d": _lower_pool, "adaptive_avg_pool2d": _lower_pool,
         "adaptive_max_pool2d": _lower_pool}
