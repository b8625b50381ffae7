"""Lowering of the norm family: eval batch_norm (a scale/shift), group/instance norm and batch norm
with batch statistics (one NHWC driver, fused with a max_pool2d that alone reads it), layer norm."""
import math
import numpy as np

from fastnorm import _C
from fastnorm.errors import UnsupportedError
from fastnorm.graph import act_tuple
from fastnorm.plan.lower_pool import maxpool_desc


def _lower_batch_norm(plan, node, graph, loc, cache):
    if node.attrs.get("batch_stats"):
        return _lower_group_norm(plan, node, graph, loc, cache)
    b, layout = loc[node.inputs[0]]
    shape = plan.shapes[node.inputs[0]]
    c = shape[1]
    hwc = None
    if layout == "nhwc":
        outer, inner = shape[0] * shape[2] * shape[3], 1
    elif layout == "plain":
        outer, inner = shape[0], int(math.prod(shape[2:])) if len(shape) > 2 else 1
    elif layout == "flat_hwc" and len(shape) == 2:
        # BatchNorm1d over a flattened NHWC image (a pooled head's BN before its Linear): channel
        # k = (c, h, w) sits at (h, w, c) in memory, so the per-channel vectors are permuted to match
        hwc = plan.flat_src[node.inputs[0]]
        outer, inner = shape[0], 1
    else:
        raise UnsupportedError("node %r: batch_norm on a flattened image of shape %s" % (node.name, list(shape)))
    w = graph.weights

    def make():
        opt = lambda i: (np.ascontiguousarray(w[node.inputs[i]], np.float32)
                         if len(node.inputs) > i and node.inputs[i] else None)
        ss = _C.bnorm_prepare(opt(1), opt(2), opt(3), opt(4), float(node.attrs.get("eps", 1e-5)))
        if hwc is None:
            return ss
        _, cc, hh, ww = hwc
        return tuple(np.ascontiguousarray(v.reshape(cc, hh, ww).transpose(1, 2, 0).reshape(-1)) for v in ss)

    scale, shift = cache.get((node.name, "bn") if hwc is None else (node.name, "bn", "hwc"), make)
    if hwc is not None:
        plan.flat_src[node.outputs[0]] = hwc
    out = plan.new_buf(int(math.prod(shape)))
    plan.emit(node, type=_C.OP_SCALE_SHIFT, **{"in": b, "out": out}, outer=outer, c=c, inner=inner,
              act=act_tuple(node.attrs.get("act")), weights=scale, weights2=shift)
    loc[node.outputs[0]] = (out, layout)


def _opt_weight(graph, node, i):
    v = node.inputs[i] if len(node.inputs) > i else ""
    return np.ascontiguousarray(graph.weights[v], np.float32) if v else None


def _gamma_beta(graph, node, first, count):
    """gamma and beta as the norm drivers take them: both or neither (ones/zeros for a missing one)."""
    g, b = _opt_weight(graph, node, first), _opt_weight(graph, node, first + 1)
    if g is None and b is None:
        return None, None
    return (g if g is not None else np.ones(count, np.float32),
            b if b is not None else np.zeros(count, np.float32))


