"""Handlers: BatchNormalization, InstanceNormalization, LayerNormalization (also over channels), GroupNormalization,
LRN.
"""
import math

import numpy as np

from fastnorm.frontends.onnx._base import BATCH, BatchDep, Malformed, Unsupported, axis_attr, has_batch


def op_layernorm_channels(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) != 4:
        raise Unsupported("a channels-last LayerNorm on a %dD input" % len(shape))
    ch = shape[1]
    scale = c.fweight(node, 1, "Scale", True).reshape(-1)
    bias = c.fweight(node, 2, "B")
    bias = np.zeros(ch, np.float32) if bias is None else bias.reshape(-1)
    if scale.size == 1:
        scale = np.full(ch, scale[0], np.float32)
    if bias.size == 1:
        bias = np.full(ch, bias[0], np.float32)
    if scale.size != ch or bias.size != ch:
        raise Malformed("Scale/B have %d/%d values for %d channels" % (scale.size, bias.size, ch))
    ins = [name, c.weight(node, "scale", scale), c.weight(node, "bias", bias)]
    c.set_act(node.output[0], c.emit(node, "layer_norm_channels", ins, {"eps": float(attrs.get("epsilon", 1e-5))},
                                     node.output[0]))


def op_batchnorm(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) < 2:
        raise Malformed("input %r must be (N, C, ...)" % (shape,))
    ch = shape[1]
    scale, bias, mean, var = (c.fweight(node, i, w, required=True)
                              for i, w in ((1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")))
    eps = float(attrs.get("epsilon", 1e-5))
    training = bool(attrs.get("training_mode", 0)) if c.opset >= 14 else False
    if any(v and v in c._used for v in node.output[1:]):
        raise Unsupported("the running mean/var outputs (training mode)")
    if c.opset < 14 and any(node.output[1:]):
        # opset < 14 spelled training mode with the extra outputs; nothing reads them here, so
        # these are inference graphs that declare them (as some exporters do): running statistics
        c.note("bn_declared_outputs", node, "BatchNormalization declares training-mode outputs nobody reads; "
               "normalised with the running statistics")
    spatial = int(attrs.get("spatial", 1)) if c.opset < 9 else 1
    params = (scale, bias, mean, var)
    per_channel = all(p.size == ch for p in params)
    if training:
        if not per_channel:
            raise Unsupported("training-mode statistics with per-activation parameters")
        ins = [name, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
        c.note("bn_batch_stats", node, "BatchNormalization in training mode: normalises with the batch's own "
               "statistics (results depend on the batch); re-export the model in eval mode")
        c.set_act(node.output[0], c.emit(node, "batch_norm", ins, {"eps": eps, "batch_stats": True},
                                         node.output[0]))
        return
    if per_channel and (spatial == 1 or all(d == 1 for d in shape[2:]) or all(p.ndim <= 1 for p in params)):
        ins = [name] + [c.weight(node, s, p.reshape(-1)) for s, p in
                        (("mean", mean), ("var", var), ("scale", scale), ("bias", bias))]
        c.set_act(node.output[0], c.emit(node, "batch_norm", ins, {"eps": eps}, node.output[0]))
        return
    # spatial=0: statistics per activation (C, D1, ...): y = x * s + t with broadcast constants
    rest = tuple(shape[1:])
    try:
        full = [np.broadcast_to(p.reshape(p.shape if p.ndim == len(rest) else (p.shape + (1,) * (len(rest) - p.ndim))),
                                rest).astype(np.float64) for p in params]
    except ValueError:
        raise Malformed("parameters %r do not fit the input %r" % ([p.shape for p in params], shape))
    s = full[0] / np.sqrt(full[3] + eps)
    t = full[1] - full[2] * s
    m = c.emit(node, "mul", [name, c.weight(node, "scale", s.reshape((1,) + rest))])
    c.set_act(node.output[0], c.emit(node, "add", [m, c.weight(node, "shift", t.reshape((1,) + rest))], {},
                                     node.output[0]))


def op_instancenorm(c, node, attrs):
    name, shape = c.act(node)
    scale, bias = c.fweight(node, 1, "scale", True), c.fweight(node, 2, "B", True)
    eps = float(attrs.get("epsilon", 1e-5))
    if len(shape) == 3:
        src = c.producer_of(name)
        g = shape[1]
        if (src is not None and src.op == "reshape" and np.all(scale == 1) and np.all(bias == 0)):
            x4 = src.inputs[0]
            s4 = c._ir_value_shape[x4]
            if len(s4) == 4 and s4[1] % g == 0 and s4[0] is shape[0] or (len(s4) == 4 and s4[0] == shape[0]
                                                                          and s4[1] % g == 0):
                # torch's GroupNorm export: Reshape(N, G, -1) -> InstanceNormalization -> Reshape back
                y = c.emit(node, "group_norm", [x4, "", ""], {"num_groups": g, "eps": eps})
                back = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]]
                return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
        # (N, C, L) as the image (N, C, L, 1)
        four = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]] + [1]
        x = c.emit(node, "reshape", [name], {"shape": four})
        ins = [x, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
        y = c.emit(node, "instance_norm", ins, {"eps": eps, "use_input_stats": True})
        back = [-1 if shape[0] is BATCH else int(shape[0])] + [int(d) for d in shape[1:]]
        return c.rename(c.emit(node, "reshape", [y], {"shape": back}), node.output[0])
    if len(shape) not in (4, 5):
        raise Unsupported("InstanceNormalization of a %dD input (only 3D, 4D and 5D run)" % len(shape))
    ins = [name, "", "", c.weight(node, "scale", scale.reshape(-1)), c.weight(node, "bias", bias.reshape(-1))]
    c.set_act(node.output[0], c.emit(node, "instance_norm", ins, {
        "eps": eps, "use_input_stats": True}, node.output[0]))


def op_layernorm(c, node, attrs):
    name, shape = c.act(node)
    r = len(shape)
    axis = axis_attr(attrs, r, -1)
    if any(v and v in c._used for v in node.output[1:]):
        raise Unsupported("the Mean/InvStdDev outputs")
    if axis == 0 and has_batch(shape):
        raise BatchDep("normalises over the batch (axis 0)")
    norm = tuple(shape[axis:])
    scale = c.fweight(node, 1, "Scale", True)
    bias = c.fweight(node, 2, "B")
    try:
        scale = np.broadcast_to(scale, norm)
        bias = None if bias is None else np.broadcast_to(bias, norm)
    except ValueError:
        raise BatchDep("Scale/B vary along dims before axis") if any(
            d is BATCH for d in shape) else Unsupported("Scale/B that vary along dims before axis")
    eps = float(attrs.get("epsilon", 1e-5))
    ins = [name, c.weight(node, "scale", scale.reshape(-1))]
    ins.append(c.weight(node, "bias", bias.reshape(-1)) if bias is not None else "")
    if axis == 0:
        # fixed batch: one row over everything
        flat = c.emit(node, "reshape", [name], {"shape": [1, math.prod(shape)]})
        y = c.emit(node, "layer_norm", [flat] + ins[1:], {"normalized_ndim": 1, "eps": eps})
        return c.rename(c.emit(node, "reshape", [y], {"shape": [int(d) for d in shape]}), node.output[0])
    c.set_act(node.output[0], c.emit(node, "layer_norm", ins, {"normalized_ndim": r - axis, "eps": eps},
                                     node.output[0]))


def op_groupnorm(c, node, attrs):
    name, shape = c.act(node)
    if len(shape) < 3:
        raise Unsupported("GroupNormalization of a %dD input" % len(shape))
    g = int(attrs.get("num_groups"))
    ch = shape[1]
    if ch % g:
        raise Malformed("num_groups %d does not divide %d channels" % (g, ch))
    scale, bias = c.fweight(node, 1, "scale", True).reshape(-1), c.fweight(node, 2, "bias", True).reshape(-1)
    if c.opset < 21 and scale.size == g and g != ch:
        # opset 18: scale/bias per group; repeat per channel
        scale, bias = np.repeat(scale, ch // g), np.repeat(bias, ch // g)
    if scale.size != ch or bias.size != ch:
        raise Malformed("scale/bias have %d/%d values, expected %d channels%s"
                         % (scale.size, bias.size, ch, " or %d groups" % g if c.opset < 21 else ""))
    if len(shape) != 4:
        raise Unsupported("GroupNormalization of a %dD input (only 4D images run)" % len(shape))
    ins = [name, c.weight(node, "scale", scale), c.weight(node, "bias", bias)]
    c.set_act(node.output[0], c.emit(node, "group_norm", ins, {
        "num_groups": g, "eps": float(attrs.get("epsilon", 1e-5))}, node.output[0]))


def lrn_band(channels, size, alpha, front):
    """The 1x1 conv weight of a local response norm's window sum: out channel o sums the squares of
    channels o - front .. o - front + size - 1 (those that exist), times alpha / size."""
    o = np.arange(channels)[:, None]
    i = np.arange(channels)[None, :]
    band = ((i >= o - front) & (i <= o - front + size - 1)).astype(np.float64) * (float(alpha) / size)
    return band.astype(np.float32)[:, :, None, None]


def emit_lrn(emit, weight, x, channels, size, alpha, beta, bias, front):
    """A local response norm over the channels of image x as graph nodes: x * exp(-beta * log(bias +
    alpha / size * window sum of x^2)), the window sum a 1x1 conv with a band weight (lrn_band).
    emit(op, inputs, attrs, last) -> value; weight(suffix, array) -> weight name."""
    sq = emit("square", [x], {}, False)
    s = emit("conv2d", [sq, weight("band", lrn_band(channels, size, alpha, front)),
                        weight("bias", np.full(channels, bias, np.float32))],
             {"stride": [1, 1], "padding": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1}, False)
    lg = emit("log", [s], {}, False)
    e = emit("exp", [emit("mul", [lg, weight("beta", np.full((1, 1, 1, 1), -beta, np.float32))], {}, False)],
             {}, False)
    return emit("mul", [x, e], {}, True)


def op_lrn(c, node, attrs):
    """LRN (AlexNet, GoogLeNet v1, CaffeNet): the window runs from channel c - floor((size - 1) / 2) to
    c + ceil((size - 1) / 2) (torch's LocalResponseNorm starts at c - size // 2: they differ for an even
    size)."""
    name, shape = c.act(node)
    if len(shape) != 4:
        raise Unsupported("LRN of a %dD input (only 4D images)" % len(shape))
    size = int(attrs.get("size", 0))
    if size < 1:
        raise Malformed("size %d (must be >= 1)" % size)
    alpha, beta, bias = (float(attrs.get(k, d)) for k, d in (("alpha", 1e-4), ("beta", 0.75), ("bias", 1.0)))
    if not bias > 0 or not math.isfinite(alpha) or not math.isfinite(beta) or alpha < 0:
        raise Unsupported("LRN with bias %r, alpha %r, beta %r (only bias > 0, alpha >= 0)" % (bias, alpha, beta))

    def emit(op, ins, a, last):
        return c.emit(node, op, ins, a, node.output[0] if last else None)

    y = emit_lrn(emit, lambda suffix, arr: c.weight(node, suffix, arr), name, int(shape[1]), size, alpha, beta,
                 bias, (size - 1) // 2)
    c.set_act(node.output[0], y)


# ONNX op type -> handler(converter, node, attrs)
HANDLERS = {
    "LRN": op_lrn,
    "BatchNormalization": op_batchnorm,
    "InstanceNormalization": op_instancenorm,
    "LayerNormalization": op_layernorm,
    "GroupNormalization": op_groupnorm,
    "_LayerNormChannels": op_layernorm_channels,
}