def _lower_group_norm(plan, node, graph, loc, cache):
    """group_norm, instance_norm (input statistics) and batch_norm with batch statistics: one NHWC
    driver; batch statistics are per-channel groups over every pixel of every sample (n = 1)."""
    shape = plan.shapes[node.inputs[0]]
    c = shape[1]
    act = act_tuple(node.attrs.get("act"))
    eps = float(node.attrs.get("eps", 1e-5))
    if node.op == "instance_norm" and not node.attrs.get("use_input_stats", True):
        # running statistics: a per-channel scale/shift like eval BatchNorm
        scale, shift = cache.get((node.name, "in_running"), lambda: _C.bnorm_prepare(
            _opt_weight(graph, node, 1), _opt_weight(graph, node, 2), _opt_weight(graph, node, 3),
            _opt_weight(graph, node, 4), eps))
        if len(shape) < 3:
            raise UnsupportedError("node %r: instance_norm of a %dD tensor" % (node.name, len(shape)))
        out = plan.new_buf(int(math.prod(shape)))
        if len(shape) == 4:
            b = plan.nhwc(node, node.inputs[0], loc)
            plan.emit(node, type=_C.OP_SCALE_SHIFT, **{"in": b, "out": out}, outer=shape[0] * shape[2] * shape[3],
                      c=c, inner=1, act=act, weights=scale, weights2=shift)
            loc[node.outputs[0]] = (out, "nhwc")
        else:   # (n, c, l) / (n, c, t, h, w), row-major
            plan.emit(node, type=_C.OP_SCALE_SHIFT, **{"in": plan.plain(node, node.inputs[0], loc), "out": out},
                      outer=shape[0], c=c, inner=int(math.prod(shape[2:])), act=act, weights=scale, weights2=shift)
            loc[node.outputs[0]] = (out, "plain")
        return
    first = {"group_norm": 1, "instance_norm": 3, "batch_norm": 3}[node.op]
    gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, first, c))
    if len(shape) == 4:
        b = plan.nhwc(node, node.inputs[0], loc)
        n, hw = shape[0], shape[2] * shape[3]
        layout = "nhwc"
    elif len(shape) == 2 and loc[node.inputs[0]][1] == "plain":
        b, n, hw, layout = loc[node.inputs[0]][0], shape[0], 1, "plain"
    elif len(shape) in (3, 5, 6):
        # (n, c, l) / (n, c, t, h, w): the positions after the channels as one row of pixels, NHWC for
        # the driver and back (InstanceNorm1d / GroupNorm on a signal, InstanceNorm3d on a video)
        n, hw = shape[0], int(math.prod(shape[2:]))
        b = plan.new_buf(int(math.prod(shape)))
        plan.emit(node, type=_C.OP_NCHW_TO_NHWC, **{"in": plan.plain(node, node.inputs[0], loc), "out": b}, n=n,
                  c=c, h=1, w=hw)
        layout = "rows"
    else:
        raise UnsupportedError("node %r: %s on a %dD tensor" % (node.name, node.op, len(shape)))
    groups = {"group_norm": node.attrs.get("num_groups"), "instance_norm": c, "batch_norm": c}[node.op]
    pool = _pool_after(plan, node, graph) if node.op != "batch_norm" and layout == "nhwc" else None
    if pool is not None:
        # normalise (+ act) and max-pool in one pass: the normalised tensor is never written out
        n, _, h, w = shape
        _, _, oh, ow = plan.shapes[pool.outputs[0]]
        desc = maxpool_desc(pool)
        out = plan.new_buf(n * oh * ow * c)
        plan.emit(node, type=_C.OP_GROUP_NORM_MAXPOOL, **{"in": b, "out": out}, n=n, h=h, w=w, c=c,
                  oh=oh, ow=ow, groups=groups, eps=eps, act=act, weights=gamma, weights2=beta, pool=desc)
        plan.absorbed.add(pool.name)
        plan.absorbed_into.setdefault(node.name, []).append(pool.name)
        loc[pool.outputs[0]] = (out, "nhwc")
        return
    if node.op == "batch_norm":
        n, hw = 1, n * hw  # statistics over every sample
    out = plan.new_buf(int(math.prod(shape)))
    plan.emit(node, type=_C.OP_GROUP_NORM, **{"in": b, "out": out}, n=n, h=1, w=hw, c=c, groups=groups,
              eps=eps, act=act, weights=gamma, weights2=beta)
    if layout == "rows":
        back = plan.new_buf(int(math.prod(shape)))
        plan.emit(node, type=_C.OP_NHWC_TO_NCHW, **{"in": out, "out": back}, n=shape[0], c=c, h=1,
                  w=int(math.prod(shape[2:])))
        out, layout = back, "plain"
    loc[node.outputs[0]] = (out, layout)


def _pool_after(plan, node, graph):
    """The max_pool2d that alone reads this norm's output (not a graph output), if any."""
    reader = plan.sole_reader(node.outputs[0])
    return reader if reader is not None and reader.op == "max_pool2d" else None


def _lower_layer_norm(plan, node, graph, loc, cache):
    shape = plan.shapes[node.inputs[0]]
    eps = float(node.attrs.get("eps", 1e-5 if node.op == "layer_norm" else 1e-6))
    act = act_tuple(node.attrs.get("act"))
    b, layout = loc[node.inputs[0]]
    if node.op == "layer_norm_channels":
        if len(shape) != 4:
            raise UnsupportedError("node %r: layer_norm_channels expects a 4D image" % node.name)
        b = plan.nhwc(node, node.inputs[0], loc)
        c = shape[1]
        gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, 1, c))
        outer, inner, layout = shape[0] * shape[2] * shape[3], c, "nhwc"
    else:
        k = node.attrs.get("normalized_ndim", 1)
        inner = int(math.prod(shape[len(shape) - k:]))
        outer = int(math.prod(shape[:len(shape) - k]))
        if layout == "nhwc" and k == 3:
            # per-sample over (C, H, W): the NHWC slab holds the same values in (H, W, C) order
            _, c, h, w = shape

            def make():
                g, bb = _gamma_beta(graph, node, 1, inner)
                perm = lambda a: None if a is None else np.ascontiguousarray(
                    a.reshape(c, h, w).transpose(1, 2, 0).reshape(-1))
                return perm(g), perm(bb)
            gamma, beta = cache.get((node.name, "gamma_beta_hwc"), make)
        else:
            b = plan.plain(node, node.inputs[0], loc)
            layout = "plain"
            gamma, beta = cache.get((node.name, "gamma_beta"), lambda: _gamma_beta(graph, node, 1, inner))
    out = plan.new_buf(int(math.prod(shape)))
    plan.emit(node, type=_C.OP_LAYER_NORM, **{"in": b, "out": out}, outer=outer, inner=inner, eps=eps,
              act=act, weights=gamma, weights2=beta)
    loc[node.outputs[0]] = (out, layout)


LOWER = {"batch_norm": _lower_batch_norm, "group_norm": _lower_group_norm,
         "instance_norm": _lower_group_norm, "layer_norm": _lower_layer_norm,
         "layer_norm_channels": _lower_layer_norm}
